{#- Cohort retention (metrics.md marts.fct_retention) for grains day, week and month, by the
    one definition in macros/cohort_retention.sql: a user's cohort is trunc(grain,
    signup_date), and they are retained in period n when active on a date d >= signup_date
    with periods_between(grain, signup_date, d) = n. -#}
{{ cohort_retention(
    members_sql="select user_key as member_key, signup_date as start_date from " ~ ref('dim_users'),
    member_days_sql="select user_key as member_key, activity_date, previous_activity_date, next_activity_date from " ~ ref('int_user_days_active'),
    grains=grains(),
) }}
