{#- The segment configuration of segments.md, read and checked in one place: every ill-formed
    value is a build error naming it. -#}

{% macro user_traits() -%}
    {{ return(name_list_var('user_traits')) }}
{%- endmacro %}

{% macro breakdown_dimensions() -%}
    {{ return(name_list_var('breakdown_dimensions')) }}
{%- endmacro %}

{#- The configured features as a list of {name, event}; [] means "select them from the data". -#}
{% macro configured_features() -%}
    {%- set features = var('features') -%}
    {%- if features is none -%}{{ return([]) }}{%- endif -%}
    {%- if not is_list(features) -%}
        {{ var_error('features', 'must be a list of {name, event}, got ' ~ features) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for feature in features -%}
        {%- set where = 'features[' ~ loop.index0 ~ ']' -%}
        {%- if feature is not mapping or feature.keys() | list | sort != ['event', 'name'] -%}
            {{ var_error(where, 'must be {name: ..., event: ...}, got ' ~ feature) }}
        {%- endif -%}
        {%- for key in ['name', 'event'] -%}
            {%- if feature[key] is not string or feature[key] | trim == '' -%}
                {{ var_error(where ~ '.' ~ key, 'must be a non-blank string, got ' ~ feature[key]) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if feature.name in names -%}
            {{ var_error('features', 'lists the feature ' ~ feature.name ~ ' twice') }}
        {%- endif -%}
        {%- do names.append(feature.name) -%}
    {%- endfor -%}
    {{ return(features) }}
{%- endmacro %}

{#- Fails the build unless every breakdown dimension names a dim_users column of text, boolean
    or integer type (segments.md "Breakdowns"); checked when the model runs, against the
    built dim_users. -#}
{% macro check_breakdown_columns(relation, dimensions) -%}
    {%- if execute -%}
        {%- set types = {} -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do types.update({column.name | lower: column}) -%}
        {%- endfor -%}
        {%- for dimension in dimensions -%}
            {%- set column = types.get(dimension) -%}
            {%- if column is none -%}
                {{ var_error('breakdown_dimensions', 'dim_users has no column ' ~ dimension) }}
            {%- endif -%}
            {%- if not (column.is_string() or column.is_integer() or column.dtype | lower in ('boolean', 'string')) -%}
                {{ var_error('breakdown_dimensions', dimension ~ ' is ' ~ column.dtype ~ ', not text, boolean or integer') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The usable value of trait `name` in the JSON object `traits` (segments.md): a non-blank
    string trimmed, an integer as its digits, a boolean as true/false; else null. The digits
    are those the ingester stored: it reads JSON with orjson, which keeps 64-bit integers
    (-0 becomes 0) and turns larger ones into floats, so those are not usable. -#}
{% macro usable_trait(traits, name) -%}
    {%- set path = '$.' ~ name -%}
    case {{ json_type_at(traits, path) }}
        when 'VARCHAR' then nullif({{ trim_spaces(json_text_at(traits, path)) }}, '')
        when 'BIGINT' then {{ json_text_at(traits, path) }}
        when 'UBIGINT' then {{ json_text_at(traits, path) }}
        when 'HUGEINT' then {{ json_text_at(traits, path) }}
        when 'BOOLEAN' then {{ json_text_at(traits, path) }}
    end
{%- endmacro %}

{#- int_user_feature_weeks' rows for the events of `events_sql` (activity track events). -#}
{% macro feature_weeks(events_sql) -%}
    select
        user_key,
        event_name,
        {{ trunc_date('week', 'event_date') }} as week_start,
        cast(count(*) as bigint) as uses,
        min(event_at) as first_used_at
    from ({{ events_sql }}) as events
    group by 1, 2, 3
{%- endmacro %}

{#- int_user_feature_firsts' rows for the rows of int_user_feature_weeks in `weeks_sql`. -#}
{% macro feature_firsts(weeks_sql) -%}
    select
        user_key,
        event_name,
        min(first_used_at) as first_used_at,
        min(week_start) as first_week_start
    from ({{ weeks_sql }}) as weeks
    group by 1, 2
{%- endmacro %}

{#- One row per user of int_user_segments with their segment in each of `dimensions` as
    segment_1 ... segment_n, in the order of the list (null: no row for that dimension):
    for marts that count every dimension in one pass over the users' rows rather than one
    pass per dimension. -#}
{% macro segments_by_user(dimensions) -%}
    select
        user_key
        {%- for dimension in dimensions %},
        max(case when dimension = '{{ dimension }}' then segment end) as segment_{{ loop.index }}
        {%- endfor %}
    from {{ ref('int_user_segments') }}
    group by user_key
{%- endmacro %}
