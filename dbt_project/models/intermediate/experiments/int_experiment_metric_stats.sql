{#-
  The sufficient statistics of every (experiment, metric, variation) the engine in
  transforms/experiments turns into results (experiments.md "Statistics"): over the users
  that count (mature, not multiple-exposure) their number, how many have y <> 0, and the
  sums of y, y², x, x² and x·y; plus the users still in progress. Every variation of
  int_experiment_variations has a row per metric, with zeros when nobody counts yet.
-#}
with

variations as (

    select experiment_id, variation_id from {{ ref('int_experiment_variations') }}

),

outcomes as (

    select * from {{ ref('int_experiment_user_outcomes') }}

),

metrics as (

    select * from {{ ref('int_experiment_metrics') }}

)

select
    variations.experiment_id,
    pairs.metric_name,
    variations.variation_id,
    metrics.metric_type,
    metrics.goal,
    metrics.is_guardrail,
    count(outcomes.user_key) filter (where outcomes.is_mature) as users,
    count(outcomes.user_key) filter (where not outcomes.is_mature) as users_in_progress,
    count(outcomes.user_key) filter (where outcomes.is_mature and outcomes.y <> 0) as nonzero_users,
    coalesce(sum(outcomes.y) filter (where outcomes.is_mature), 0) as sum_y,
    coalesce(sum(outcomes.y * outcomes.y) filter (where outcomes.is_mature), 0) as sum_y2,
    coalesce(sum(outcomes.x) filter (where outcomes.is_mature), 0) as sum_x,
    coalesce(sum(outcomes.x * outcomes.x) filter (where outcomes.is_mature), 0) as sum_x2,
    coalesce(sum(outcomes.x * outcomes.y) filter (where outcomes.is_mature), 0) as sum_xy
from variations
join ({{ experiment_metric_pairs('variations') }}) as pairs using (experiment_id)
join metrics on metrics.metric_name = pairs.metric_name
left join outcomes
    on outcomes.experiment_id = variations.experiment_id
    and outcomes.variation_id = variations.variation_id
    and outcomes.metric_name = pairs.metric_name
group by all
