{#-
  Sessions (metrics.md marts.fct_sessions): per user, activity events in (timestamp,
  messageId) order; an event starts a new session when it is the user's first or when MORE
  than session_timeout_minutes passed since the previous activity event. A gap of exactly
  the timeout stays in the session; sessions do not split at midnight. session_id is
  md5(user_key || '/' || the session start in epoch microseconds): unique (a user's sessions
  never start at the same instant) and stable when later sessions change.

  Incremental: an activity event at time t that appears (or moves away) can only change
  the user's sessions that end at or after t - timeout; every earlier session is separated
  from it by more than the timeout. For each user whose activity changed, the pre-hooks
  delete those sessions (sessions_plan) and this model re-sessionizes the user's events
  from the first deleted session's start (or the changed event, when none was deleted).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=[
        "{{ empty_unless_incremental(incremental_ready()) }}",
        "{{ sessions_plan(incremental_ready()) }}",
        "{{ sessions_delete_replanned(incremental_ready()) }}",
    ],
    post_hook="{{ record_incremental_run(incremental_ready(), changed_from='(select min(restart_at) from ' ~ sessions_plan_relation() ~ ')') }}",
) }}
{%- set ready = incremental_ready() %}
with

activity as (

    select events.user_key, events.message_id, events.event_at
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

flagged as (

    select
        *,
        case
            when lag(event_at) over by_user is null then 1
            when event_at > {{ dbt.dateadd('minute', var('session_timeout_minutes'), 'lag(event_at) over by_user') }}
                then 1
            else 0
        end as is_session_start
    from activity
    window by_user as (partition by user_key order by event_at, message_id)

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by user_key order by event_at, message_id rows unbounded preceding
        ) as session_number
    from flagged

),

sessions as (

    select
        user_key,
        session_number,
        min(event_at) as session_start,
        max(event_at) as session_end,
        count(*) as event_count
    from numbered
    group by user_key, session_number

)

select
    md5(user_key || '/' || {{ timestamp_key('session_start') }}) as session_id,
    user_key,
    session_start,
    session_end,
    {{ reporting_date('session_start') }} as session_date,
    {{ seconds_between('session_start', 'session_end') }} as duration_seconds,
    event_count,
    {{ batch_at() }} as _batch_at
from sessions
