"""Experiments domain: the experiment marts from the dbt interface tables, and the SRM check.

One multi-asset writes both marts in one engine run (experiments.md "Marts"); the
sample-ratio-mismatch check comes back with the materialization of ``marts/dim_experiments``,
the mart that holds each experiment's χ² test.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from orchestration.pipeline import run_experiment_results
from warehouse.connection import writing
from warehouse.settings import Settings

RESULTS = AssetKey(["marts", "fct_experiment_results"])
DIM = AssetKey(["marts", "dim_experiments"])
EXPERIMENT_MARTS = [RESULTS, DIM]
INTERFACE = [
    AssetKey(["intermediate", name])
    for name in ("int_experiments", "int_experiment_variations", "int_experiment_metric_stats", "int_metric_config")
]
SRM_CHECK = "experiments_sample_ratio"

FLAGGED_SQL = "select experiment_id, srm_p_value from marts.dim_experiments where srm_flag order by experiment_id"


def flagged_experiments(settings: Settings) -> dict[str, float | None]:
    """Each experiment whose split departs from its weights (``srm_flag``), with its p-value."""
    with writing(settings) as con:
        return dict(con.execute(FLAGGED_SQL).fetchall())


def sample_ratio_check(flagged: dict[str, float | None]) -> AssetCheckResult:
    """Fails (ERROR) when any experiment has a sample-ratio mismatch, naming each with its p-value."""
    listed = ", ".join(
        f"{experiment} (p = {p:.2g})" if p is not None else experiment for experiment, p in flagged.items()
    )
    return AssetCheckResult(
        check_name=SRM_CHECK,
        asset_key=DIM,
        passed=not flagged,
        severity=AssetCheckSeverity.ERROR,
        description=f"sample ratio mismatch, results invalid: {listed}" if flagged else None,
        metadata={"srm_flagged": len(flagged), "flagged_experiments": MetadataValue.json(flagged)},
    )


@multi_asset(
    name="experiment_results",
    group_name="experiments",
    pool=WAREHOUSE_POOL,
    specs=[
        AssetSpec(
            RESULTS,
            deps=INTERFACE,
            description="Per experiment, metric and variation: means, CUPED lift, fixed and sequential "
            "intervals, decision (transforms.experiments from the dbt interface tables).",
        ),
        AssetSpec(
            DIM,
            deps=INTERFACE,
            description="One row per experiment: control, variations, assigned users, sample-ratio-mismatch test.",
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            SRM_CHECK,
            asset=DIM,
            description="No experiment's users split against its configured weights: the χ² sample-ratio "
            "test's p-value at or above srm_p_threshold (dbt var, 0.001) for every experiment; a "
            "mismatch makes every result of that experiment invalid.",
        )
    ],
)
def experiment_results(growth: GrowthResource) -> Iterator[MaterializeResult]:
    settings = growth.settings()
    summary = run_experiment_results(settings)
    metadata: dict[str, Any] = {
        "experiments": summary.experiments,
        "comparisons": summary.comparisons,
        "srm_flagged": summary.srm_flagged,
    }
    yield MaterializeResult(asset_key=RESULTS, metadata={**metadata, "rows": summary.result_rows})
    yield MaterializeResult(
        asset_key=DIM, metadata=metadata, check_results=[sample_ratio_check(flagged_experiments(settings))]
    )
