{#-
  Every id that can be an event's base id, mapped to its user_key: follow alias_link at
  most 10 hops, stopping before an id already visited (so alias cycles terminate).
-#}
with

events as (

    select * from {{ ref('stg_segment__events') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

alias_links as (

    select linked_id as previous_id, user_id from links where link_type = 'alias'

),

base_ids as (

    select user_id as base_id from events where user_id is not null
    union
    select user_id from links

),

walk as (

    with recursive steps (base_id, current_id, hops, visited) as (
        select base_id, base_id, 0, [base_id] from base_ids
        union all
        select steps.base_id, alias_links.user_id, steps.hops + 1, list_append(steps.visited, alias_links.user_id)
        from steps
        join alias_links on alias_links.previous_id = steps.current_id
        where steps.hops < 10
          and not list_contains(steps.visited, alias_links.user_id)
    )
    select * from steps

)

select base_id, arg_max(current_id, hops) as user_key
from walk
group by base_id
