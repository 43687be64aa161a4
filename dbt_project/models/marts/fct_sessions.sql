{#-
  Sessions (metrics.md marts.fct_sessions): per user, activity events in (timestamp,
  messageId) order; an event starts a new session when it is the user's first or when MORE
  than session_timeout_minutes passed since the previous activity event. A gap of exactly
  the timeout stays in the session; sessions do not split at midnight. session_id is
  user_key || '/' || the session start in epoch microseconds: unique (a user's sessions
  never start at the same instant, and the digits after the last '/' are the start), stable
  when later sessions change, and readable. (An md5 of the same made the full build half a
  minute slower at 50M events: a random 32-character string per session to compute, write
  and test.)

  Incremental: an activity event at time t that appears (or moves away) can only change
  the user's sessions that end at or after t - timeout; every earlier session is separated
  from it by more than the timeout. For each user whose activity changed, the pre-hooks
  delete those sessions (sessions_plan) and this model re-sessionizes the user's events
  from the first deleted session's start (or the changed event, when none was deleted).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    **incremental_hooks(plan=['sessions_plan', 'sessions_delete_replanned'], changed_from='sessions_changed_from'),
) }}
{%- set ready = incremental_ready() %}
with

activity as (

    select events.user_key, events.event_at
    from {{ ref('int_events_attributed') }} as events
    {%- if ready %}
    join {{ sessions_plan_relation() }} as plan
        on plan.user_key = events.user_key and events.event_at >= plan.restart_at
    {%- endif %}
    where events.is_activity
    {%- if ready %}
      and events.event_at >= {{ sessions_earliest_restart() }}
    {%- endif %}

),

{#- One sort of each user's events: an event's neighbours say whether it starts a session
    (first, or more than the timeout after the previous event) or ends one (last, or more
    than the timeout before the next). The spec's messageId tie-break is left out of the
    sort: events at the same instant are 0 apart, so whichever of them comes first, the
    session starts, ends and counts are the same (and the sort, by far this model's
    largest cost, is a fifth cheaper without a 36-character key). -#}
neighbours as (

    select
        user_key,
        event_at,
        row_number() over by_user as event_number,
        lag(event_at) over by_user as previous_at,
        lead(event_at) over by_user as next_at
    from activity
    window by_user as (partition by user_key order by event_at)

),

boundaries as (

    select
        user_key,
        event_at,
        event_number,
        previous_at is null
            or {{ more_than_minutes_after('previous_at', 'event_at', var('session_timeout_minutes')) }} as is_session_start,
        next_at is null
            or {{ more_than_minutes_after('event_at', 'next_at', var('session_timeout_minutes')) }} as is_session_end
    from neighbours

),

{#- Only starts and ends are left, in event order: a session's end is its start's own row
    (a one-event session) or the next one. -#}
sessions as (

    select
        user_key,
        is_session_start,
        event_at as session_start,
        case when is_session_end then event_at else lead(event_at) over by_user end as session_end,
        cast(case when is_session_end then 1 else (lead(event_number) over by_user) - event_number + 1 end as bigint) as event_count
    from boundaries
    where is_session_start or is_session_end
    window by_user as (partition by user_key order by event_number)

)

select
    user_key || '/' || {{ timestamp_key('session_start') }} as session_id,
    user_key,
    session_start,
    session_end,
    {{ reporting_date('session_start') }} as session_date,
    {{ seconds_between('session_start', 'session_end') }} as duration_seconds,
    event_count,
    {{ batch_at() }} as _batch_at
from sessions
where is_session_start
