"""The experiment engine on hand-made dbt interface tables in a real DuckDB warehouse file.

The intermediate tables are written by hand as the dbt models would produce them; every
value of both marts is checked against arithmetic done here (formulas of experiments.md,
spelled out with ``math``), never against the engine's own functions.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pytest import approx

from tests._experiment_data import ExperimentData, converters, stat, user_sums
from tests._experiment_data import make_warehouse as make_interface_warehouse
from transforms.experiments import build_experiment_results
from warehouse.connection import writing
from warehouse.settings import Settings

ALPHA, SRM_THRESHOLD, TUNING_N, MIN_NONZERO = 0.05, 0.001, 5000, 3
Z_975 = 1.959963984540054

DIM_COLUMNS = [
    ("experiment_id", "VARCHAR"),
    ("experiment_name", "VARCHAR"),
    ("control_id", "VARCHAR"),
    ("variations", "BIGINT"),
    ("first_exposure_date", "DATE"),
    ("last_exposure_date", "DATE"),
    ("users", "BIGINT"),
    ("multiple_exposure_users", "BIGINT"),
    ("unusable_exposures", "BIGINT"),
    ("srm_p_value", "DOUBLE"),
    ("srm_flag", "BOOLEAN"),
    ("is_running", "BOOLEAN"),
]
RESULT_COLUMNS = [
    ("experiment_id", "VARCHAR"),
    ("metric_name", "VARCHAR"),
    ("variation_id", "VARCHAR"),
    ("variation_name", "VARCHAR"),
    ("is_control", "BOOLEAN"),
    ("metric_type", "VARCHAR"),
    ("is_guardrail", "BOOLEAN"),
    ("users", "BIGINT"),
    ("users_in_progress", "BIGINT"),
    *[
        (name, "DOUBLE")
        for name in (
            "mean",
            "variance",
            "cuped_mean",
            "absolute_lift",
            "relative_lift",
            "ci_low",
            "ci_high",
            "p_value",
            "seq_ci_low",
            "seq_ci_high",
            "variance_reduction",
        )
    ],
    ("decision", "VARCHAR"),
]


EXPERIMENTS = [
    ("checkout", "New checkout", date(2026, 5, 1), date(2026, 6, 30), 3, 12, True),
    ("ghost", None, date(2026, 6, 2), date(2026, 6, 3), 0, 4, False),  # only unusable exposures
    ("onboarding", "Guided", date(2026, 6, 1), date(2026, 6, 20), 0, 0, False),
    ("pricing", None, date(2026, 4, 1), date(2026, 6, 29), 1, 0, True),
    ("solo", "One arm", date(2026, 6, 10), date(2026, 6, 11), 0, 0, False),
]
VARIATIONS = [
    ("checkout", "control", "Old", True, 0.5, 10050),
    ("checkout", "fast", "Fast", False, 0.5, 10010),
    # A configured control nobody was assigned to (added with 0 users).
    ("onboarding", "control", None, True, 0.5, 0),
    ("onboarding", "v1", "Guided", False, 0.5, 10),
    ("pricing", "a", None, True, 0.25, 100),
    ("pricing", "b", None, False, 0.5, 160),
    ("pricing", "c", None, False, 0.25, 40),
    ("solo", "only", None, True, 1.0, 7),
]
# The CUPED example of test_experiment_stats: θ = 2, adjusted means 5.5 and 5.5.
CONTROL_REVENUE = user_sums([2, 4, 6, 8], [1, 2, 2, 3])
FAST_REVENUE = user_sums([5, 6, 7, 6], [2, 3, 2, 3])
STATS = [
    stat("checkout", "purchase", "control", converters(10000, 1000), in_progress=50),
    stat("checkout", "purchase", "fast", converters(10000, 1300), in_progress=10),
    stat("checkout", "refunds", "control", converters(10000, 1000), goal="decrease", guardrail=True, in_progress=50),
    stat("checkout", "refunds", "fast", converters(10000, 1300), goal="decrease", guardrail=True, in_progress=10),
    stat("checkout", "revenue", "control", CONTROL_REVENUE, metric_type="revenue", in_progress=10046),
    stat("checkout", "revenue", "fast", FAST_REVENUE, metric_type="revenue", in_progress=10006),
    stat("checkout", "upgrade", "control", converters(40, 5)),
    stat("checkout", "upgrade", "fast", converters(40, 2)),  # 2 < experiment_min_nonzero = 3
    stat("onboarding", "activation", "control", converters(0, 0)),
    stat("onboarding", "activation", "v1", converters(8, 4), in_progress=2),
    stat("pricing", "activation", "a", converters(100, 30)),
    stat("pricing", "activation", "b", converters(160, 60)),
    stat("pricing", "activation", "c", converters(0, 0), in_progress=40),
    stat("solo", "activation", "only", converters(7, 3)),
]


DATA = ExperimentData(EXPERIMENTS, VARIATIONS, STATS, ALPHA, SRM_THRESHOLD, TUNING_N, MIN_NONZERO)


def make_warehouse(path: Path, *, experiments: bool = True) -> Settings:
    return make_interface_warehouse(
        path, DATA if experiments else replace(DATA, experiments=[], variations=[], stats=[])
    )


def read(settings: Settings, table: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        columns = [(row[0], row[1]) for row in con.execute(f"describe {table}").fetchall()]
        return columns, con.execute(f"select * from {table}").fetchall()


def sequential_half_width(variance: float, users: int) -> float:
    """The spec's confidence-sequence half-width, written out once more for the expectations."""
    rho2 = (-2 * math.log(ALPHA) + math.log(-2 * math.log(ALPHA) + 1)) / TUNING_N
    spread = users * rho2 + 1
    return math.sqrt(users * variance) * math.sqrt(2 * spread / (users**2 * rho2) * math.log(math.sqrt(spread) / ALPHA))


def comparison(lift: float, variance: float, users: int) -> tuple[float, ...]:
    """relative_lift, ci_low, ci_high, p_value, seq_ci_low, seq_ci_high for lift and V."""
    half, seq = Z_975 * math.sqrt(variance), sequential_half_width(variance, users)
    p = math.erfc(abs(lift) / math.sqrt(variance) / math.sqrt(2))
    return (lift, lift - half, lift + half, p, lift - seq, lift + seq)


NULL_COMPARISON = (None,) * 6


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_warehouse(tmp_path_factory.mktemp("experiments") / "warehouse.duckdb")
    summary = build_experiment_results(settings)
    assert (summary.experiments, summary.srm_flagged, summary.result_rows, summary.comparisons) == (5, 1, 14, 7)
    return settings


def test_dim_experiments(built: Settings) -> None:
    columns, rows = read(built, "marts.dim_experiments")
    assert columns == DIM_COLUMNS
    # SRM: checkout 10050 / 10010 vs 50/50 of 20060: χ² = 2 · 20² / 10030, 1 df:
    # p = erfc(√(χ²/2)) = 0.78. onboarding 0 / 10 vs 5 / 5: χ² = 10, p = erfc(√5) = 0.0016 (not < 0.001).
    # pricing 100 / 160 / 40 vs 75 / 150 / 75: χ² = 625/75 + 100/150 + 1225/75 = 76/3, 2 df:
    # p = exp(-38/3) = 3.2e-6: flagged. solo has one variation, ghost none: no test.
    p_checkout, p_onboarding, p_pricing = math.erfc(math.sqrt(400 / 10030)), math.erfc(math.sqrt(5)), math.exp(-38 / 3)
    dates = {row[0]: row[2:4] for row in EXPERIMENTS}
    assert rows == [
        ("checkout", "New checkout", "control", 2, *dates["checkout"], 20060, 3, 12, approx(p_checkout), False, True),
        ("ghost", None, None, 0, *dates["ghost"], 0, 0, 4, None, False, False),
        ("onboarding", "Guided", "control", 2, *dates["onboarding"], 10, 0, 0, approx(p_onboarding), False, False),
        ("pricing", None, "a", 3, *dates["pricing"], 300, 1, 0, approx(p_pricing), True, True),
        ("solo", "One arm", "only", 1, *dates["solo"], 7, 0, 0, None, False, False),
    ]


def test_fct_experiment_results(built: Settings) -> None:
    columns, rows = read(built, "marts.fct_experiment_results")
    assert columns == RESULT_COLUMNS
    results = {row[:3]: row[3:] for row in rows}
    assert list(results) == [  # control first within each (experiment, metric)
        ("checkout", "purchase", "control"),
        ("checkout", "purchase", "fast"),
        ("checkout", "refunds", "control"),
        ("checkout", "refunds", "fast"),
        ("checkout", "revenue", "control"),
        ("checkout", "revenue", "fast"),
        ("checkout", "upgrade", "control"),
        ("checkout", "upgrade", "fast"),
        ("onboarding", "activation", "control"),
        ("onboarding", "activation", "v1"),
        ("pricing", "activation", "a"),
        ("pricing", "activation", "b"),
        ("pricing", "activation", "c"),
        ("solo", "activation", "only"),
    ]

    def conversion_variance(users: int, converted: int) -> float:
        # s² = (Σy² - (Σy)²/n) / (n - 1) with y² = y
        return (converted - converted**2 / users) / (users - 1)

    # purchase: ȳ_c = 0.1, ȳ_t = 0.13, no covariate (θ = 0, adjusted = raw), lift 0.3;
    # V = s²_t / (n_t ȳ_c²) + ȳ_t² s²_c / (n_c ȳ_c⁴) = 0.0011311 + 0.0015212 = 0.0026523,
    # √V = 0.0515; sequential half-width at N = 20000 ≈ 0.16: [0.14, 0.46] lies above 0.
    var_c, var_t = conversion_variance(10000, 1000), conversion_variance(10000, 1300)
    v_purchase = var_t / (10000 * 0.1**2) + 0.13**2 * var_c / (10000 * 0.1**4)
    purchase = comparison(0.3, v_purchase, 20000)
    assert purchase[4] > 0
    control_stats = (10000, 50, 0.1, var_c, 0.1)
    assert results["checkout", "purchase", "control"] == pytest.approx(
        ("Old", True, "conversion", False, *control_stats, *(None,) * 9)
    )
    fast_stats = (10000, 10, 0.13, var_t, 0.13)
    assert results["checkout", "purchase", "fast"] == pytest.approx(
        ("Fast", False, "conversion", False, *fast_stats, 0.03, *purchase, 0.0, "win")
    )
    # The same numbers for a metric to decrease (a guardrail): the lift is not negated, a
    # sequential interval above 0 is a loss.
    assert results["checkout", "refunds", "fast"] == pytest.approx(
        ("Fast", False, "conversion", True, *fast_stats, 0.03, *purchase, 0.0, "loss")
    )

    # revenue (CUPED, hand-computed in test_experiment_stats): θ = 2; raw means 5 and 6,
    # variances 20/3 and 2/3; adjusted means 5.5 and 5.5; V = 10/363; reduction 6/11.
    assert results["checkout", "revenue", "control"] == pytest.approx(
        ("Old", True, "revenue", False, 4, 10046, 5.0, 20 / 3, 5.5, *(None,) * 9)
    )
    revenue = comparison(0.0, 10 / 363, 8)
    assert results["checkout", "revenue", "fast"] == pytest.approx(
        ("Fast", False, "revenue", False, 4, 10006, 6.0, 2 / 3, 5.5, 0.0, *revenue, 6 / 11, "inconclusive"),
        abs=1e-12,
    )

    # upgrade: the treatment has 2 users with y ≠ 0 (< 3): no relative lift or interval; the
    # absolute lift 2/40 - 5/40 stays, θ = 0 reduces nothing.
    upgrade_fast = ("Fast", False, "conversion", False, 40, 0, 0.05, conversion_variance(40, 2), 0.05)
    assert results["checkout", "upgrade", "fast"] == pytest.approx(
        (*upgrade_fast, -0.075, *NULL_COMPARISON, 0.0, "inconclusive")
    )

    # onboarding: the configured control has no users: its mean is null, every comparison too.
    assert results["onboarding", "activation", "control"] == (None, True, "conversion", False, 0, 0, *(None,) * 12)
    v1 = ("Guided", False, "conversion", False, 8, 2, 0.5, 4 * 4 / (8 * 7), 0.5)
    assert results["onboarding", "activation", "v1"] == pytest.approx(
        (*v1, None, *NULL_COMPARISON, None, "inconclusive")
    )

    # pricing: sample-ratio mismatch makes every treatment row invalid, even one without users.
    # b against a: 0.375 / 0.3 - 1 = 0.25 with the delta-method V as above; N = 260.
    var_a, var_b = conversion_variance(100, 30), conversion_variance(160, 60)
    v_pricing = var_b / (160 * 0.3**2) + 0.375**2 * var_a / (100 * 0.3**4)
    b = (None, False, "conversion", False, 160, 0, 0.375, var_b, 0.375)
    assert results["pricing", "activation", "b"] == pytest.approx(
        (*b, 0.075, *comparison(0.25, v_pricing, 260), 0.0, "invalid")
    )
    assert results["pricing", "activation", "c"] == (None, False, "conversion", False, 0, 40, *(None,) * 11, "invalid")

    # solo: a control alone still gets its row.
    assert results["solo", "activation", "only"] == pytest.approx(
        (None, True, "conversion", False, 7, 0, 3 / 7, 3 * 4 / (7 * 6), 3 / 7, *(None,) * 9)
    )


def test_no_experiments_gives_empty_marts_with_their_columns(tmp_path: Path) -> None:
    settings = make_warehouse(tmp_path / "warehouse.duckdb", experiments=False)
    summary = build_experiment_results(settings)
    assert (summary.experiments, summary.srm_flagged, summary.result_rows, summary.comparisons) == (0, 0, 0, 0)
    assert read(settings, "marts.dim_experiments") == (DIM_COLUMNS, [])
    assert read(settings, "marts.fct_experiment_results") == (RESULT_COLUMNS, [])


def test_rebuild_replaces_the_marts(tmp_path: Path) -> None:
    settings = make_warehouse(tmp_path / "warehouse.duckdb")
    build_experiment_results(settings)
    first = read(settings, "marts.fct_experiment_results")
    with writing(settings) as con:  # a stricter threshold at the next build
        con.execute("update intermediate.int_metric_config set srm_p_threshold = 0.01")
    build_experiment_results(settings)
    _, dims = read(settings, "marts.dim_experiments")
    assert [row[10] for row in dims] == [False, False, True, True, False]  # onboarding p = 0.0016 < 0.01
    _, rows = read(settings, "marts.fct_experiment_results")
    assert len(rows) == len(first[1])
    assert [row[-1] for row in rows if row[:3] == ("onboarding", "activation", "v1")] == ["invalid"]
