"""Shared by the Spark tests: a DuckDB warehouse's raw layer as a lake, and a real Spark
Thrift server on a loopback port (the marts are compared with tests/_marts.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

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
