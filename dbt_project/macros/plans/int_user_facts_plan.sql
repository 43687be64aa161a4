{#- int_user_facts' plan: the users an incremental build recomputes from all their events,
    in a temp table, so the hooks and the model read the same set in the model's
    transaction. They are the users with moved events (deleted by the plan step before this
    one) and the stored users whose signed_up_at the batch moves: their earliest event or
    earliest signup event is now earlier, so the stored signed_up_at no longer holds.

    A table, not a CTE of the model, because the model reads every event of these users:
    with a CTE the planner cannot estimate the set and hashes the events side (all 50M
    events of a filter, e.g. the activation events), while a table with known statistics
    is hashed instead, and an empty one ends the scan of the events at once. -#}
{% macro user_facts_recompute_relation() -%}
    int_user_facts__recompute
{%- endmacro %}

{% macro user_facts_plan(ready) -%}
    {%- if ready -%}
    create or replace temp table {{ user_facts_recompute_relation() }} as
    with batch_firsts as (
        select
            user_key,
            min(event_at) as first_seen_at,
            {{ signup_event_at() }} as signup_event_at
        from {{ ref('int_events_attributed') }}
        where _batch_at > {{ changed_since() }} and user_key is not null
        group by user_key
    ),
    moved_signups as (
        {#- The folded signed_up_at of int_user_facts, against the stored one. #}
        select stored.user_key
        from {{ this }} as stored
        join batch_firsts on batch_firsts.user_key = stored.user_key
        where coalesce(
            coalesce(least(stored.signup_event_at, batch_firsts.signup_event_at), stored.signup_event_at, batch_firsts.signup_event_at),
            least(stored.first_seen_at, batch_firsts.first_seen_at)
        ) <> stored.signed_up_at
    )
    {{ users_with_moved_events(changed_since()) }}
    union
    select user_key from moved_signups
    {%- endif -%}
{%- endmacro %}
