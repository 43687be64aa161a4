"""The one way into dbt, for the `growth` CLI and for Dagster alike.

Both go through dagster-dbt's ``DbtCliResource`` on one cached ``DbtProject``: dbt runs as
a subprocess (its memory is returned when it ends) with the same arguments, the same vars
and the same profile. The warehouse path and memory cap reach dbt's profile as vars
(``warehouse_path``, ``duckdb_memory_limit``) instead of through the process environment,
so a Dagster run never has to change ``os.environ`` for its dbt subprocess.

The manifest Dagster loads its assets from is parsed by ``make`` when a dbt file is newer
than it, and re-parsed on load under ``dagster dev`` (``prepare_if_dev``); a CLI build
needs no manifest. Each CLI build writes its artifacts to a target directory beside the
warehouse, so builds of different warehouses never clobber each other.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warehouse.connection import prepared
from warehouse.errors import GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
# The marts of metrics.md (schema `marts`), in the contract's order.
CONTRACT_MARTS = (
    "dim_users",
    "fct_sessions",
    "fct_engagement_daily",
    "fct_daily_active_users",
    "fct_retention",
    "fct_growth_accounting",
    "fct_activation",
    "fct_funnel",
    "fct_acquisition",
    "fct_ltv_cohorts",
    "fct_channel_economics",
)

# What every production build runs: models, seeds, snapshots and data tests. dbt unit tests
# check the SQL against fixtures, not the data; they run in the test suite
# (tests/test_dbt_build.py), as dbt recommends, instead of costing seconds on every build.
DBT_BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")


# dbt's events for a selector that matches nothing (it exits 0 and says "Nothing to do").
NOTHING_SELECTED = frozenset({"NoNodesForSelectionCriteria", "NothingToDo"})


class BuildError(GrowthError):
    """dbt reported a failing model or test."""


@cache
def dbt_project() -> DbtProject:
    """The dbt project, re-parsed on load only under `dagster dev`."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=DBT_PROJECT_DIR / "target")
    project.prepare_if_dev()
    return project


def dbt_cli() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)


def build_args(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    select: str | None = None,
) -> list[str]:
    """`dbt build` arguments for ``settings``' warehouse; user ``vars`` beside the profile's two."""
    profile_vars = {
        "warehouse_path": str(settings.warehouse.resolve()),
        "duckdb_memory_limit": settings.memory_limit,
    }
    args = [*DBT_BUILD_ARGS, "--vars", json.dumps({**(vars or {}), **profile_vars})]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    return args


def target_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "dbt_target"


def _failures(run_results: Mapping[str, Any]) -> list[str]:
    return [
        f"{result['unique_id']} ({result['status']}): {(result.get('message') or '').strip()[:200]}"
        for result in run_results.get("results", [])
        if result.get("status") in ("error", "fail")
    ]


def run_build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    select: str | None = None,
    quiet: bool = False,
) -> None:
    """Run `dbt build` under the writer lock; raise BuildError naming the failing nodes."""
    args = build_args(settings, full_refresh=full_refresh, vars=vars, select=select)
    with prepared(settings, on_wait=log.warning):
        invocation = dbt_cli().cli(args, target_path=target_dir(settings), raise_on_error=False)
        with Progress(
            TextColumn("dbt build"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            disable=quiet,
            transient=True,
        ) as progress:
            task = progress.add_task("", total=None)
            unmatched = False
            for event in invocation.stream_raw_events():
                _show(progress, task, event.raw_event)
                unmatched |= event.raw_event.get("info", {}).get("name") in NOTHING_SELECTED
        succeeded = invocation.is_successful()
    if select and unmatched:
        raise BuildError(f"--select {select} matches no model or test of the dbt project")
    if not succeeded:
        try:
            failures = _failures(invocation.get_artifact("run_results.json"))
        except (OSError, ValueError):
            failures = []
        detail = "; ".join(failures) if failures else "dbt exited with an error (see its log above)"
        raise BuildError(f"dbt build failed: {detail}")


def _show(progress: Progress, task: Any, raw_event: Mapping[str, Any]) -> None:
    """Advance the bar on each finished node; dbt's warnings and errors go to the log."""
    info, data = raw_event.get("info", {}), raw_event.get("data", {})
    if info.get("level") in ("warn", "error"):
        log.warning("dbt: %s", info.get("msg", "").strip())
    node = data.get("node_info") or {}
    if info.get("name") == "NodeFinished" and node:
        progress.update(task, advance=1, description=node.get("node_name", ""))
    elif "total" in data and "index" in data:
        progress.update(task, total=data["total"])
