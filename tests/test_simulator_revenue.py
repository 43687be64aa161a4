"""The simulated subscriptions as revenue.md reads them: recurring payments carry a billing interval.

Checked on the raw payloads of a simulated history, independently of the simulator's code:
subscription charges send a recognised `interval` (month or year, matching the amount
charged), add-ons and refunds send none (one-time revenue), and some subscribers move one
plan up or down at a renewal (expansion and contraction), beside involuntary churn.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date

import pytest

from devkit.simulator import Simulation

MONTHLY_PRICES = (29.0, 99.0, 299.0)


@pytest.fixture(scope="module")
def orders() -> dict[str, list[dict]]:
    """Each kind's Order Completed / Order Refunded properties (subscription, add_on, refund)."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    # Eight months, so monthly subscribers renew several times (about 700 renewals); the
    # properties (traits, devices, features) play no part here.
    simulation = Simulation(users=3000, days=240, seed=7, end_date=date(2026, 6, 30), properties=False)
    for event in simulation.events():
        if event.get("event") in ("Order Completed", "Order Refunded"):
            by_kind[event["properties"]["kind"]].append({"userId": event["userId"], **event["properties"]})
    return by_kind


def test_recurring_payments_carry_a_recognised_interval_and_one_time_ones_none(orders: dict[str, list[dict]]) -> None:
    assert len(orders["subscription"]) > 100 and len(orders["add_on"]) > 50 and orders["refund"]
    for charge in orders["subscription"]:
        # An annual charge is ten monthly prices; a monthly one a monthly price.
        interval, months = ("year", 10) if charge["plan"] == "annual" else ("month", 1)
        assert charge["interval"] == interval
        assert float(charge["revenue"]) / months in MONTHLY_PRICES
    assert {charge["interval"] for charge in orders["subscription"]} == {"month", "year"}
    assert all("interval" not in order for order in orders["add_on"] + orders["refund"])


def test_some_subscribers_upgrade_and_some_downgrade_at_a_renewal(orders: dict[str, list[dict]]) -> None:
    prices: dict[str, list[float]] = defaultdict(list)
    for charge in orders["subscription"]:
        if charge["interval"] == "month":
            prices[charge["userId"]].append(float(charge["revenue"]))
    moves = [later - earlier for charges in prices.values() for earlier, later in itertools.pairwise(charges)]
    upgrades, downgrades = sum(move > 0 for move in moves), sum(move < 0 for move in moves)
    # 4% of renewals move up and 2% down (none above the top plan or below the bottom one,
    # where most subscribers are): with about 700 renewals both happen, each at a few percent.
    assert len(moves) > 500 and 0 < downgrades < 0.1 * len(moves) and 0 < upgrades < 0.1 * len(moves)
