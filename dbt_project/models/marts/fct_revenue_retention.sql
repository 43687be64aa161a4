{#-
  Net and gross revenue retention by customer cohort (revenue.md
  marts.fct_revenue_retention): a customer's cohort is their first month with MRR > 0 (their
  `new` movement), and each cohort has a row for every month from it to the month of
  data_end_date. Gross retention caps each user's MRR at their cohort month's, so expansion
  never makes up for churn and contraction.
-#}
with

cohort_users as (

    select user_key, month as cohort_month, mrr as starting_mrr
    from {{ ref('int_mrr_movements_classified') }}
    where movement = 'new'

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

cohorts as (

    select cohort_month, count(*) as customers, sum(starting_mrr) as starting_mrr
    from cohort_users
    group by cohort_month

),

retained as (

    select
        cohort_users.cohort_month,
        {{ periods_between('month', 'cohort_users.cohort_month', 'spread.month') }} as months_since_start,
        sum(spread.mrr) as mrr,
        count(*) as retained_customers,
        sum(least(spread.mrr, cohort_users.starting_mrr)) as capped_mrr
    from {{ ref('int_payments_spread') }} as spread
    join cohort_users on cohort_users.user_key = spread.user_key
    group by 1, 2

),

spine as (

    select cohorts.cohort_month, cohorts.customers, cohorts.starting_mrr, series.n as months_since_start
    from cohorts
    cross join reporting_period
    cross join {{ integer_series(periods_between('month', 'cohorts.cohort_month', 'reporting_period.data_end_date')) }}
        as series(n)

)

select
    spine.cohort_month,
    spine.months_since_start,
    cast(spine.customers as bigint) as customers,
    cast(spine.starting_mrr as double) as starting_mrr,
    cast(coalesce(retained.mrr, 0) as double) as mrr,
    cast(coalesce(retained.retained_customers, 0) as bigint) as retained_customers,
    {{ safe_ratio('coalesce(retained.mrr, 0)', 'spine.starting_mrr') }} as net_revenue_retention,
    {{ safe_ratio('coalesce(retained.capped_mrr, 0)', 'spine.starting_mrr') }} as gross_revenue_retention,
    {{ period_last_day('month', add_periods('month', 'spine.months_since_start', 'spine.cohort_month')) }}
        <= reporting_period.data_end_date as is_complete
from spine
cross join reporting_period
left join retained
    on retained.cohort_month = spine.cohort_month
    and retained.months_since_start = spine.months_since_start
