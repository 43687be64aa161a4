{#-
  Every valid event with its user_key (null for anonymous visitors) and whether it counts
  as activity (metrics.md "Activity events"): track/page/screen with a user_key, except
  track events named in inactive_events and experiment exposures (experiment_exposure_event):
  viewing an experiment does not make a user active. Base id: userId; else anon_link[anonymousId];
  else alias_link[anonymousId]. Stitching is retroactive: links apply to earlier events.

  Narrow on purpose: every row is written once per event, and each high-cardinality id
  column costs about as much to write as all the small ones together. It keeps what the
  models downstream read; the rest of an event is in stg_segment__events (by message_id).
  The segment properties (segments.md) ride along: platform and country (low-cardinality,
  cheap to store), group_id and traits_json (null except on group and identify events).
  userId is not stored: for an event with a userId it is the base id. anonymousId is kept
  only for events without a userId (anonymous_visitor_id), the only ones whose attribution
  depends on it and the only ones counted as anonymous visitors. The base id is kept only
  where it differs from the user_key (merged_base_id: an alias or a merged id); for almost
  every event it is the user_key itself, and a second copy of it was a fifth of this
  model's cost. The base id is coalesce(merged_base_id, user_key).

  Incremental (unique on message_id): the events staged since the last run, plus the
  stored events whose attribution can have changed: those without a userId whose
  anonymousId has a new or changed link, and those whose base id got a new user_key.
  A re-attributed event is rewritten only when its base id or user_key changed, and keeps
  the user_key it had in replaced_user_key, so downstream models know which users lost it.
  The `restage` strategy deletes the stored copies of rewritten events (_is_restaged) and
  appends the batch; a run without re-attribution is a plain append.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='restage',
    unique_key='message_id',
    **incremental_hooks(),
) }}
{%- set ready = incremental_ready() %}
{%- set reattribute = false %}
{%- if ready %}
    {%- set query -%}
        select
            (select count(*) from {{ ref('int_identity_links') }} where _batch_at > {{ changed_since() }})
            + (select count(*) from {{ ref('int_identity_links_resolved') }} where _batch_at > {{ changed_since() }})
    {%- endset %}
    {%- set reattribute = run_query(query).rows[0][0] > 0 %}
{%- endif %}
with

events as (

    select
        message_id,
        user_id,
        anonymous_id,
        event_type,
        event_name,
        event_at,
        event_date,
        revenue,
        campaign_source,
        campaign_name,
        billing_interval_months,
        platform,
        country,
        group_id,
        traits_json,
        cast(null as {{ dbt.type_string() }}) as replaced_user_key,
        cast(null as {{ dbt.type_string() }}) as replaced_base_id,
        false as _is_restaged
    from {{ ref('stg_segment__events') }}
    {%- if ready %}
    where _batch_at > {{ changed_since() }}
    {%- endif %}
    {%- if reattribute %}
    union all
    {#- A stored event without anonymous_visitor_id had a userId (its base id) or no id at all
        (base id null), so its userId is the stored base id in both cases. #}
    select
        stored.message_id,
        case when stored.anonymous_visitor_id is null then stored.base_id end as user_id,
        stored.anonymous_visitor_id as anonymous_id,
        stored.event_type,
        stored.event_name,
        stored.event_at,
        stored.event_date,
        stored.revenue,
        stored.campaign_source,
        stored.campaign_name,
        stored.billing_interval_months,
        stored.platform,
        stored.country,
        stored.group_id,
        stored.traits_json,
        stored.user_key as replaced_user_key,
        stored.base_id as replaced_base_id,
        true as _is_restaged
    from (select *, coalesce(merged_base_id, user_key) as base_id from {{ this }}) as stored
    where stored.anonymous_visitor_id in (
        select linked_id from {{ ref('int_identity_links') }} where _batch_at > {{ changed_since() }}
    ) or stored.base_id in (
        select base_id from {{ ref('int_identity_links_resolved') }} where _batch_at > {{ changed_since() }}
    )
    {%- endif %}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

resolved as (

    select * from {{ ref('int_identity_links_resolved') }}

),

based as (

    select
        events.*,
        coalesce(events.user_id, anonymous_links.user_id, alias_links.user_id) as base_id
    from events
    left join links as anonymous_links
        on anonymous_links.link_type = 'anonymous' and anonymous_links.linked_id = events.anonymous_id
    left join links as alias_links
        on alias_links.link_type = 'alias' and alias_links.linked_id = events.anonymous_id

),

engagement as (

    select
        based.message_id,
        based.base_id,
        resolved.user_key,
        case when based.user_id is null then based.anonymous_id end as anonymous_visitor_id,
        based.event_type,
        based.event_name,
        based.event_at,
        based.event_date,
        based.revenue,
        based.campaign_source,
        based.campaign_name,
        based.billing_interval_months,
        based.platform,
        based.country,
        based.group_id,
        based.traits_json,
        (
            based.event_type in ('track', 'page', 'screen')
            and not (
                based.event_type = 'track'
                and coalesce(based.event_name in {{ sql_string_list([var('experiment_exposure_event')] + var('inactive_events')) }}, false)
            )
        ) as is_engagement_event,
        based.replaced_user_key,
        based.replaced_base_id,
        based._is_restaged
    from based
    left join resolved on resolved.base_id = based.base_id

)

select
    {{ star_except(['base_id', 'replaced_base_id', '_is_restaged']) }},
    case when base_id is distinct from user_key then base_id end as merged_base_id,
    is_engagement_event and user_key is not null as is_activity,
    _is_restaged,
    {{ batch_at() }} as _batch_at
from engagement
{%- if reattribute %}
where not (
    _is_restaged
    and replaced_base_id is not distinct from base_id
    and replaced_user_key is not distinct from user_key
)
{%- endif %}
