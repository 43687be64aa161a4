"""Dagster: the definitions load with every dbt model as an asset, the schedules have their
cadences, the whole graph materializes in-process against a real broker, and the webserver
answers GraphQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import materialize

from ingest.broker import BrokerInfo, free_port
from ingest.config import Settings
from ingest.simulator import simulate
from orchestration.build import DBT_PROJECT_DIR


def test_definitions_load_with_every_dbt_model_and_the_schedules() -> None:
    from orchestration.definitions import defs

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    models = {path.stem for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    assert len(models) == 20
    assert models == {key.split("/")[-1] for key in keys} - {
        "raw_events",
        "marketing_spend",
        "analyst_snapshot",
        "growth_report",
    }
    assert {"raw_events", "marketing_spend", "marts/dim_users", "analyst_snapshot", "growth_report"} <= keys
    crons = {schedule.name: schedule.cron_schedule for schedule in defs.schedules}
    assert crons == {
        "ingest_every_15_minutes": "*/15 * * * *",
        "hourly_ingest_build_snapshot": "0 * * * *",
        "daily_report": "0 7 * * *",
        "weekly_report": "0 7 * * 1",
    }


def test_whole_graph_materializes_and_the_report_matches_the_marts(
    tmp_path: Path, broker: BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.definitions import defs
    from orchestration.defs.dbt import dbt_resource
    from orchestration.defs.resources import GrowthResource

    published = tmp_path / "published.duckdb"
    monkeypatch.setenv("GROWTH_PUBLISHED", str(published))
    settings = Settings(
        warehouse=tmp_path / "warehouse.duckdb",
        bootstrap_servers=broker.bootstrap_servers,
        topic="dagster_events",
        spend_dir=tmp_path / "spend",
    )
    simulate(settings, users=100, days=40, seed=9, end_date=date(2026, 4, 30), show_progress=False)
    growth = GrowthResource(
        warehouse=str(settings.warehouse),
        bootstrap_servers=broker.bootstrap_servers,
        topic="dagster_events",
        group_id="dagster_group",
        spend_dir=str(settings.spend_dir),
        report_dir=str(tmp_path / "reports"),
    )
    assets = list(defs.assets or [])
    result = materialize(assets, resources={"growth": growth, "dbt": dbt_resource()})
    assert result.success
    report = next((tmp_path / "reports").glob("2*/index.html"))
    page = report.read_text()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        [(mau, users)] = con.execute(
            "select (select mau from marts.fct_daily_active_users order by activity_date desc limit 1), "
            "(select count(*) from marts.dim_users)"
        ).fetchall()
    assert users > 50 and f"MAU<b>{mau:,}</b>" in page and f"Users<b>{users:,}</b>" in page
    metadata = result.asset_materializations_for_node("growth_report")[0].metadata
    assert metadata["mau"].value == mau
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks["growth_accounting_invariants"] and checks["quarantine_share_below_limit"]
    assert checks["raw_events_fresh"]  # ingested seconds ago
    assert "daily_volume_within_band" in checks
    assert any(name.startswith("not_null") or name.startswith("unique") for name in checks)  # dbt tests as checks


def test_webserver_answers_graphql(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).parents[1] / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-m",
            "orchestration.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql", data=query, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    nodes = json.load(response)["data"]["assetNodes"]
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        paths = {"/".join(node["assetKey"]["path"]) for node in nodes}
        assert {"raw_events", "marts/fct_retention", "growth_report"} <= paths
    finally:
        server.terminate()
        server.wait(30)
