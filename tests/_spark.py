"""Shared by the Spark tests: a DuckDB warehouse's raw layer as a lake, the comparison of a
Spark build's marts with the DuckDB build's (interface.md: counts exactly, doubles to 1e-9),
and a real Spark Thrift server on a loopback port."""

from __future__ import annotations

import math
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
from pyspark.find_spark_home import _find_spark_home

from tests._mail import free_port
from warehouse.connection import connect
from warehouse.lake import Lake, copy_raw_to_lake, spark_tables
from warehouse.settings import Settings, SparkSettings

# The Thrift server's JVM and its own session run in this zone, not UTC, so a build whose
# session settings the server ignored would date events differently from the DuckDB build.
SERVER_ZONE = "America/New_York"
SERVER_START_SECONDS = 120


def lake_from_warehouse(source: Settings, root: Path, spark: SparkSettings | None = None) -> Settings:
    """``source``'s raw layer as a lake, and settings that build it on Spark (by default
    in-process, local on two cores with a 2 GB driver)."""
    lake = Lake(root / "lake")
    with connect(source.warehouse, read_only=True) as con:
        copy_raw_to_lake(con, lake)
    return replace(
        source,
        engine="spark",
        lake=lake.root,
        warehouse=root / "warehouse.duckdb",
        published=root / "published" / "warehouse.duckdb",
        spark=spark or SparkSettings(conf={"spark.master": "local[2]", "spark.driver.memory": "2g"}),
    )


def comparable(value: object) -> object:
    """A cell as both engines should agree on it: decimals as floats (instants compare as
    instants whatever zone they are shown in)."""
    return float(value) if isinstance(value, Decimal) else value


def same(left: object, right: object) -> bool:
    """Equal, doubles to 1e-9 (interface.md); a count must be equal exactly."""
    if isinstance(left, float) or isinstance(right, float):
        return (
            isinstance(left, int | float)
            and isinstance(right, int | float)
            and math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
        )
    return left == right


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """Columns (bookkeeping ones left out) and rows of ``relation``, sorted on every column."""
    columns = [
        name
        for (name,) in con.execute(f"select column_name from (describe {relation})").fetchall()
        if not name.startswith("_")
    ]
    listed = ", ".join(f'"{name}"' for name in columns)
    data = con.execute(f"select {listed} from {relation} order by {listed}").fetchall()
    return columns, [tuple(comparable(value) for value in row) for row in data]


def assert_same_mart(duck: Path, spark: Path, mart: str) -> None:
    """``marts.<mart>`` of the warehouse file ``spark`` equals the DuckDB build's in ``duck``:
    the same columns, of the same types, and the same rows."""
    with duckdb.connect() as con:
        con.execute(f"attach '{duck}' as duck (read_only)")
        con.execute(f"attach '{spark}' as spark (read_only)")
        types = "select column_name, data_type from duckdb_columns() where database_name = ? and table_name = ?"
        duck_types = con.execute(types + " order by column_index", ["duck", mart]).fetchall()
        spark_types = con.execute(types + " order by column_index", ["spark", mart]).fetchall()
        duck_columns, duck_rows = rows(con, f"duck.marts.{mart}")
        spark_columns, spark_rows = rows(con, f"spark.marts.{mart}")
    assert spark_columns == duck_columns
    assert spark_types == duck_types
    assert len(spark_rows) == len(duck_rows), f"{mart}: {len(spark_rows)} rows on Spark, {len(duck_rows)} on DuckDB"
    assert duck_rows, f"{mart} is empty on DuckDB: the comparison would prove nothing"
    for spark_row, duck_row in zip(spark_rows, duck_rows, strict=True):
        mismatched = [
            (column, spark_value, duck_value)
            for column, spark_value, duck_value in zip(duck_columns, spark_row, duck_row, strict=True)
            if not same(spark_value, duck_value)
        ]
        assert not mismatched, f"{mart}: {mismatched} in row {duck_row}"


@contextmanager
def thrift_server(settings: Settings, workdir: Path) -> Iterator[SparkSettings]:
    """A Spark Thrift server (the one in the pyspark wheel) on a loopback port, keeping its
    tables in ``settings``' lake as docs/scale-out.md says to start one, in SERVER_ZONE; yields
    the settings that reach it. Its metastore and log stay in ``workdir``."""
    port = free_port()
    log = workdir / "thrift-server.log"
    command = [
        str(Path(_find_spark_home()) / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--driver-memory", "2g",
        "--driver-java-options", f"-Duser.timezone={SERVER_ZONE}",
        "--conf", f"spark.sql.session.timeZone={SERVER_ZONE}",
        "--conf", "spark.ui.enabled=false",
        "--conf", f"spark.sql.warehouse.dir={spark_tables(settings).resolve()}",
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "spark-internal",
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
    ]  # fmt: skip
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=workdir, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _answers(port):
            assert server.poll() is None, f"the Thrift server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the Thrift server did not listen: {log.read_text()[-2000:]}"
            time.sleep(0.5)
        yield SparkSettings(method="thrift", host="127.0.0.1", port=port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
