"""The simulator's experiments come out of the whole pipeline as planted (docs/simulator.md).

Simulated users go through the ingester's validation and writer, a real dbt build and the
experiment engine. The truths are the simulator's constants: the onboarding checklist
multiplies the probability of activating by 1.3 (a relative lift of +30%), the A/A test has
no effect and an even split, and search_ranking loses 40% of its treatment users'
exposures, a sample-ratio mismatch. One seed, so the test is deterministic.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pytest

from devkit.simulator.experiments import AA_CHECK, ONBOARDING, SEARCH_RANKING
from orchestration.pipeline import run_experiment_results
from tests._predictive_ltv_data import simulated_warehouse
from warehouse.settings import Settings

TRUE_ACTIVATION_LIFT = ONBOARDING.variations[1].activation_factor - 1  # +30%


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = simulated_warehouse(
        tmp_path_factory.mktemp("experiments_e2e"), users=6000, days=75, seed=21, end_date=date(2026, 6, 30)
    )
    run_experiment_results(settings)
    return settings


def rows(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_the_onboarding_effect_is_recovered_within_both_intervals_and_decided_a_win(simulated: Settings) -> None:
    """Both intervals hold the planted +30%; the always-valid one, wider, decides a win.

    Each simulated population realises the planted factor with sampling noise (with this seed
    the treated users activate 1.35 times as often as the control, counted from the raw
    events); that the fixed interval covers the truth in 95% of replications is tested in
    test_experiment_stats.
    """
    [(lift, low, high, seq_low, seq_high, decision)] = rows(
        simulated,
        "select relative_lift, ci_low, ci_high, seq_ci_low, seq_ci_high, decision from marts.fct_experiment_results "
        "where experiment_id = ? and metric_name = 'activation' and not is_control",
        ONBOARDING.id,
    )
    assert low < TRUE_ACTIVATION_LIFT < high and seq_low < TRUE_ACTIVATION_LIFT < seq_high
    assert decision == "win" and 0 < seq_low < low < lift < high < seq_high


def test_the_aa_test_is_inconclusive_everywhere_and_its_split_is_sound(simulated: Settings) -> None:
    assert rows(
        simulated,
        "select distinct decision from marts.fct_experiment_results where experiment_id = ? and not is_control",
        AA_CHECK.id,
    ) == [("inconclusive",)]
    [(srm_flag,)] = rows(simulated, "select srm_flag from marts.dim_experiments where experiment_id = ?", AA_CHECK.id)
    assert srm_flag is False


def test_the_broken_split_is_flagged_and_every_result_invalid(simulated: Settings) -> None:
    [(p_value, flag, users)] = rows(
        simulated,
        "select srm_p_value, srm_flag, users from marts.dim_experiments where experiment_id = ?",
        SEARCH_RANKING.id,
    )
    assert flag is True and p_value < 0.001 and users > 1000
    assert rows(
        simulated,
        "select distinct decision from marts.fct_experiment_results where experiment_id = ? and not is_control",
        SEARCH_RANKING.id,
    ) == [("invalid",)]


def test_the_planted_tracking_faults_are_counted_not_analysed(simulated: Settings) -> None:
    # 1% of exposures are followed by a broken call without a usable variation id; a share of
    # onboarding users is later shown the other variation once.
    [(unusable, multiple)] = rows(
        simulated,
        "select unusable_exposures, multiple_exposure_users from marts.dim_experiments where experiment_id = ?",
        ONBOARDING.id,
    )
    assert unusable > 0 and multiple > 0
    assert rows(
        simulated,
        "select count(*) from marts.fct_experiment_assignments where is_multiple_exposure and variation_id is not null",
    ) == [(0,)]
