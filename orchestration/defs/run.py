"""One Dagster run of every asset and check, recorded in the instance `make ui` opens.

`growth demo` runs the pipeline this way, so after a demo the Dagster UI shows each asset
materialized and each check evaluated, exactly as the hourly job and the report schedule
would have left them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import DagsterInstance, ExecuteInProcessResult, materialize

from orchestration.build import dbt_cli
from orchestration.defs.resources import GrowthResource
from warehouse.errors import GrowthError
from warehouse.settings import Settings

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

INSTANCE_CONFIG = Path(__file__).resolve().parent.parent / "dagster.yaml"
# The run's own log stays in the instance (the UI shows it); a failure reaches the terminal
# as one line naming the step and the innermost error.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def growth_resource(settings: Settings) -> GrowthResource:
    return GrowthResource(
        warehouse=str(settings.warehouse.resolve()),
        bootstrap_servers=settings.bootstrap_servers or "",
        topic=settings.topic,
        group_id=settings.group_id,
        spend_dir=str(settings.spend_dir.resolve()),
        report_dir=str(settings.report_dir.resolve()),
    )


def materialize_everything(settings: Settings) -> ExecuteInProcessResult:
    """Run every asset of the code location in ``settings``' Dagster instance; one line on failure."""
    from orchestration.definitions import defs

    home = settings.dagster_instance_dir
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    assets: list[Any] = [*(defs.assets or []), *(defs.asset_checks or [])]
    with DagsterInstance.from_config(str(home)) as instance:
        result = materialize(
            assets,
            resources={"growth": growth_resource(settings), "dbt": dbt_cli()},
            instance=instance,
            run_config=QUIET,
            raise_on_error=False,
        )
    if not result.success:
        failures = [
            f"{event.step_key}: {_innermost(event.step_failure_data.error)}"
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error is not None
        ]
        raise GrowthError(f"the Dagster run failed at {'; '.join(failures) or 'an unknown step'}")
    return result


def _innermost(error: SerializableErrorInfo) -> str:
    """Dagster wraps the step's exception; the user needs the one that says what went wrong."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "unknown error"
