"""Reports domain: the analyst snapshot and the growth report, with their schedules."""

import base64
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)
from pydantic import Field

from analysts.publish import publish_snapshot
from analysts.report import headline_numbers, render_report
from orchestration.build import CONTRACT_MARTS
from orchestration.defs.experiments import EXPERIMENT_MARTS
from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from orchestration.defs.schedules import scheduled
from orchestration.report_delivery import grain_of, send_report
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


class ReportConfig(Config):
    """Which report a run renders and whether it delivers it (docs/delivery.md, "Reports")."""

    period: str = Field(
        default="",
        description="daily or weekly; empty: weekly when the run is tagged report=weekly, else daily",
    )
    send: bool = Field(
        default=True,
        description="deliver the report to the configured destinations (none configured: nothing is sent)",
    )


def report_config(period: str) -> dict[str, Any]:
    """The run config of a report run for ``period`` (what the schedules pass)."""
    return {"ops": {"growth_report": {"config": {"period": period}}}}


@asset(
    group_name="analysts",
    deps=[analyst_snapshot],
    pool=WAREHOUSE_POOL,  # delivering writes ops.deliveries in the warehouse
    description="The HTML growth report with Plotly charts, rendered from the analyst snapshot and delivered "
    "once per period to the configured destinations (config period daily|weekly; weekly runs write "
    "reports/<date>-weekly/).",
)
def growth_report(context: AssetExecutionContext, config: ReportConfig, growth: GrowthResource) -> MaterializeResult:
    settings = growth.settings()
    grain = grain_of(config.period or ("weekly" if context.run.tags.get("report") == "weekly" else "daily"))
    delivery: str | None = None
    if config.send:
        sent = send_report(settings, grain)
        path, delivery = sent.path, sent.outcome.summary()
        context.log.info(f"delivery: {delivery}")
    else:
        path = render_report(settings, weekly=grain == "weekly")
    with duckdb.connect(str(settings.published), read_only=True) as con:
        numbers = headline_numbers(con)
    context.log.info(f"growth report written to {path}")
    metadata = report_metadata(path, numbers)
    if delivery is not None:
        metadata["delivery"] = MetadataValue.text(delivery)
    return MaterializeResult(metadata=metadata)


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
    description="Render the growth report from the analyst snapshot and deliver it "
    "(config period daily|weekly; the weekly schedule's runs are also tagged report=weekly).",
)


def report_schedules(settings: Settings) -> list[ScheduleDefinition]:
    """The daily report (the last complete day) and the weekly one (the last complete week), each delivered."""
    return [
        scheduled(
            report_job,
            name="daily_report",
            cron_env="GROWTH_DAILY_REPORT_CRON",
            settings=settings,
            run_config=report_config("daily"),
        ),
        scheduled(
            report_job,
            name="weekly_report",
            cron_env="GROWTH_WEEKLY_REPORT_CRON",
            settings=settings,
            tags={"report": "weekly"},
            run_config=report_config("weekly"),
        ),
    ]
