{#-
  Sessions (metrics.md fct_sessions): per user, activity events in (timestamp, messageId)
  order; an event starts a new session when it is the user's first or when MORE than
  session_timeout_minutes passed since the previous activity event. A gap of exactly the
  timeout stays in the session; sessions do not split at midnight.
-#}
with

activity as (

    select user_key, message_id, event_at
    from {{ ref('int_events_attributed') }}
    where is_activity

),

flagged as (

    select
        *,
        case
            when lag(event_at) over by_user is null then 1
            when event_at > lag(event_at) over by_user
                + {{ var('session_timeout_minutes') }} * interval '1 minute' then 1
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

)

select
    md5(user_key || '/' || cast(session_number as varchar)) as session_id,
    user_key,
    session_number,
    min(event_at) as session_start,
    max(event_at) as session_end,
    count(*) as event_count
from numbered
group by user_key, session_number
