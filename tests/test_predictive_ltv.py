"""Predictive LTV on real dbt-built marts: defined values in edge cases, sane channel ranking."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from devkit.simulator import Simulation
from ingest.batch import Batch
from ingest.writer import write_batch
from orchestration.build import run_build
from tests.test_dbt_marts import load_raw
from transforms.predictive_ltv import build_predictive_ltv
from warehouse.settings import Settings


def test_too_few_repeat_buyers_gives_defined_values(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    load_raw(settings)  # the hand-written set of test_dbt_marts: alice buys twice, dave once
    run_build(settings, quiet=True)
    summary = build_predictive_ltv(settings)
    assert (summary.users, summary.customers, summary.repeat_customers) == (4, 2, 1)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        users = dict(
            (row[0], row[1:])
            for row in con.execute(
                "select user_key, expected_purchases, expected_revenue, probability_alive, predicted_ltv "
                "from marts.fct_predicted_ltv"
            ).fetchall()
        )
        channels = dict(
            (row[0], row[1:])
            for row in con.execute(
                "select channel, users, mean_predicted_ltv, predicted_ltv_cac_ratio "
                "from marts.fct_channel_predicted_ltv"
            ).fetchall()
        )
    # One repeat buyer cannot fit the models: no future revenue is predicted for anyone.
    assert users == {
        "alice": (0.0, 0.0, 1.0, 98.0),
        "dave": (0.0, 0.0, 1.0, 60.0),
        "bob": (0.0, 0.0, None, 0.0),
        "carol": (0.0, 0.0, None, 0.0),
    }
    assert channels["(all)"] == (4, 39.5, 39.5 / 37.5)
    assert channels["direct"] == (2, 30.0, None)  # free channel: no ratio


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(warehouse=tmp_path_factory.mktemp("pltv") / "warehouse.duckdb")
    batch = Batch(datetime(2026, 7, 1, tzinfo=UTC))
    for offset, (_, value) in enumerate(Simulation(1500, 240, 11, date(2026, 6, 30)).records()):
        batch.add("events", 0, offset, value)
    write_batch(settings.warehouse, batch)
    run_build(settings, quiet=True)
    build_predictive_ltv(settings)
    return settings


def test_fitted_predictions_have_no_nan_and_rank_channels_by_quality(simulated: Settings) -> None:
    with duckdb.connect(str(simulated.warehouse), read_only=True) as con:
        rows = con.execute(
            "select expected_purchases, expected_revenue, probability_alive, predicted_ltv, frequency "
            "from marts.fct_predicted_ltv"
        ).fetchall()
        channels = dict(
            con.execute("select channel, mean_predicted_ltv from marts.fct_channel_predicted_ltv").fetchall()
        )
    assert all(not math.isnan(value) for row in rows for value in row if value is not None)
    repeaters = [row for row in rows if row[4] > 0]
    assert len(repeaters) > 50 and all(row[0] > 0 and 0 < row[2] <= 1 for row in repeaters)
    # The simulator makes LinkedIn users pay far more often than Facebook users.
    assert channels["linkedin"] > 2 * channels["facebook"]


def test_build_vars_reach_the_transform(tmp_path: Path) -> None:
    """`growth build --vars` changes what predictive LTV reads: its horizon and purchase event."""
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    load_raw(settings)
    run_build(settings, vars={"ltv_horizon_months": 6, "purchase_event": "No Such Event"}, quiet=True)
    summary = build_predictive_ltv(settings)
    # With a purchase event nobody sends, nobody is a customer; the horizon is the build's 6.
    assert (summary.horizon_months, summary.customers) == (6, 0)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select distinct horizon_months from marts.fct_predicted_ltv").fetchall() == [(6,)]
    run_build(settings, quiet=True)  # back to dbt_project.yml: 12 months, "Order Completed"
    summary = build_predictive_ltv(settings)
    assert (summary.horizon_months, summary.customers) == (12, 2)
