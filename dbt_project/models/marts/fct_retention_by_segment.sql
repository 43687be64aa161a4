{#- Cohort retention by segment (segments.md marts.fct_retention_by_segment): the definitions
    and columns of fct_retention (macros/cohort_retention.sql), grains week and month,
    restricted to the users of each segment of each breakdown dimension (int_user_segments).
    Summing a cohort's cohort_size over a dimension's segments gives fct_retention's.

    Each user comes once, with their segment in every dimension (segments_by_user), so their
    active days are read once for all the dimensions rather than once per dimension. -#}
{%- set dimensions = breakdown_dimensions() %}
{%- set segment_columns = [] %}
{%- for dimension in dimensions %}
    {%- do segment_columns.append(', segments.segment_' ~ loop.index) %}
{%- endfor %}
{{ cohort_retention(
    members_sql="select users.user_key as member_key, users.signup_date as start_date" ~ segment_columns | join('')
        ~ " from " ~ ref('dim_users') ~ " as users join (" ~ segments_by_user(dimensions)
        ~ ") as segments on segments.user_key = users.user_key",
    member_days_sql="select user_key as member_key, activity_date, previous_activity_date, next_activity_date from " ~ ref('int_user_days_active'),
    grains=['week', 'month'],
    dimensions=dimensions,
) }}
