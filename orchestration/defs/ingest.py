"""Ingest domain: the raw layer (events from Kafka, marketing spend) and its checks."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from ingest.consumer import run_ingest
from ingest.spend import load_spend
from orchestration.defs.resources import GrowthResource

WAREHOUSE_POOL = "warehouse"  # runs that write the warehouse never overlap
QUARANTINE_SHARE_LIMIT = 0.05


@asset(
    group_name="raw",
    pool=WAREHOUSE_POOL,
    description="raw.events and raw.events_quarantine: the events topic ingested exactly once, until caught up.",
    check_specs=[AssetCheckSpec("quarantine_share_below_limit", asset="raw_events")],
)
def raw_events(context: AssetExecutionContext, growth: GrowthResource) -> MaterializeResult:
    summary = run_ingest(growth.settings(), mode="until-caught-up")
    share = summary.quarantined / summary.records if summary.records else 0.0
    context.log.info(f"ingested {summary.records} records ({summary.quarantined} quarantined)")
    return MaterializeResult(
        metadata={
            "records": summary.records,
            "accepted": summary.accepted,
            "quarantined": summary.quarantined,
            "quarantine_by_code": dict(summary.codes),
            "records_per_second": round(summary.records_per_second),
        },
        check_results=[
            AssetCheckResult(
                check_name="quarantine_share_below_limit",
                passed=share <= QUARANTINE_SHARE_LIMIT,
                severity=AssetCheckSeverity.WARN,
                metadata={"quarantine_share": share, "limit": QUARANTINE_SHARE_LIMIT},
            )
        ],
    )


@asset(
    group_name="raw",
    pool=WAREHOUSE_POOL,
    description="raw.marketing_spend: every CSV of the spend directory (reloading a file replaces its rows).",
)
def marketing_spend(growth: GrowthResource) -> MaterializeResult:
    settings = growth.settings()
    results = load_spend(settings, [settings.spend_dir]) if settings.spend_dir.exists() else []
    rejected = [result.error for result in results if not result.loaded]
    if rejected:
        raise RuntimeError("; ".join(str(error) for error in rejected))
    return MaterializeResult(metadata={"files": len(results), "rows": sum(result.rows for result in results)})


ingest_job = define_asset_job("ingest_job", selection=["raw_events", "marketing_spend"])
ingest_schedule = ScheduleDefinition(name="ingest_every_15_minutes", job=ingest_job, cron_schedule="*/15 * * * *")
