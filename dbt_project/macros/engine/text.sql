{#- Text rules of the spec, dispatched per engine with DuckDB's meaning on both. -#}

{#- segments.md's trim: leading and trailing spaces (U+0020) only. DuckDB's one-argument
    trim() also removes the other Unicode space separators (U+00A0, U+2000-U+200A, ...). -#}
{% macro trim_spaces(expr) -%}
    {{ return(adapter.dispatch('trim_spaces', 'growth_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__trim_spaces(expr) -%}
    trim({{ expr }}, ' ')
{%- endmacro %}
{#- Spark's two-argument trim() takes its arguments the other way round; btrim() does not. -#}
{% macro spark__trim_spaces(expr) -%}
    btrim({{ expr }}, ' ')
{%- endmacro %}

{#- events.md's "trimmed" (revenue strings, campaign values): leading and trailing white
    space, RE2's \s: tab, newline, form feed, carriage return and space. -#}
{% macro trim_whitespace(expr) -%}
    {{ return(adapter.dispatch('trim_whitespace', 'growth_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__trim_whitespace(expr) -%}
    regexp_replace({{ expr }}, '^\s+|\s+$', '', 'g')
{%- endmacro %}
{#- Java's \s also takes the vertical tab, so the class is spelled out; Spark's string
    literals read backslash escapes, hence the doubled ones. -#}
{% macro spark__trim_whitespace(expr) -%}
    regexp_replace({{ expr }}, '^[\\t\\n\\f\\r ]+|[\\t\\n\\f\\r ]+$', '')
{%- endmacro %}

{#- Whether the whole of `expr` matches the RE2 `pattern` (written with single backslashes). -#}
{% macro regexp_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'growth_warehouse')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regexp_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
{% macro spark__regexp_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ pattern | replace("\\", "\\\\") }})$')
{%- endmacro %}

{#- Each character's simple uppercase (segments.md, country). DuckDB's upper() maps ß to ẞ
    and Java's (Spark's) to SS, which simple case mapping leaves alone, so text holding ß is
    uppercased around it. -#}
{% macro simple_upper(expr) -%}
    {{ return(adapter.dispatch('simple_upper', 'growth_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__simple_upper(expr) -%}
    upper({{ expr }})
{%- endmacro %}
{% macro duckdb__simple_upper(expr) -%}
    case
        when contains({{ expr }}, 'ß')
            then array_to_string(list_transform(string_split({{ expr }}, 'ß'), lambda part: upper(part)), 'ß')
        else upper({{ expr }})
    end
{%- endmacro %}
{% macro spark__simple_upper(expr) -%}
    case
        when contains({{ expr }}, 'ß')
            then array_join(transform(split({{ expr }}, 'ß'), part -> upper(part)), 'ß')
        else upper({{ expr }})
    end
{%- endmacro %}
