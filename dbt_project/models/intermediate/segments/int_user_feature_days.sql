{#-
  One row per (user, track event name, date) on which the user had activity events of that
  name (segments.md "Feature adoption": a user uses a feature on a date when they have an
  activity event that is a track event named the feature's event): how many, and the first
  and last of them. The features are chosen downstream (int_features), so every track
  event name is kept.

  Incremental: the activity events attributed since the last run fold into the stored rows
  of their (user, event, date) (counts add, first and last combine); users who gained or
  lost events by re-attribution are deleted first (a pre-hook) and recomputed from all
  their events, as int_user_facts does.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['user_key', 'event_name', 'activity_date'],
    **incremental_hooks(plan=['delete_users_with_moved_events']),
) }}
{%- set ready = incremental_ready() %}
{%- set track_activity = "is_activity and event_type = 'track'" %}
{#- The parent the incremental form reads (dbt parses the model in its full form). #}
-- depends_on: {{ ref('int_events_attributed') }}
with

{%- if not ready %}

days as (

    {{ feature_days("select * from " ~ ref('int_events_attributed') ~ " where " ~ track_activity) }}

)

{%- else %}

moved_users as (

    {{ users_with_moved_events(changed_since()) }}

),

batch_days as (

    {{ feature_days(
        "select * from " ~ ref('int_events_attributed') ~ " where " ~ track_activity
        ~ " and _batch_at > " ~ changed_since()
        ~ " and user_key not in (select user_key from moved_users)"
    ) }}

),

folded as (

    select
        batch_days.user_key,
        batch_days.event_name,
        batch_days.activity_date,
        batch_days.uses + coalesce(stored.uses, 0) as uses,
        least(batch_days.first_used_at, coalesce(stored.first_used_at, batch_days.first_used_at)) as first_used_at,
        greatest(batch_days.last_used_at, coalesce(stored.last_used_at, batch_days.last_used_at)) as last_used_at
    from batch_days
    left join {{ this }} as stored
        on stored.user_key = batch_days.user_key
        and stored.event_name = batch_days.event_name
        and stored.activity_date = batch_days.activity_date

),

recomputed as (

    {{ feature_days(
        "select * from " ~ ref('int_events_attributed') ~ " where " ~ track_activity
        ~ " and user_key in (select user_key from moved_users)"
    ) }}

),

days as (

    select * from folded
    union all
    select * from recomputed

)

{%- endif %}

select *, {{ batch_at() }} as _batch_at
from days
