"""dbt domain: every model of dbt_project/ as an asset; dbt tests become asset checks."""

from collections.abc import Iterator, Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.build import build_args, build_lock, dbt_cli, dbt_project, land_spark_tables
from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource

RAW_ASSETS = {("segment", "events"): "raw_events", ("ads", "marketing_spend"): "marketing_spend"}


class GrowthDbtTranslator(DagsterDbtTranslator):
    """Sources map onto the ingest assets; models keep their schema-qualified names and
    are grouped by layer (staging, intermediate, marts), the folders of dbt_project/models."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            key = (dbt_resource_props["source_name"], dbt_resource_props["name"])
            if key in RAW_ASSETS:
                return AssetKey(RAW_ASSETS[key])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2 else None


@dbt_assets(
    manifest=dbt_project().manifest_path,
    dagster_dbt_translator=GrowthDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def growth_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, growth: GrowthResource) -> Iterator[Any]:
    """`dbt build` (models and their tests) under the writer lock, on the resource's warehouse.

    dagster-dbt gives every invocation its own target directory (run id + uuid), so
    concurrent or successive runs never clobber each other's artifacts.
    """
    settings = growth.settings()
    with build_lock(settings, on_wait=context.log.warning):
        yield from dbt.cli(build_args(settings), context=context).stream()
        if settings.uses_lake:
            land_spark_tables(settings)


def dbt_resource() -> DbtCliResource:
    return dbt_cli()
