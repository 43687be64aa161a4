{#-
  What a Spark build needs that DuckDB's does not (docs/scale-out.md). Spark keeps no state
  between builds: every model is rebuilt whole (plain Parquet tables take neither the
  deletes nor the merges the incremental models rely on, see builds_incrementally()), so a
  build starts from empty model schemas, and the raw layer is the lake's Parquet files,
  declared as tables over them at the start of each build.
-#}

{#- on-run-start: the models' schemas emptied (a dropped database takes its files along), then
    each source table declared over its lake folder with the columns of its yml. A build of a
    selection (`--select`, `--exclude`, a Dagster subset) is refused before anything is dropped:
    the in-memory catalog forgets the tables between builds, so the models it leaves out would
    not be there for the selected ones to read. -#}
{% macro spark__prepare_build() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set lake = var('lake_path', env_var('GROWTH_LAKE', 'data/lake')) -%}
    {{- spark_tables_in_lake(lake) -}}
    {%- set models = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') | list -%}
    {%- set left_out = models | rejectattr('unique_id', 'in', selected_resources) | map(attribute='name') | list -%}
    {%- if left_out -%}
        {{ exceptions.raise_compiler_error(
            'the spark engine rebuilds every model in every build (docs/scale-out.md), and this one leaves out '
            ~ left_out | length ~ ' of ' ~ models | length ~ ' (' ~ (left_out | sort)[:3] | join(', ')
            ~ (', …' if left_out | length > 3 else '') ~ '): build them all (no --select or --exclude; in Dagster, every dbt asset)'
        ) }}
    {%- endif -%}
    {%- for schema in models | map(attribute='schema') | unique -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- do run_query('drop database ' ~ schema ~ ' cascade') -%}
        {%- do run_query('create database ' ~ schema) -%}
    {%- endfor -%}
    {%- do run_query('create database if not exists raw') -%}
    {%- for source in graph.sources.values() -%}
        {%- set columns = [] -%}
        {%- for column in source.columns.values() -%}
            {%- do columns.append('`' ~ column.name ~ '` ' ~ column.data_type) -%}
        {%- endfor -%}
        {%- do run_query('drop table if exists ' ~ source.schema ~ '.' ~ source.name) -%}
        {%- do run_query(
            'create table ' ~ source.schema ~ '.' ~ source.name ~ ' (' ~ columns | join(', ') ~ ') using parquet'
            ~ " options (path '" ~ lake ~ '/' ~ source.meta.lake_folder ~ "', recursiveFileLookup 'true')"
        ) -%}
    {%- endfor -%}
{%- endmacro %}

{#- The tables must be where `growth build` lands them from: <lake>/warehouse (warehouse/lake.py
    spark_tables). A session is started with that folder; a Thrift server keeps its own, set
    when it starts, so a server started with another one is refused before anything is built. -#}
{% macro spark_tables_in_lake(lake) -%}
    {%- set expected = lake.rstrip('/') ~ '/warehouse' -%}
    {%- set actual = run_query('set spark.sql.warehouse.dir').rows[0][1] -%}
    {%- set local = modules.re.sub('^file:(//)?', '', actual).rstrip('/') -%}
    {%- if local != expected -%}
        {{ exceptions.raise_compiler_error(
            'the Spark server keeps its tables in ' ~ actual ~ ', not in ' ~ expected
            ~ ' where growth lands them from: start it with --conf spark.sql.warehouse.dir=' ~ expected
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- The incremental models build as tables: the same rows a full refresh gives. -#}
{% materialization incremental, adapter='spark' %}
    {{ return(materialization_table_spark()) }}
{% endmaterialization %}
