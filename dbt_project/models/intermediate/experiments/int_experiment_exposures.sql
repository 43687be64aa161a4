{#-
  One row per exposure event (first copy of its messageId) with a usable experiment id,
  attributed to its user retroactively (experiments.md "Exposures"). is_usable: it has a
  user_key and a usable variation id, among the configured weights' keys when the experiment
  has weights; the others are the experiment's unusable exposures (anonymous visitors who
  never identified included).
-#}
{%- set weighted = experiments_config() | selectattr('weights') | list %}
with

exposures as (

    select * from {{ ref('stg_segment__experiment_exposures') }}

),

{#- The copy of each messageId that de-duplication kept (events.md "De-duplication"). #}
kept_copies as (

    select message_id, kafka_topic, kafka_partition, kafka_offset
    from {{ ref('stg_segment__events') }}
    where event_type = 'track' and event_name = {{ sql_string(var('experiment_exposure_event')) }}

),

attributed as (

    select message_id, user_key, event_at, event_date
    from {{ ref('int_events_attributed') }}
    where event_type = 'track' and event_name = {{ sql_string(var('experiment_exposure_event')) }}

),

configured_variations as (

    {%- set rows = [] %}
    {%- for experiment in weighted %}{% for variation, weight in experiment.weights %}
        {%- do rows.append([experiment.id, variation]) %}
    {%- endfor %}{% endfor %}
    {{ values_relation([('experiment_id', 'varchar'), ('variation_id', 'varchar')], rows) }}

)

select
    exposures.message_id,
    exposures.experiment_id,
    exposures.variation_id,
    exposures.experiment_name,
    exposures.variation_name,
    attributed.user_key,
    attributed.event_at as exposed_at,
    attributed.event_date as exposure_date,
    (
        attributed.user_key is not null
        and exposures.variation_id is not null
        and (
            exposures.experiment_id not in (select experiment_id from configured_variations)
            or allowed.variation_id is not null
        )
    ) as is_usable
from exposures
join kept_copies using (kafka_topic, kafka_partition, kafka_offset)
join attributed on attributed.message_id = exposures.message_id
left join configured_variations as allowed
    on allowed.experiment_id = exposures.experiment_id and allowed.variation_id = exposures.variation_id
