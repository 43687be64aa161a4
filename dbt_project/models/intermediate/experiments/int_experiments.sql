{#-
  One row per experiment id seen in an exposure event, usable or not (experiments.md
  "Marts", dim_experiments): its label (that of the latest usable exposure with one), the
  first and last dates of its usable exposures (repeats included), its multiple-exposure
  users, unusable exposures, and whether it is still running (a usable exposure on
  data_end_date or the day before).
-#}
with

exposures as (

    select * from {{ ref('int_experiment_exposures_validated') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

labels as (

    select experiment_id, experiment_name
    from exposures
    where is_usable and experiment_name is not null
    qualify row_number() over (partition by experiment_id order by exposed_at desc, message_id desc) = 1

),

multiple_exposures as (

    select experiment_id, count(*) as multiple_exposure_users
    from {{ ref('int_experiment_assignments') }}
    where is_multiple_exposure
    group by experiment_id

),

per_experiment as (

    select
        exposures.experiment_id,
        min(exposures.exposure_date) filter (where exposures.is_usable) as first_exposure_date,
        max(exposures.exposure_date) filter (where exposures.is_usable) as last_exposure_date,
        count(*) filter (where not exposures.is_usable) as unusable_exposures
    from exposures
    group by exposures.experiment_id

)

select
    per_experiment.experiment_id,
    labels.experiment_name,
    per_experiment.first_exposure_date,
    per_experiment.last_exposure_date,
    coalesce(multiple_exposures.multiple_exposure_users, 0) as multiple_exposure_users,
    per_experiment.unusable_exposures,
    coalesce(
        per_experiment.last_exposure_date >= {{ add_periods('day', -1, 'reporting_period.data_end_date') }},
        false
    ) as is_running
from per_experiment
cross join reporting_period
left join labels using (experiment_id)
left join multiple_exposures using (experiment_id)
