{#-
  Per user with an identify or group event: the trait and account columns of dim_users
  (segments.md "User properties"). trait_<name> is the usable value of the earliest identify
  event that has one, latest_trait_<name> that of the latest; account_id the groupId of
  the latest group event. Earliest and latest are in (timestamp, messageId) order; only
  events with a user_key count (stitching gives an anonymous identify its user). Each value
  is kept with the instant and messageId it came from (<column>_at, <column>_message_id),
  so that later events fold into it.

  Incremental: the identify and group events attributed since the last run fold into the
  stored values (the earlier, or later, of the two candidates: macros/earliest.sql), so the
  build reads only the new events; users who gained or lost events by re-attribution are
  deleted first (a pre-hook) and recomputed from all their identify and group events.
  user_traits is part of the incremental signature: changing it rebuilds the table.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='user_key',
    **incremental_hooks(plan=['delete_users_with_moved_events']),
) }}
{%- set traits = user_traits() %}
{#- (column, value, condition, latest): one candidate per output column. #}
{%- set candidates = [] %}
{%- for trait in traits %}
    {%- do candidates.append(('trait_' ~ trait, 'trait_' ~ trait, 'true', false)) %}
    {%- do candidates.append(('latest_trait_' ~ trait, 'trait_' ~ trait, 'true', true)) %}
{%- endfor %}
{%- do candidates.append(('account_id', 'group_id', "event_type = 'group'", true)) %}
{#- The identify and group events with a user_key, each with its usable traits. -#}
{%- set property_events -%}
    select
        user_key,
        message_id,
        event_type,
        event_at,
        group_id
        {%- for trait in traits %},
        case when event_type = 'identify' then {{ usable_trait('traits_json', trait) }} end as trait_{{ trait }}
        {%- endfor %}
    from {{ ref('int_events_attributed') }}
    where event_type in ('identify', 'group')
      and user_key is not null
{%- endset %}
{%- set ready = incremental_ready() %}
with

{%- if not ready %}

property_events as (

    {{ property_events }}

),

properties as (

    {{ picks_of('property_events', candidates) }}

)

{%- else %}

moved_users as (

    {{ users_with_moved_events(changed_since()) }}

),

batch_events as (

    {{ property_events }}
      and _batch_at > {{ changed_since() }}
      and user_key not in (select user_key from moved_users)

),

batch as (

    {{ picks_of('batch_events', candidates) }}

),

folded as (

    select
        batch.user_key
        {%- for column, value, condition, latest in candidates %},
        {{ fold_candidate(column, 'stored', 'batch', latest=latest) }}
        {%- endfor %}
    from batch
    left join {{ this }} as stored on stored.user_key = batch.user_key

),

moved_events as (

    {{ property_events }}
      and user_key in (select user_key from moved_users)

),

recomputed as (

    {{ picks_of('moved_events', candidates) }}

),

properties as (

    select * from folded
    union all
    select * from recomputed

)

{%- endif %}

select *, {{ batch_at() }} as _batch_at
from properties
