{#-
  Per user: the facts dim_users publishes, int_events_aggregated_to_users kept as a table
  and brought up to date incrementally (metrics.md "Rebuilds"). A rebuild copies that view.

  Incremental: the events attributed since the last run are folded into the stored facts
  (minimums, maximums and sums combine, and so do the earliest platform and country
  events, by (timestamp, messageId); the touch and the activation combine while
  signed_up_at stays the same). Users whose signed_up_at moves, and users who gained or
  lost events by re-attribution, are recomputed from all their events; brand-new users
  from the new events alone (they have no others). The plan (macros/plans/
  int_user_facts_plan.sql) lists the users to recompute in a temp table before the model
  runs: a day of new events usually has none, and then reading their events costs nothing.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='user_key',
    **incremental_hooks(plan=['delete_users_with_moved_events', 'user_facts_plan']),
) }}
{%- set ready = incremental_ready() %}
{#- The parent the incremental form reads (dbt parses the model in its full form). #}
-- depends_on: {{ ref('int_events_attributed') }}
with

{%- if not ready %}

facts as (

    select * from {{ ref('int_events_aggregated_to_users') }}

)

{%- else %}

batch as (

    select * from {{ ref('int_events_attributed') }}
    where _batch_at > {{ changed_since() }} and user_key is not null

),

batch_facts as (

    {{ user_facts_from_events("select * from batch") }}

),

recompute_users as (

    select user_key from {{ user_facts_recompute_relation() }}

),

stored as (

    select stored.*
    from {{ this }} as stored
    where stored.user_key in (select user_key from batch_facts)

),

folded as (

    {#- Existing users, not recomputed: stored facts combined with the batch's. #}
    select
        stored.user_key,
        least(stored.first_seen_at, batch_facts.first_seen_at) as first_seen_at,
        coalesce(least(stored.signup_event_at, batch_facts.signup_event_at), stored.signup_event_at, batch_facts.signup_event_at)
            as signup_event_at,
        stored.signed_up_at,
        coalesce(least(stored.first_purchase_at, batch_facts.first_purchase_at), stored.first_purchase_at, batch_facts.first_purchase_at)
            as first_purchase_at,
        coalesce(greatest(stored.last_active_at, batch_facts.last_active_at), stored.last_active_at, batch_facts.last_active_at)
            as last_active_at,
        stored.lifetime_revenue + batch_facts.lifetime_revenue as lifetime_revenue,
        stored.activity_events + batch_facts.activity_events as activity_events,
        {{ fold_candidate('first_platform', 'stored', 'batch_facts') }},
        stored.has_page_activity or batch_facts.has_page_activity as has_page_activity,
        {{ fold_candidate('first_country', 'stored', 'batch_facts') }}
    from stored
    join batch_facts on batch_facts.user_key = stored.user_key
    where stored.user_key not in (select user_key from recompute_users)

),

touch_candidates as (

    select folded.user_key, stored.touch_at, stored.touch_message_id, stored.acquisition_source, stored.acquisition_campaign
    from folded
    join stored on stored.user_key = folded.user_key
    where stored.touch_at is not null
    union all
    select folded.user_key, batch.event_at, batch.message_id, batch.campaign_source, batch.campaign_name
    from folded
    join batch on batch.user_key = folded.user_key
    where {{ is_acquisition_touch('batch', 'folded.signed_up_at') }}

),

touches as (

    select *
    from touch_candidates
    qualify row_number() over (partition by user_key order by touch_at, touch_message_id) = 1

),

batch_activations as (

    {{ first_activations('batch', 'folded') }}

),

folded_facts as (

    select
        folded.*,
        touches.touch_at,
        touches.touch_message_id,
        touches.acquisition_source,
        touches.acquisition_campaign,
        coalesce(least(stored.activated_at, batch_activations.activated_at), stored.activated_at, batch_activations.activated_at)
            as activated_at
    from folded
    join stored on stored.user_key = folded.user_key
    left join touches on touches.user_key = folded.user_key
    left join batch_activations on batch_activations.user_key = folded.user_key

),

{#- Read once, then by each part of the facts below (DuckDB keeps a CTE read more than once):
    one scan of the events for the few users, not one per part. #}
recompute_events as (

    select * from {{ ref('int_events_attributed') }}
    where user_key in (select user_key from recompute_users)

),

recomputed as (

    {{ user_facts_from_events("select * from recompute_events") }}

),

facts as (

    select * from folded_facts
    union all
    select * from recomputed
    union all
    {#- New users: every event they have is in the batch. #}
    select * from batch_facts
    where user_key not in (select user_key from stored)
      and user_key not in (select user_key from recompute_users)

)

{%- endif %}

select *, {{ batch_at() }} as _batch_at
from facts
