{#-
  One row per (experiment, user) with a usable exposure (experiments.md "Exposures"): the
  variation of the earliest usable exposure (timestamp, then messageId), its time and date.
  A user exposed to two or more variations is a multiple-exposure user: variation_id is null
  and every statistic leaves the user out.
-#}
with

usable as (

    select * from {{ ref('int_experiment_exposures_validated') }}
    where is_usable

)

select
    experiment_id,
    user_key,
    case when not is_multiple_exposure then variation_id end as variation_id,
    exposed_at,
    exposure_date,
    is_multiple_exposure
from (
    select
        experiment_id,
        user_key,
        variation_id,
        exposed_at,
        exposure_date,
        min(variation_id) over per_user <> max(variation_id) over per_user as is_multiple_exposure,
        row_number() over (partition by experiment_id, user_key order by exposed_at, message_id) as exposure_number
    from usable
    window per_user as (partition by experiment_id, user_key)
) as numbered
where exposure_number = 1
