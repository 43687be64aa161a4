"""Lake domain (spark engine): the daily compaction of the lake's batch files
(warehouse/compaction.py), so a following ingester's small files do not slow every Spark build."""

from dagster import OpExecutionContext, ScheduleDefinition, job, op

from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from orchestration.defs.schedules import scheduled
from warehouse.compaction import compact_lake
from warehouse.settings import Settings


@op(pool=WAREHOUSE_POOL)
def compact_lake_files(context: OpExecutionContext, growth: GrowthResource) -> None:
    """Merge each lake partition's batch files; with the duckdb engine there is no lake."""
    settings = growth.settings()
    if not settings.uses_lake:
        context.log.info("the duckdb engine keeps the raw layer in the warehouse file: no lake to compact")
        return
    context.log.info(compact_lake(settings).summary(settings.lake))


@job(description="Merge the lake's small batch files into larger ones (spark engine; rows and offsets unchanged).")
def compact_lake_job() -> None:
    compact_lake_files()


def lake_schedules(settings: Settings) -> list[ScheduleDefinition]:
    return [
        scheduled(compact_lake_job, name="daily_lake_compaction", cron_env="GROWTH_COMPACT_CRON", settings=settings)
    ]
