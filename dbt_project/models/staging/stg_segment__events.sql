{#-
  One row per messageId: among the copies that passed validation, the first in ingestion
  order (events.md "De-duplication"). Ingestion order is the batch commit time
  (ingested_at), then Kafka coordinates, which within a partition is offset order.
  Revenue and campaign values are parsed here by the rules of events.md "Derived values",
  from the JSON fragments the ingester kept as sent.
  Materialized as a table (not a view like other staging models): de-duplication and
  parsing run once per build instead of once per downstream model.
-#}
{{ config(materialized='table') }}
with

source as (

    select * from {{ source('segment', 'events') }}

),

first_copies as (

    select *
    from source
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
            when json_type(revenue_raw) in ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')
                then cast(revenue_raw as double)
            when json_type(revenue_raw) = 'VARCHAR'
                and regexp_full_match(
                    regexp_replace(revenue_raw ->> '$', '^\s+|\s+$', '', 'g'),
                    '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)'
                )
                then cast(regexp_replace(revenue_raw ->> '$', '^\s+|\s+$', '', 'g') as double)
        end as revenue,
        case when json_type(campaign_source_raw) = 'VARCHAR'
            then nullif(lower(regexp_replace(campaign_source_raw ->> '$', '^\s+|\s+$', '', 'g')), '')
        end as campaign_source,
        case when json_type(campaign_medium_raw) = 'VARCHAR'
            then nullif(lower(regexp_replace(campaign_medium_raw ->> '$', '^\s+|\s+$', '', 'g')), '')
        end as campaign_medium,
        case when json_type(campaign_name_raw) = 'VARCHAR'
            then nullif(regexp_replace(campaign_name_raw ->> '$', '^\s+|\s+$', '', 'g'), '')
        end as campaign_name,
        ingested_at,
        kafka_topic,
        kafka_partition,
        kafka_offset

    from first_copies

)

select * from renamed
