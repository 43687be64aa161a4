{#- Revenue per user and month offset since the signup month: a revenue event at date d
    falls in offset max(0, periods_between(month, cohort_month, d)) (metrics.md
    fct_ltv_cohorts), so revenue before the signup month counts in month 0. -#}
with

users as (

    select user_key, {{ trunc_date('month', 'signup_date') }} as cohort_month from {{ ref('dim_users') }}

),

revenue_events as (

    select user_key, event_date, revenue
    from {{ ref('int_conversion_events') }}
    where user_key is not null and revenue is not null

)

select
    users.user_key,
    users.cohort_month,
    greatest(0, {{ periods_between('month', 'users.cohort_month', 'revenue_events.event_date') }}) as months_since_signup,
    sum(revenue_events.revenue) as revenue
from revenue_events
join users on users.user_key = revenue_events.user_key
group by 1, 2, 3
