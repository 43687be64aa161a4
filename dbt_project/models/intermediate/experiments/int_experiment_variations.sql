{#-
  One row per (experiment, variation) analysed (experiments.md "Configuration"): the keys of
  the configured weights, else the variations assigned to at least one user who is not a
  multiple-exposure user; a configured control never seen is added with 0 users. Each with
  its label, whether it is the control, its expected traffic share (the configured weights
  normalised, else equal) and its assigned users (multiple-exposure users excluded).
  Control by default: the variation `control` when there is one (exact, case-sensitive),
  else the smallest variation id in byte order.
-#}
{%- set experiments = experiments_config() %}
{%- set weight_rows = [] %}
{%- set control_rows = [] %}
{%- for experiment in experiments %}
    {%- for variation, weight in experiment.weights %}{% do weight_rows.append([experiment.id, variation, weight]) %}{% endfor %}
    {%- if experiment.control is not none %}{% do control_rows.append([experiment.id, experiment.control]) %}{% endif %}
{%- endfor %}
with

seen_experiments as (

    select distinct experiment_id from {{ ref('int_experiment_exposures_validated') }}

),

assigned as (

    select experiment_id, variation_id, count(*) as assigned_users
    from {{ ref('int_experiment_assignments') }}
    where not is_multiple_exposure
    group by experiment_id, variation_id

),

configured_weights as (

    {{ values_relation([('experiment_id', 'varchar'), ('variation_id', 'varchar'), ('weight', 'double')], weight_rows) }}

),

configured_controls as (

    {{ values_relation([('experiment_id', 'varchar'), ('control_id', 'varchar')], control_rows) }}

),

variations as (

    select experiment_id, variation_id, weight
    from configured_weights
    where experiment_id in (select experiment_id from seen_experiments)

    union all

    select experiment_id, variation_id, cast(null as double)
    from assigned
    where experiment_id not in (select experiment_id from configured_weights)

    union all

    select controls.experiment_id, controls.control_id, cast(null as double)
    from configured_controls as controls
    where controls.experiment_id in (select experiment_id from seen_experiments)
      and controls.experiment_id not in (select experiment_id from configured_weights)
      and not exists (
          select 1 from assigned
          where assigned.experiment_id = controls.experiment_id and assigned.variation_id = controls.control_id
      )

),

controls as (

    select
        variations.experiment_id,
        coalesce(
            any_value(configured_controls.control_id),
            case when bool_or(variations.variation_id = 'control') then 'control' end,
            min(variations.variation_id)
        ) as control_id
    from variations
    left join configured_controls using (experiment_id)
    group by variations.experiment_id

),

{#- The label of the latest usable exposure (timestamp, then messageId) that has one. #}
labels as (

    select experiment_id, variation_id, variation_name
    from {{ ref('int_experiment_exposures_validated') }}
    where is_usable and variation_name is not null
    qualify row_number() over (
        partition by experiment_id, variation_id order by exposed_at desc, message_id desc
    ) = 1

)

select
    variations.experiment_id,
    variations.variation_id,
    labels.variation_name,
    variations.variation_id = controls.control_id as is_control,
    coalesce(
        variations.weight / sum(variations.weight) over per_experiment,
        cast(1 as double) / count(*) over per_experiment
    ) as weight,
    coalesce(assigned.assigned_users, 0) as assigned_users
from variations
join controls using (experiment_id)
left join assigned using (experiment_id, variation_id)
left join labels using (experiment_id, variation_id)
window per_experiment as (partition by variations.experiment_id)
