{#-
  One row per user and date on which the user had an activity event, with the user's
  previous and next activity dates: the marts read a user's period-to-period movements
  (growth accounting, retention, WAU/MAU spans) row by row from these, without sorting
  every user's history again.

  Incremental: activity events attributed since the last run (new events +1, events that
  moved away from a user -1) change the counts of their (user, date) pairs. For each
  changed user, the rows from the last stored date before the earliest changed date
  onward are rewritten (user_days_plan): their counts plus the changes, and previous/next
  dates again; a row whose count falls to 0 disappears.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    **incremental_hooks(plan=['user_days_plan']),
) }}
{%- set ready = incremental_ready() %}
with

{%- if ready %}

changes as (

    select user_key, event_date as activity_date, sum(delta) as delta
    from ({{ activity_changes(changed_since()) }}) as changed
    group by user_key, event_date

),

counted as (

    select
        coalesce(kept.user_key, changes.user_key) as user_key,
        coalesce(kept.activity_date, changes.activity_date) as activity_date,
        coalesce(kept.activity_events, 0) + coalesce(changes.delta, 0) as activity_events,
        kept.previous_activity_date as kept_previous_date,
        kept.is_plan_start
    from {{ user_days_plan_relation() }} as kept
    full outer join changes
        on changes.user_key = kept.user_key and changes.activity_date = kept.activity_date

),

days as (

    select
        user_key,
        activity_date,
        activity_events,
        case
            when coalesce(is_plan_start, false) then kept_previous_date
            else lag(activity_date) over by_user
        end as previous_activity_date,
        lead(activity_date) over by_user as next_activity_date
    from counted
    where activity_events > 0
    window by_user as (partition by user_key order by activity_date)

)

{%- else %}

counted as (

    select user_key, event_date as activity_date, count(*) as activity_events
    from {{ ref('int_events_attributed') }}
    where is_activity
    group by user_key, event_date

),

days as (

    select
        *,
        lag(activity_date) over by_user as previous_activity_date,
        lead(activity_date) over by_user as next_activity_date
    from counted
    window by_user as (partition by user_key order by activity_date)

)

{%- endif %}

select
    user_key,
    activity_date,
    cast(activity_events as bigint) as activity_events,
    previous_activity_date,
    next_activity_date,
    {{ batch_at() }} as _batch_at
from days
