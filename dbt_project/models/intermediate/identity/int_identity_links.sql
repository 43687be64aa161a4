{#-
  The two identity links of metrics.md, one row per linked id:
    link_type 'anonymous': anon_link[a]  = userId of the earliest event (timestamp, then
                           messageId) that carries anonymousId = a and a userId;
    link_type 'alias':     alias_link[p] = userId of the earliest alias event (timestamp,
                           then messageId) with previousId = p.
  linked_at / link_message_id identify the winning event.

  Incremental: a link is the minimum over its candidate events, so the new winner is the
  minimum of the stored winner and the candidates among events staged since the last run.
  Only links that are new or whose winner changed are written (with this run's _batch_at):
  int_identity_links_resolved and int_events_attributed re-attribute exactly those.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['link_type', 'linked_id'],
    **incremental_hooks(),
) }}
{%- set ready = incremental_ready() %}
with

{#- not materialized: read twice below, and a copy of every event costs more than two scans. #}
events as {{ not_materialized() }} (

    select * from {{ ref('stg_segment__events') }}
    {%- if ready %}
    where _batch_at > {{ changed_since() }}
    {%- endif %}

),

candidates as (

    select 'anonymous' as link_type, anonymous_id as linked_id, user_id, event_at as linked_at, message_id as link_message_id
    from events
    where anonymous_id is not null and user_id is not null
    union all
    select 'alias', previous_id, user_id, event_at, message_id
    from events
    where event_type = 'alias'

),

{%- if ready %}

stored as (

    select stored.link_type, stored.linked_id, stored.user_id, stored.linked_at, stored.link_message_id
    from {{ this }} as stored
    where exists (
        select 1 from candidates
        where candidates.link_type = stored.link_type and candidates.linked_id = stored.linked_id
    )

),

{%- endif %}

{#- The earliest candidate per link: the minimum of (linked_at, link_message_id, user_id)
    as a struct, one hash aggregation instead of sorting every candidate. #}
winners as (

    select
        link_type,
        linked_id,
        min({{ struct_of([('linked_at', 'linked_at'), ('link_message_id', 'link_message_id'), ('user_id', 'user_id')]) }}) as winner
    from (
        select * from candidates
        {%- if ready %}
        union all
        select * from stored
        {%- endif %}
    ) as contenders
    group by link_type, linked_id

)

select
    winners.link_type,
    winners.linked_id,
    winners.winner.user_id as user_id,
    winners.winner.linked_at as linked_at,
    winners.winner.link_message_id as link_message_id,
    {{ batch_at() }} as _batch_at
from winners
{%- if ready %}
where not exists (
    select 1 from stored
    where stored.link_type = winners.link_type
      and stored.linked_id = winners.linked_id
      and stored.link_message_id = winners.winner.link_message_id
)
{%- endif %}
