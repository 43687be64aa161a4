"""The pipeline after ingest, in one place: dbt build → Python transforms → analyst snapshot.

`growth demo` and `growth forget` run it as a whole; Dagster runs the same steps as assets
whose dependencies give the same order (the transforms asset calls :func:`run_transforms`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from analysts.publish import publish_snapshot
from orchestration.build import run_build
from transforms.experiments import ExperimentResultsSummary, build_experiment_results
from transforms.predictive_ltv import PredictiveLtvSummary, build_predictive_ltv
from warehouse.settings import Settings

T = TypeVar("T")
Stage = Callable[[str, Callable[[], Any]], Any]


def run_transforms(settings: Settings) -> PredictiveLtvSummary:
    """Predictive LTV, the Python transform downstream of the user and channel marts."""
    return build_predictive_ltv(settings)


def run_experiment_results(settings: Settings) -> ExperimentResultsSummary:
    """The experiment marts from the sufficient statistics dbt reduced the exposures to."""
    return build_experiment_results(settings)


def _quietly(_name: str, step: Callable[[], T]) -> T:
    return step()


def run_pipeline(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    quiet: bool = False,
    stage: Stage = _quietly,
) -> None:
    """Build the marts, run the transforms on them, publish the snapshot.

    ``stage`` wraps each step (the demo prints a line per stage with its duration).
    """
    stage("dbt build", lambda: run_build(settings, full_refresh=full_refresh, vars=vars, quiet=quiet))
    stage("predictive LTV (BG/NBD + Gamma-Gamma)", lambda: run_transforms(settings))
    stage("experiment results", lambda: run_experiment_results(settings))
    stage("publish analyst snapshot", lambda: publish_snapshot(settings))
