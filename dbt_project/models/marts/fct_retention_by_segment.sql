{#- Cohort retention by segment (segments.md marts.fct_retention_by_segment): the definitions
    and columns of fct_retention (macros/cohort_retention.sql), grains week and month,
    restricted to the users of each segment of each breakdown dimension (int_user_segments).
    Summing a cohort's cohort_size over a dimension's segments gives fct_retention's. -#}
{{ cohort_retention(
    members_sql="select users.user_key as member_key, users.signup_date as start_date, segments.dimension, segments.segment"
        ~ " from " ~ ref('dim_users') ~ " as users join " ~ ref('int_user_segments')
        ~ " as segments on segments.user_key = users.user_key",
    member_days_sql="select user_key as member_key, activity_date, previous_activity_date, next_activity_date from " ~ ref('int_user_days_active'),
    grains=['week', 'month'],
    keys=['dimension', 'segment'],
) }}
