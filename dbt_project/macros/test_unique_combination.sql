{#- A generic test for a unique combination of columns (dbt_utils is not available offline). -#}
{% test unique_combination_of_columns(model, columns) %}
{{ repeated_keys(model, columns) }}
{% endtest %}

{% macro repeated_keys(relation, columns) -%}
select {{ columns | join(', ') }}, count(*) as copies
from {{ relation }}
group by {{ columns | join(', ') }}
having count(*) > 1
{%- endmacro %}

{#- The same rule for an incremental model, checked where an incremental build can break
    it: among the rows the model's latest run wrote (its run_at in the run log is their
    _batch_at), and between those and the older rows. A full build writes every row at
    once, so it checks the whole table; an incremental one does not regroup tens of
    millions of untouched rows, and a run that wrote nothing checks nothing (the rows of
    an earlier run were checked after it; without a recorded run, the largest _batch_at).
    An engine that rebuilds every table (Spark) checks the whole table. -#}
{% test unique_in_incremental_model(model, columns) %}
{%- if not builds_incrementally() %}
{{ repeated_keys(model, columns) }}
{%- else %}
{%- set key = columns | join(', ') %}
{#- The latest run as a literal: a filter the scans can prune row groups by and the planner
    can estimate (a scalar subquery it cannot). After a full rebuild every row is the latest
    run's: no older rows to probe. -#}
{%- set latest_run = none %}
{%- set was_full = false %}
{%- if execute %}
    {%- set query -%}
        select cast(run_at as varchar), is_full from {{ incremental_runs_relation() }}
        where model = '{{ model.identifier }}'
        order by run_at desc
        limit 1
    {%- endset %}
    {%- set rows = run_query(query).rows %}
    {%- if rows | length > 0 %}
        {%- set latest_run = rows[0][0] %}
        {%- set was_full = rows[0][1] %}
    {%- endif %}
{%- endif %}
{%- set batch_at = "cast('" ~ latest_run ~ "' as timestamptz)" if latest_run else "(select max(_batch_at) from " ~ model ~ ")" %}
with

written as (

    select {{ key }} from {{ model }} where _batch_at = {{ batch_at }}

),

older as (

    select {{ key }} from {{ model }} where _batch_at < {{ batch_at }}

)

select {{ key }}, count(*) as copies
from written
group by {{ key }}
having count(*) > 1
{%- if not was_full %}
union all
{#- A semi join builds its table from `written` (the few rows of an incremental run),
    whatever the planner estimates, and probes the older rows. #}
select {{ key }}, 2
from older
where exists (
    select 1 from written
    where {% for column in columns %}written.{{ column }} = older.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
)
{%- endif %}
{%- endif %}
{% endtest %}
