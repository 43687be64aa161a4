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
