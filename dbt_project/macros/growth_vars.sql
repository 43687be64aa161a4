{#- The metric configuration of metrics.md, read in one place. -#}

{% macro funnel_steps() -%}
    {%- set steps = var('funnel_steps') -%}
    {%- if steps is none -%}
        {%- set steps = [var('signup_event'), var('activation_event'), var('purchase_event')] -%}
    {%- endif -%}
    {{ return(steps) }}
{%- endmacro %}

{% macro sql_string_list(values) -%}
    {%- if values | length == 0 -%}(null){%- else -%}
    ({% for value in values %}'{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{% macro sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{#- The grains every per-period mart reports (metrics.md: day, ISO week, month). -#}
{% macro grains() -%}
    {{ return(['day', 'week', 'month']) }}
{%- endmacro %}

{#- The rows of every grain, from a model's per-grain CTEs named <grain><suffix>. -#}
{% macro union_all_grains(suffix) -%}
    {%- for grain in grains() %}
    select * from {{ grain }}{{ suffix }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
