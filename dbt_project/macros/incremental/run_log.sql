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
  same rows a --full-refresh would write. A model declares those hooks with
  incremental_hooks() (hooks.sql); the plans of single models are in macros/plans/.

  Changed rows are found through `_batch_at`, the run_started_at of the run that wrote a
  row: a model reads its parents' rows with `_batch_at` after its own last run.
-#}

{% macro incremental_runs_relation() -%}
    intermediate.incremental_runs
{%- endmacro %}

{#- on-run-start: the run log of the incremental models; Spark rebuilds every table and
    keeps none (macros/engine/spark.sql). -#}
{% macro prepare_build() -%}
    {{ return(adapter.dispatch('prepare_build', 'growth_warehouse')()) }}
{%- endmacro %}
{% macro default__prepare_build() -%}
    {{ create_incremental_runs() }};
    alter table {{ incremental_runs_relation() }} add column if not exists changed_from timestamptz
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
                     'inactive_events', 'experiment_exposure_event', 'user_traits',
                     'billing_interval_property'] -%}
        {%- do settings.update({name: var(name)}) -%}
    {%- endfor -%}
    {{ return(local_md5(model.raw_code ~ tojson(settings, sort_keys=true))) }}
{%- endmacro %}

{% macro batch_at() -%}
    cast('{{ run_started_at.isoformat() }}' as {{ instant_type() }})
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
    {%- if not execute or model.resource_type == 'unit_test' or not builds_incrementally() or not is_incremental() -%}{{ return(false) }}{%- endif -%}
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
