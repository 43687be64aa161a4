"""dbt domain: every model of dbt_project/ as an asset; dbt tests become asset checks."""

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.build import DBT_PROJECT_DIR
from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
RAW_ASSETS = {("segment", "events"): "raw_events", ("ads", "marketing_spend"): "marketing_spend"}


@cache
def growth_dbt_project() -> DbtProject:
    """The dbt project, parsed once per process (manifest written on first use)."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=DBT_PROJECT_DIR / "target")
    if not project.manifest_path.exists():
        subprocess.run(
            [
                DBT_EXECUTABLE,
                "parse",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(project.target_path),
                "--quiet",
            ],
            check=True,
        )
    return project


class GrowthDbtTranslator(DagsterDbtTranslator):
    """Sources map onto the ingest assets; models keep their schema-qualified names."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            key = (dbt_resource_props["source_name"], dbt_resource_props["name"])
            if key in RAW_ASSETS:
                return AssetKey(RAW_ASSETS[key])
        return super().get_asset_key(dbt_resource_props)


@dbt_assets(
    manifest=growth_dbt_project().manifest_path,
    dagster_dbt_translator=GrowthDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def growth_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, growth: GrowthResource) -> Iterator[Any]:
    settings = growth.settings()
    os.environ["GROWTH_WAREHOUSE"] = str(settings.warehouse.resolve())
    yield from dbt.cli(["build"], context=context).stream()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=growth_dbt_project(), dbt_executable=DBT_EXECUTABLE)
