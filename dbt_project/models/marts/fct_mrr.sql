{#-
  MRR and its movements per month (revenue.md marts.fct_mrr), from the earliest month
  holding MRR or an unrecognised interval to the month of data_end_date (none after it),
  summed from each user's movement (int_mrr_movements_classified).
-#}
with

movements as (

    select * from {{ ref('int_mrr_movements_classified') }}

),

unrecognized as (

    select {{ trunc_date('month', 'event_date') }} as month, count(*) as unrecognized_intervals
    from {{ ref('int_payments_classified') }}
    where billing_interval_months = 0
    group by 1

),

reporting_period as (

    select data_end_date, {{ trunc_date('month', 'data_end_date') }} as last_month
    from {{ ref('int_reporting_period') }}

),

bounds as (

    select min(held.month) as first_month, reporting_period.last_month
    from (select month from movements union all select month from unrecognized) as held
    cross join reporting_period
    group by reporting_period.last_month

),

months as (

    select {{ add_periods('month', 'series.n', 'bounds.first_month') }} as month
    from bounds
    cross join {{ integer_series(periods_between('month', 'bounds.first_month', 'bounds.last_month')) }} as series(n)

),

monthly as (

    select
        month,
        sum(mrr) as mrr,
        count(case when mrr > 0 then 1 end) as customers,
        sum(case when movement = 'new' then mrr else 0 end) as new_mrr,
        sum(case when movement = 'expansion' then mrr - previous_mrr else 0 end) as expansion_mrr,
        sum(case when movement = 'contraction' then previous_mrr - mrr else 0 end) as contraction_mrr,
        sum(case when movement = 'churn' then previous_mrr else 0 end) as churned_mrr,
        sum(case when movement = 'reactivation' then mrr else 0 end) as reactivation_mrr
    from movements
    group by month

)

select
    months.month,
    cast(coalesce(monthly.mrr, 0) as double) as mrr,
    cast(coalesce(monthly.customers, 0) as bigint) as customers,
    {{ safe_ratio('monthly.mrr', 'monthly.customers') }} as arpu,
    cast(coalesce(monthly.new_mrr, 0) as double) as new_mrr,
    cast(coalesce(monthly.expansion_mrr, 0) as double) as expansion_mrr,
    cast(coalesce(monthly.contraction_mrr, 0) as double) as contraction_mrr,
    cast(coalesce(monthly.churned_mrr, 0) as double) as churned_mrr,
    cast(coalesce(monthly.reactivation_mrr, 0) as double) as reactivation_mrr,
    cast(coalesce(unrecognized.unrecognized_intervals, 0) as bigint) as unrecognized_intervals,
    {{ period_last_day('month', 'months.month') }} <= reporting_period.data_end_date as is_complete
from months
cross join reporting_period
left join monthly on monthly.month = months.month
left join unrecognized on unrecognized.month = months.month
