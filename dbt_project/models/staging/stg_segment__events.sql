{#-
  One row per messageId: among the copies that passed validation, the first in ingestion
  order (events.md "De-duplication"). Ingestion order is the batch commit time
  (ingested_at), then Kafka coordinates, which within a partition is offset order.
  Revenue and campaign values are parsed here by the rules of events.md "Derived values",
  from the JSON fragments the ingester kept as sent; platform and country by segments.md
  "User properties" from the context strings it kept, and the traits object of identify
  and group events as sent (traits_json), for the trait rules downstream; the months a
  payment covers from its billing interval by revenue.md "MRR" (billing_interval_months).
  Incremental (not a view like other staging models): de-duplication and parsing run once
  per event, not once per build and downstream model. An incremental run reads the raw
  rows ingested after the last run's raw watermark (max ingested_at) and keeps the first
  copy of each messageId not already staged. That equals a full refresh because the ingester
  writes ingested_at under the writer lock, so later batches sort after every staged row;
  segment_events_ready() rebuilds everything when raw.events no longer holds exactly the
  rows counted up to that watermark (a deletion such as `growth forget`, or rows inserted
  behind it), see macros/plans/stg_segment__events_plan.sql.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    **incremental_hooks(ready='segment_events_ready', raw_stats=true),
) }}
{%- set ready = segment_events_ready() %}
with

{#- A full build reads the raw table once per CTE below that reads new_copies; letting
    DuckDB materialize it instead would copy every raw row first (twice as slow). #}
source as {% if not ready %}{{ not_materialized() }} {% endif %}(

    select * from {{ source('segment', 'events') }}
    {%- if ready %}
    where ingested_at > cast('{{ last_incremental_run().raw_watermark }}' as timestamptz)
    {%- endif %}

),

{#- Read more than once below: in a full build again each time (`not materialized`); an
    incremental build's few new rows are kept once, so the check against the staged rows
    runs once. #}
new_copies as {% if not ready %}{{ not_materialized() }} {% endif %}(

    select
        message_id, type, event, name, user_id, anonymous_id, previous_id, group_id, timestamp,
        revenue_raw, campaign_source_raw, campaign_medium_raw, campaign_name_raw,
        traits_raw, device_type_raw, os_name_raw, country_raw, properties_raw,
        ingested_at, kafka_topic, kafka_partition, kafka_offset
    from source
    {%- if ready %}
    {#- The staged ids among the new ones first: a semi join that hashes the few new ids,
        not an anti join that would hash every staged id. #}
    where message_id not in (
        select staged.message_id from {{ this }} as staged
        where staged.message_id in (select message_id from source)
    )
    {%- endif %}

),

{#- Most messageIds arrive once. Ids whose hash occurs more than once (a cheap superset
    of the repeated ids) are the only ones that need ordering; every other copy is first. #}
repeated_hashes as (

    select hash(message_id) as message_hash
    from new_copies
    group by 1
    having count(*) > 1

),

first_copies as (

    select * from new_copies
    where hash(message_id) not in (select message_hash from repeated_hashes)
    union all
    select * from new_copies
    where hash(message_id) in (select message_hash from repeated_hashes)
    qualify row_number() over (
        partition by message_id
        order by ingested_at, kafka_topic, kafka_partition, kafka_offset
    ) = 1

),

renamed as (

    select
        message_id,
        type as event_type,
        event as event_name,
        name as page_name,
        user_id,
        anonymous_id,
        previous_id,
        group_id,
        timestamp as event_at,
        {{ reporting_date('timestamp') }} as event_date,
        case
            when type <> 'track' or revenue_raw is null then null
            when {{ json_type_at('revenue_raw') }} in ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')
                then cast(revenue_raw as double)
            when {{ json_type_at('revenue_raw') }} = 'VARCHAR'
                and {{ regexp_full_match(trim_whitespace(json_text_at('revenue_raw')), '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)') }}
                then cast({{ trim_whitespace(json_text_at('revenue_raw')) }} as double)
        end as revenue,
        {%- for part in ['source', 'medium', 'name'] %}
        {%- set text = trim_whitespace(json_text_at('campaign_' ~ part ~ '_raw')) %}
        case when {{ json_type_at('campaign_' ~ part ~ '_raw') }} = 'VARCHAR'
            then nullif({{ text if part == 'name' else 'lower(' ~ text ~ ')' }}, '')
        end as campaign_{{ part }},
        {%- endfor %}
        {{ billing_interval_months('properties_raw') }} as billing_interval_months,
        {#- segments.md: trim() removes spaces (U+0020) only; a blank value is absent. The
            event's platform is its device type, or its OS name when it has no device type. #}
        traits_raw as traits_json,
        lower(coalesce(nullif({{ trim_spaces('device_type_raw') }}, ''), nullif({{ trim_spaces('os_name_raw') }}, ''))) as platform,
        {{ simple_upper("nullif(" ~ trim_spaces('country_raw') ~ ", '')") }} as country,
        ingested_at,
        kafka_topic,
        kafka_partition,
        kafka_offset,
        {{ batch_at() }} as _batch_at

    from first_copies

)

select * from renamed
