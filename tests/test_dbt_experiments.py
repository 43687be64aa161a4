"""The experiment models from a small hand-written event set, checked against values worked out by hand.

The events go through the real ingest path (validation, batch writer) into a real DuckDB
file, then a real `dbt build` and the experiment engine. Every expected value below was
worked out by hand from docs/experiments.md; the reasoning is next to each value.

Build vars: four metrics with 2-day windows (conv: Project Created; orders: count of Order
Completed with revenue > 0; rev: revenue; ret: retention on days 1-2), a 3-day CUPED lookback,
experiment `w` weighted A:B = 1:3 analysing conv only, `ctl` with the configured control Z
(never seen) analysing ret only. data_end_at = 2026-03-20 12:00 (u9's page view).

A fifth metric, tasks (count of Task Added, not a funnel step), reads all events.

Timeline of experiment `exp` (UTC, March 2026):
  u1  exposed to A 10th 10:00 (x1; a later copy of x1 says B and is a duplicate), again 11th;
      a blank variation on the 12th (unusable). Orders: 5 on the 7th 10:00 (exactly at the
      lookback start), 10 on the 10th 10:00 (the exposure instant), 0 on the 11th; Project
      Created on the 12th 10:00 (exactly at the window end); a page view on the 11th; Task
      Added on the 9th, the 10th and the 11th (with revenue 3).
  u2  exposed to B anonymously on the 9th 09:00, identified at 10:00 (retroactive), again on
      the 10th; Project Created on the 11th 09:00:00.001 (1 ms past the window).
  u3  exposed to A and to B at the same instant: a multiple-exposure user.
  u4  exposed to A on the 19th 10:00 twice at the same instant (z0 "Wrong", z1 "Checkout
      test"): window open at data end, in progress everywhere.
  u5  exposed to A on the 17th 12:00, nothing else: mature zeros everywhere.
  u6  exposed to A on the 18th 12:00: the 2-day window ends exactly at data_end_at (mature);
      retention needs the 20th complete (in progress).
  anon9 exposed on the 20th, never identified: unusable.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pytest
from pytest import approx

from ingest.batch import Batch
from ingest.writer import write_batch
from orchestration.build import run_build
from orchestration.pipeline import run_experiment_results
from tests._oracle_experiments import MARTS as ORACLE_MARTS
from tests._oracle_experiments import differences
from warehouse.errors import GrowthError
from warehouse.settings import Settings

EXPOSURE = "Experiment Viewed"

VARS: dict[str, Any] = {
    "experiment_metrics": [
        {"name": "conv", "type": "conversion", "event": "Project Created", "window_days": 2},
        {"name": "orders", "type": "count", "event": "Order Completed", "window_days": 2, "revenue_positive": True},
        {"name": "rev", "type": "revenue", "window_days": 2},
        {"name": "ret", "type": "retention", "start_day": 1, "end_day": 2},
        {"name": "tasks", "type": "count", "event": "Task Added", "window_days": 2},  # not a funnel step
    ],
    "cuped_lookback_days": 3,
    "experiments": {
        "exp": {},
        "w": {"weights": {"A": 1, "B": 3}, "metrics": ["conv"]},
        "ctl": {"control": "Z", "metrics": ["ret"]},
    },
}


def ev(mid: str, kind: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"messageId": mid, "type": kind, "timestamp": f"2026-03-{ts}Z", **fields}


def exposure(mid: str, ts: str, experiment: Any, variation: Any, **fields: Any) -> dict[str, Any]:
    properties = {"experiment_id": experiment, "variation_id": variation}
    for key in ("experiment_name", "variation_name"):
        if key in fields:
            properties[key] = fields.pop(key)
    return ev(mid, "track", ts, event=EXPOSURE, properties=properties, **fields)


def order(mid: str, ts: str, user: str, revenue: float) -> dict[str, Any]:
    return ev(mid, "track", ts, userId=user, event="Order Completed", properties={"revenue": revenue})


EVENTS = [
    ev("s1", "identify", "01T00:00:00", userId="u1"),
    exposure("x1", "10T10:00:00", "exp", "A", userId="u1", experiment_name="Exp one"),
    exposure("x2", "11T08:00:00", "exp", "A", userId="u1"),
    exposure("x3", "12T08:00:00", "exp", "  ", userId="u1"),
    order("o1", "07T10:00:00", "u1", 5),
    order("o2", "10T10:00:00", "u1", 10),
    order("o3", "11T09:00:00", "u1", 0),
    ev("p1", "track", "12T10:00:00", userId="u1", event="Project Created"),
    ev("pg1", "page", "11T12:00:00", userId="u1"),
    ev("ta1", "track", "09T12:00:00", userId="u1", event="Task Added"),
    ev("ta2", "track", "10T12:00:00", userId="u1", event="Task Added"),
    ev("ta3", "track", "11T10:00:00", userId="u1", event="Task Added", properties={"revenue": 3}),
    exposure("x4", "09T09:00:00", "exp", "B", anonymousId="anon2", variation_name="Variant B"),
    ev("i2", "identify", "09T10:00:00", userId="u2", anonymousId="anon2"),
    exposure("x5", "10T09:00:00", "exp", "B", userId="u2"),
    ev("p2", "track", "11T09:00:00.001", userId="u2", event="Project Created"),
    exposure("t2", "10T10:00:00", "exp", "A", userId="u3"),
    exposure("t1", "10T10:00:00", "exp", "B", userId="u3"),
    exposure("z0", "19T10:00:00", "exp", "A", userId="u4", experiment_name="Wrong", variation_name="Control arm"),
    exposure("z1", "19T10:00:00", "exp", "A", userId="u4", experiment_name="Checkout test", variation_name="  "),
    exposure("x6", "17T12:00:00", "exp", "A", userId="u5"),
    exposure("x7", "18T12:00:00", "exp", "A", userId="u6"),
    exposure("an1", "20T08:00:00", "exp", "A", anonymousId="anon9", experiment_name="Unusable name"),
    exposure("w1", "05T10:00:00", "w", "C", userId="u1"),
    exposure("w2", "05T10:00:00", "w", "B", userId="u2"),
    exposure("c1", "05T10:00:00", "ctl", "control", userId="u1"),
    exposure("n1", "15T10:00:00", 42, 7, userId="u7"),
    exposure("n2", "15T10:00:00", "42", "control", userId="u8"),
    exposure("f1", "16T10:00:00", 1.5, "A", userId="u9"),
    exposure("f2", "16T10:00:00", True, "A", userId="u9"),
    exposure("f3", "16T10:00:00", " spaced", "A", userId="u9"),
    ev("end", "page", "20T12:00:00", userId="u9"),
]
# A second copy of x1, ingested later: de-duplication keeps the first (variation A).
LATE_COPY = exposure("x1", "10T10:00:00", "exp", "B", userId="u1")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(warehouse=tmp_path_factory.mktemp("experiments") / "warehouse.duckdb")
    now = datetime(2026, 3, 21, tzinfo=UTC)
    first, later = Batch(now), Batch(now + timedelta(minutes=5))
    for offset, event in enumerate(EVENTS):
        first.add("events", 0, offset, orjson.dumps(event))
    later.add("events", 1, 0, orjson.dumps(LATE_COPY))
    write_batch(settings.warehouse, first)
    write_batch(settings.warehouse, later)
    assert not first.rejected_count and not later.rejected_count
    run_build(settings, vars=VARS, quiet=True)
    run_experiment_results(settings)
    return settings


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-03-{text}+00:00")


def chi2_p_one_dof(statistic: float) -> float:
    """P(χ²₁ > s) = erfc(√(s/2)): a χ² with one degree of freedom is a squared standard normal."""
    return math.erfc(math.sqrt(statistic / 2))


def test_assignments_take_the_earliest_usable_exposure_and_list_multiple_exposure(built: Settings) -> None:
    assert rows(
        built,
        "select user_key, variation_id, exposed_at, exposure_date, is_multiple_exposure "
        "from marts.fct_experiment_assignments where experiment_id = 'exp' order by user_key",
    ) == [
        ("u1", "A", at("10T10:00:00"), date(2026, 3, 10), False),  # the later copy of x1 (B) is a duplicate
        ("u2", "B", at("09T09:00:00"), date(2026, 3, 9), False),  # the anonymous exposure counts once identified
        ("u3", None, at("10T10:00:00"), date(2026, 3, 10), True),  # A and B at the same instant
        ("u4", "A", at("19T10:00:00"), date(2026, 3, 19), False),
        ("u5", "A", at("17T12:00:00"), date(2026, 3, 17), False),
        ("u6", "A", at("18T12:00:00"), date(2026, 3, 18), False),
    ]
    # Integer ids become their decimal strings; a configured weight list makes C unusable.
    assert rows(
        built,
        "select experiment_id, user_key, variation_id from marts.fct_experiment_assignments "
        "where experiment_id <> 'exp' order by 1, 2",
    ) == [
        (" spaced", "u9", "A"),
        ("42", "u7", "7"),
        ("42", "u8", "control"),
        ("ctl", "u1", "control"),
        ("w", "u2", "B"),
    ]


def test_dim_experiments(built: Settings) -> None:
    got = rows(
        built,
        "select experiment_id, experiment_name, control_id, variations, first_exposure_date, last_exposure_date, "
        "users, multiple_exposure_users, unusable_exposures, srm_p_value, srm_flag, is_running "
        "from marts.dim_experiments order by experiment_id",
    )
    d = date
    assert got == [
        # one variation: no SRM test; ids are kept as sent, leading space included
        (" spaced", None, "A", 1, d(2026, 3, 16), d(2026, 3, 16), 1, 0, 0, None, False, False),
        # 'control' is the control although "7" sorts first; 1 user each: chi2 = 0, p = 1
        ("42", None, "control", 2, d(2026, 3, 15), d(2026, 3, 15), 2, 0, 0, approx(1.0), False, False),
        # configured control Z never seen: added with 0 users; chi2 on (1, 0) vs (0.5, 0.5) = 1
        ("ctl", None, "Z", 2, d(2026, 3, 5), d(2026, 3, 5), 1, 0, 0, approx(chi2_p_one_dof(1.0)), False, False),
        # name of the latest usable exposure: z1 beats z0 at the same instant by messageId; the
        # anonymous an1 is later but unusable. Users A: u1 u4 u5 u6, B: u2 -> chi2 = (1.5² + 1.5²) / 2.5
        # unusable: x3 (blank variation) and an1 (never identified); running: last exposure on the 19th
        ("exp", "Checkout test", "A", 2, d(2026, 3, 9), d(2026, 3, 19), 5, 1, 2,
         approx(chi2_p_one_dof(1.8)), False, True),
        # weights A:B = 1:3 -> expected (0.25, 0.75) for (0, 1) users: chi2 = 0.25 + 0.0625 / 0.75
        ("w", None, "A", 2, d(2026, 3, 5), d(2026, 3, 5), 1, 0, 1,
         approx(chi2_p_one_dof(0.25 + 0.0625 / 0.75)), False, False),
    ]  # fmt: skip


def test_variations_controls_weights_and_labels(built: Settings) -> None:
    assert rows(
        built,
        "select experiment_id, variation_id, variation_name, is_control, weight, assigned_users "
        "from intermediate.int_experiment_variations where experiment_id in ('exp', 'w', 'ctl') order by 1, 2",
    ) == [
        ("ctl", "Z", None, True, 0.5, 0),
        ("ctl", "control", None, False, 0.5, 1),
        # z1's blank variation_name is no label: z0's "Control arm" is the latest that is one
        ("exp", "A", "Control arm", True, 0.5, 4),
        ("exp", "B", "Variant B", False, 0.5, 1),
        ("w", "A", None, True, 0.25, 0),
        ("w", "B", None, False, 0.75, 1),
    ]


def test_user_outcomes_at_their_window_edges(built: Settings) -> None:
    got = rows(
        built,
        "select user_key, metric_name, is_mature, y, x from intermediate.int_experiment_user_outcomes "
        "where experiment_id = 'exp' order by user_key, metric_name",
    )
    assert got == [
        ("u1", "conv", True, 1.0, 0.0),  # Project Created exactly 48 h after exposure counts
        ("u1", "orders", True, 1.0, 1.0),  # 10 at the exposure instant; 0 is not revenue > 0; 5 at lookback start
        ("u1", "ret", True, 1.0, 2.0),  # active on day 1 (11th) and 2 (12th); before: the 7th and 9th
        ("u1", "rev", True, 13.0, 5.0),  # 10 + 0 + 3 (ta3) in the window; 5 exactly 3 days before
        ("u1", "tasks", True, 2.0, 1.0),  # ta2 and ta3 (with revenue: counted once), ta1 before
        ("u2", "conv", True, 0.0, 0.0),  # 1 ms past the window
        ("u2", "orders", True, 0.0, 0.0),
        ("u2", "ret", True, 1.0, 0.0),  # active on the 11th, day 2 (exposures and identify are not activity)
        ("u2", "rev", True, 0.0, 0.0),
        ("u2", "tasks", True, 0.0, 0.0),
        ("u4", "conv", False, 0.0, 0.0),  # window ends on the 21st, after data end
        ("u4", "orders", False, 0.0, 0.0),
        ("u4", "ret", False, 0.0, 0.0),
        ("u4", "rev", False, 0.0, 0.0),
        ("u4", "tasks", False, 0.0, 0.0),
        ("u5", "conv", True, 0.0, 0.0),  # exposed and nothing else: zeros
        ("u5", "orders", True, 0.0, 0.0),
        ("u5", "ret", True, 0.0, 0.0),  # 17th + 2 = 19th < 20th
        ("u5", "rev", True, 0.0, 0.0),
        ("u5", "tasks", True, 0.0, 0.0),
        ("u6", "conv", True, 0.0, 0.0),  # window ends exactly at data_end_at: over
        ("u6", "orders", True, 0.0, 0.0),
        ("u6", "ret", False, 0.0, 0.0),  # 18th + 2 = 20th, not before data_end_date
        ("u6", "rev", True, 0.0, 0.0),
        ("u6", "tasks", True, 0.0, 0.0),
    ]


def test_exposures_are_never_activity(built: Settings) -> None:
    # u5 and u6 only ever sent exposures; anon9's exposure is no anonymous visit on the 20th.
    assert rows(built, "select count(*) from intermediate.int_user_days_active where user_key in ('u5', 'u6')") == [
        (0,)
    ]
    assert rows(
        built, "select anonymous_visitors from marts.fct_daily_active_users where activity_date = '2026-03-20'"
    ) == [(0,)]


def test_sufficient_statistics_and_results(built: Settings) -> None:
    stats = rows(
        built,
        "select metric_name, variation_id, users, users_in_progress, nonzero_users, sum_y, sum_y2, sum_x, sum_x2, "
        "sum_xy from intermediate.int_experiment_metric_stats where experiment_id = 'exp' order by 1, 2",
    )
    assert stats == [
        ("conv", "A", 3, 1, 1, 1.0, 1.0, 0.0, 0.0, 0.0),  # u1 u5 u6 mature, u4 in progress
        ("conv", "B", 1, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("orders", "A", 3, 1, 1, 1.0, 1.0, 1.0, 1.0, 1.0),
        ("orders", "B", 1, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("ret", "A", 2, 2, 1, 1.0, 1.0, 2.0, 4.0, 2.0),  # u1 u5 mature; u4 u6 in progress
        ("ret", "B", 1, 0, 1, 1.0, 1.0, 0.0, 0.0, 0.0),
        ("rev", "A", 3, 1, 1, 13.0, 169.0, 5.0, 25.0, 65.0),
        ("rev", "B", 1, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("tasks", "A", 3, 1, 1, 2.0, 4.0, 1.0, 1.0, 2.0),
        ("tasks", "B", 1, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ]
    # w analyses conv only, ctl ret only: the configured metric lists.
    assert rows(
        built,
        "select experiment_id, list(distinct metric_name) from intermediate.int_experiment_metric_stats "
        "where experiment_id in ('w', 'ctl') group by 1 order by 1",
    ) == [("ctl", ["ret"]), ("w", ["conv"])]
    results = rows(
        built,
        "select metric_name, variation_id, is_control, users, users_in_progress, mean, variance, relative_lift, "
        "decision from marts.fct_experiment_results where experiment_id = 'exp' and metric_name = 'conv' "
        "order by variation_id",
    )
    # Control A: y = (1, 0, 0): mean 1/3, sample variance ((2/3)² + 2 (1/3)²) / 2 = 1/3. B has one user:
    # every comparison is null (n_t < 2) and the decision inconclusive.
    assert results == [
        ("conv", "A", True, 3, 1, approx(1 / 3), approx(1 / 3), None, None),
        ("conv", "B", False, 1, 0, 0.0, None, None, "inconclusive"),
    ]
    # ctl: the control Z has no users, so the comparison of 'control' with it is null.
    assert rows(
        built,
        "select variation_id, is_control, users, absolute_lift, relative_lift, seq_ci_low, decision "
        "from marts.fct_experiment_results where experiment_id = 'ctl' order by variation_id",
    ) == [("Z", True, 0, None, None, None, None), ("control", False, 1, None, None, None, "inconclusive")]


@pytest.mark.parametrize(
    ("vars", "message"),
    [
        ({"experiments": {"exp": {"metrics": ["nope"]}}}, "vars.experiments.exp.metrics: unknown metric 'nope'"),
    ],
)
def test_an_ill_formed_configuration_is_a_build_error_naming_it(
    built: Settings, vars: dict[str, Any], message: str
) -> None:
    """One line naming the var and what is wrong with it (each case costs a dbt start: one here)."""
    with pytest.raises(GrowthError) as error:
        run_build(built, vars=vars, select="int_metric_config", quiet=True)
    assert message in str(error.value)
    assert "\n" not in str(error.value).strip()


@pytest.mark.parametrize("mart", ORACLE_MARTS)
def test_the_hand_made_marts_equal_an_independent_oracle(built: Settings, mart: str) -> None:
    """The edge cases above, through tests/_oracle_experiments.py (written from experiments.md alone)."""
    with duckdb.connect(str(built.warehouse), read_only=True) as con:
        assert differences(con, mart, VARS) == []
