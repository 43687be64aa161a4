{#-
  One row per exposure event (the first copy of its messageId) with a usable experiment id,
  attributed to its user retroactively (experiments.md "Exposures"): the ids and labels as
  stg_segment__experiment_exposures read them, the user_key (null for visitors never
  identified), time and date. Whether an exposure is usable depends on the experiments var
  and is decided downstream (int_experiment_exposures_validated), so changing that var
  never rebuilds this table.

  Incremental like int_conversion_events: the exposure events int_events_attributed wrote
  since the last run. New ones take their properties from the copy de-duplication kept (by
  its Kafka coordinates); re-attributed ones (_is_restaged) keep the properties stored here
  and replace their stored copies (`restage` strategy).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='restage',
    unique_key='message_id',
    **incremental_hooks(),
) }}
{%- set ready = incremental_ready() %}
{%- set exposure_event = sql_string(var('experiment_exposure_event')) %}
with

attributed as (

    select message_id, user_key, event_at, event_date, _is_restaged
    from {{ ref('int_events_attributed') }}
    where event_type = 'track' and event_name = {{ exposure_event }}
    {%- if ready %}
      and _batch_at > {{ changed_since() }}
    {%- endif %}

),

{#- The copy of each new messageId that de-duplication kept (events.md "De-duplication"). #}
kept_copies as (

    select message_id, kafka_topic, kafka_partition, kafka_offset
    from {{ ref('stg_segment__events') }}
    where event_type = 'track' and event_name = {{ exposure_event }}
    {%- if ready %}
      and _batch_at > {{ changed_since() }}
    {%- endif %}

),

properties as (

    select exposures.message_id, exposures.experiment_id, exposures.variation_id,
           exposures.experiment_name, exposures.variation_name
    from {{ ref('stg_segment__experiment_exposures') }} as exposures
    join kept_copies using (kafka_topic, kafka_partition, kafka_offset)
    {%- if ready %}

    union all

    select message_id, experiment_id, variation_id, experiment_name, variation_name
    from {{ this }}
    where message_id in (select message_id from attributed where _is_restaged)
    {%- endif %}

)

select
    properties.message_id,
    properties.experiment_id,
    properties.variation_id,
    properties.experiment_name,
    properties.variation_name,
    attributed.user_key,
    attributed.event_at as exposed_at,
    attributed.event_date as exposure_date,
    attributed._is_restaged,
    {{ batch_at() }} as _batch_at
from properties
join attributed using (message_id)
