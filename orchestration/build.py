"""The one way into dbt, for the `growth` CLI and for Dagster alike.

dbt runs as a subprocess (its memory is returned when it ends) with the same arguments,
the same vars and the same profile. The warehouse path and memory cap reach dbt's profile as vars
(``warehouse_path``, ``duckdb_memory_limit``) instead of through the process environment,
so a Dagster run never has to change ``os.environ`` for its dbt subprocess.

Both run the same project (:func:`dbt_project`) with the same arguments
(:func:`build_args`). Dagster launches dbt through dagster-dbt's ``DbtCliResource``, which
turns dbt's events into asset materializations and checks; the CLI launches the same
command itself, because the resource costs ~11 s per build in a fresh process (importing
Dagster, a `dbt --version` subprocess, parsing every macro for an adapter handle the CLI
never uses): measured on the 300-user demo warehouse, 13.3-14.7 s per `growth build`
launched directly against 24.5-28.6 s through the resource.

The manifest Dagster loads its assets from is parsed by ``make`` when a dbt file is newer
than it, and re-parsed on load under ``dagster dev`` (``prepare_if_dev``); a CLI build
needs no manifest. Each CLI build writes its artifacts to a target directory beside the
warehouse, so builds of different warehouses never clobber each other.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject

from warehouse.connection import prepared, writing
from warehouse.errors import GrowthError
from warehouse.lake import building, spark_tables
from warehouse.settings import Settings, SparkSettings

log = logging.getLogger(__name__)
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
# The marts of docs/metrics.md and docs/revenue.md (schema `marts`), in the contracts' order.
CONTRACT_MARTS = (
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
    "fct_experiment_assignments",
    "fct_retention_by_segment",
    "fct_activation_by_segment",
    "fct_feature_adoption",
    "fct_feature_retention",
    "dim_accounts",
    "fct_account_retention",
    "fct_mrr",
    "fct_revenue_retention",
    "fct_campaign_acquisition",
)

# The intermediate tables of a Spark build that the Python downstream reads besides the marts:
# transforms/ (predictive LTV, experiment results) and the alert monitors (delivery/monitors.py).
# land_spark_tables copies them into the DuckDB file with the marts.
LANDED_INTERMEDIATE = (
    "int_conversion_events",
    "int_events_attributed",
    "int_experiment_metric_stats",
    "int_experiment_variations",
    "int_experiments",
    "int_metric_config",
    "int_reporting_period",
    "int_user_days_active",
    "int_user_segments",
)

# What every production build runs: models, seeds, snapshots and data tests. dbt unit tests
# check the SQL against fixtures, not the data; they run in the test suite
# (tests/test_dbt_build.py), as dbt recommends, instead of costing seconds on every build.
DBT_BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")


# The Spark driver's heap when GROWTH_SPARK_CONF sets none: bounded, as DuckDB's buffer pool is.
DEFAULT_SPARK_DRIVER_MEMORY = "4g"
# Spark's own logging in a build: errors only (orchestration/spark-log4j2.properties).
SPARK_LOGGING = Path(__file__).with_name("spark-log4j2.properties")
# What the project's SQL assumes of a Spark session (docs/scale-out.md).
SPARK_SESSION = {
    # Instants are shown and dated in UTC (macros/dates.sql turns them to the reporting zone).
    "spark.sql.session.timeZone": "UTC",
    # Every build rebuilds every table (macros/engine/spark.sql), so no metastore has to outlive
    # a session: the tables are their folders under spark.sql.warehouse.dir.
    "spark.sql.catalogImplementation": "in-memory",
    "spark.sql.legacy.createHiveTableByDefault": "false",
    # Timestamps as Parquet instants in microseconds (not INT96): land_spark_tables copies them
    # into DuckDB as the timestamptz the DuckDB build gives.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={SPARK_LOGGING.as_uri()}",
}
SPARK_SQL_RUNTIME = ("spark.sql.session.timeZone", "spark.sql.parquet.outputTimestampType")
# How long `growth build` waits for a Thrift server to accept a connection before it gives up.
THRIFT_CONNECT_SECONDS = 10.0
# What dbt-spark sets on every session it opens (the SQL it generates assumes no ANSI mode).
DBT_SPARK_SESSION = {"spark.sql.ansi.enabled": "false"}
# The prefix under which a Spark Thrift server applies a session's configuration key.
THRIFT_SESSION_KEY = "set:hiveconf:"

# dbt's events for a selector that matches nothing (it exits 0 and says "Nothing to do").
NOTHING_SELECTED = frozenset({"NoNodesForSelectionCriteria", "NothingToDo"})


class BuildError(GrowthError):
    """dbt reported a failing model or test."""


@cache
def dbt_project() -> DbtProject:
    """The dbt project, re-parsed on load only under `dagster dev`."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=DBT_PROJECT_DIR / "target")
    project.prepare_if_dev()
    return project


def dbt_cli() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)


def build_args(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    select: str | None = None,
    exclude: str | None = None,
) -> list[str]:
    """`dbt build` arguments for ``settings``' engine and warehouse; user ``vars`` beside the profile's."""
    args = [*DBT_BUILD_ARGS, "--vars", json.dumps({**(vars or {}), **profile_vars(settings)})]
    if settings.engine == "spark":
        args += ["--target", "spark"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    return args


def profile_vars(settings: Settings) -> dict[str, Any]:
    """What the profile (dbt_project/profiles.yml) reads: the DuckDB file and its memory cap, or
    how to reach Spark and the settings of its session."""
    if settings.engine != "spark":
        return {"warehouse_path": str(settings.warehouse.resolve()), "duckdb_memory_limit": settings.memory_limit}
    spark = settings.spark
    return {
        "lake_path": str(settings.lake.resolve()),
        "spark_method": spark.method,
        "spark_host": spark.host or "localhost",
        "spark_port": spark.port,
        "spark_conf": spark_conf(settings),
    }


def spark_conf(settings: Settings) -> dict[str, str]:
    """The Spark session's settings: the engine's own (SPARK_SESSION), where its tables live,
    the master and a bounded driver heap, then GROWTH_SPARK_CONF, which may change any but the
    engine's own."""
    if settings.spark.method == "thrift":
        # A Thrift server's session takes runtime settings only: the server owns its master,
        # memory, catalog and warehouse folder. Spark's Thrift server ignores a session's plain
        # keys and applies only `set:hiveconf:<key>` ones, so every key (dbt-spark's ANSI switch
        # too, which it sends plain) goes with that prefix.
        runtime = {**settings.spark.conf, **{key: SPARK_SESSION[key] for key in SPARK_SQL_RUNTIME}, **DBT_SPARK_SESSION}
        return {f"{THRIFT_SESSION_KEY}{key}": value for key, value in runtime.items()}
    return {
        "spark.master": settings.spark.master,
        "spark.driver.memory": DEFAULT_SPARK_DRIVER_MEMORY,
        **settings.spark.conf,
        "spark.sql.warehouse.dir": str(spark_tables(settings).resolve()),
        **SPARK_SESSION,
    }


def target_dir(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "dbt_target"


def _failures(run_results: Path) -> list[str]:
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    return [
        f"{result['unique_id']} ({result['status']}): {_one_line(result.get('message') or '')[:200]}"
        for result in results
        if result.get("status") in ("error", "fail")
    ]


def run_build(
    settings: Settings,
    *,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    select: str | None = None,
    exclude: str | None = None,
    quiet: bool = False,
) -> None:
    """Run `dbt build` under the writer lock; raise BuildError naming the failing nodes."""
    target = target_dir(settings)
    command = [
        DBT_EXECUTABLE,
        "--log-format",
        "json",
        *build_args(settings, full_refresh=full_refresh, vars=vars, select=select, exclude=exclude),
        "--project-dir",
        str(dbt_project().project_dir),
        "--profiles-dir",
        str(dbt_project().profiles_dir),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    with build_lock(settings, on_wait=log.warning):
        # dbt writes no results when it stops before the first node (a failing on-run-start):
        # the previous build's must not be reported as this one's.
        (target / "run_results.json").unlink(missing_ok=True)
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=DBT_PROJECT_DIR) as dbt:
            assert dbt.stdout is not None
            infos = [_echo(line, quiet) for line in dbt.stdout]
        returncode = dbt.wait()
        if returncode == 0 and settings.uses_lake:
            # Under the lake's lock: a second Spark build would drop these tables while read.
            land_spark_tables(settings)
    if select and {str(info.get("name", "")) for info in infos} & NOTHING_SELECTED:
        raise BuildError(f"--select {select} matches no model or test of the dbt project")
    if returncode != 0:
        failures = _failures(target / "run_results.json") or _errors(infos)
        detail = "; ".join(failures) if failures else f"dbt exited with code {returncode}"
        raise BuildError(f"dbt build failed: {detail}")


@contextmanager
def build_lock(settings: Settings, *, on_wait: Callable[[str], None]) -> Iterator[None]:
    """The lock a build holds while dbt runs: the DuckDB file's writer lock, or on Spark the
    lake's, once a Thrift server is known to answer."""
    if not settings.uses_lake:
        with prepared(settings, on_wait=on_wait):
            yield
        return
    with building(settings, on_wait=on_wait):
        if settings.spark.method == "thrift":
            _require_thrift_server(settings.spark)
        yield


def _require_thrift_server(spark: SparkSettings) -> None:
    """One line when the Thrift server does not answer, instead of dbt's connection errors,
    each repeated for every retry of every thread."""
    try:
        socket.create_connection((spark.host, spark.port), timeout=THRIFT_CONNECT_SECONDS).close()
    except OSError as error:
        raise BuildError(
            f"the Spark Thrift server at {spark.host}:{spark.port} does not answer ({error.strerror or error}): "
            "check GROWTH_SPARK_HOST and GROWTH_SPARK_PORT, or start the server (docs/scale-out.md)"
        ) from None


def land_spark_tables(settings: Settings) -> None:
    """Copy what a Spark build made that the rest of the pipeline reads (every mart and the
    intermediate tables of LANDED_INTERMEDIATE) into the DuckDB warehouse file, replacing the
    previous copy in one transaction: the Python transforms, `growth publish` and so the
    report, notebooks and `growth sql` then work as after a DuckDB build."""
    folders = spark_tables(settings)
    tables = [("marts", path.name) for path in sorted((folders / "marts.db").iterdir()) if path.is_dir()]
    tables += [("intermediate", name) for name in LANDED_INTERMEDIATE]
    with writing(settings, create=True, on_wait=log.warning) as con:
        con.begin()
        for schema, table in tables:
            con.execute(f"create schema if not exists {schema}")
            files = folders / f"{schema}.db" / table / "*.parquet"
            con.execute(f"create or replace table {schema}.{table} as select * from read_parquet('{files}')")
        con.commit()


def _echo(line: str, quiet: bool) -> dict[str, Any]:
    """Print dbt's message (unless quiet) and return the event's info (name, level, msg)."""
    try:
        info = dict(json.loads(line)["info"])
    except (ValueError, KeyError, TypeError):
        info = {"msg": line.rstrip("\n"), "name": ""}
    if not quiet:
        print(info.get("msg", ""), flush=True)
    return info


def _errors(infos: list[dict[str, Any]]) -> list[str]:
    """dbt's error messages in one line each, for a build that stopped before running any node.

    A compilation error (an ill-formed var, say) names the model, then the reason, then the
    macro call stack; the stack (lines starting with ">") helps nobody who set a var.
    """
    return [_one_line(str(info.get("msg", ""))) for info in infos if info.get("level") == "error"]


def _one_line(message: str) -> str:
    """A dbt error message in one line, without its macro call stack (the lines starting with ">")."""
    return ": ".join(
        text
        for raw in message.splitlines()
        if (text := raw.strip()) and not text.startswith(">") and text != "Encountered an error:"
    )
