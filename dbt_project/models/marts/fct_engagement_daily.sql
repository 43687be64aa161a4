{#- One row per date with a session start (metrics.md marts.fct_engagement_daily). -#}
select
    session_date,
    count(*) as sessions,
    count(distinct user_key) as users,
    {{ safe_ratio('count(*)', 'count(distinct user_key)') }} as sessions_per_user,
    avg(duration_seconds) as avg_session_seconds,
    {{ median('duration_seconds') }} as median_session_seconds,
    avg(cast(event_count as double)) as events_per_session
from {{ ref('fct_sessions') }}
group by session_date
