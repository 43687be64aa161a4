"""`GROWTH_SPARK_METHOD=thrift` (interface.md "Beyond one machine"): the same dbt project sent
to a real Spark Thrift server (the one in the pyspark wheel, on a loopback port), started the
way docs/scale-out.md says, gives every contract mart the DuckDB build gave.

The server runs in another zone than UTC: the session settings the build sends (UTC, Parquet
instants, dbt-spark's non-ANSI SQL) must reach its session, or events are dated in the
server's zone and instants land as zoneless timestamps. A server that keeps its tables
elsewhere than in the lake, and one that does not answer, are refused in one line before
anything is built.

The build here leaves out the dbt data tests (every model is still built): each is a Spark
job of its own, and test_spark.py's demo on Spark runs them all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from orchestration.build import CONTRACT_MARTS, BuildError, run_build
from tests._mail import free_port
from tests._marts import assert_same_mart
from tests._spark import lake_from_warehouse, thrift_server
from warehouse.settings import Settings, SparkSettings


@pytest.fixture(scope="module")
def thrift_built(demo_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("thrift")
    settings = lake_from_warehouse(demo_warehouse, root)
    with thrift_server(settings, root) as spark:
        built = replace(settings, spark=spark)
        run_build(built, exclude="resource_type:test", quiet=True)
        yield built


@pytest.mark.parametrize("mart", CONTRACT_MARTS)
def test_every_contract_mart_equals_the_duckdb_build(
    thrift_built: Settings, demo_warehouse: Settings, mart: str
) -> None:
    assert_same_mart(demo_warehouse.warehouse, thrift_built.warehouse, mart)


def test_a_server_keeping_its_tables_outside_the_lake_is_refused(
    thrift_built: Settings, demo_warehouse: Settings, tmp_path: Path
) -> None:
    other = lake_from_warehouse(demo_warehouse, tmp_path, spark=thrift_built.spark)
    with pytest.raises(BuildError) as raised:
        run_build(other, quiet=True)
    served = thrift_built.lake.resolve() / "warehouse"
    expected = other.lake.resolve() / "warehouse"
    assert str(raised.value).endswith(
        f"the Spark server keeps its tables in file:{served}, not in {expected} where growth lands them from: "
        f"start it with --conf spark.sql.warehouse.dir={expected}"
    )
    assert "\n" not in str(raised.value)
    assert not other.warehouse.exists()
    assert not (expected / "marts.db").exists()


def test_a_server_that_does_not_answer_is_named_in_one_line(thrift_built: Settings, tmp_path: Path) -> None:
    port = free_port()
    nobody = replace(
        thrift_built,
        warehouse=tmp_path / "warehouse.duckdb",
        spark=SparkSettings(method="thrift", host="127.0.0.1", port=port),
    )
    started = time.monotonic()
    with pytest.raises(BuildError) as raised:
        run_build(nobody, quiet=True)
    assert time.monotonic() - started < 5
    assert str(raised.value) == (
        f"the Spark Thrift server at 127.0.0.1:{port} does not answer (Connection refused): "
        "check GROWTH_SPARK_HOST and GROWTH_SPARK_PORT, or start the server (docs/scale-out.md)"
    )
    assert not nobody.warehouse.exists()
