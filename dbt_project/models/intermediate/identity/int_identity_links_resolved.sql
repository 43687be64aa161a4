{#-
  Every id that can be an event's base id, mapped to its user_key: follow alias_link at
  most 10 hops, stopping before an id already visited (so alias cycles terminate).

  Incremental: a base id's user_key can only change when it is new or when an alias link
  on its walk changed. Those bases are the new user ids plus every id that reaches a
  changed alias link by following alias links (searched backwards from the changed links,
  up to the same 10 hops). Only bases that are new or whose user_key changed are written.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='base_id',
    **incremental_hooks(),
) }}
{%- set ready = incremental_ready() %}
with

events as (

    select * from {{ ref('stg_segment__events') }}
    {%- if ready %}
    where _batch_at > {{ changed_since() }}
    {%- endif %}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

alias_links as (

    select linked_id as previous_id, user_id from links where link_type = 'alias'

),

candidate_ids as (

    select user_id as base_id from events where user_id is not null
    union
    select user_id from links
    {%- if ready %}
    where _batch_at > {{ changed_since() }}
    {%- endif %}

),

{%- if ready %}

changed_alias_reach as (

    with recursive back (id, hops) as (
        select linked_id, 0 from links where link_type = 'alias' and _batch_at > {{ changed_since() }}
        union all
        select alias_links.previous_id, back.hops + 1
        from back
        join alias_links on alias_links.user_id = back.id
        where back.hops < 10
    )
    select distinct id from back

),

base_ids as (

    select base_id from candidate_ids
    where not exists (select 1 from {{ this }} as stored where stored.base_id = candidate_ids.base_id)
    union
    select stored.base_id from {{ this }} as stored
    where stored.base_id in (select id from changed_alias_reach)

),

{%- else %}

base_ids as (

    select base_id from candidate_ids

),

{%- endif %}

walk as (

    with recursive steps (base_id, current_id, hops, visited) as (
        select base_id, base_id, 0, {{ list_of('base_id') }} from base_ids
        union all
        select steps.base_id, alias_links.user_id, steps.hops + 1, array_append(steps.visited, alias_links.user_id)
        from steps
        join alias_links on alias_links.previous_id = steps.current_id
        where steps.hops < 10
          and not array_contains(steps.visited, alias_links.user_id)
    )
    select * from steps

),

resolved as (

    select base_id, max_by(current_id, hops) as user_key
    from walk
    group by base_id

)

select resolved.*, {{ batch_at() }} as _batch_at
from resolved
{%- if ready %}
where not exists (
    select 1 from {{ this }} as stored
    where stored.base_id = resolved.base_id and stored.user_key = resolved.user_key
)
{%- endif %}
