"""The same dbt project on Spark (interface.md "Beyond one machine"): on the demo's raw data,
laid out in a Parquet lake, a Spark build gives every contract mart the DuckDB build gave, in
the DuckDB file it lands them in, from which predictive LTV, experiment results and `growth
publish` work as after a DuckDB build.

One Spark build for the module (local, two cores, a 2 GB driver): the comparison is the
point, the JVM start-up and ~50 models take a few minutes. It leaves out the dbt data tests,
each a Spark job of its own: the demo on Spark below runs the whole `dbt build`, tests and
all, as Dagster runs it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from analysts.publish import publish_snapshot
from orchestration.build import CONTRACT_MARTS, BuildError, run_build, target_dir
from orchestration.pipeline import run_experiment_results, run_transforms
from tests._marts import assert_same_mart, rows, same
from tests._spark import lake_from_warehouse
from warehouse.lake import spark_tables
from warehouse.settings import Settings


@pytest.fixture(scope="module")
def spark_built(demo_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = lake_from_warehouse(demo_warehouse, tmp_path_factory.mktemp("spark"))
    run_build(settings, exclude="resource_type:test", quiet=True)
    return settings


@pytest.mark.parametrize("mart", CONTRACT_MARTS)
def test_every_contract_mart_equals_the_duckdb_build(
    spark_built: Settings, demo_warehouse: Settings, mart: str
) -> None:
    assert_same_mart(demo_warehouse.warehouse, spark_built.warehouse, mart)


def test_transforms_and_publish_work_on_the_landed_marts(spark_built: Settings, demo_warehouse: Settings) -> None:
    """Predictive LTV and the experiment results run on the marts landed from Spark and give
    what they gave on the DuckDB build; the snapshot has the marts and the analytics views."""
    run_transforms(spark_built)
    run_experiment_results(spark_built)
    path = publish_snapshot(spark_built)
    query = (
        "select (select count(*) from marts.dim_users), (select sum(lifetime_revenue) from marts.dim_users), "
        "(select count(*) from marts.fct_predicted_ltv), (select count(*) from marts.fct_experiment_results), "
        "(select count(*) from analytics.weekly_retention)"
    )
    with duckdb.connect(str(path), read_only=True) as con:
        spark = con.execute(query).fetchone()
        signed_up_type = con.execute(
            "select data_type from duckdb_columns() where table_name = 'dim_users' and column_name = 'signed_up_at'"
        ).fetchone()
    with duckdb.connect(str(demo_warehouse.published), read_only=True) as con:
        duck = con.execute(query).fetchone()
    assert spark is not None and duck is not None
    assert duck[0] > 0 and duck[3] > 0 and duck[4] > 0
    assert spark[0] == duck[0] and spark[2:] == duck[2:]
    assert math.isclose(spark[1], duck[1], rel_tol=1e-12)
    assert signed_up_type == ("TIMESTAMP WITH TIME ZONE",)


def test_a_mistyped_lake_is_refused_in_one_line(spark_built: Settings, tmp_path: Path) -> None:
    missing = replace(spark_built, lake=tmp_path / "no-such-lake")
    with pytest.raises(Exception) as raised:
        run_build(missing, quiet=True)
    assert not isinstance(raised.value, BuildError)
    assert str(raised.value) == (
        f"the lake {tmp_path / 'no-such-lake'} has no events folder: run `growth ingest` first (or check GROWTH_LAKE)"
    )
    assert not (tmp_path / "no-such-lake").exists()


def test_a_build_of_a_selection_is_refused_before_anything_is_dropped(
    spark_built: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    """On Spark every build rebuilds every model from empty schemas, and the in-memory catalog
    forgets the tables between builds, so `--select` cannot work: refused in one line, with the
    tables of the last build kept. The failed results of an earlier build in the target folder
    are not reported as this one's (dbt writes none when on-run-start fails). The terminal
    shows no Spark banner either: the session's driver logs errors only."""
    marts = spark_tables(spark_built) / "marts.db"
    before = sorted(path.name for path in marts.iterdir())
    stale = {"results": [{"unique_id": "model.growth_warehouse.stale", "status": "error", "message": "old"}]}
    (target_dir(spark_built) / "run_results.json").write_text(json.dumps(stale))
    with pytest.raises(BuildError) as raised:
        run_build(spark_built, select="dim_users", quiet=True)
    models = len(list((Path(__file__).parents[1] / "dbt_project" / "models").rglob("*.sql")))
    assert str(raised.value) == (
        "dbt build failed: Compilation Error in operation growth_warehouse-on-run-start-0 (./dbt_project.yml): "
        f"the spark engine rebuilds every model in every build (docs/scale-out.md), and this one leaves out "
        f"{models - 1} of {models} (dim_accounts, fct_account_retention, fct_acquisition, …): "
        "build them all (no --select or --exclude; in Dagster, every dbt asset)"
    )
    assert sorted(path.name for path in marts.iterdir()) == before
    assert len(before) >= len(CONTRACT_MARTS)
    terminal = capfd.readouterr().err
    assert "Setting default log level" not in terminal and "setLogLevel" not in terminal


def demo(root: Path, engine: str) -> subprocess.CompletedProcess[str]:
    """`growth demo` (embedded broker, simulation, Dagster run, report) with ``engine``."""
    env = {**os.environ, "GROWTH_ENGINE": engine, "GROWTH_SPARK_CONF": "spark.master=local[2],spark.driver.memory=2g"}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "demo", "--users", "100", "--days", "30", "--seed", "11"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_demo_on_spark_gives_the_duckdb_demos_snapshot_and_report(tmp_path: Path) -> None:
    """The engine is read from the environment by the Dagster run the demo makes: with
    GROWTH_ENGINE=spark the events go through the lake and the build through Spark, and the
    analyst snapshot holds the marts a DuckDB demo of the same seed publishes."""
    for engine in ("duckdb", "spark"):
        (tmp_path / engine).mkdir()
    runs = {engine: demo(tmp_path / engine, engine) for engine in ("duckdb", "spark")}
    for engine, result in runs.items():
        assert result.returncode == 0, f"{engine}: {result.stderr[-2000:]}"
        assert (tmp_path / engine / "reports" / "latest" / "index.html").exists()
    lake_files = list((tmp_path / "spark" / "data" / "lake" / "events").rglob("*.parquet"))
    assert lake_files and not (tmp_path / "duckdb" / "data" / "lake").exists()
    with duckdb.connect() as con:
        for engine in runs:
            con.execute(
                f"attach '{tmp_path / engine / 'data' / 'published' / 'warehouse.duckdb'}' as {engine} (read_only)"
            )
        # Predictive LTV is fitted by optimisation on the marts: its row count, not its last digits.
        predicted = "select count(*) from {}.marts.fct_predicted_ltv"
        assert con.execute(predicted.format("spark")).fetchall() == con.execute(predicted.format("duckdb")).fetchall()
        for mart in CONTRACT_MARTS:
            duck_columns, duck_rows = rows(con, f"duckdb.marts.{mart}")
            spark_columns, spark_rows = rows(con, f"spark.marts.{mart}")
            assert spark_columns == duck_columns and len(spark_rows) == len(duck_rows), mart
            assert all(
                map(same, (cell for row in spark_rows for cell in row), (cell for row in duck_rows for cell in row))
            ), mart
