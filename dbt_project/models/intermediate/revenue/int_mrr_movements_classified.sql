{#-
  Each user's MRR movement per month (revenue.md fct_mrr): one row per (user, month) in which
  the user has MRR > 0 or had it in the previous month, up to the month of data_end_date,
  with the MRR of both months and its kind. Compared with the previous month a user is
    new          > 0 now, 0 before and in no earlier month;
    reactivation > 0 now, 0 in the previous month, > 0 in some earlier month;
    expansion / contraction  > 0 in both months, more / less than before (the difference);
    churn        0 now, > 0 in the previous month (the previous month's MRR).
  So mrr(m) = mrr(m-1) + new + expansion + reactivation - contraction - churned, summed over
  users (the data test mrr_identity). A user's first month with MRR > 0 is also their
  cohort month (fct_revenue_retention).
-#}
with

user_months as (

    select
        user_key,
        month,
        mrr,
        lag(month) over (partition by user_key order by month) as earlier_month,
        lag(mrr) over (partition by user_key order by month) as earlier_mrr,
        lead(month) over (partition by user_key order by month) as later_month,
        min(month) over (partition by user_key) as first_month
    from {{ ref('int_payments_spread') }}

),

reporting_period as (

    select {{ trunc_date('month', 'data_end_date') }} as last_month from {{ ref('int_reporting_period') }}

),

with_previous as (

    select
        user_key,
        month,
        mrr,
        case when earlier_month = {{ add_periods('month', -1, 'month') }} then earlier_mrr else 0 end as previous_mrr,
        first_month
    from user_months
    union all
    {#- The month after a month with MRR when the user has none in it: a churn. #}
    select
        user_months.user_key,
        {{ add_periods('month', 1, 'user_months.month') }},
        0,
        user_months.mrr,
        user_months.first_month
    from user_months
    cross join reporting_period
    where {{ add_periods('month', 1, 'user_months.month') }} <= reporting_period.last_month
      and (
          user_months.later_month is null
          or user_months.later_month > {{ add_periods('month', 1, 'user_months.month') }}
      )

)

select
    user_key,
    month,
    cast(mrr as double) as mrr,
    cast(previous_mrr as double) as previous_mrr,
    first_month,
    case
        when mrr > 0 and previous_mrr = 0 and month = first_month then 'new'
        when mrr > 0 and previous_mrr = 0 then 'reactivation'
        when mrr > previous_mrr and previous_mrr > 0 then 'expansion'
        when mrr < previous_mrr and mrr > 0 then 'contraction'
        when mrr = 0 then 'churn'
        else 'unchanged'
    end as movement
from with_previous
