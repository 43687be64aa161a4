{#-
  One row per date with a session start (metrics.md marts.fct_engagement_daily).

  Incremental: fct_sessions records the earliest session start its run rewrote; every
  session it deleted or wrote starts then or later, so only dates from that start's date
  on are deleted and aggregated again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    **incremental_hooks(plan=['engagement_daily_delete_changed']),
) }}
select
    session_date,
    count(*) as sessions,
    count(distinct user_key) as users,
    {{ safe_ratio('count(*)', 'count(distinct user_key)') }} as sessions_per_user,
    avg(duration_seconds) as avg_session_seconds,
    {{ median('duration_seconds') }} as median_session_seconds,
    avg(cast(event_count as double)) as events_per_session
from {{ ref('fct_sessions') }}
{%- if incremental_ready() %}
where session_date >= {{ reporting_date(parent_changed_from('fct_sessions')) }}
{%- endif %}
group by session_date
