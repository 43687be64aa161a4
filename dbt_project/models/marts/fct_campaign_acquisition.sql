{#-
  Spend, signups, CAC and revenue so far per month, channel and campaign (revenue.md
  marts.fct_campaign_acquisition): one row per (month, channel, campaign key) that has a
  spend row (zero amounts included), a signup or a new customer, in fct_acquisition's months
  (from the earliest month holding a signup or a spend row to the month of data_end_date).
  Users match by acquisition_channel and their campaign key ('(none)' without one), spend
  by its lower(trim()) channel and campaign key ('(unattributed)' without one); the two
  labels never match, so spend without a campaign is not charged to users without one.
  Summed over campaigns, a (month, channel) gives fct_acquisition's spend and signups (the
  data test campaigns_sum_to_acquisition).
-#}
with

users as (

    select
        acquisition_channel as channel,
        {{ campaign_key('acquisition_campaign', '(none)') }} as campaign,
        {{ trunc_date('month', 'signup_date') }} as signup_month,
        {{ trunc_date('month', reporting_date('first_purchase_at')) }} as first_purchase_month,
        lifetime_revenue
    from {{ ref('dim_users') }}

),

spend as (

    select * from {{ ref('stg_ads__marketing_spend') }}

),

bounds as (

    select
        least(
            coalesce((select min(signup_month) from users), reporting_period.last_month),
            coalesce((select {{ trunc_date('month', 'min(spend_date)') }} from spend), reporting_period.last_month)
        ) as first_month,
        reporting_period.last_month
    from (
        select {{ trunc_date('month', 'data_end_date') }} as last_month from {{ ref('int_reporting_period') }}
    ) as reporting_period

),

monthly_spend as (

    select
        {{ trunc_date('month', 'spend_date') }} as month,
        channel,
        {{ campaign_key('campaign', '(unattributed)') }} as campaign,
        sum(spend) as spend
    from spend
    group by 1, 2, 3

),

monthly_signups as (

    select
        signup_month as month,
        channel,
        campaign,
        count(*) as signups,
        sum(lifetime_revenue) as revenue_to_date
    from users
    group by 1, 2, 3

),

monthly_customers as (

    select first_purchase_month as month, channel, campaign, count(*) as new_customers
    from users
    where first_purchase_month is not null
    group by 1, 2, 3

),

row_keys as (

    select month, channel, campaign from monthly_spend
    union
    select month, channel, campaign from monthly_signups
    union
    select month, channel, campaign from monthly_customers

)

select
    row_keys.month,
    row_keys.channel,
    row_keys.campaign,
    cast(monthly_spend.spend as double) as spend,
    cast(coalesce(monthly_signups.signups, 0) as bigint) as signups,
    cast(coalesce(monthly_customers.new_customers, 0) as bigint) as new_customers,
    {{ safe_ratio('monthly_spend.spend', 'monthly_signups.signups') }} as cost_per_signup,
    {{ safe_ratio('monthly_spend.spend', 'monthly_customers.new_customers') }} as cac,
    cast(coalesce(monthly_signups.revenue_to_date, 0) as double) as revenue_to_date
from row_keys
cross join bounds
left join monthly_spend
    on monthly_spend.month = row_keys.month
    and monthly_spend.channel = row_keys.channel
    and monthly_spend.campaign = row_keys.campaign
left join monthly_signups
    on monthly_signups.month = row_keys.month
    and monthly_signups.channel = row_keys.channel
    and monthly_signups.campaign = row_keys.campaign
left join monthly_customers
    on monthly_customers.month = row_keys.month
    and monthly_customers.channel = row_keys.channel
    and monthly_customers.campaign = row_keys.campaign
where row_keys.month between bounds.first_month and bounds.last_month
