{#- One row per user (metrics.md marts.dim_users). -#}
with

events as (

    select * from {{ ref('int_events_attributed') }} where user_key is not null

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

sessions as (

    select user_key, count(*) as sessions from {{ ref('fct_sessions') }} group by user_key

),

firsts as (

    select
        user_key,
        min(event_at) as first_seen_at,
        min(case when event_type = 'track' and event_name = {{ sql_string(var('signup_event')) }} then event_at end)
            as signup_event_at,
        min(case when event_type = 'track' and event_name = {{ sql_string(var('purchase_event')) }}
                  and revenue > 0 then event_at end) as first_purchase_at,
        max(case when is_activity then event_at end) as last_active_at,
        coalesce(sum(case when event_type = 'track' then revenue end), 0) as lifetime_revenue,
        sum(case when is_activity then 1 else 0 end) as activity_events
    from events
    group by user_key

),

signed_up as (

    select
        *,
        coalesce(signup_event_at, first_seen_at) as signed_up_at
    from firsts

),

acquisition_touches as (

    select
        events.user_key,
        events.campaign_source,
        events.campaign_name,
        row_number() over (
            partition by events.user_key order by events.event_at, events.message_id
        ) as touch_rank
    from events
    join signed_up on signed_up.user_key = events.user_key
    where events.campaign_source is not null
      and events.event_at <= signed_up.signed_up_at

),

activations as (

    select events.user_key, min(events.event_at) as activated_at
    from events
    join signed_up on signed_up.user_key = events.user_key
    where events.event_type = 'track'
      and events.event_name = {{ sql_string(var('activation_event')) }}
      and events.event_at >= signed_up.signed_up_at
      and events.event_at <= {{ dbt.dateadd('day', var('activation_window_days'), 'signed_up.signed_up_at') }}
    group by events.user_key

)

select
    signed_up.user_key,
    signed_up.first_seen_at,
    signed_up.signed_up_at,
    {{ reporting_date('signed_up.signed_up_at') }} as signup_date,
    coalesce(acquisition_touches.campaign_source, 'direct') as acquisition_channel,
    acquisition_touches.campaign_name as acquisition_campaign,
    activations.activated_at,
    activations.activated_at is not null as is_activated,
    signed_up.first_purchase_at,
    signed_up.first_purchase_at is not null as is_customer,
    signed_up.last_active_at,
    (
        signed_up.last_active_at is null
        or {{ dbt.datediff(reporting_date('signed_up.last_active_at'), 'reporting_period.data_end_date', 'day') }}
            > {{ var('churn_inactivity_days') }}
    ) as is_churned,
    cast(signed_up.lifetime_revenue as double) as lifetime_revenue,
    cast(signed_up.activity_events as bigint) as activity_events,
    coalesce(sessions.sessions, 0) as sessions
from signed_up
cross join reporting_period
left join acquisition_touches
    on acquisition_touches.user_key = signed_up.user_key and acquisition_touches.touch_rank = 1
left join activations on activations.user_key = signed_up.user_key
left join sessions on sessions.user_key = signed_up.user_key
