{#- What the plans of fct_sessions and int_user_days_active start from: the activity that
    changed since the model's last run. -#}

{#-
  Activity changes since this model's last run, from int_events_attributed, one row per
  (user_key, event): +1 for every (re)written activity event under its user_key, -1 under
  the user_key a re-attributed activity event had before (the event moved away).
-#}
{% macro activity_changes(since) -%}
    select user_key, event_at, event_date, 1 as delta
    from {{ ref('int_events_attributed') }}
    where _batch_at > {{ since }} and is_activity
    union all
    select replaced_user_key, event_at, event_date, -1
    from {{ ref('int_events_attributed') }}
    where _batch_at > {{ since }} and replaced_user_key is not null and is_engagement_event
{%- endmacro %}

{#- Per user whose activity changed since this model's last run: the earliest changed
    event's time and date (the date in the reporting time zone, as event_date). -#}
{% macro activity_changed_users(since) -%}
    select user_key, min(event_at) as changed_from_at, min(event_date) as first_changed_date
    from ({{ activity_changes(since) }}) as changed
    group by user_key
{%- endmacro %}

{#- The earliest changed activity event of this run, as a literal (for filter pushdown):
    its time (a timestamptz), or with date=true its event_date. -#}
{% macro earliest_activity_change(date=false) -%}
    {%- set column = 'event_date' if date else 'event_at' -%}
    {%- set query -%}
        select cast(min({{ column }}) as varchar) from ({{ activity_changes(changed_since()) }}) as changed
    {%- endset -%}
    {%- set earliest = run_query(query).rows[0][0] -%}
    cast('{{ earliest or "infinity" }}' as {{ 'date' if date else 'timestamptz' }})
{%- endmacro %}
