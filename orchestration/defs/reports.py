"""Reports domain: the analyst snapshot and the growth report, with their schedules."""

import base64
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from orchestration.publish import publish_snapshot
from orchestration.report import headline_numbers, render_report

MARTS = [
    AssetKey(["marts", name])
    for name in (
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
]


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
    description="The HTML growth report with Plotly charts, rendered from the analyst snapshot.",
    check_specs=[AssetCheckSpec("growth_accounting_invariants", asset="growth_report")],
)
def growth_report(growth: GrowthResource) -> MaterializeResult:
    import duckdb

    settings = growth.settings()
    path = render_report(settings)
    with duckdb.connect(str(settings.published), read_only=True) as con:
        numbers = headline_numbers(con)
        [(violations,)] = con.execute(
            """
            select count(*) from (
                select *, lag(active_users) over (partition by grain order by period_start) as previous
                from marts.fct_growth_accounting
            ) where active_users <> new_users + retained_users + resurrected_users
                 or (previous is not null and previous <> retained_users + churned_users)
            """
        ).fetchall()
    preview = path.parent / "preview.png"
    metadata: dict[str, Any] = {
        "path": MetadataValue.path(str(path)),
        **{key: value for key, value in numbers.items() if value is not None},
    }
    if preview.exists():
        encoded = base64.b64encode(preview.read_bytes()).decode()
        metadata["preview"] = MetadataValue.md(f"![preview](data:image/png;base64,{encoded})")
    return MaterializeResult(
        metadata=metadata,
        check_results=[
            AssetCheckResult(
                check_name="growth_accounting_invariants", passed=violations == 0, metadata={"violations": violations}
            )
        ],
    )


report_job = define_asset_job("report_job", selection=["growth_report"])
daily_report_schedule = ScheduleDefinition(name="daily_report", job=report_job, cron_schedule="0 7 * * *")
weekly_report_schedule = ScheduleDefinition(name="weekly_report", job=report_job, cron_schedule="0 7 * * 1")
