{#-
  Per user with an identify or group event: the trait and account columns of dim_users
  (segments.md "User properties"). trait_<name> is the usable value of the earliest identify
  event that has one, latest_trait_<name> that of the latest; account_id the groupId of
  the latest group event. Earliest and latest are in (timestamp, messageId) order; only
  events with a user_key count (stitching gives an anonymous identify its user).

  Incremental: users with an identify or group event attributed since the last run, and
  users who gained or lost events by re-attribution, are recomputed from all their identify
  and group events (a small share of all events); the moved users' stored rows go first (a
  pre-hook), so a user left without such events disappears. user_traits is part of the
  incremental signature: changing it rebuilds the table.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='user_key',
    **incremental_hooks(plan=['delete_users_with_moved_events']),
) }}
{%- set traits = user_traits() %}
{%- set is_property_event = "event_type in ('identify', 'group') and user_key is not null" %}
with

{%- if incremental_ready() %}

changed_users as (

    select user_key from {{ ref('int_events_attributed') }}
    where _batch_at > {{ changed_since() }} and {{ is_property_event }}
    union
    {{ users_with_moved_events(changed_since()) }}

),

{%- endif %}

property_events as (

    select
        user_key,
        message_id,
        event_type,
        event_at,
        group_id,
        traits_json
    from {{ ref('int_events_attributed') }}
    where {{ is_property_event }}
    {%- if incremental_ready() %}
        and user_key in (select user_key from changed_users)
    {%- endif %}

),

usable as (

    select
        user_key,
        message_id,
        event_type,
        event_at,
        group_id
        {%- for trait in traits %},
        case when event_type = 'identify' then {{ usable_trait('traits_json', trait) }} end as trait_{{ trait }}
        {%- endfor %}
    from property_events

)

select
    user_key
    {%- for trait in traits %},
    {{ pick_value('trait_' ~ trait, 'true') }} as trait_{{ trait }},
    {{ pick_value('trait_' ~ trait, 'true', latest=true) }} as latest_trait_{{ trait }}
    {%- endfor %},
    {{ pick_value('group_id', "event_type = 'group'", latest=true) }} as account_id,
    {{ batch_at() }} as _batch_at
from usable
group by user_key
