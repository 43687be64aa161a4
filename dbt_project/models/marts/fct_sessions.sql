{#- One row per session (metrics.md marts.fct_sessions); sessions are built in int_sessions_built. -#}
select
    session_id,
    user_key,
    session_start,
    session_end,
    {{ reporting_date('session_start') }} as session_date,
    {{ seconds_between('session_start', 'session_end') }} as duration_seconds,
    event_count
from {{ ref('int_sessions_built') }}
