{#- fct_sessions' plan: per user whose activity changed, the earliest changed event
    (changed_from_at) and where re-sessionizing starts (restart_at: the start of the first
    session ending at or after changed_from_at - timeout, else changed_from_at). Those
    sessions are deleted. A temp table, so the hooks and the model read the same plan in
    the model's transaction. Stored sessions are filtered by a literal bound first (the
    earliest changed event of the whole run), so a build of new events reads few of them. -#}
{% macro sessions_plan_relation() -%}
    fct_sessions__plan
{%- endmacro %}

{% macro sessions_plan(ready) -%}
    {%- if ready -%}
    {%- set timeout = var('session_timeout_minutes') -%}
    create or replace temp table {{ sessions_plan_relation() }} as
    with changes as (
        {{ activity_changed_users(changed_since()) }}
    ),
    replaced as (
        select stored.session_id, stored.user_key, stored.session_start
        from {{ this }} as stored
        join changes on changes.user_key = stored.user_key
        where stored.session_end >= {{ dbt.dateadd('minute', -timeout, earliest_activity_change()) }}
          and {{ dbt.dateadd('minute', timeout, 'stored.session_end') }} >= changes.changed_from_at
    )
    select
        changes.user_key,
        changes.changed_from_at,
        least(changes.changed_from_at, coalesce(min(replaced.session_start), changes.changed_from_at)) as restart_at,
        list(replaced.session_id) filter (where replaced.session_id is not null) as replaced_session_ids
    from changes
    left join replaced on replaced.user_key = changes.user_key
    group by changes.user_key, changes.changed_from_at
    {%- endif -%}
{%- endmacro %}

{#- The earliest restart_at of the plan, as a literal. Computed from the stored sessions
    (not the plan table), so the model's SQL can use it: dbt compiles the model before its
    pre-hooks run. -#}
{% macro sessions_earliest_restart() -%}
    {%- set timeout = var('session_timeout_minutes') -%}
    {%- set earliest = earliest_activity_change() -%}
    {%- set query -%}
        with changes as (
            {{ activity_changed_users(changed_since()) }}
        )
        select cast(least(min(stored.session_start), {{ earliest }}) as varchar)
        from {{ this }} as stored
        join changes on changes.user_key = stored.user_key
        where stored.session_end >= {{ dbt.dateadd('minute', -timeout, earliest) }}
          and {{ dbt.dateadd('minute', timeout, 'stored.session_end') }} >= changes.changed_from_at
    {%- endset -%}
    {%- set restart = run_query(query).rows[0][0] -%}
    {%- if restart is none -%}{{ earliest }}{%- else -%}cast('{{ restart }}' as timestamptz){%- endif -%}
{%- endmacro %}

{% macro sessions_delete_replanned(ready) -%}
    {%- if ready -%}
    delete from {{ this }}
    where session_start >= {{ sessions_earliest_restart() }}
      and session_id in (select unnest(replaced_session_ids) from {{ sessions_plan_relation() }})
    {%- endif -%}
{%- endmacro %}

{#- What fct_sessions records as its run's changed_from: the earliest restart_at of the plan
    (every session the run deleted or wrote starts then or later). -#}
{% macro sessions_changed_from() -%}
    (select min(restart_at) from {{ sessions_plan_relation() }})
{%- endmacro %}
