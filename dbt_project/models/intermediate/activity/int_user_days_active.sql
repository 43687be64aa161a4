{#-
  One row per user and date on which the user had an activity event.

  Incremental: only the (user, date) pairs touched by events attributed since the last run
  (new events, and events that moved to or away from a user) are deleted and counted again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook=[
        "{{ empty_unless_incremental(incremental_ready()) }}",
        "{{ user_days_delete_changed(incremental_ready()) }}",
    ],
    post_hook="{{ record_incremental_run(incremental_ready()) }}",
) }}
{%- set ready = incremental_ready() %}
with

events as (

    select * from {{ ref('int_events_attributed') }}

){%- if ready %},

changed_days as (

    select distinct user_key, event_date from ({{ activity_changes(changed_since()) }}) as changed

){%- endif %}

select
    events.user_key,
    events.event_date as activity_date,
    count(*) as activity_events,
    {{ batch_at() }} as _batch_at
from events
{%- if ready %}
join changed_days on changed_days.user_key = events.user_key and changed_days.event_date = events.event_date
{%- endif %}
where events.is_activity
group by events.user_key, events.event_date
