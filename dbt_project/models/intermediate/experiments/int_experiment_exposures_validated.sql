{#-
  Every exposure of int_experiment_exposures with is_usable (experiments.md "Exposures"): it
  has a user_key and a usable variation id, among the configured weights' keys when the
  experiment has weights. The others are the experiment's unusable exposures (anonymous
  visitors who never identified included). A view: the experiments var it reads changes
  nothing stored.
-#}
{{ config(materialized='view') }}
{%- set rows = [] %}
{%- for experiment in experiments_config() %}{% for variation, weight in experiment.weights %}
    {%- do rows.append([experiment.id, variation]) %}
{%- endfor %}{% endfor %}
with

exposures as (

    select * from {{ ref('int_experiment_exposures') }}

),

configured_variations as (

    {{ values_relation([('experiment_id', 'varchar'), ('variation_id', 'varchar')], rows) }}

)

select
    exposures.message_id,
    exposures.experiment_id,
    exposures.variation_id,
    exposures.experiment_name,
    exposures.variation_name,
    exposures.user_key,
    exposures.exposed_at,
    exposures.exposure_date,
    (
        exposures.user_key is not null
        and exposures.variation_id is not null
        and (
            exposures.experiment_id not in (select experiment_id from configured_variations)
            or allowed.variation_id is not null
        )
    ) as is_usable
from exposures
left join configured_variations as allowed
    on allowed.experiment_id = exposures.experiment_id and allowed.variation_id = exposures.variation_id
