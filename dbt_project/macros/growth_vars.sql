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

{#- A build error naming the ill-formed var by its path, in one line ("vars.<where>: ..."). -#}
{% macro var_error(where, message) -%}
    {{ exceptions.raise_compiler_error("vars." ~ where ~ ": " ~ message) }}
{%- endmacro %}

{#- Whether a var's value is a list (YAML sequence): strings and mappings are iterable too. -#}
{% macro is_list(value) -%}
    {{ return(value is not string and value is not mapping and value is iterable) }}
{%- endmacro %}

{#- A list var of names, each matching [a-z_][a-z0-9_]* (they become column names), without
    duplicates. -#}
{% macro name_list_var(name) -%}
    {%- set names = var(name) -%}
    {%- if not is_list(names) -%}
        {{ var_error(name, 'must be a list of names, got ' ~ names) }}
    {%- endif -%}
    {%- set seen = [] -%}
    {%- for item in names -%}
        {%- if item is not string or not modules.re.fullmatch('[a-z_][a-z0-9_]*', item) -%}
            {{ var_error(name ~ '[' ~ loop.index0 ~ ']', 'must match [a-z_][a-z0-9_]*, got ' ~ item) }}
        {%- endif -%}
        {%- if item in seen -%}
            {{ var_error(name, 'lists ' ~ item ~ ' twice') }}
        {%- endif -%}
        {%- do seen.append(item) -%}
    {%- endfor -%}
    {{ return(seen) }}
{%- endmacro %}

{#- A var that must be a whole number >= `minimum`. -#}
{% macro whole_number_var(name, minimum) -%}
    {%- set value = var(name) -%}
    {%- if not (value is integer and value >= minimum) -%}
        {{ var_error(name, 'must be a whole number >= ' ~ minimum ~ ', got ' ~ value) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
