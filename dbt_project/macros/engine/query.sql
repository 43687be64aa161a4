{#- Query shapes one engine spells differently from another. -#}

{#- A CTE read several times that is cheaper recomputed than copied (DuckDB would otherwise
    materialise it); other engines decide for themselves. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'growth_warehouse')()) }}
{%- endmacro %}
{% macro default__not_materialized() -%}{%- endmacro %}
{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}

{#- Every column of the relation in scope but `columns`. -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'growth_warehouse')(columns)) }}
{%- endmacro %}
{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}

{#- A one-element list. -#}
{% macro list_of(expr) -%}
    {{ return(adapter.dispatch('list_of', 'growth_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__list_of(expr) -%}
    [{{ expr }}]
{%- endmacro %}
{% macro spark__list_of(expr) -%}
    array({{ expr }})
{%- endmacro %}

{#- The type of an instant (metrics.md's timestamps): DuckDB's timestamptz, Spark's timestamp
    (an instant shown in the session time zone). -#}
{% macro instant_type() -%}
    {{ return(adapter.dispatch('instant_type', 'growth_warehouse')()) }}
{%- endmacro %}
{% macro default__instant_type() -%}timestamptz{%- endmacro %}
{% macro spark__instant_type() -%}timestamp{%- endmacro %}

{#- A struct of (name, expression) pairs; structs compare field by field, in order. -#}
{% macro struct_of(fields) -%}
    {{ return(adapter.dispatch('struct_of', 'growth_warehouse')(fields)) }}
{%- endmacro %}
{% macro default__struct_of(fields) -%}
    {{ '{' }}{% for name, expr in fields %}'{{ name }}': {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}{{ '}' }}
{%- endmacro %}
{% macro spark__struct_of(fields) -%}
    named_struct({% for name, expr in fields %}'{{ name }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
