"""dbt domain: every model of dbt_project/ as an asset; dbt tests become asset checks."""

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.build import DBT_BUILD_ARGS, DBT_PROJECT_DIR
from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from warehouse.connection import connect, ensure_raw_schema
from warehouse.lock import writer_lock

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
RAW_ASSETS = {("segment", "events"): "raw_events", ("ads", "marketing_spend"): "marketing_spend"}


def _newest_source_mtime() -> float:
    files = [
        DBT_PROJECT_DIR / "dbt_project.yml",
        *DBT_PROJECT_DIR.glob("models/**/*"),
        *DBT_PROJECT_DIR.glob("macros/**/*"),
    ]
    files += [*DBT_PROJECT_DIR.glob("tests/**/*"), *DBT_PROJECT_DIR.glob("seeds/**/*")]
    return max((path.stat().st_mtime for path in files if path.is_file()), default=0.0)


@cache
def growth_dbt_project() -> DbtProject:
    """The dbt project, parsed once per process (the manifest is re-parsed when a model,
    macro, test or dbt_project.yml is newer than it, so a stale manifest never hides a model)."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=DBT_PROJECT_DIR / "target")
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime():
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
    """`dbt build` (models and their tests) under the writer lock, on the resource's warehouse.

    dagster-dbt gives every invocation its own target directory (run id + uuid), so
    concurrent or successive runs never clobber each other's artifacts.
    """
    settings = growth.settings()
    with writer_lock(settings.warehouse, on_wait=context.log.warning):
        with connect(settings.warehouse) as con:
            ensure_raw_schema(con)  # a fresh warehouse builds (empty marts) instead of failing
        with _environ(GROWTH_WAREHOUSE=str(settings.warehouse.resolve())):
            yield from dbt.cli(list(DBT_BUILD_ARGS), context=context).stream()


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the dbt subprocess only while it runs."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=growth_dbt_project(), dbt_executable=DBT_EXECUTABLE)
