{#- Activation by signup cohort and segment (segments.md marts.fct_activation_by_segment): the
    columns of fct_activation (macros/cohort_activation.sql), grains week and month,
    restricted to each segment of each breakdown dimension. Summing a cohort's signups over
    a dimension's segments gives fct_activation's. -#}
{{ cohort_activation(
    users_sql="select segments.dimension, segments.segment, users.signup_date, users.signed_up_at, users.activated_at, users.is_activated"
        ~ " from " ~ ref('dim_users') ~ " as users join " ~ ref('int_user_segments')
        ~ " as segments on segments.user_key = users.user_key",
    grains=['week', 'month'],
    keys=['dimension', 'segment'],
) }}
