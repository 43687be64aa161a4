{#-
  Every valid event with its user_key (null for anonymous visitors) and whether it counts
  as activity (metrics.md "Activity events"): track/page/screen with a user_key, except
  track events named in inactive_events. Base id: userId; else anon_link[anonymousId];
  else alias_link[anonymousId]. Stitching is retroactive: links apply to earlier events.
-#}
with

events as (

    select * from {{ ref('stg_segment__events') }}

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
        based.* exclude (base_id),
        resolved.user_key,
        (
            based.event_type in ('track', 'page', 'screen')
            {%- if var('inactive_events') %}
            and not (based.event_type = 'track' and coalesce(based.event_name in {{ sql_string_list(var('inactive_events')) }}, false))
            {%- endif %}
        ) as is_engagement_event
    from based
    left join resolved on resolved.base_id = based.base_id

)

select
    *,
    is_engagement_event and user_key is not null as is_activity
from engagement
