{#- Revenue per user by signup-month cohort (metrics.md marts.fct_ltv_cohorts). -#}
with

users as (

    select {{ trunc_date('month', 'signup_date') }} as cohort_month from {{ ref('dim_users') }}

),

revenue as (

    select cohort_month, months_since_signup, sum(revenue) as revenue
    from {{ ref('int_user_revenue_months') }}
    group by 1, 2

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

cohorts as (

    select cohort_month, count(*) as cohort_size from users group by cohort_month

),

spine as (

    select cohorts.cohort_month, cohorts.cohort_size, series.n as months_since_signup
    from cohorts
    cross join reporting_period
    cross join {{ integer_series(periods_between('month', 'cohorts.cohort_month', 'reporting_period.data_end_date')) }}
        as series(n)

),

filled as (

    select
        spine.cohort_month,
        spine.months_since_signup,
        spine.cohort_size,
        coalesce(revenue.revenue, 0) as revenue
    from spine
    left join revenue
        on revenue.cohort_month = spine.cohort_month
        and revenue.months_since_signup = spine.months_since_signup

)

select
    filled.cohort_month,
    filled.months_since_signup,
    filled.cohort_size,
    cast(filled.revenue as double) as revenue,
    cast(sum(filled.revenue) over (
        partition by filled.cohort_month order by filled.months_since_signup rows unbounded preceding
    ) as double) as cumulative_revenue,
    {{ safe_ratio('sum(filled.revenue) over (partition by filled.cohort_month order by filled.months_since_signup rows unbounded preceding)', 'filled.cohort_size') }}
        as ltv_per_user,
    {{ period_last_day('month', add_periods('month', 'filled.months_since_signup', 'filled.cohort_month')) }}
        <= reporting_period.data_end_date as is_complete
from filled
cross join reporting_period
