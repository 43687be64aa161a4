"""`growth experiments`: what a person and a script see, from a real analyst snapshot.

The experiment engine builds the marts from hand-made interface tables, `growth publish`'s
code copies them into a snapshot, and the real CLI runs in a subprocess on it. Every value
expected below is worked out here by hand from experiments.md's formulas.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from analysts.publish import publish_snapshot
from tests._experiment_data import converters, plant_experiments, stat
from transforms.experiments import build_experiment_results
from warehouse.settings import Settings

EXPERIMENTS = [
    ("checkout", "New checkout", date(2026, 5, 1), date(2026, 6, 30), 3, 12, True),
    ("pricing", None, date(2026, 4, 1), date(2026, 6, 29), 0, 0, False),
]
VARIATIONS = [
    ("checkout", "control", "Old", True, 0.5, 50100),
    ("checkout", "fast", "Fast", False, 0.5, 50020),
    ("pricing", "a", None, True, 0.5, 600),  # 60 / 40 against 50 / 50: a sample-ratio mismatch
    ("pricing", "b", None, False, 0.5, 400),
]
STATS = [
    stat("checkout", "purchase", "control", converters(50000, 10000), in_progress=100),
    stat("checkout", "purchase", "fast", converters(50000, 11234), in_progress=20),
    stat("checkout", "refunds", "control", converters(50000, 5000), goal="decrease", guardrail=True, in_progress=100),
    stat("checkout", "refunds", "fast", converters(50000, 7000), goal="decrease", guardrail=True, in_progress=20),
    stat("checkout", "revenue", "control", converters(0, 0), metric_type="revenue", in_progress=50100),
    stat("checkout", "revenue", "fast", converters(0, 0), metric_type="revenue", in_progress=50020),
    stat("checkout", "upgrade", "control", converters(50000, 10000)),
    stat("checkout", "upgrade", "fast", converters(50000, 10100)),
    stat("pricing", "activation", "a", converters(600, 120)),
    stat("pricing", "activation", "b", converters(400, 100)),
]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("experiments_cli")
    settings = plant_experiments(folder / "warehouse.duckdb", EXPERIMENTS, VARIATIONS, STATS)
    build_experiment_results(settings)
    snapshot = folder / "published.duckdb"
    publish_snapshot(Settings(warehouse=settings.warehouse, published=snapshot))
    return snapshot


def growth(published: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GROWTH_PUBLISHED": str(published), "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "experiments", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def row(stdout: str, *words: str) -> str:
    """The one table row that holds every word."""
    [line] = [line for line in stdout.splitlines() if line.startswith("│") and all(word in line for word in words)]
    return line


def test_every_experiment_with_lifts_intervals_decisions_and_the_srm_warning(published: Path) -> None:
    result = growth(published)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("checkout · New checkout") < out.index("pricing")
    assert "100,120 users in 2 variations (control: control), running" in out
    assert "3 multiple-exposure users left out, 12 unusable exposures" in out
    # checkout 50,100 / 50,020 against 50 / 50: χ² = 2 · 40² / 50,060 = 0.0639, 1 df,
    # p = erfc(√(χ²/2)) = 0.800: no mismatch.
    assert "sample ratio as configured (p = 0.800)" in out
    assert "4 treatment-metric comparisons" in out  # fast against control on 4 metrics
    # purchase: 0.22468 / 0.2 - 1 = +12.3 %. V = s²_t/(n ȳ_c²) + ȳ_t² s²_c/(n ȳ_c⁴) with
    # s² = p(1-p)·n/(n-1): V = 0.17420/2000 + 0.050481 · 0.16000/80 = 1.8805e-4, √V = 0.013713;
    # fixed 0.1234 ± 1.96 · 0.013713 = [+9.7 %, +15.0 %]; sequential half-width at N = 100,000
    # (r = rho² = 8.24/5000): √(N V) · √(2(N r+1)/(N² r) · ln(√(N r+1)/alpha)) = 0.04576: [+7.8 %, +16.9 %],
    # above 0: a win.
    purchase = row(out, "purchase", "fast")
    for cell in ("50,000", "20", "22.5 %", "+12.3 %", "[+7.8 %, +16.9 %]", "[+9.7 %, +15.0 %]", "win"):
        assert cell in purchase, (cell, purchase)
    control = row(out, "purchase", "control (Old)")
    assert (
        "50,000" in control
        and "100" in control
        and "20.0 %" in control
        and "baseline" in control
        and "win" not in control
    )
    # refunds (a guardrail to decrease): 0.14 / 0.1 - 1 = +40.0 %, sequential [+31.9 %, +48.1 %]
    # lies above 0: for a metric to decrease that is a loss.
    refunds = row(out, "fast", "+40.0 %")
    assert "[+31.9 %, +48.1 %]" in refunds and "[+35.2 %, +44.8 %]" in refunds and "loss" in refunds
    assert "refunds (guardrail)" in out
    # revenue: every user still in their window: no mean, no lift, users in progress shown.
    revenue = row(out, "fast", "50,020")
    assert revenue.count("—") == 4 and "inconclusive" in revenue
    # upgrade: 0.202 / 0.2 - 1 = +1.0 %, sequential [-3.2 %, +5.2 %] straddles 0.
    upgrade = row(out, "fast", "+1.0 %")
    assert "[-3.2 %, +5.2 %]" in upgrade and "[-1.5 %, +3.5 %]" in upgrade and "inconclusive" in upgrade
    assert "GUARDRAIL LOSS: fast loses on refunds, next to its win on purchase" in out
    # pricing 600 / 400 against 500 / 500: χ² = 2 · 100² / 500 = 40, p = erfc(√20) = 2.5e-10.
    assert "SAMPLE RATIO MISMATCH — results invalid (p = 2.5e-10)" in out
    pricing = row(out, "+25.0 %")
    assert "+25.0 %" in pricing and "invalid" in pricing  # 0.25 / 0.2 - 1, invalid whatever the interval


def test_one_experiment_and_an_unknown_id(published: Path) -> None:
    result = growth(published, "pricing")
    assert result.returncode == 0, result.stderr
    assert "SAMPLE RATIO MISMATCH — results invalid" in result.stdout and "checkout" not in result.stdout
    unknown = growth(published, "no_such_test")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == (
        "error: no experiment 'no_such_test' in the analyst snapshot; known ids: checkout, pricing"
    )
    assert "Traceback" not in unknown.stderr


def test_a_narrow_terminal_keeps_every_interval_whole(published: Path) -> None:
    result = growth(published, "checkout", columns=80)
    assert result.returncode == 0, result.stderr
    assert "[+7.8 %, +16.9 %]" in result.stdout and "[+9.7 %, +15.0 %]" in result.stdout
    assert "…" not in result.stdout


def test_json_has_every_experiment_with_its_rows_as_numbers_and_nulls(published: Path) -> None:
    result = growth(published, "--json")
    assert result.returncode == 0, result.stderr
    experiments = json.loads(result.stdout)["experiments"]
    assert [item["experiment_id"] for item in experiments] == ["checkout", "pricing"]
    checkout, pricing = experiments
    assert {key: checkout[key] for key in ("experiment_name", "control_id", "variations", "users")} == {
        "experiment_name": "New checkout",
        "control_id": "control",
        "variations": 2,
        "users": 100120,
    }
    assert checkout["first_exposure_date"] == "2026-05-01" and checkout["is_running"] is True
    assert checkout["srm_flag"] is False and checkout["srm_p_value"] == pytest.approx(math.erfc(math.sqrt(800 / 25030)))
    assert checkout["comparisons"] == 4
    rows = {(item["metric_name"], item["variation_id"]): item for item in checkout["results"]}
    assert list(rows) == [
        ("purchase", "control"),
        ("purchase", "fast"),
        ("refunds", "control"),
        ("refunds", "fast"),
        ("revenue", "control"),
        ("revenue", "fast"),
        ("upgrade", "control"),
        ("upgrade", "fast"),
    ]
    fast = rows["purchase", "fast"]
    assert fast["relative_lift"] == pytest.approx(0.1234) and fast["absolute_lift"] == pytest.approx(0.02468)
    assert fast["decision"] == "win" and fast["users"] == 50000 and fast["users_in_progress"] == 20
    assert fast["seq_ci_low"] == pytest.approx(0.0776, abs=1e-4) and fast["ci_high"] == pytest.approx(0.1503, abs=1e-4)
    assert rows["purchase", "control"]["decision"] is None and rows["purchase", "control"]["relative_lift"] is None
    assert rows["revenue", "fast"]["mean"] is None and rows["revenue", "fast"]["users_in_progress"] == 50020
    assert rows["refunds", "fast"]["is_guardrail"] is True and rows["refunds", "fast"]["decision"] == "loss"
    assert pricing["experiment_name"] is None and pricing["srm_flag"] is True
    assert pricing["srm_p_value"] == pytest.approx(math.erfc(math.sqrt(20)))
    assert [item["decision"] for item in pricing["results"]] == [None, "invalid"]
    one = json.loads(growth(published, "pricing", "--json").stdout)
    assert [item["experiment_id"] for item in one["experiments"]] == ["pricing"]


def test_no_experiments_is_one_friendly_line(tmp_path: Path) -> None:
    settings = plant_experiments(tmp_path / "warehouse.duckdb", [], [], [])
    build_experiment_results(settings)
    snapshot = tmp_path / "published.duckdb"
    publish_snapshot(Settings(warehouse=settings.warehouse, published=snapshot))
    result = growth(snapshot)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "no experiments in the analyst snapshot yet (no exposure events seen)\n"
    assert json.loads(growth(snapshot, "--json").stdout) == {"experiments": []}
    unknown = growth(snapshot, "checkout")
    assert unknown.returncode == 1
    assert "no experiment 'checkout' in the analyst snapshot; the snapshot has no experiments" in unknown.stderr


def test_a_snapshot_without_experiment_marts_says_what_to_run(tmp_path: Path) -> None:
    import duckdb

    snapshot = tmp_path / "published.duckdb"
    with duckdb.connect(str(snapshot)) as con:
        con.execute("create schema marts; create table marts.dim_users (user_key varchar)")
    result = growth(snapshot)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has no marts.dim_experiments or marts.fct_experiment_results" in result.stderr
    assert "growth publish" in result.stderr
    missing = growth(tmp_path / "nowhere.duckdb")
    assert missing.returncode == 1 and "no analyst snapshot at" in missing.stderr
