"""Dagster: the definitions load with every dbt model as an asset, the schedules have their
cadences, the whole graph materializes in-process against a real broker, and the webserver
answers GraphQL."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import build_schedule_context, materialize

from devkit.broker import BrokerInfo, free_port
from devkit.simulator import simulate
from orchestration.build import DBT_PROJECT_DIR
from warehouse.settings import Settings

ROOT = Path(__file__).parents[1]


def test_definitions_load_with_every_dbt_model_and_the_schedules() -> None:
    from orchestration.definitions import defs
    from orchestration.defs.dbt import growth_dbt_models

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    models = {path.stem for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    assert len(models) >= 20
    assert {key.path[-1] for key in growth_dbt_models.keys} == models  # every dbt model is an asset
    assert {f"marts/{name}" for name in ("dim_users", "fct_retention", "fct_growth_accounting")} <= keys
    assert {"raw_events", "marketing_spend", "analyst_snapshot", "growth_report"} <= keys
    crons = {schedule.name: schedule.cron_schedule for schedule in defs.schedules}
    assert crons == {
        "ingest_every_15_minutes": "*/15 * * * *",
        "hourly_ingest_build_snapshot": "0 * * * *",
        "daily_report": "0 7 * * *",
        "weekly_report": "0 7 * * 1",
        "daily_lake_compaction": "30 3 * * *",
    }
    assert {schedule.execution_timezone for schedule in defs.schedules} == {"UTC"}
    jobs = {schedule.name: schedule.job_name for schedule in defs.schedules}
    assert jobs["ingest_every_15_minutes"] == "ingest_job" and jobs["daily_report"] == "report_job"
    hourly = defs.resolve_job_def("ingest_build_snapshot_job").asset_layer.selected_asset_keys
    assert {"raw_events", "marketing_spend", "marts/fct_retention", "analyst_snapshot"} <= {
        key.to_user_string() for key in hourly
    }
    assert "growth_report" not in {key.to_user_string() for key in hourly}
    # every asset that writes the warehouse is in the `warehouse` pool, the report too: it records
    # its deliveries in ops.deliveries
    pools = {node.op.name: node.op.pool for node in defs.assets or [] if hasattr(node, "op")}
    assert set(pools.values()) == {"warehouse"} and "growth_report" in pools
    # the report schedules deliver the last complete day's and week's report (run config)
    ticks = {
        schedule.name: schedule.evaluate_tick(build_schedule_context()).run_requests or []
        for schedule in defs.schedules
        if schedule.name in ("daily_report", "weekly_report")
    }
    assert {name: [request.run_config for request in requests] for name, requests in ticks.items()} == {
        "daily_report": [{"ops": {"growth_report": {"config": {"period": "daily"}}}}],
        "weekly_report": [{"ops": {"growth_report": {"config": {"period": "weekly"}}}}],
    }
    # dbt models are grouped by layer, the folder under models/ (not Dagster's "default")
    groups = growth_dbt_models.group_names_by_key
    layers = {
        path.stem: path.relative_to(DBT_PROJECT_DIR / "models").parts[0]
        for path in DBT_PROJECT_DIR.glob("models/**/*.sql")
    }
    assert {key.path[-1]: group for key, group in groups.items()} == layers
    assert set(layers.values()) == {"staging", "intermediate", "marts"}
    # every job says what it does
    for name in ("ingest_job", "ingest_build_snapshot_job", "report_job", "compact_lake_job"):
        assert defs.resolve_job_def(name).description, name


def test_schedule_cadences_are_overridable_from_the_environment() -> None:
    code = (
        "from orchestration.definitions import defs; "
        "print({s.name: (s.cron_schedule, s.execution_timezone) for s in defs.schedules})"
    )
    env = {
        **os.environ,
        "GROWTH_INGEST_CRON": "*/5 * * * *",
        "GROWTH_WEEKLY_REPORT_CRON": "0 6 * * 1",
        "GROWTH_SCHEDULE_TIMEZONE": "Europe/Berlin",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    crons = ast.literal_eval(out.strip().splitlines()[-1])  # the dict the child printed
    assert crons["ingest_every_15_minutes"] == ("*/5 * * * *", "Europe/Berlin")
    assert crons["weekly_report"] == ("0 6 * * 1", "Europe/Berlin")
    assert crons["daily_report"] == ("0 7 * * *", "Europe/Berlin")


def test_growth_accounting_invariants_check_is_the_dbt_test_on_the_mart() -> None:
    """One invariants check: the dbt test, an asset check of marts/fct_growth_accounting with
    a description (it passes in test_whole_graph_materializes_and_the_report_matches_the_marts)."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = [key for key in graph.asset_check_keys if "invariant" in key.name]
    assert [(key.asset_key.to_user_string(), key.name) for key in keys] == [
        ("marts/fct_growth_accounting", "growth_accounting_invariants")
    ]
    spec = graph.get_check_spec(keys[0])
    assert spec.description and "active = new + retained + resurrected" in spec.description
    assert spec.metadata["dagster_dbt/unique_id"] == "test.growth_warehouse.growth_accounting_invariants"


def test_raw_checks_against_their_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.defs.ingest import health_checks
    from orchestration.defs.resources import GrowthResource

    now = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    limits = GrowthResource().check_limits()
    assert (limits.quarantine_share, limits.freshness_minutes, limits.volume_low, limits.volume_high) == (
        0.05,
        60,
        0.5,
        2.0,
    )

    def passed(last_ingest: datetime | None, events: int | None, median: float | None) -> dict[str, bool]:
        health = {"last_ingest": last_ingest, "last_day_events": events, "trailing_median": median, "day": None}
        return {result.check_name or "": result.passed for result in health_checks(health, limits, now)}

    assert passed(now - timedelta(minutes=59), 100, 100) == {"raw_events_fresh": True, "daily_volume_within_band": True}
    assert passed(now - timedelta(minutes=61), 49, 100) == {
        "raw_events_fresh": False,
        "daily_volume_within_band": False,
    }
    assert passed(None, 201, 100) == {"raw_events_fresh": False, "daily_volume_within_band": False}
    assert passed(now, 200, 100)["daily_volume_within_band"] and passed(now, 50, 100)["daily_volume_within_band"]
    assert not passed(now, 0, None)["daily_volume_within_band"]  # no history: nothing to compare with
    monkeypatch.setenv("GROWTH_FRESHNESS_MINUTES", "120")
    monkeypatch.setenv("GROWTH_VOLUME_BAND_LOW", "0.4")
    limits = GrowthResource(quarantine_share_limit=0.2).check_limits()  # a field wins over the environment
    assert (limits.quarantine_share, limits.freshness_minutes, limits.volume_low) == (0.2, 120, 0.4)
    assert passed(now - timedelta(minutes=61), 45, 100) == {"raw_events_fresh": True, "daily_volume_within_band": True}


def test_experiment_marts_are_one_asset_with_the_sample_ratio_check() -> None:
    """marts/fct_experiment_results and marts/dim_experiments: one multi-asset on the dbt interface
    tables, in the warehouse pool and the hourly job, upstream of the snapshot; the SRM check is
    declared on dim_experiments with a description."""
    from dagster import AssetCheckKey, AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    results, dim = AssetKey(["marts", "fct_experiment_results"]), AssetKey(["marts", "dim_experiments"])
    interface = {
        AssetKey(["intermediate", name])
        for name in ("int_experiments", "int_experiment_variations", "int_experiment_metric_stats", "int_metric_config")
    }
    for key in (results, dim):
        node = graph.get(key)
        assert node.parent_keys == interface and node.group_name == "experiments"
        assert node.description and node.assets_def.op.pool == "warehouse"
        assert graph.get(AssetKey("analyst_snapshot")).parent_keys >= {key}
    assert graph.get(results).assets_def is graph.get(dim).assets_def  # one engine run writes both
    check = AssetCheckKey(dim, "experiments_sample_ratio")
    assert check in graph.asset_check_keys
    description = graph.get_check_spec(check).description or ""
    assert "sample-ratio" in description and "srm_p_threshold" in description
    hourly = defs.resolve_job_def("ingest_build_snapshot_job").asset_layer.selected_asset_keys
    assert {results, dim} <= hourly


@pytest.mark.parametrize(("control", "treatment", "passed"), [(500, 500, True), (600, 400, False)])
def test_experiment_asset_fails_its_check_on_a_sample_ratio_mismatch(
    tmp_path: Path, control: int, treatment: int, passed: bool
) -> None:
    """The asset on hand-made interface tables: 600 / 400 against 50 / 50 gives χ² = 2 · 100² / 500
    = 40, p = erfc(√20) = 2.5e-10 < 0.001: the check fails, naming the experiment; 500 / 500 passes."""
    import math

    from dagster import AssetCheckSeverity, AssetKey

    from orchestration.defs.experiments import experiment_results
    from orchestration.defs.resources import GrowthResource
    from tests._experiment_data import two_arm_experiment

    settings = two_arm_experiment(tmp_path / "warehouse.duckdb", control, treatment, experiment="banner")
    result = materialize([experiment_results], resources={"growth": GrowthResource(warehouse=str(settings.warehouse))})
    assert result.success  # a failed check reports; it does not fail the run
    [evaluation] = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.asset_key) == (
        "experiments_sample_ratio",
        AssetKey(["marts", "dim_experiments"]),
    )
    assert evaluation.passed is passed and evaluation.severity == AssetCheckSeverity.ERROR
    flagged: Any = evaluation.metadata["flagged_experiments"].value
    assert evaluation.metadata["srm_flagged"].value == (0 if passed else 1)
    if passed:
        assert flagged == {}
    else:
        assert list(flagged) == ["banner"] and flagged["banner"] == pytest.approx(math.erfc(math.sqrt(20)))
        assert "banner (p = 2.5e-10)" in (evaluation.description or "")
    metadata = result.asset_materializations_for_node("experiment_results")
    by_key = {event.asset_key.to_user_string(): event.metadata for event in metadata}
    assert set(by_key) == {"marts/fct_experiment_results", "marts/dim_experiments"}
    dim = by_key["marts/dim_experiments"]
    assert (dim["experiments"].value, dim["comparisons"].value, dim["srm_flagged"].value) == (1, 1, 0 if passed else 1)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        [(users, flag)] = con.execute("select users, srm_flag from marts.dim_experiments").fetchall()
        decisions = con.execute("select decision from marts.fct_experiment_results where not is_control").fetchall()
    assert (users, flag) == (control + treatment, not passed)
    assert decisions == [("inconclusive" if passed else "invalid",)]


def test_instance_config_serialises_warehouse_runs(tmp_path: Path) -> None:
    from dagster import DagsterInstance

    shutil.copy(Path(__file__).parents[1] / "orchestration" / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        pools = instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == 1 and pools.pool_granularity is not None
    assert pools.pool_granularity.value == "run"


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
    resources = {"growth": growth, "dbt": dbt_resource()}
    result = materialize(assets, resources=resources)
    assert result.success
    report = next((tmp_path / "reports").glob("2*/index.html"))
    page = report.read_text()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        [(mau, weekly_active, users)] = con.execute(
            "select (select mau from marts.fct_daily_active_users order by activity_date desc limit 1), "
            "(select active_users from marts.fct_growth_accounting where grain = 'week' and is_complete "
            "order by period_start desc limit 1), "
            "(select count(*) from marts.dim_users)"
        ).fetchall()
    # the first tile: active users of the last complete week, as fct_growth_accounting counts them
    active_tile = f'<span class="label">Active users</span><b>{weekly_active:,}</b>'
    assert users > 50 and active_tile in page
    metadata = result.asset_materializations_for_node("growth_report")[0].metadata
    assert metadata["mau"].value == mau and metadata["users"].value == users
    assert "data:image/png;base64," in metadata["preview"].value or "needs Chromium" in metadata["preview"].value
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks["growth_accounting_invariants"] and checks["quarantine_share_below_limit"]  # a dbt test, a raw check
    assert checks["raw_events_fresh"]  # ingested seconds ago
    assert "daily_volume_within_band" in checks
    assert any(name.startswith("not_null") or name.startswith("unique") for name in checks)  # dbt tests as checks
    # the volume band, worked out here from raw.events: last complete day vs the median of the 7 before it
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        daily = dict(con.execute("select cast(timestamp as date), count(*) from raw.events group by 1").fetchall())
    last = max(daily) - timedelta(days=1)
    median = statistics.median(daily.get(last - timedelta(days=n), 0) for n in range(1, 8))
    assert checks.pop("daily_volume_within_band") == (0.5 * median <= daily.get(last, 0) <= 2 * median)
    assert all(checks.values()), {name for name, passed in checks.items() if not passed}
    # the weekly schedule's runs (tag report=weekly) write their own folder, listed in the index
    weekly = materialize(assets, resources=resources, selection=["growth_report"], tags={"report": "weekly"})
    assert weekly.success
    weekly_page = next((tmp_path / "reports").glob("2*-weekly/index.html"))
    assert "<h1>Weekly growth report</h1>" in weekly_page.read_text() and active_tile in weekly_page.read_text()
    index = (tmp_path / "reports" / "index.html").read_text()
    assert f"{report.parent.name}/index.html" in index and f"{weekly_page.parent.name}/index.html" in index


def test_dagster_dev_finds_the_code_location_and_answers_graphql(tmp_path: Path) -> None:
    """`dagster dev` with no code-location arguments (what `make ui` runs) loads the
    definitions via pyproject and its webserver lists the assets and schedules over GraphQL."""
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dagster dev's webserver, daemon and code server: stopped together below
    )
    query = (
        "{ assetNodes { assetKey { path } } "
        "repositoriesOrError { ... on RepositoryConnection { nodes { schedules { name cronSchedule } } } } }"
    )
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=json.dumps({"query": query}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    data = json.load(response)["data"]
                if not data["assetNodes"]:  # the code server is still loading
                    raise OSError("no assets yet")
                break
            except OSError as exc:  # not up yet, or answering 400 while the code location loads
                if time.monotonic() > deadline or server.poll() is not None:
                    body = exc.read().decode() if isinstance(exc, urllib.error.HTTPError) else ""
                    raise AssertionError(f"dagster dev did not answer the query: {exc} {body[:500]}") from exc
                time.sleep(1)
        paths = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
        assert {"raw_events", "marketing_spend", "marts/fct_retention", "analyst_snapshot", "growth_report"} <= paths
        schedules = {
            item["name"]: item["cronSchedule"]
            for repository in data["repositoriesOrError"]["nodes"]
            for item in repository["schedules"]
        }
        assert schedules["ingest_every_15_minutes"] == "*/15 * * * *" and schedules["weekly_report"] == "0 7 * * 1"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
