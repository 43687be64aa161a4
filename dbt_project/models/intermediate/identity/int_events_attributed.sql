{#-
  Every valid event with its user_key (null for anonymous visitors) and whether it counts
  as activity (metrics.md "Activity events"): track/page/screen with a user_key, except
  track events named in inactive_events. Base id: userId; else anon_link[anonymousId];
  else alias_link[anonymousId]. Stitching is retroactive: links apply to earlier events.

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
    pre_hook="{{ empty_unless_incremental(incremental_ready()) }}",
    post_hook="{{ record_incremental_run(incremental_ready()) }}",
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
        * exclude (_batch_at),
        cast(null as varchar) as replaced_user_key,
        cast(null as varchar) as replaced_base_id,
        false as _is_restaged
    from {{ ref('stg_segment__events') }}
    {%- if ready %}
    where _batch_at > {{ changed_since() }}
    {%- endif %}
    {%- if reattribute %}
    union all
    select
        stored.* exclude (base_id, user_key, is_engagement_event, is_activity, replaced_user_key, _is_restaged, _batch_at),
        stored.user_key as replaced_user_key,
        stored.base_id as replaced_base_id,
        true as _is_restaged
    from {{ this }} as stored
    where (
        stored.user_id is null
        and stored.anonymous_id in (
            select linked_id from {{ ref('int_identity_links') }} where _batch_at > {{ changed_since() }}
        )
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
        based.* exclude (replaced_user_key, replaced_base_id, _is_restaged),
        resolved.user_key,
        (
            based.event_type in ('track', 'page', 'screen')
            {%- if var('inactive_events') %}
            and not (based.event_type = 'track' and coalesce(based.event_name in {{ sql_string_list(var('inactive_events')) }}, false))
            {%- endif %}
        ) as is_engagement_event,
        based.replaced_user_key,
        based.replaced_base_id,
        based._is_restaged
    from based
    left join resolved on resolved.base_id = based.base_id

)

select
    * exclude (replaced_base_id, _is_restaged),
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
