"""`growth build`: `dbt build` (models and tests) on the warehouse, under the writer lock.

dbt runs as a subprocess so its own output stays visible and its memory is returned when
it ends. The raw tables are created first, so a fresh warehouse builds (empty marts)
instead of failing on missing sources. Each build writes its artifacts to a target
directory beside the warehouse, so builds of different warehouses never clobber each other.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from warehouse.connection import connect, ensure_raw_schema
from warehouse.errors import GrowthError
from warehouse.lock import writer_lock
from warehouse.settings import Settings

log = logging.getLogger(__name__)
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
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


class BuildError(GrowthError):
    """dbt reported a failing model or test."""


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment dbt's profile reads: the warehouse path, absolute."""
    return {**os.environ, "GROWTH_WAREHOUSE": str(settings.warehouse.resolve())}


def target_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "dbt_target"


def _failures(run_results: Path) -> list[str]:
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    return [
        f"{result['unique_id']} ({result['status']}): {(result.get('message') or '').strip()[:200]}"
        for result in results
        if result.get("status") in ("error", "fail")
    ]


def run_build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: dict[str, Any] | None = None,
    select: str | None = None,
    quiet: bool = False,
) -> None:
    """Run `dbt build`; raise BuildError naming the failing nodes when dbt fails."""
    target = target_dir(settings)
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *DBT_BUILD_ARGS,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    if full_refresh:
        command.append("--full-refresh")
    if vars:
        command += ["--vars", json.dumps(vars)]
    if select:
        command += ["--select", select]
    with writer_lock(settings.warehouse, on_wait=log.warning):
        with connect(settings.warehouse) as con:
            ensure_raw_schema(con)
        result = subprocess.run(
            command,
            env=dbt_env(settings),
            cwd=DBT_PROJECT_DIR,
            stdout=subprocess.DEVNULL if quiet else None,
            check=False,
        )
    if result.returncode != 0:
        failures = _failures(target / "run_results.json")
        detail = "; ".join(failures) if failures else f"dbt exited with code {result.returncode}"
        raise BuildError(f"dbt build failed: {detail}")
