"""`growth build` on the real dbt project: a failing test fails the command by name; docs generate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

from orchestration.build import DBT_BUILD_ARGS, DBT_PROJECT_DIR
from warehouse.connection import connect, ensure_raw_schema

# Every `unit_tests:` entry of the project's yml files.
UNIT_TEST_NAMES = {
    test["name"]
    for path in DBT_PROJECT_DIR.glob("models/**/*.yml")
    for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []
}


def test_a_failing_data_test_fails_the_build_and_is_named(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        # Bypass the ingester to plant a row the contract forbids.
        con.execute(
            "insert into raw.events (message_id, type, user_id, timestamp, payload, kafka_topic, kafka_partition, "
            "kafka_offset, ingested_at) values ('m1', 'bogus', 'u1', '2026-01-01T00:00:00Z', '{}', 't', 0, 0, now())"
        )
    env = {**os.environ, "GROWTH_WAREHOUSE": str(warehouse)}
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "build"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert "accepted_values_stg_segment__events_event_type" in last_line and "fail" in last_line


def dbt(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A dbt command on a fresh, built warehouse under tmp_path."""
    warehouse = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "GROWTH_WAREHOUSE": str(warehouse)}
    common = [
        *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)),
        *("--target-path", str(tmp_path / "target")),
    ]
    executable = str(Path(sys.executable).with_name("dbt"))
    if not warehouse.exists():
        with connect(warehouse) as con:
            ensure_raw_schema(con)
        subprocess.run([executable, *DBT_BUILD_ARGS, *common], env=env, check=True, capture_output=True, timeout=300)
    return subprocess.run([executable, *args, *common], env=env, capture_output=True, text=True, timeout=300)


def test_docs_generate_works_on_a_fresh_warehouse(tmp_path: Path) -> None:
    docs = dbt(tmp_path, "docs", "generate")
    assert docs.returncode == 0, docs.stdout[-2000:]
    catalog = (tmp_path / "target" / "catalog.json").read_text()
    assert '"model.growth_warehouse.fct_retention"' in catalog


def test_dbt_unit_tests_pass(tmp_path: Path) -> None:
    """`growth build` leaves unit tests out (DBT_BUILD_ARGS); here every one of them runs."""
    result = dbt(tmp_path, "test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(UNIT_TEST_NAMES) >= 8 and all(r["status"] == "pass" for r in unit_tests)
    assert {r["unique_id"].split(".")[-1] for r in unit_tests} == UNIT_TEST_NAMES


@pytest.mark.parametrize("age", ["0 days", "1 day"])
def test_the_incremental_uniqueness_test_catches_a_duplicate(tmp_path: Path, age: str) -> None:
    """A copy of an event the latest (incremental) build staged, written by that build (age 0) or an
    older one, fails the test. (After a full build every row is the latest run's: nothing is older.)"""
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        con.execute(
            "insert into raw.events (message_id, type, event, user_id, timestamp, payload, kafka_topic, "
            "kafka_partition, kafka_offset, ingested_at) values "
            "('m1', 'track', 'Signed Up', 'u1', '2026-01-01T00:00:00Z', '{}', 't', 0, 0, now()), "
            "('m2', 'page', null, 'u1', '2026-01-01T00:01:00Z', '{}', 't', 0, 1, now())"
        )
    select = ["--select", "stg_segment__events,test_name:unique_in_incremental_model"]
    assert dbt(tmp_path, *DBT_BUILD_ARGS).returncode == 0  # the test passes on the built model
    with connect(warehouse) as con:
        con.execute(
            "insert into raw.events (message_id, type, event, user_id, timestamp, payload, kafka_topic, "
            "kafka_partition, kafka_offset, ingested_at) values "
            "('m3', 'page', null, 'u1', '2026-01-02T00:00:00Z', '{}', 't', 0, 2, now())"
        )
    assert dbt(tmp_path, *DBT_BUILD_ARGS).returncode == 0  # incremental: the latest run staged m3 alone
    with connect(warehouse) as con:
        con.execute(
            "insert into staging.stg_segment__events select * replace (_batch_at - interval (?) as _batch_at) "
            "from staging.stg_segment__events where message_id = 'm3'",
            [age],
        )
    result = dbt(tmp_path, "test", *select)
    assert result.returncode == 1 and "unique_in_incremental_model_stg_segment__events" in result.stdout
