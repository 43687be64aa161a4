{#-
  LTV, CAC, LTV:CAC and payback per channel (metrics.md marts.fct_channel_economics), all
  time up to data_end_date, plus '(all)'. ltv_at_month(m) is the mean, over the channel's
  users whose age (complete months since the signup month) is at least m, of their revenue
  at offsets <= m; ltv = ltv_at_month(ltv_horizon_months - 1); payback is the first m with
  ltv_at_month(m) >= cost_per_signup, counted as m + 1 months.
-#}
with

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

users as (

    select
        user_key,
        acquisition_channel as channel,
        is_customer,
        lifetime_revenue,
        {{ periods_between('month', 'signup_date', 'reporting_period.data_end_date') }} - 1 as age_months
    from {{ ref('dim_users') }}
    cross join reporting_period

),

user_channels as (

    select user_key, channel, is_customer, lifetime_revenue, age_months from users
    union all
    select user_key, '(all)', is_customer, lifetime_revenue, age_months from users

),

spend as (

    select channel, spend
    from {{ ref('stg_ads__marketing_spend') }}
    cross join reporting_period
    where spend_date <= reporting_period.data_end_date

),

channel_spend as (

    select channel, sum(spend) as spend from spend group by channel
    union all
    select '(all)', sum(spend) from spend

),

channels as (

    select channel from user_channels
    union
    select channel from channel_spend

),

totals as (

    select
        channels.channel,
        coalesce(users.signups, 0) as signups,
        coalesce(channel_spend.spend, 0) as spend,
        coalesce(users.customers, 0) as customers,
        coalesce(users.revenue, 0) as revenue,
        users.max_age
    from channels
    left join (
        select
            channel,
            count(*) as signups,
            sum(case when is_customer then 1 else 0 end) as customers,
            sum(lifetime_revenue) as revenue,
            max(age_months) as max_age
        from user_channels
        group by channel
    ) as users on users.channel = channels.channel
    left join channel_spend on channel_spend.channel = channels.channel

),

month_spine as (

    select totals.channel, series.n as m
    from totals
    cross join {{ integer_series('greatest(coalesce(totals.max_age, -1), 0)') }} as series(n)
    where totals.max_age >= 0

),

{#- Users and revenue summed per (channel, age) first: the month spine then joins a few
    hundred rows instead of every user once per month of the curve. #}
users_by_age as (

    select channel, age_months, count(*) as users
    from user_channels
    group by channel, age_months

),

revenue_by_age as (

    select
        user_channels.channel,
        user_channels.age_months,
        revenue_months.months_since_signup,
        sum(revenue_months.revenue) as revenue
    from user_channels
    join {{ ref('int_user_revenue_months') }} as revenue_months
        on revenue_months.user_key = user_channels.user_key
    group by user_channels.channel, user_channels.age_months, revenue_months.months_since_signup

),

eligible_users as (

    select month_spine.channel, month_spine.m, sum(users_by_age.users) as users
    from month_spine
    join users_by_age on users_by_age.channel = month_spine.channel and users_by_age.age_months >= month_spine.m
    group by 1, 2

),

eligible_revenue as (

    select month_spine.channel, month_spine.m, sum(revenue_by_age.revenue) as revenue
    from month_spine
    join revenue_by_age
        on revenue_by_age.channel = month_spine.channel
        and revenue_by_age.age_months >= month_spine.m
        and revenue_by_age.months_since_signup <= month_spine.m
    group by 1, 2

),

ltv_curve as (

    select
        eligible_users.channel,
        eligible_users.m,
        cast(coalesce(eligible_revenue.revenue, 0) as double) / eligible_users.users as ltv_at_month
    from eligible_users
    left join eligible_revenue
        on eligible_revenue.channel = eligible_users.channel and eligible_revenue.m = eligible_users.m

),

economics as (

    select
        totals.*,
        {{ safe_ratio('totals.spend', 'totals.signups') }} as cost_per_signup,
        {{ safe_ratio('totals.spend', 'totals.customers') }} as cac,
        horizon.ltv_at_month as ltv
    from totals
    left join ltv_curve as horizon
        on horizon.channel = totals.channel and horizon.m = {{ var('ltv_horizon_months') }} - 1

),

payback as (

    select economics.channel, min(ltv_curve.m) + 1 as payback_months
    from economics
    join ltv_curve on ltv_curve.channel = economics.channel and ltv_curve.ltv_at_month >= economics.cost_per_signup
    where economics.cost_per_signup > 0
    group by economics.channel

)

select
    economics.channel,
    cast(economics.signups as bigint) as signups,
    cast(economics.spend as double) as spend,
    cast(economics.customers as bigint) as customers,
    economics.cost_per_signup,
    economics.cac,
    cast(economics.revenue as double) as revenue,
    economics.ltv,
    case when economics.cost_per_signup > 0 then economics.ltv / economics.cost_per_signup end as ltv_cac_ratio,
    case
        when economics.cost_per_signup is null then null
        when economics.cost_per_signup = 0 then 0
        else payback.payback_months
    end as payback_months
from economics
left join payback on payback.channel = economics.channel
