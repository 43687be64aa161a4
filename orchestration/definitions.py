"""The one Dagster code location of growth-warehouse (`dagster dev` finds it via pyproject).

Every asset that writes the warehouse sits in the `warehouse` concurrency pool (limit 1 in
orchestration/dagster.yaml, which `make ui` installs into DAGSTER_HOME) and takes the
writer lock as a second line, so runs that write the warehouse never overlap.
"""

from dagster import AssetSelection, Definitions, ScheduleDefinition, define_asset_job

from orchestration.defs.dbt import dbt_resource, growth_dbt_models
from orchestration.defs.ingest import ingest_job, ingest_schedule, marketing_spend, raw_events
from orchestration.defs.reports import (
    analyst_snapshot,
    daily_report_schedule,
    growth_accounting_invariants,
    growth_report,
    report_job,
    weekly_report_schedule,
)
from orchestration.defs.resources import GrowthResource
from orchestration.defs.schedules import cron, timezone
from orchestration.defs.transforms import predictive_ltv

hourly_job = define_asset_job(
    "ingest_build_snapshot_job",
    selection=AssetSelection.assets(raw_events, marketing_spend, predictive_ltv, analyst_snapshot)
    | AssetSelection.assets(growth_dbt_models)
    | AssetSelection.checks(growth_accounting_invariants),
)
hourly_schedule = ScheduleDefinition(
    name="hourly_ingest_build_snapshot",
    job=hourly_job,
    cron_schedule=cron("GROWTH_HOURLY_CRON"),
    execution_timezone=timezone(),
)

ASSETS = [raw_events, marketing_spend, growth_dbt_models, predictive_ltv, analyst_snapshot, growth_report]
ASSET_CHECKS = [growth_accounting_invariants]

defs = Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=[ingest_job, hourly_job, report_job],
    schedules=[ingest_schedule, hourly_schedule, daily_report_schedule, weekly_report_schedule],
    resources={"growth": GrowthResource(), "dbt": dbt_resource()},
)
