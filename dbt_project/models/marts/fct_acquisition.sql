{#-
  Spend, signups and CAC by month and channel (metrics.md marts.fct_acquisition), from the
  earliest month holding a signup or a spend row to the month of data_end_date; channels
  are every acquisition_channel of users and every (lower(trim())) spend channel, plus
  '(all)'. Spend dated after the month of data_end_date is not shown.
-#}
with

users as (

    select * from {{ ref('dim_users') }}

),

spend as (

    select * from {{ ref('stg_ads__marketing_spend') }}

),

reporting_period as (

    select {{ trunc_date('month', 'data_end_date') }} as last_month from {{ ref('int_reporting_period') }}

),

channels as (

    select acquisition_channel as channel from users
    union
    select channel from spend

),

bounds as (

    select
        least(
            coalesce((select min(signup_date) from users), reporting_period.last_month),
            coalesce((select min(spend_date) from spend), reporting_period.last_month)
        ) as first_date,
        reporting_period.last_month
    from reporting_period

),

months as (

    select {{ add_periods('month', 'series.n', trunc_date('month', 'bounds.first_date')) }} as month
    from bounds
    cross join {{ integer_series(periods_between('month', 'bounds.first_date', 'bounds.last_month')) }} as series(n)

),

monthly_spend as (

    select {{ trunc_date('month', 'spend_date') }} as month, channel, sum(spend) as spend
    from spend
    group by 1, 2

),

monthly_signups as (

    select {{ trunc_date('month', 'signup_date') }} as month, acquisition_channel as channel, count(*) as signups
    from users
    group by 1, 2

),

monthly_customers as (

    select
        {{ trunc_date('month', reporting_date('first_purchase_at')) }} as month,
        acquisition_channel as channel,
        count(*) as new_customers
    from users
    where is_customer
    group by 1, 2

),

per_channel as (

    select
        months.month,
        channels.channel,
        coalesce(monthly_spend.spend, 0) as spend,
        coalesce(monthly_signups.signups, 0) as signups,
        coalesce(monthly_customers.new_customers, 0) as new_customers
    from months
    cross join channels
    left join monthly_spend on monthly_spend.month = months.month and monthly_spend.channel = channels.channel
    left join monthly_signups on monthly_signups.month = months.month and monthly_signups.channel = channels.channel
    left join monthly_customers
        on monthly_customers.month = months.month and monthly_customers.channel = channels.channel

),

with_all as (

    select * from per_channel
    union all
    select month, '(all)', sum(spend), sum(signups), sum(new_customers)
    from per_channel
    group by month

)

select
    month,
    channel,
    cast(spend as double) as spend,
    cast(signups as bigint) as signups,
    cast(new_customers as bigint) as new_customers,
    {{ safe_ratio('spend', 'signups') }} as cost_per_signup,
    {{ safe_ratio('spend', 'new_customers') }} as cac
from with_all
