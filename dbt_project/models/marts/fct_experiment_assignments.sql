{#- One row per (experiment, user) with a usable exposure (experiments.md "Marts"), with the
    user's acquisition channel from dim_users for per-channel readouts. -#}
select
    assignments.experiment_id,
    assignments.user_key,
    assignments.variation_id,
    assignments.exposed_at,
    assignments.exposure_date,
    assignments.is_multiple_exposure,
    users.acquisition_channel
from {{ ref('int_experiment_assignments') }} as assignments
left join {{ ref('dim_users') }} as users using (user_key)
