"""Ingest domain: the raw layer (events from Kafka, marketing spend) and its checks."""

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
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
from ingest.spend import changed_files, load_spend
from orchestration.defs.resources import CheckLimits, GrowthResource
from orchestration.defs.schedules import scheduled
from warehouse.connection import writing
from warehouse.lake import EVENTS, Lake
from warehouse.settings import Settings

WAREHOUSE_POOL = "warehouse"  # runs that write the warehouse never overlap

VOLUME_SQL = """
with daily as (
    select cast(timestamp as date) as day, count(*) as events from {events} group by 1
),
last_day as (
    select max(day) - 1 as day from daily
)
select
    (select events from daily where day = (select day from last_day)) as last_day_events,
    (select median(events) from daily
     where day between (select day from last_day) - 7 and (select day from last_day) - 1) as trailing_median,
    (select day from last_day) as day
"""


def raw_health(settings: Settings) -> dict[str, Any]:
    """Last ingest time and the last complete day's volume against its trailing 7-day median
    (on the spark engine from the lake's events files, the last ingest their latest ingested_at)."""
    if settings.uses_lake:
        relation = Lake(settings.lake).relation(EVENTS)
        if relation is None:
            return {"last_ingest": None, "last_day_events": None, "trailing_median": None, "day": None}
        with duckdb.connect() as con:
            [(last_ingest,)] = con.execute(f"select max(ingested_at) from {relation}").fetchall()
            [(events, median, day)] = con.execute(VOLUME_SQL.format(events=relation)).fetchall()
    else:
        with writing(settings) as con:
            [(last_ingest,)] = con.execute("select max(updated_at) from raw.kafka_offsets").fetchall()
            [(events, median, day)] = con.execute(VOLUME_SQL.format(events="raw.events")).fetchall()
    return {"last_ingest": last_ingest, "last_day_events": events, "trailing_median": median, "day": day}


def health_checks(health: dict[str, Any], limits: CheckLimits, now: datetime | None = None) -> list[AssetCheckResult]:
    """Freshness of the last ingest and the last complete day's volume against the band."""
    last_ingest = health["last_ingest"]
    age = (now or datetime.now(UTC)) - last_ingest if last_ingest else None
    events, median = health["last_day_events"], health["trailing_median"]
    in_band = bool(median) and limits.volume_low * median <= (events or 0) <= limits.volume_high * median
    return [
        AssetCheckResult(
            check_name="raw_events_fresh",
            passed=age is not None and age <= timedelta(minutes=limits.freshness_minutes),
            metadata={
                "last_ingest": str(last_ingest),
                "age_minutes": age.total_seconds() / 60 if age else -1,
                "limit_minutes": limits.freshness_minutes,
            },
        ),
        AssetCheckResult(
            check_name="daily_volume_within_band",
            passed=in_band,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "day": str(health["day"]),
                "events": events or 0,
                "trailing_7_day_median": median or 0,
                "band": f"{limits.volume_low}x-{limits.volume_high}x",
            },
        ),
    ]


@asset(
    group_name="raw",
    pool=WAREHOUSE_POOL,
    description="raw.events and raw.events_quarantine: the events topic ingested exactly once, until caught up.",
    check_specs=[
        AssetCheckSpec(
            "quarantine_share_below_limit",
            asset="raw_events",
            description="Quarantined share of the last ingest's records at most GROWTH_QUARANTINE_SHARE_LIMIT (0.05).",
        ),
        AssetCheckSpec(
            "raw_events_fresh", asset="raw_events", description="Last ingest within GROWTH_FRESHNESS_MINUTES (60)."
        ),
        AssetCheckSpec(
            "daily_volume_within_band",
            asset="raw_events",
            description="Events of the last complete day within GROWTH_VOLUME_BAND_LOW-HIGH (0.5x-2x) "
            "of the median of the 7 days before it (a partial today would always look low).",
        ),
    ],
)
def raw_events(context: AssetExecutionContext, growth: GrowthResource) -> MaterializeResult:
    settings, limits = growth.settings(), growth.check_limits()
    summary = run_ingest(settings, mode="until-caught-up")
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
                passed=share <= limits.quarantine_share,
                severity=AssetCheckSeverity.WARN,
                metadata={"quarantine_share": share, "limit": limits.quarantine_share},
            ),
            *health_checks(raw_health(settings), limits),
        ],
    )


@asset(
    group_name="raw",
    pool=WAREHOUSE_POOL,
    description="raw.marketing_spend: new or changed CSVs of the spend directory (a reload replaces a file's rows).",
)
def marketing_spend(growth: GrowthResource) -> MaterializeResult:
    settings = growth.settings()
    files = changed_files(settings, [settings.spend_dir]) if settings.spend_dir.exists() else []
    results = load_spend(settings, files)
    rejected = [result.error for result in results if not result.loaded]
    if rejected:
        raise RuntimeError("; ".join(str(error) for error in rejected))
    return MaterializeResult(metadata={"files": len(results), "rows": sum(result.rows for result in results)})


ingest_job = define_asset_job(
    "ingest_job",
    selection=["raw_events", "marketing_spend"],
    description="Ingest the events topic until caught up and load new or changed spend CSVs.",
)


def ingest_schedules(settings: Settings) -> list[ScheduleDefinition]:
    return [scheduled(ingest_job, name="ingest_every_15_minutes", cron_env="GROWTH_INGEST_CRON", settings=settings)]
