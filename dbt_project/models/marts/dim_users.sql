{#- One row per user (metrics.md marts.dim_users): the facts of int_user_facts, with the
    signup date in the reporting time zone, churn as of data_end_date and session counts,
    and the user properties of segments.md: traits and account from int_user_properties;
    platform falls back to web (a page activity event) or unknown. -#}
with

facts as (

    select * from {{ ref('int_user_facts') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

properties as (

    select * from {{ ref('int_user_properties') }}

),

sessions as (

    select user_key, count(*) as sessions from {{ ref('fct_sessions') }} group by user_key

)

select
    facts.user_key,
    facts.first_seen_at,
    facts.signed_up_at,
    {{ reporting_date('facts.signed_up_at') }} as signup_date,
    coalesce(facts.acquisition_source, 'direct') as acquisition_channel,
    facts.acquisition_campaign,
    facts.activated_at,
    facts.activated_at is not null as is_activated,
    facts.first_purchase_at,
    facts.first_purchase_at is not null as is_customer,
    facts.last_active_at,
    (
        facts.last_active_at is null
        or {{ dbt.datediff(reporting_date('facts.last_active_at'), 'reporting_period.data_end_date', 'day') }}
            > {{ var('churn_inactivity_days') }}
    ) as is_churned,
    facts.lifetime_revenue,
    facts.activity_events,
    coalesce(sessions.sessions, 0) as sessions,
    {%- for trait in user_traits() %}
    properties.trait_{{ trait }},
    properties.latest_trait_{{ trait }},
    {%- endfor %}
    coalesce(facts.first_platform, case when facts.has_page_activity then 'web' else 'unknown' end) as platform,
    facts.first_country as country,
    properties.account_id
from facts
cross join reporting_period
left join sessions on sessions.user_key = facts.user_key
left join properties on properties.user_key = facts.user_key
