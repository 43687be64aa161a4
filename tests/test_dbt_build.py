"""`growth build` on the real dbt project: a failing test fails the command by name; docs generate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingest.warehouse import connect, ensure_raw_schema
from orchestration.build import DBT_PROJECT_DIR


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


def test_docs_generate_works_on_a_fresh_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_raw_schema(con)
    env = {**os.environ, "GROWTH_WAREHOUSE": str(warehouse)}
    dbt = str(Path(sys.executable).with_name("dbt"))
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    target = ["--target-path", str(tmp_path / "target")]
    subprocess.run([dbt, "build", *common, *target], env=env, check=True, capture_output=True, timeout=300)
    docs = subprocess.run([dbt, "docs", "generate", *common, *target], env=env, capture_output=True, timeout=300)
    assert docs.returncode == 0, docs.stdout[-2000:]
    catalog = (tmp_path / "target" / "catalog.json").read_text()
    assert '"model.growth_warehouse.fct_retention"' in catalog
