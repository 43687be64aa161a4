"""Schedule cadences: UTC defaults, each overridable with its ``GROWTH_*_CRON`` variable.

Cron strings are read through the settings when the code location loads (a reload of the
location picks up a change); the resources, in contrast, resolve their settings only when
a run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import JobDefinition, ScheduleDefinition

from warehouse.settings import Settings

if TYPE_CHECKING:  # what define_asset_job returns; Dagster does not export the name
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

DEFAULT_CRONS = {
    "GROWTH_INGEST_CRON": "*/15 * * * *",  # ingest every 15 minutes
    "GROWTH_HOURLY_CRON": "0 * * * *",  # ingest + build + snapshot hourly
    "GROWTH_DAILY_REPORT_CRON": "0 7 * * *",  # daily report at 07:00
    "GROWTH_WEEKLY_REPORT_CRON": "0 7 * * 1",  # weekly report on Mondays at 07:00
    "GROWTH_COMPACT_CRON": "30 3 * * *",  # the lake's compaction (spark engine) at 03:30
}


def scheduled(
    job: UnresolvedAssetJobDefinition | JobDefinition,
    *,
    name: str,
    cron_env: str,
    settings: Settings,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
) -> ScheduleDefinition:
    """``job`` on the cron of ``cron_env`` (or its default), in GROWTH_SCHEDULE_TIMEZONE (UTC)."""
    return ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=settings.tuned(cron_env, DEFAULT_CRONS[cron_env]),
        execution_timezone=settings.tuned("GROWTH_SCHEDULE_TIMEZONE", "UTC"),
        tags=tags,
        run_config=run_config,
    )
