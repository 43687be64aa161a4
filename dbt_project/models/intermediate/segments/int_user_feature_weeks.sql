{#-
  One row per (user, track event name, week) in which the user had activity events of that
  name (segments.md "Feature adoption": a user uses a feature on a date when they have an
  activity event that is a track event named the feature's event), how many, and the
  instant of the first (int_user_feature_firsts reads it). Weeks,
  not dates: adoption is counted per week, and a week holds about half the rows of its
  days. The features are chosen downstream (int_features), so every track event name is
  kept.

  Incremental: the activity events attributed since the last run add to the stored rows of
  their (user, event, week); users who gained or lost events by re-attribution are deleted
  first (a pre-hook) and recomputed from all their events, as int_user_facts does.

  Written in week order where the table is kept incrementally: a day's events fall in the
  latest week or two, so the lookup of their stored rows, the delete and the uniqueness test
  skip every block of other weeks (by its min/max) instead of reading 30M user keys.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['user_key', 'event_name', 'week_start'],
    **incremental_hooks(plan=['delete_users_with_moved_events']),
) }}
{%- set ready = incremental_ready() %}
{%- set track_activity = "is_activity and event_type = 'track'" %}
{#- The parent the incremental form reads (dbt parses the model in its full form). #}
-- depends_on: {{ ref('int_events_attributed') }}
with

{%- if not ready %}

weeks as (

    {{ feature_weeks("select * from " ~ ref('int_events_attributed') ~ " where " ~ track_activity) }}

)

{%- else %}

moved_users as (

    {{ users_with_moved_events(changed_since()) }}

),

batch_weeks as (

    {{ feature_weeks(
        "select * from " ~ ref('int_events_attributed') ~ " where " ~ track_activity
        ~ " and _batch_at > " ~ changed_since()
        ~ " and user_key not in (select user_key from moved_users)"
    ) }}

),

folded as (

    select
        batch_weeks.user_key,
        batch_weeks.event_name,
        batch_weeks.week_start,
        batch_weeks.uses + coalesce(stored.uses, 0) as uses,
        coalesce(least(stored.first_used_at, batch_weeks.first_used_at), batch_weeks.first_used_at) as first_used_at
    from batch_weeks
    left join {{ this }} as stored
        on stored.user_key = batch_weeks.user_key
        and stored.event_name = batch_weeks.event_name
        and stored.week_start = batch_weeks.week_start

),

recomputed as (

    {{ feature_weeks(
        "select * from " ~ ref('int_events_attributed') ~ " where " ~ track_activity
        ~ " and user_key in (select user_key from moved_users)"
    ) }}

),

weeks as (

    select * from folded
    union all
    select * from recomputed

)

{%- endif %}

select *, {{ batch_at() }} as _batch_at
from weeks
{%- if builds_incrementally() %}
order by week_start
{%- endif %}
