"""Experiment marts from the dbt interface tables (experiments.md "Marts").

The dbt models reduce exposures and outcomes to one row of sums per (experiment, metric,
variation) in ``intermediate.int_experiment_metric_stats``, with the variations, their
control and expected weights in ``intermediate.int_experiment_variations``, the experiments
in ``intermediate.int_experiments`` and the vars in ``intermediate.int_metric_config``. This
module pools the sums per experiment and metric, hands them to :mod:`transforms.experiments.stats`
and writes, in one transaction:

``marts.dim_experiments`` -- one row per experiment with its control, variation count,
assigned users and sample-ratio-mismatch test;
``marts.fct_experiment_results`` -- one row per (experiment, metric, variation), the control
included, with raw and CUPED means, lifts, both intervals and the decision. The control's
comparison columns are null; every undefined value is null, never NaN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import polars as pl

from transforms.experiments.stats import FloatArray, Moments, compare, decide, srm_p_value
from warehouse.connection import writing
from warehouse.settings import Settings

log = logging.getLogger(__name__)

MOMENTS = ("users", "sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy")  # the fields of stats.Moments, in order
SUMS = (*MOMENTS, "nonzero_users")
COMPARISON_COLUMNS = (
    "absolute_lift",
    "relative_lift",
    "ci_low",
    "ci_high",
    "p_value",
    "seq_ci_low",
    "seq_ci_high",
    "variance_reduction",
    "decision",
)

CONFIG_SQL = """
select experiment_alpha, srm_p_threshold, sequential_tuning_n, experiment_min_nonzero
from intermediate.int_metric_config
"""

VARIATIONS_SQL = """
select experiment_id, assigned_users, weight
from intermediate.int_experiment_variations
order by experiment_id, variation_id
"""

# Per row: the arm's sums, the control's sums and the sums pooled over every variation of
# the experiment (CUPED's θ and x̄_pooled), all as doubles for numpy.
STATS_SQL = f"""
with arms as (
    select stats.*, variations.variation_name, variations.is_control
    from intermediate.int_experiment_metric_stats as stats
    join intermediate.int_experiment_variations as variations using (experiment_id, variation_id)
)
select
    arms.experiment_id, arms.metric_name, arms.variation_id, arms.variation_name, arms.is_control,
    arms.metric_type, arms.goal, arms.is_guardrail, arms.users, arms.users_in_progress,
    coalesce(srm.srm_flag, false) as srm_flag,
    {", ".join(f"arms.{s}::double as arm_{s}" for s in SUMS)},
    {", ".join(f"control.{s}::double as control_{s}" for s in SUMS)},
    {", ".join(f"(sum(arms.{s}) over per_metric)::double as pooled_{s}" for s in MOMENTS)}
from arms
left join arms as control
    on control.experiment_id = arms.experiment_id and control.metric_name = arms.metric_name and control.is_control
left join srm on srm.experiment_id = arms.experiment_id
window per_metric as (partition by arms.experiment_id, arms.metric_name)
"""

DIM_EXPERIMENTS_SQL = """
create or replace table marts.dim_experiments as
with per_experiment as (
    select experiment_id,
           any_value(variation_id) filter (where is_control) as control_id,
           count(*) as variations,
           sum(assigned_users)::bigint as users
    from intermediate.int_experiment_variations
    group by experiment_id
)
select experiments.experiment_id, experiments.experiment_name, per_experiment.control_id,
       coalesce(per_experiment.variations, 0) as variations,
       experiments.first_exposure_date, experiments.last_exposure_date,
       coalesce(per_experiment.users, 0) as users,
       experiments.multiple_exposure_users, experiments.unusable_exposures,
       srm.srm_p_value, coalesce(srm.srm_flag, false) as srm_flag, experiments.is_running
from intermediate.int_experiments as experiments
left join per_experiment using (experiment_id)
left join srm using (experiment_id)
order by experiments.experiment_id
"""

FCT_RESULTS_SQL = """
create or replace table marts.fct_experiment_results as
select experiment_id, metric_name, variation_id, variation_name, is_control, metric_type, is_guardrail,
       users, users_in_progress, mean, variance, cuped_mean, absolute_lift, relative_lift,
       ci_low, ci_high, p_value, seq_ci_low, seq_ci_high, variance_reduction, decision
from results
order by experiment_id, metric_name, is_control desc, variation_id
"""


@dataclass(frozen=True)
class ExperimentResultsSummary:
    experiments: int
    srm_flagged: int
    result_rows: int
    comparisons: int  # treatment x metric rows: what a multiple-comparisons reader must count


@dataclass(frozen=True)
class _Config:
    alpha: float
    srm_p_threshold: float
    tuning_n: float
    min_nonzero: float


def _srm(variations: list[tuple[str, int, float]], threshold: float) -> pl.DataFrame:
    """The SRM test of every experiment with variations (experiments without are left out)."""
    ids, p_values = [], []
    for experiment_id, rows in groupby(variations, key=lambda row: row[0]):
        _, users, weights = zip(*rows, strict=True)
        ids.append(experiment_id)
        p_values.append(float(srm_p_value(users, weights)))
    p = np.array(p_values, dtype=float)
    return pl.DataFrame(
        {"experiment_id": ids, "srm_p_value": p, "srm_flag": p < threshold},
        schema={"experiment_id": pl.Utf8, "srm_p_value": pl.Float64, "srm_flag": pl.Boolean},
    ).with_columns(pl.col("srm_p_value").fill_nan(None))


def _column(frame: pl.DataFrame, name: str) -> FloatArray:
    return frame[name].to_numpy().astype(float)


def _moments(frame: pl.DataFrame, prefix: str) -> Moments:
    return Moments(*(_column(frame, f"{prefix}_{name}") for name in MOMENTS))


def _results(arms: pl.DataFrame, config: _Config) -> pl.DataFrame:
    """Every row's statistics; each row is compared with its experiment's control.

    The control's own row is computed like a treatment (against itself) for its CUPED mean,
    then its comparison columns are blanked: a lift of the control over itself means nothing.
    """
    arm, control = _moments(arms, "arm"), _moments(arms, "control")
    comparison = compare(
        arm,
        control,
        _moments(arms, "pooled"),
        nonzero_t=_column(arms, "arm_nonzero_users"),
        nonzero_c=_column(arms, "control_nonzero_users"),
        alpha=config.alpha,
        tuning_n=config.tuning_n,
        min_nonzero=config.min_nonzero,
    )
    decision = decide(
        comparison.seq_ci_low,
        comparison.seq_ci_high,
        arms["goal"].to_numpy() == "increase",
        arms["srm_flag"].to_numpy(),
    )
    measured = {
        "mean": arm.mean_y,
        "variance": arm.var_y,
        "cuped_mean": comparison.cuped_mean_t,
        **{name: getattr(comparison, name) for name in COMPARISON_COLUMNS[:-1]},
    }
    return arms.with_columns(
        *(pl.Series(name, values, dtype=pl.Float64).fill_nan(None) for name, values in measured.items()),
        pl.Series("decision", decision, dtype=pl.Utf8),
    ).with_columns(pl.when(~pl.col("is_control")).then(pl.col(name)).alias(name) for name in COMPARISON_COLUMNS)


def build_experiment_results(settings: Settings) -> ExperimentResultsSummary:
    """Analyse every experiment from the interface tables and (re)write both experiment marts.

    Reads and writes happen in one transaction under the writer lock: a reader never sees one
    mart of this build next to the other of the last. With no experiments both tables exist,
    empty, with their columns.
    """
    with writing(settings) as con:
        con.begin()
        [row] = con.execute(CONFIG_SQL).fetchall()
        config = _Config(*(float(value) for value in row))
        srm = _srm(con.execute(VARIATIONS_SQL).fetchall(), config.srm_p_threshold)
        con.register("srm", srm.to_arrow())
        results = _results(con.sql(STATS_SQL).pl(), config)
        con.register("results", results.to_arrow())
        con.execute("create schema if not exists marts")
        con.execute(DIM_EXPERIMENTS_SQL)
        con.execute(FCT_RESULTS_SQL)
        [(experiments,)] = con.execute("select count(*) from marts.dim_experiments").fetchall()
        con.commit()
        con.unregister("results")
        con.unregister("srm")
    summary = ExperimentResultsSummary(
        experiments=int(experiments),
        srm_flagged=int(srm["srm_flag"].sum()),
        result_rows=results.height,
        comparisons=int((~results["is_control"]).sum()),
    )
    log.info("experiment results: %s", summary)
    return summary
