{#-
  The two identity links of metrics.md, one row per linked id:
    link_type 'anonymous': anon_link[a]  = userId of the earliest event (timestamp, then
                           messageId) that carries anonymousId = a and a userId;
    link_type 'alias':     alias_link[p] = userId of the earliest alias event (timestamp,
                           then messageId) with previousId = p.
-#}
with

events as (

    select * from {{ ref('stg_segment__events') }}

),

anonymous_links as (

    select
        'anonymous' as link_type,
        anonymous_id as linked_id,
        arg_min(user_id, (event_at, message_id)) as user_id
    from events
    where anonymous_id is not null and user_id is not null
    group by anonymous_id

),

alias_links as (

    select
        'alias' as link_type,
        previous_id as linked_id,
        arg_min(user_id, (event_at, message_id)) as user_id
    from events
    where event_type = 'alias'
    group by previous_id

)

select * from anonymous_links
union all
select * from alias_links
