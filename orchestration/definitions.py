"""The one Dagster code location of growth-warehouse (`dagster dev` finds it via pyproject).

Every asset that writes the warehouse sits in the `warehouse` concurrency pool (limit 1 in
orchestration/dagster.yaml, which `make ui` installs into DAGSTER_HOME) and takes the
writer lock as a second line, so runs that write the warehouse never overlap.
"""

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.defs.alerts import growth_alerts, notify_run_failure_sensor
from orchestration.defs.dbt import dbt_resource, growth_dbt_models
from orchestration.defs.experiments import experiment_results
from orchestration.defs.ingest import ingest_job, ingest_schedules, marketing_spend, raw_events
from orchestration.defs.lake import compact_lake_job, lake_schedules
from orchestration.defs.reports import (
    analyst_snapshot,
    growth_report,
    report_job,
    report_schedules,
)
from orchestration.defs.resources import GrowthResource
from orchestration.defs.schedules import scheduled
from orchestration.defs.transforms import predictive_ltv
from warehouse.settings import load_settings

hourly_job = define_asset_job(
    "ingest_build_snapshot_job",
    selection=AssetSelection.assets(
        raw_events, marketing_spend, predictive_ltv, experiment_results, analyst_snapshot, growth_alerts
    )
    | AssetSelection.assets(growth_dbt_models),
    description="Ingest events and spend, build every dbt model with its tests, refit the transforms, "
    "analyse the experiments, publish the analyst snapshot, judge the monitors and deliver their alerts.",
)
# The one place the code location reads its settings when it loads: the schedules' crons.
settings = load_settings()

ASSETS = [
    raw_events,
    marketing_spend,
    growth_dbt_models,
    predictive_ltv,
    experiment_results,
    analyst_snapshot,
    growth_report,
    growth_alerts,
]

defs = Definitions(
    assets=ASSETS,
    jobs=[ingest_job, hourly_job, report_job, compact_lake_job],
    schedules=[
        *ingest_schedules(settings),
        scheduled(hourly_job, name="hourly_ingest_build_snapshot", cron_env="GROWTH_HOURLY_CRON", settings=settings),
        *report_schedules(settings),
        *lake_schedules(settings),
    ],
    sensors=[notify_run_failure_sensor],
    resources={"growth": GrowthResource(), "dbt": dbt_resource()},
)
