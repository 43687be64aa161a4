"""The simulator's planted truths come out of the whole pipeline as planted (docs/simulator.md).

Simulated users go through the ingester's validation and writer, real dbt builds and the
experiment engine: one warehouse of 6,000 users over 75 days (one seed, so every test is
deterministic), ingested and built as the pipeline meets it, in four steps of days, each
build incremental on the one before. Every contract mart equals a full refresh of it, and
every mart equals an independent oracle written from its contract page alone.

Experiments: the onboarding checklist multiplies the probability of activating by 1.3 (a
relative lift of +30%), the A/A test has no effect and an even split, and search_ranking
loses 40% of its treatment users' exposures, a sample-ratio mismatch.

Segments: the platform mix, the share of users without an account and the features whose
early use goes with week-4 retention (Automation Created strongly, Dashboard Shared
moderately) or not at all (Theme Changed, a coin flip for every user: a true null).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from datetime import date
from typing import Any

import duckdb
import pytest

from devkit.simulator.experiments import AA_CHECK, ONBOARDING, SEARCH_RANKING
from devkit.simulator.properties import AUTOMATIONS, NO_ACCOUNT_SHARE, PLATFORMS, SHARING, THEMES
from orchestration.build import CONTRACT_MARTS, run_build
from orchestration.pipeline import run_experiment_results
from tests._marts import assert_same_mart
from tests._oracle_core import MARTS as CORE_MARTS
from tests._oracle_core import Oracle as CoreOracle
from tests._oracle_core import differences as core_differences
from tests._oracle_experiments import MARTS as EXPERIMENT_MARTS
from tests._oracle_experiments import differences as experiment_differences
from tests._oracle_revenue import MARTS as REVENUE_MARTS
from tests._oracle_revenue import differences as revenue_differences
from tests._oracle_segments import MARTS as SEGMENT_MARTS
from tests._oracle_segments import build_oracle
from tests._oracle_segments import differences as segment_differences
from tests._predictive_ltv_data import simulated_warehouse
from warehouse.settings import Settings

TRUE_ACTIVATION_LIFT = ONBOARDING.variations[1].activation_factor - 1  # +30%
# The days through which events arrive before each incremental build (then the rest, to 06-30).
BUILT_THROUGH = (date(2026, 5, 31), date(2026, 6, 15), date(2026, 6, 24))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = simulated_warehouse(
        tmp_path_factory.mktemp("experiments_e2e"),
        users=6000,
        days=75,
        seed=21,
        end_date=date(2026, 6, 30),
        built_through=BUILT_THROUGH,
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


def binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def expected_platform(device: str | None, os_names: tuple[str, ...]) -> str:
    """segments.md's platform for a simulated user: the device type ("Mobile" is mobile), else
    the OS name (only one OS for OS-only users), else web (web-only users view pages)."""
    if device:
        return device
    return os_names[0].lower() if os_names else "web"


def test_the_platform_mix_is_the_planted_one(simulated: Settings) -> None:
    shares = dict(rows(simulated, "select platform, count(*) / sum(count(*)) over () from marts.dim_users group by 1"))
    [(users,)] = rows(simulated, "select count(*) from marts.dim_users")
    planted = {expected_platform(device, os_names): share for device, os_names, share in PLATFORMS}
    assert set(shares) == set(planted)
    for platform, share in planted.items():
        assert abs(shares[platform] - share) < 4 * binomial_se(share, users), platform


def test_a_planted_share_of_users_has_no_account(simulated: Settings) -> None:
    [(share, users)] = rows(
        simulated, "select avg(case when account_id is null then 1.0 else 0 end), count(*) from marts.dim_users"
    )
    assert abs(share - NO_ACCOUNT_SHARE) < 4 * binomial_se(NO_ACCOUNT_SHARE, users)
    # Every user with an account is counted in exactly one dim_accounts row.
    assert rows(simulated, "select sum(users) from marts.dim_accounts") == rows(
        simulated, "select count(*) from marts.dim_users where account_id is not null"
    )


def retention_difference(settings: Settings, feature: str) -> tuple[float, float]:
    """The feature's week-4 retention difference and its standard error (two independent proportions)."""
    [(adopters, others, p_adopters, p_others, difference)] = rows(
        settings,
        "select adopters, non_adopters, adopter_week_4_retention, non_adopter_week_4_retention, retention_difference "
        "from marts.fct_feature_retention where feature = ?",
        feature,
    )
    return difference, math.hypot(binomial_se(p_adopters, adopters), binomial_se(p_others, others))


def test_features_go_with_retention_as_planted(simulated: Settings) -> None:
    automations, automations_se = retention_difference(simulated, AUTOMATIONS.event)
    sharing, sharing_se = retention_difference(simulated, SHARING.event)
    themes, themes_se = retention_difference(simulated, THEMES.event)
    # Theme Changed is a coin flip for every user: its true difference is 0.
    assert abs(themes) < 4 * themes_se
    # The two retaining features: clearly positive, the strong one stronger, each near the
    # simulator's documented figure (+0.36 and +0.20 on 20,000 users).
    assert automations > 4 * automations_se and sharing > 4 * sharing_se and automations > sharing
    assert abs(automations - 0.36) < 4 * automations_se and abs(sharing - 0.20) < 4 * sharing_se


def test_the_last_step_built_incrementally(simulated: Settings) -> None:
    """Otherwise the comparison below would set a full refresh against another."""
    runs = rows(
        simulated, "select model, arg_max(is_full, run_at) from intermediate.incremental_runs group by model order by 1"
    )
    assert len(runs) >= 10 and not [model for model, is_full in runs if is_full]


@pytest.fixture(scope="module")
def full_refresh(simulated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    copy = Settings(warehouse=tmp_path_factory.mktemp("full_refresh") / "warehouse.duckdb")
    shutil.copy(simulated.warehouse, copy.warehouse)
    run_build(copy, full_refresh=True, quiet=True)
    return copy


@pytest.mark.parametrize("mart", CONTRACT_MARTS)
def test_the_builds_day_by_day_equal_a_full_refresh(simulated: Settings, full_refresh: Settings, mart: str) -> None:
    """metrics.md "Rebuilds" on a realistic history: users who come back, sign up after
    anonymous visits, change plans and accounts, buy and cancel across the steps."""
    assert_same_mart(
        full_refresh.warehouse, simulated.warehouse, mart, names=("the full refresh", "the builds day by day")
    )


# The marts of metrics.md, segments.md, revenue.md and experiments.md, row by row and column
# by column, against oracles written from those pages alone (tests/_oracle_*.py): they
# re-derive every definition from the events' payloads and share no SQL or Python with the
# product. The core one reads nothing but the raw tables and the vars (de-duplication and
# identity stitching included); the others take identity from int_events_attributed, which
# the core's oracle vouches for through every mart built on it.


Check = Callable[[duckdb.DuckDBPyConnection, str], list[str]]
ORACLE_MARTS = [
    *(("metrics.md", mart) for mart in CORE_MARTS),
    *(("segments.md", mart) for mart in SEGMENT_MARTS),
    *(("revenue.md", mart) for mart in REVENUE_MARTS),
    *(("experiments.md", mart) for mart in EXPERIMENT_MARTS),
]


@pytest.fixture(scope="module")
def oracles(simulated: Settings) -> dict[str, Check]:
    """Each page's comparison; the two oracles that derive everything up front, once."""
    with duckdb.connect(str(simulated.warehouse), read_only=True) as con:
        core, segments = CoreOracle(con), build_oracle(con)
    return {
        "metrics.md": lambda con, mart: core_differences(con, mart, core),
        "segments.md": lambda con, mart: segment_differences(con, mart, segments),
        "revenue.md": revenue_differences,
        "experiments.md": experiment_differences,
    }


@pytest.mark.parametrize(("page", "mart"), ORACLE_MARTS)
def test_every_mart_equals_an_independent_oracle_of_its_page(
    simulated: Settings, oracles: dict[str, Check], page: str, mart: str
) -> None:
    with duckdb.connect(str(simulated.warehouse), read_only=True) as con:
        assert oracles[page](con, mart) == []
