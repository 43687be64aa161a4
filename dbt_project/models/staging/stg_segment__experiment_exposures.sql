{#-
  Every copy of an experiment exposure event (a track event named experiment_exposure_event)
  whose experiment id is usable, with its ids and labels read by the rules of
  experiments.md "Exposures" from the properties the ingester kept as sent (experiment_raw).
  A second view on raw events: exposures are about 1% of them and need properties no other
  model reads, so they are not carried in stg_segment__events. Copies of one messageId are
  all here; int_experiment_exposures keeps the copy stg_segment__events kept (by its Kafka
  coordinates), so de-duplication is decided in one place.
-#}
with

source as (

    select * from {{ source('segment', 'events') }}
    where type = 'track'
      and event = {{ sql_string(var('experiment_exposure_event')) }}
      and experiment_raw is not null

),

renamed as (

    select
        message_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,
        {{ usable_json_id('experiment_raw', '$.experiment_id') }} as experiment_id,
        {{ usable_json_id('experiment_raw', '$.variation_id') }} as variation_id,
        {{ json_label('experiment_raw', '$.experiment_name') }} as experiment_name,
        {{ json_label('experiment_raw', '$.variation_name') }} as variation_name

    from source

)

select * from renamed
where experiment_id is not null
