{#-
  Incremental builds that give exactly what a full refresh gives (metrics.md "Rebuilds").

  Every incremental model records each of its runs in intermediate.incremental_runs (a
  post-hook, in the model's own transaction): when it ran, whether the run was a full
  rebuild, and a signature = md5 of the model's SQL and every var of the configuration
  table. A model then builds incrementally only when ALL of these hold
  (incremental_ready()):
    * dbt would build it incrementally (the table exists, no --full-refresh);
    * its last recorded run has the current signature (a var or code change rebuilds it,
      nobody has to remember --full-refresh);
    * each incremental parent ran at most once since, and not as a full rebuild (a parent
      that rebuilt, or that ran twice while this model was skipped, e.g. after a failing
      test, could have changed rows this model cannot see as changes).
  Otherwise the pre-hook empties the table and the model's SQL selects everything: the
  same rows a --full-refresh would write.

  Changed rows are found through `_batch_at`, the run_started_at of the run that wrote a
  row: a model reads its parents' rows with `_batch_at` after its own last run.
-#}

{% macro incremental_runs_relation() -%}
    intermediate.incremental_runs
{%- endmacro %}

{% macro create_incremental_runs() -%}
    create schema if not exists intermediate;
    create table if not exists {{ incremental_runs_relation() }} (
        model varchar not null,
        run_at timestamptz not null,
        signature varchar not null,
        is_full boolean not null,
        raw_rows bigint,
        raw_watermark timestamptz,
        changed_from timestamptz
    )
{%- endmacro %}

{% macro incremental_signature() -%}
    {%- set settings = {} -%}
    {%- for name in ['signup_event', 'activation_event', 'activation_window_days', 'purchase_event',
                     'funnel_steps', 'funnel_window_days', 'session_timeout_minutes',
                     'churn_inactivity_days', 'ltv_horizon_months', 'reporting_timezone',
                     'inactive_events'] -%}
        {%- do settings.update({name: var(name)}) -%}
    {%- endfor -%}
    {{ return(local_md5(model.raw_code ~ tojson(settings, sort_keys=true))) }}
{%- endmacro %}

{% macro batch_at() -%}
    cast('{{ run_started_at.isoformat() }}' as timestamptz)
{%- endmacro %}

{#- This model's last recorded run as a dict (run_at, signature, raw_rows, raw_watermark), or none. -#}
{% macro last_incremental_run(name=none) -%}
    {%- set query -%}
        select cast(run_at as varchar) as run_at, signature, raw_rows, cast(raw_watermark as varchar) as raw_watermark
        from {{ incremental_runs_relation() }}
        where model = '{{ name or this.identifier }}'
        order by run_at desc
        limit 1
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {{ return({'run_at': rows[0][0], 'signature': rows[0][1], 'raw_rows': rows[0][2], 'raw_watermark': rows[0][3]}) }}
{%- endmacro %}

{% macro incremental_ready() -%}
    {#- Unit tests render models without a relation: always the full-refresh form. -#}
    {%- if not execute or model.resource_type == 'unit_test' or not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {%- set last = last_incremental_run() -%}
    {%- if last is none or last.signature != incremental_signature() -%}{{ return(false) }}{%- endif -%}
    {%- for unique_id in model.depends_on.nodes if unique_id.startswith('model.') -%}
        {%- set parent = graph.nodes[unique_id] -%}
        {%- if parent.config.materialized == 'incremental' -%}
            {%- set query -%}
                select count(*), coalesce(bool_or(is_full), false)
                from {{ incremental_runs_relation() }}
                where model = '{{ parent.alias or parent.name }}' and run_at > cast('{{ last.run_at }}' as timestamptz)
            {%- endset -%}
            {%- set row = run_query(query).rows[0] -%}
            {%- if row[0] > 1 or row[1] -%}{{ return(false) }}{%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{#- The timestamp literal after which a parent's rows are new to this model. -#}
{% macro changed_since() -%}
    cast('{{ last_incremental_run().run_at }}' as timestamptz)
{%- endmacro %}

{#- Pre-hook: a model that cannot build incrementally starts from an empty table. -#}
{% macro empty_unless_incremental(ready) -%}
    {%- if is_incremental() and not ready -%}delete from {{ this }}{%- endif -%}
{%- endmacro %}

{#- Post-hook: record this run (raw_stats for the model reading raw.events; changed_from:
    an expression for the earliest instant whose rows this run rewrote, for children that
    recompute only what lies after it). -#}
{% macro record_incremental_run(ready, raw_stats=false, changed_from=none) -%}
    insert into {{ incremental_runs_relation() }} (model, run_at, signature, is_full, raw_rows, raw_watermark, changed_from)
    select
        '{{ this.identifier }}',
        {{ batch_at() }},
        '{{ incremental_signature() }}',
        {{ 'false' if ready else 'true' }},
        {% if raw_stats -%}
        (select count(*) from {{ source('segment', 'events') }}),
        (select max(ingested_at) from {{ source('segment', 'events') }})
        {%- else -%}
        null, null
        {%- endif %},
        {{ changed_from if ready and changed_from else 'null' }}
{%- endmacro %}

{#- The changed_from a parent recorded in its run since this model's last run, as a
    literal: rows of the parent before it did not change. "infinity" when the parent did not
    run or changed nothing. -#}
{% macro parent_changed_from(parent) -%}
    {%- set query -%}
        select cast(min(changed_from) as varchar) from {{ incremental_runs_relation() }}
        where model = '{{ parent }}' and run_at > {{ changed_since() }}
    {%- endset -%}
    {%- set changed_from = run_query(query).rows[0][0] -%}
    cast('{{ changed_from or "infinity" }}' as timestamptz)
{%- endmacro %}

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

{#- stg_segment__events builds incrementally only when raw.events still holds exactly the
    rows it counted up to its watermark: nothing deleted, nothing inserted behind it. -#}
{% macro segment_events_ready() -%}
    {%- if not incremental_ready() -%}{{ return(false) }}{%- endif -%}
    {%- set last = last_incremental_run() -%}
    {%- if last.raw_watermark is none -%}{{ return(false) }}{%- endif -%}
    {%- set query -%}
        select count(*) from {{ source('segment', 'events') }}
        where ingested_at <= cast('{{ last.raw_watermark }}' as timestamptz)
    {%- endset -%}
    {{ return(run_query(query).rows[0][0] == last.raw_rows) }}
{%- endmacro %}

{#- Incremental strategy `restage`: the batch's rows flagged _is_restaged replace their
    stored copies (by unique_key); the rest are appended. Unlike delete+insert, a batch of
    only new rows does not scan the whole table for keys to delete. -#}
{% macro get_incremental_restage_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set restaged = run_query('select count(*) from ' ~ temp ~ ' where _is_restaged').rows[0][0] -%}
    {%- if restaged > 0 -%}
    delete from {{ target }} where {{ key }} in (select {{ key }} from {{ temp }} where _is_restaged);
    {% endif -%}
    insert into {{ target }} ({{ columns }}) select {{ columns }} from {{ temp }}
{%- endmacro %}

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

{#- int_user_days_active's plan: for each user whose activity changed, the stored rows
    from the last date before the earliest changed date (is_plan_start) onward. They are
    kept as they were in int_user_days_active__replaced, deleted here and rewritten by the
    model. Only rows on or after the run's earliest changed date, or whose next date is (or
    is missing), can be in a plan: a literal filter on those keeps the scan cheap. -#}
{% macro user_days_plan_relation() -%}
    int_user_days_active__plan
{%- endmacro %}

{% macro user_days_plan(ready) -%}
    {%- if ready -%}
    {%- set earliest = earliest_activity_change(date=true) -%}
    create or replace temp table {{ user_days_plan_relation() }} as
    with changed_users as (
        {{ activity_changed_users(changed_since()) }}
    ),
    candidates as (
        select stored.*
        from {{ this }} as stored
        where stored.activity_date >= {{ earliest }}
           or stored.next_activity_date is null
           or stored.next_activity_date >= {{ earliest }}
    ),
    starts as (
        select
            changed_users.user_key,
            changed_users.first_changed_date,
            max(candidates.activity_date) as plan_start_date
        from changed_users
        left join candidates
            on candidates.user_key = changed_users.user_key
            and candidates.activity_date < changed_users.first_changed_date
        group by changed_users.user_key, changed_users.first_changed_date
    )
    select
        candidates.user_key,
        candidates.activity_date,
        candidates.activity_events,
        candidates.previous_activity_date,
        candidates.next_activity_date,
        candidates.activity_date = starts.plan_start_date as is_plan_start
    from candidates
    join starts
        on starts.user_key = candidates.user_key
        and candidates.activity_date >= coalesce(starts.plan_start_date, starts.first_changed_date);
    create or replace table {{ user_days_replaced_relation() }} as
    select user_key, activity_date, previous_activity_date, next_activity_date, {{ batch_at() }} as _batch_at
    from {{ user_days_plan_relation() }};
    delete from {{ this }}
    where (activity_date >= {{ earliest }} or next_activity_date is null or next_activity_date >= {{ earliest }})
      and exists (
        select 1 from {{ user_days_plan_relation() }} as plan
        where plan.user_key = {{ this }}.user_key and plan.activity_date = {{ this }}.activity_date
    )
    {%- else -%}
    create or replace table {{ user_days_replaced_relation() }} (
        user_key varchar, activity_date date, previous_activity_date date, next_activity_date date,
        _batch_at timestamptz
    )
    {%- endif -%}
{%- endmacro %}

{#- The rows the latest run of int_user_days_active replaced, as they were (a table the
    plan rewrites on every run, stamped with that run's _batch_at): with the rows it wrote,
    they are the run's changes, which int_growth_accounting_counts folds into its counts. -#}
{% macro user_days_replaced_relation() -%}
    intermediate.int_user_days_active__replaced
{%- endmacro %}
