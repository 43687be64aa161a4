{#-
  revenue.md marts.fct_campaign_acquisition: summed over campaigns (null spend as 0), a
  (month, channel) gives fct_acquisition's spend and signups. Returns every (month, channel)
  where it does not, campaign rows outside fct_acquisition's rows included; spend is
  compared up to what summing doubles in another order can change.
-#}
with

acquisition as (

    select month, channel, spend, signups
    from {{ ref('fct_acquisition') }}
    where channel <> '(all)'

),

summed as (

    select month, channel, sum(coalesce(spend, 0)) as spend, sum(signups) as signups
    from {{ ref('fct_campaign_acquisition') }}
    group by 1, 2

)

select
    coalesce(acquisition.month, summed.month) as month,
    coalesce(acquisition.channel, summed.channel) as channel,
    acquisition.spend as acquisition_spend,
    summed.spend as campaign_spend,
    acquisition.signups as acquisition_signups,
    summed.signups as campaign_signups
from acquisition
full outer join summed on summed.month = acquisition.month and summed.channel = acquisition.channel
where acquisition.month is null
   or abs(acquisition.spend - coalesce(summed.spend, 0)) > 1e-8 * (1 + abs(acquisition.spend))
   or acquisition.signups <> coalesce(summed.signups, 0)
