{#-
  JSON as the raw layer keeps it: fragments of the payload as JSON text (revenue_raw,
  traits_raw, ...). Two reads, dispatched per engine, with DuckDB's meaning on both:
  json_type_at names the JSON type of the value at a path (DuckDB's json_type vocabulary:
  VARCHAR, BIGINT, UBIGINT, DOUBLE, BOOLEAN, NULL, OBJECT, ARRAY; null when absent) and
  json_text_at its text (a string unquoted, anything else as JSON; null when absent).
-#}

{% macro json_type_at(json, path='$') -%}
    {{ return(adapter.dispatch('json_type_at', 'growth_warehouse')(json, path)) }}
{%- endmacro %}
{% macro duckdb__json_type_at(json, path='$') -%}
    json_type({{ json }}, '{{ path }}')
{%- endmacro %}
{#- Spark 4's VARIANT keeps the JSON type: a number with a fraction or an exponent is a
    DECIMAL with a scale or a DOUBLE (DuckDB's DOUBLE), an integer beyond 64-bit signed a
    DECIMAL of scale 0 (DuckDB's UBIGINT; the ingester keeps no larger integer). -#}
{% macro spark__json_type_at(json, path='$') -%}
    {%- set kind = "schema_of_variant(variant_get(parse_json(" ~ json ~ "), '" ~ path ~ "'))" -%}
    case
        when {{ kind }} = 'STRING' then 'VARCHAR'
        when {{ kind }} = 'VOID' then 'NULL'
        when {{ kind }} like 'OBJECT%' then 'OBJECT'
        when {{ kind }} like 'ARRAY%' then 'ARRAY'
        when {{ kind }} like 'DECIMAL(%,0)' then 'UBIGINT'
        when {{ kind }} like 'DECIMAL%' or {{ kind }} = 'FLOAT' then 'DOUBLE'
        else {{ kind }}
    end
{%- endmacro %}

{% macro json_text_at(json, path='$') -%}
    {{ return(adapter.dispatch('json_text_at', 'growth_warehouse')(json, path)) }}
{%- endmacro %}
{% macro duckdb__json_text_at(json, path='$') -%}
    ({{ json }} ->> '{{ path }}')
{%- endmacro %}
{% macro spark__json_text_at(json, path='$') -%}
    variant_get(parse_json({{ json }}), '{{ path }}', 'string')
{%- endmacro %}

{#- The JSON path of the top-level key `name` (any key without a double quote or a
    backslash; a single quote is doubled for the SQL literal the path goes into). -#}
{% macro json_key_path(name) -%}
    {{ return(adapter.dispatch('json_key_path', 'growth_warehouse')(name)) }}
{%- endmacro %}
{% macro default__json_key_path(name) -%}
    {{ return('$."' ~ name | replace("'", "''") ~ '"') }}
{%- endmacro %}
{% macro spark__json_key_path(name) -%}
    {{ return("$[''" ~ name | replace("'", "''''") ~ "'']") }}
{%- endmacro %}
