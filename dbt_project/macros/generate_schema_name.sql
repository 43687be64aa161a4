{#- Custom schemas are used verbatim (marts.dim_users, not main_marts.dim_users): the
    schema names are part of the contract analysts query. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
