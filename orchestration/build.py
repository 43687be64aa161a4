"""The one way into dbt, for the `growth` CLI and for Dagster alike.

dbt runs as a subprocess (its memory is returned when it ends) with the same arguments,
the same vars and the same profile. The warehouse path and memory cap reach dbt's profile as vars
(``warehouse_path``, ``duckdb_memory_limit``) instead of through the process environment,
so a Dagster run never has to change ``os.environ`` for its dbt subprocess.

Both run the same project (:func:`dbt_project`) with the same arguments
(:func:`build_args`). Dagster launches dbt through dagster-dbt's ``DbtCliResource``, which
turns dbt's events into asset materializations and checks; the CLI launches the same
command itself, because the resource costs ~11 s per build in a fresh process (importing
Dagster, a `dbt --version` subprocess, parsing every macro for an adapter handle the CLI
never uses): measured on the 300-user demo warehouse, 13.3-14.7 s per `growth build`
launched directly against 24.5-28.6 s through the resource.

The manifest Dagster loads its assets from is parsed by ``make`` when a dbt file is newer
than it, and re-parsed on load under ``dagster dev`` (``prepare_if_dev``); a CLI build
needs no manifest. Each CLI build writes its artifacts to a target directory beside the
warehouse, so builds of different warehouses never clobber each other.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject

from warehouse.connection import prepared
from warehouse.errors import GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
# The marts of docs/metrics.md and docs/revenue.md (schema `marts`), in the contracts' order.
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
    "fct_experiment_assignments",
    "fct_retention_by_segment",
    "fct_activation_by_segment",
    "fct_feature_adoption",
    "fct_feature_retention",
    "dim_accounts",
    "fct_account_retention",
    "fct_mrr",
    "fct_revenue_retention",
    "fct_campaign_acquisition",
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
    exclude: str | None = None,
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
    if exclude:
        args += ["--exclude", exclude]
    return args


def target_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "dbt_target"


def _failures(run_results: Path) -> list[str]:
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    return [
        f"{result['unique_id']} ({result['status']}): {_one_line(result.get('message') or '')[:200]}"
        for result in results
        if result.get("status") in ("error", "fail")
    ]


def run_build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    select: str | None = None,
    exclude: str | None = None,
    quiet: bool = False,
) -> None:
    """Run `dbt build` under the writer lock; raise BuildError naming the failing nodes."""
    target = target_dir(settings)
    command = [
        DBT_EXECUTABLE,
        "--log-format",
        "json",
        *build_args(settings, full_refresh=full_refresh, vars=vars, select=select, exclude=exclude),
        "--project-dir",
        str(dbt_project().project_dir),
        "--profiles-dir",
        str(dbt_project().profiles_dir),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    with prepared(settings, on_wait=log.warning):
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=DBT_PROJECT_DIR) as dbt:
            assert dbt.stdout is not None
            infos = [_echo(line, quiet) for line in dbt.stdout]
        returncode = dbt.wait()
    if select and {str(info.get("name", "")) for info in infos} & NOTHING_SELECTED:
        raise BuildError(f"--select {select} matches no model or test of the dbt project")
    if returncode != 0:
        failures = _failures(target / "run_results.json") or _errors(infos)
        detail = "; ".join(failures) if failures else f"dbt exited with code {returncode}"
        raise BuildError(f"dbt build failed: {detail}")


def _echo(line: str, quiet: bool) -> dict[str, Any]:
    """Print dbt's message (unless quiet) and return the event's info (name, level, msg)."""
    try:
        info = dict(json.loads(line)["info"])
    except (ValueError, KeyError, TypeError):
        info = {"msg": line.rstrip("\n"), "name": ""}
    if not quiet:
        print(info.get("msg", ""), flush=True)
    return info


def _errors(infos: list[dict[str, Any]]) -> list[str]:
    """dbt's error messages in one line each, for a build that stopped before running any node.

    A compilation error (an ill-formed var, say) names the model, then the reason, then the
    macro call stack; the stack (lines starting with ">") helps nobody who set a var.
    """
    return [_one_line(str(info.get("msg", ""))) for info in infos if info.get("level") == "error"]


def _one_line(message: str) -> str:
    """A dbt error message in one line, without its macro call stack (the lines starting with ">")."""
    return ": ".join(
        text
        for raw in message.splitlines()
        if (text := raw.strip()) and not text.startswith(">") and text != "Encountered an error:"
    )
