"""Alerts wired end to end (docs/delivery.md, "Alerts"; issue #17).

One simulated warehouse (module scope) goes through the real pipeline: the simulator's
records with a planted signup outage, the ingester's validation and writer, the spend
loader and a real ``dbt build``. 4,000 users over 64 days, seed 6, ending 2026-06-30: about
70 signups on a weekday at the end. On Monday 2026-06-29, the last complete day, the outage
takes every google signup and 60% of the others' (``SignupOutage`` defaults): 20 signups
against 83.5 expected, range 54.6 - 112.4 (from the simulated plan; the tests read the
warehouse). That drop is large on purpose: the simulated signups are noisy (each paid
channel's daily budget varies ±40%, and the product grows 50% over the history), so the
expected range of delivery.md's rule at threshold 3 is about ±40% of the expected value
(median over seeds and days, ±70% at the 90th percentile). This outage is caught on about 7
of 10 (seed, day) pairs; seed 6 is one with a margin (docs/delivery.md, "Planted incidents").

``growth alerts`` runs as a real subprocess; pytest-httpserver plays the webhook; the
Dagster asset is materialized and the run-failure sensor evaluated on a real failed run of
an ephemeral instance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import (
    DagsterInstance,
    Failure,
    build_run_status_sensor_context,
    job,
    materialize,
    op,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from delivery.monitors import check
from devkit.simulator import Simulation
from devkit.simulator.incidents import ActivationRegression, SignupOutage, apply_outages, parse_incident
from devkit.simulator.model import plan_days
from devkit.simulator.spend import write_spend_csvs
from ingest.spend import load_spend
from orchestration.alerts import NO_DESTINATION
from orchestration.build import run_build
from orchestration.defs.alerts import growth_alerts, notify_run_failure_sensor
from orchestration.defs.resources import GrowthResource
from tests._predictive_ltv_data import load_records, settings_for
from warehouse.connection import writing
from warehouse.settings import Settings

END = date(2026, 6, 30)  # data_end_date: the last complete day is 2026-06-29
OUTAGE = date(2026, 6, 29)  # a Monday
NORMAL = date(2026, 6, 25)  # a Thursday without incident
HOOK_PATH = "/hooks/growth-SECRET"


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The simulated warehouse with the planted outage on OUTAGE, built once."""
    settings = settings_for(tmp_path_factory.mktemp("alerts"))
    simulation = Simulation(users=4000, days=64, seed=6, end_date=END, incidents=(SignupOutage(OUTAGE),))
    load_records(settings, [value for _, value in simulation.records()])
    write_spend_csvs(simulation.plan(), settings.spend_dir)
    load_spend(settings, [settings.spend_dir])
    run_build(settings, quiet=True)
    return settings


@pytest.fixture
def copy(outage: Settings, tmp_path: Path) -> Settings:
    """A copy of the built warehouse for a test that records deliveries."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(outage.warehouse, warehouse)
    return replace(outage, warehouse=warehouse)


def growth(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `growth` command, with no GROWTH_* variable but ``env``'s."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("GROWTH_")}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=300,
    )


def alerts_cli(settings: Settings, *args: str, env: Mapping[str, str] | None = None) -> list[str]:
    result = growth("alerts", "--warehouse", str(settings.warehouse), *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def has_deliveries_table(settings: Settings) -> bool:
    sql = "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'deliveries'"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return bool(con.execute(sql).fetchall()[0][0])


def webhook(server: HTTPServer) -> list[Request]:
    """Accept every POST to HOOK_PATH; return the requests seen."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("ok", status=200)

    server.expect_request(HOOK_PATH, method="POST").respond_with_handler(handler)
    return seen


def hook_env(server: HTTPServer) -> dict[str, str]:
    return {"GROWTH_WEBHOOK_URL": server.url_for(HOOK_PATH)}


def documents(seen: list[Request]) -> list[dict[str, object]]:
    return [json.loads(request.get_data()) for request in seen]


# --- growth alerts ------------------------------------------------------------------------------


def test_dry_run_on_the_outage_day_names_signups_the_day_down_and_the_channel(outage: Settings) -> None:
    lines = alerts_cli(outage, "--dry-run", "--date", OUTAGE.isoformat())
    # every monitor's status, one line each
    statuses = {line.split()[0]: line for line in lines[:5]}
    assert set(statuses) == {"signups", "dau", "revenue", "activation_rate", "quarantine_share"}
    assert statuses["signups"].startswith(f"signups {OUTAGE}: ") and statuses["signups"].endswith("ALERT down")
    [summary] = [line.strip() for line in lines if line.strip().startswith("Daily signups")]
    assert summary.startswith(f"Daily signups on {OUTAGE}: ") and ", down; what moved: " in summary
    assert "acquisition_channel=google 0 vs " in summary  # every google signup lost
    # no destination: nothing would be sent, and the warehouse is not written
    assert lines[-1] == NO_DESTINATION.replace("nothing sent", "nothing would be sent")
    assert not has_deliveries_table(outage)


def test_the_planted_channel_moved_most_of_every_channel(outage: Settings) -> None:
    [signups] = [item for item in check(outage, OUTAGE) if item.monitor.name == "signups"]
    assert signups.alert is not None and signups.alert.direction == "down"
    verdict = signups.alert.verdict
    assert verdict.low is not None and verdict.value < verdict.low
    channels = [moved for moved in signups.alert.moved if moved.dimension == "acquisition_channel"]
    assert channels[0].segment == "google" and channels[0].value == 0


@pytest.mark.xfail(
    strict=True,
    reason="delivery.md ranks what moved by value - expected across dimensions, so a segment that holds "
    "nearly every user moves about as much as the total: trait_plan=free (the earliest plan of ~92% of "
    "the simulated users) leads any signup drop, the planted channel comes second (docs/delivery.md, "
    "'Planted incidents')",
)
def test_the_planted_channel_is_first_among_what_moved(outage: Settings) -> None:
    [signups] = [item.alert for item in check(outage, OUTAGE) if item.alert and item.monitor.name == "signups"]
    first = signups.moved[0]
    assert (first.dimension, first.segment) == ("acquisition_channel", "google")


def test_a_normal_day_raises_no_signups_alert(outage: Settings) -> None:
    lines = alerts_cli(outage, "--dry-run", "--date", NORMAL.isoformat())
    [signups] = [line for line in lines if line.startswith("signups ")]
    assert signups.startswith(f"signups {NORMAL}: ") and signups.endswith(": normal")
    assert not any(line.strip().startswith("Daily signups") for line in lines)


def test_a_day_not_yet_complete_is_a_one_line_error(outage: Settings) -> None:
    result = growth("alerts", "--warehouse", str(outage.warehouse), "--date", END.isoformat(), "--dry-run")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert f"{END} is not a complete day" in line
    bad = growth("alerts", "--warehouse", str(outage.warehouse), "--date", "June 29")
    assert bad.returncode == 1 and "is not a date (YYYY-MM-DD)" in bad.stderr


def test_alerts_reach_the_webhook_once_per_key(copy: Settings, httpserver: HTTPServer) -> None:
    seen = webhook(httpserver)
    env = hook_env(httpserver)
    destination = f"webhook:127.0.0.1:{httpserver.port}"
    # the dry run says where the alert would go and sends nothing
    planned = alerts_cli(copy, "--dry-run", env=env)
    assert f"would send alert:signups:{OUTAGE} to {destination}" in planned and seen == []
    # without --date: the last complete day, the outage
    sent = alerts_cli(copy, env=env)
    assert f"alert alert:signups:{OUTAGE}: sent to {destination}" in sent
    docs = {doc["id"]: doc for doc in documents(seen)}
    assert len(docs) == len(seen)  # one document per alert
    doc = docs[f"alert:signups:{OUTAGE}"]
    assert {key: doc[key] for key in ("kind", "date", "headline", "report_url")} == {
        "kind": "alert",
        "date": OUTAGE.isoformat(),
        "headline": {},
        "report_url": None,
    }
    [alert] = doc["alerts"]  # type: ignore[misc]
    assert alert["monitor"] == "signups" and alert["date"] == OUTAGE.isoformat() and alert["direction"] == "down"
    assert alert["key"] == f"alert:signups:{OUTAGE}" and alert["value"] < alert["expected_range"][0]
    channels = [m for m in alert["what_moved"] if m["dimension"] == "acquisition_channel"]
    assert channels[0]["segment"] == "google" and channels[0]["value"] == 0
    assert alert["summary"].startswith(f"Daily signups on {OUTAGE}: ")
    # once per key: a second run sends nothing new, and the dry run says what was sent
    count = len(seen)
    again = alerts_cli(copy, env=env)
    assert len(seen) == count
    assert f"alert alert:signups:{OUTAGE}: nothing new sent; already sent to {destination}" in again
    assert f"would send alert:signups:{OUTAGE} nowhere new; already sent to {destination}" in alerts_cli(
        copy, "--dry-run", env=env
    )
    with duckdb.connect(str(copy.warehouse), read_only=True) as con:
        rows = con.execute("select kind, key, destination from ops.deliveries where key like 'alert:signups:%'")
        assert rows.fetchall() == [("alert", f"alert:signups:{OUTAGE}", destination)]


def test_without_a_destination_nothing_is_sent_or_written(copy: Settings) -> None:
    lines = alerts_cli(copy)
    assert any(line.strip().startswith("Daily signups") for line in lines)
    assert lines[-1] == NO_DESTINATION
    assert not has_deliveries_table(copy)


# --- Dagster ------------------------------------------------------------------------------------


def test_the_alerts_asset_delivers_and_shows_the_alerts(
    copy: Settings, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = webhook(httpserver)
    resources = {"growth": GrowthResource(warehouse=str(copy.warehouse))}
    for key in [key for key in os.environ if key.startswith("GROWTH_")]:
        monkeypatch.delenv(key)
    # offline first: nothing sent, and the metadata says so
    offline = materialize([growth_alerts], resources=resources, instance=DagsterInstance.ephemeral())
    metadata = offline.asset_materializations_for_node("growth_alerts")[0].metadata
    assert metadata["destinations"].value == "none configured"
    assert "nothing sent" in str(metadata["delivery"].value) and seen == []
    monkeypatch.setenv("GROWTH_WEBHOOK_URL", httpserver.url_for(HOOK_PATH))
    result = materialize([growth_alerts], resources=resources, instance=DagsterInstance.ephemeral())
    metadata = result.asset_materializations_for_node("growth_alerts")[0].metadata
    details = metadata["alert_details"].value
    assert isinstance(details, list) and metadata["alerts"].value == len(details) == len(seen)
    [signups] = [alert for alert in details if alert["monitor"] == "signups"]
    assert signups["date"] == OUTAGE.isoformat() and signups["direction"] == "down"
    assert "signups" in str(metadata["monitors"].value) and "Daily signups" in str(metadata["summaries"].value)
    assert f"alert:signups:{OUTAGE}" in {doc["id"] for doc in documents(seen)}


def test_the_run_failure_sensor_notifies_the_alert_destinations_once(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = webhook(httpserver)
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    with writing(settings, create=True):
        pass

    @op
    def load_something() -> None:
        raise Failure("the broker at kafka:9092 is unreachable")

    @job
    def nightly_job() -> None:
        load_something()

    instance = DagsterInstance.ephemeral()
    result = nightly_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    for key in [key for key in os.environ if key.startswith("GROWTH_")]:
        monkeypatch.delenv(key)

    def evaluate() -> object:
        context = build_run_status_sensor_context(
            sensor_name="notify_run_failure",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"growth": GrowthResource(warehouse=str(settings.warehouse))},
        ).for_run_failure()
        return notify_run_failure_sensor(context)

    # no destination: skipped, saying so
    skipped = evaluate()
    assert "no destination configured" in str(getattr(skipped, "skip_message", "")) and seen == []
    monkeypatch.setenv("GROWTH_WEBHOOK_URL", httpserver.url_for(HOOK_PATH))
    evaluate()
    evaluate()  # a second tick for the same run: sent once
    run_id = result.dagster_run.run_id
    [doc] = documents(seen)
    assert doc["kind"] == "alert" and doc["id"] == f"run-failure:{run_id}"
    [alert] = doc["alerts"]  # type: ignore[misc]
    assert alert["job"] == "nightly_job" and alert["run_id"] == run_id
    assert f"Dagster run {run_id} of job nightly_job failed" in alert["summary"]
    assert alert["summary"].endswith("failed: step load_something: Failure: the broker at kafka:9092 is unreachable")


# --- planted incidents in the simulator ------------------------------------------------------------


def test_incidents_are_off_by_default_and_change_nothing_before_them() -> None:
    plain = list(Simulation(users=150, days=30, seed=3, end_date=END).records())
    assert plain == list(Simulation(users=150, days=30, seed=3, end_date=END, incidents=()).records())
    # a regression from the day after the end changes nothing
    later = ActivationRegression(date(2026, 7, 1), "google", 0.0)
    assert plain == list(Simulation(users=150, days=30, seed=3, end_date=END, incidents=(later,)).records())


def test_a_signup_outage_thins_its_day_most_in_its_channel() -> None:
    before = plan_days(4000, 64, 6, END)
    after = apply_outages(plan_days(4000, 64, 6, END), (SignupOutage(OUTAGE, "direct", 1.0, 0.5),), 6)
    for old, new in zip(before, after, strict=True):
        if old.day != OUTAGE:
            assert old.signups == new.signups and old.spend == new.spend
    [old] = [plan for plan in before if plan.day == OUTAGE]
    [new] = [plan for plan in after if plan.day == OUTAGE]
    assert new.signups[None] == 0 < old.signups[None]
    for channel in ("google", "facebook", "linkedin", "partner"):
        assert 0.2 * old.signups[channel] <= new.signups[channel] <= 0.8 * old.signups[channel] + 2
    assert new.spend["partner"] == new.signups["partner"] * 30.0  # the bounty follows the signups left
    assert new.spend["google"] == old.spend["google"]  # bought all the same


def test_an_activation_regression_lowers_one_channels_activation_from_its_day() -> None:
    start = date(2026, 6, 1)
    regression = ActivationRegression(start, "google", 0.0)

    def activated_by_day(simulation: Simulation) -> dict[str, tuple[int, int]]:
        """Per (signup day >= start?) the users who signed up and those who created a project."""
        signups: dict[str, date] = {}
        activated: set[str] = set()
        for event in simulation.events():
            user = event.get("userId")
            if event.get("event") == "Signed Up":
                signups[user] = date.fromisoformat(event["timestamp"][:10])
            elif event.get("event") == "Project Created":
                activated.add(user)
        after = [user for user, day in signups.items() if day >= start]
        before = [user for user, day in signups.items() if day < start]
        return {
            "before": (len(before), sum(user in activated for user in before)),
            "after": (len(after), sum(user in activated for user in after)),
        }

    base = Simulation(users=400, days=45, seed=3, end_date=END)
    plain, regressed = activated_by_day(base), activated_by_day(replace(base, incidents=(regression,)))
    assert plain["before"] == regressed["before"]  # users before the start live the same lives
    # google is ~30% of signups and activates ~55% of the time: losing it lowers the rest's rate
    assert regressed["after"][1] < plain["after"][1] * 0.9


def test_incident_options_parse_and_refuse_in_one_line() -> None:
    assert parse_incident(SignupOutage, "2026-06-29") == SignupOutage(OUTAGE)
    assert parse_incident(SignupOutage, "2026-06-29:direct:0.8") == SignupOutage(OUTAGE, "direct", 0.8)
    assert parse_incident(ActivationRegression, "2026-06-01:linkedin:0.5") == ActivationRegression(
        date(2026, 6, 1), "linkedin", 0.5
    )
    with pytest.raises(ValueError, match="unknown channel 'bing'"):
        parse_incident(SignupOutage, "2026-06-29:bing")
    result = growth("simulate", "--signup-outage", "2026-06-31:google", "--bootstrap-servers", "127.0.0.1:1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "--signup-outage 2026-06-31:google: '2026-06-31' is not a date" in line
