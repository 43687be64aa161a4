{#-
  Per user with an identify or group event: the trait and account columns of dim_users
  (segments.md "User properties"). trait_<name> is the usable value of the earliest identify
  event that has one, latest_trait_<name> that of the latest; account_id the groupId of
  the latest group event. Earliest and latest are in (timestamp, messageId) order; only
  events with a user_key count (stitching gives an anonymous identify its user).

  Recomputed at every build from the identify and group events, a small share of all
  events: a var change (user_traits) or a late identify shows at the next build.
-#}
{%- set traits = user_traits() %}
with

property_events as (

    select
        user_key,
        message_id,
        event_type,
        event_at,
        group_id,
        traits_json
    from {{ ref('int_events_attributed') }}
    where event_type in ('identify', 'group') and user_key is not null

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
    {{ pick_value('group_id', "event_type = 'group'", latest=true) }} as account_id
from usable
group by user_key
