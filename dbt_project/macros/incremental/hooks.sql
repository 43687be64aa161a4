{#- Pre-hook: a model that cannot build incrementally starts from an empty table. -#}
{% macro empty_unless_incremental(ready) -%}
    {%- if is_incremental() and not ready -%}delete from {{ this }}{%- endif -%}
{%- endmacro %}

{#-
  The hooks of every incremental model (run_log.sql), for its config:

      {{ config(materialized='incremental', incremental_strategy=..., **incremental_hooks()) }}

  Pre-hooks: empty the table unless the model builds incrementally, then the model's `plan`
  steps in order (names of macros taking `ready` and returning SQL, macros/plans/). Post-hook:
  record the run. `ready` names the macro deciding whether the model builds incrementally
  (incremental_ready, or a stricter one of the model's plan); `raw_stats` and
  `changed_from` (the name of a macro returning the expression) go to
  record_incremental_run.

  The hooks stay in each model's config rather than in dbt_project.yml, where their order
  against project-level hooks would be fragile. Each is a string rendered when the model
  runs (so `ready` is decided then, in the model's context), as if written in the config.
-#}
{% macro incremental_hooks(plan=[], ready='incremental_ready', raw_stats=false, changed_from=none) -%}
    {%- if not builds_incrementally() -%}{{ return({}) }}{%- endif -%}
    {%- set ready_call = ready ~ '()' -%}
    {%- set pre_hook = ['{{ empty_unless_incremental(' ~ ready_call ~ ') }}'] -%}
    {%- for step in plan -%}
        {%- do pre_hook.append('{{ ' ~ step ~ '(' ~ ready_call ~ ') }}') -%}
    {%- endfor -%}
    {%- set record_args = [ready_call] -%}
    {%- if raw_stats -%}{%- do record_args.append('raw_stats=true') -%}{%- endif -%}
    {%- if changed_from -%}{%- do record_args.append('changed_from=' ~ changed_from ~ '()') -%}{%- endif -%}
    {{ return({
        'pre_hook': pre_hook,
        'post_hook': ['{{ record_incremental_run(' ~ record_args | join(', ') ~ ') }}'],
    }) }}
{%- endmacro %}

{#- Whether the engine builds the incremental models incrementally. Spark's plain Parquet
    tables take neither deletes nor merges, so there each of them is rebuilt whole
    (macros/engine/spark.sql). -#}
{% macro builds_incrementally() -%}
    {{ return(adapter.dispatch('builds_incrementally', 'growth_warehouse')()) }}
{%- endmacro %}
{% macro default__builds_incrementally() -%}
    {{ return(true) }}
{%- endmacro %}
{% macro spark__builds_incrementally() -%}
    {{ return(false) }}
{%- endmacro %}
