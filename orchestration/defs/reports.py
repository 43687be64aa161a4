"""Reports domain: the analyst snapshot and the growth report, with their schedules."""

import base64
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from analysts.publish import publish_snapshot
from analysts.report import headline_numbers, render_report
from orchestration.build import CONTRACT_MARTS
from orchestration.defs.experiments import EXPERIMENT_MARTS
from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from orchestration.defs.schedules import scheduled
from warehouse.settings import Settings

# The snapshot publishes after the transforms too (the pipeline's order: build → transforms
# → publish), or it would miss the predictive LTV and experiment marts they write.
MARTS = [AssetKey(["marts", name]) for name in (*CONTRACT_MARTS, "fct_predicted_ltv")] + EXPERIMENT_MARTS


@asset(
    group_name="analysts",
    deps=MARTS,
    pool=WAREHOUSE_POOL,
    description="The analyst snapshot (GROWTH_PUBLISHED): the marts in a separate file, replaced atomically.",
)
def analyst_snapshot(growth: GrowthResource) -> MaterializeResult:
    path = publish_snapshot(growth.settings())
    return MaterializeResult(metadata={"path": MetadataValue.path(str(path))})


@asset(
    group_name="analysts",
    deps=[analyst_snapshot],
    description="The HTML growth report with Plotly charts, rendered from the analyst snapshot "
    "(runs tagged report=weekly write reports/<date>-weekly/).",
)
def growth_report(context: AssetExecutionContext, growth: GrowthResource) -> MaterializeResult:
    settings = growth.settings()
    weekly = context.run.tags.get("report") == "weekly"
    path = render_report(settings, weekly=weekly)
    with duckdb.connect(str(settings.published), read_only=True) as con:
        numbers = headline_numbers(con)
    context.log.info(f"growth report written to {path}")
    return MaterializeResult(metadata=report_metadata(path, numbers))


def report_metadata(path: Path, numbers: dict[str, Any]) -> dict[str, Any]:
    """What the Dagster UI shows: the path, the headline numbers and a preview image."""
    metadata: dict[str, Any] = {
        "path": MetadataValue.path(str(path)),
        **{key: value for key, value in numbers.items() if value is not None},
    }
    rows = "".join(
        f"| {key} | {value:,.2f} |\n" if isinstance(value, float) else f"| {key} | {value} |\n"
        for key, value in numbers.items()
        if value is not None
    )
    summary = f"**Growth report** `{path}`\n\n| headline | value |\n|---|---|\n{rows}"
    preview = path.parent / "preview.png"
    if preview.exists():
        encoded = base64.b64encode(preview.read_bytes()).decode()
        metadata["preview"] = MetadataValue.md(f"{summary}\n![preview](data:image/png;base64,{encoded})")
    else:
        metadata["preview"] = MetadataValue.md(f"{summary}\n_No preview image: PNG export needs Chromium._")
    return metadata


report_job = define_asset_job(
    "report_job",
    selection=["growth_report"],
    description="Render the growth report from the analyst snapshot (tag report=weekly for the weekly one).",
)


def report_schedules(settings: Settings) -> list[ScheduleDefinition]:
    return [
        scheduled(report_job, name="daily_report", cron_env="GROWTH_DAILY_REPORT_CRON", settings=settings),
        scheduled(
            report_job,
            name="weekly_report",
            cron_env="GROWTH_WEEKLY_REPORT_CRON",
            settings=settings,
            tags={"report": "weekly"},
        ),
    ]
