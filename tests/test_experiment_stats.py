"""The experiment statistics of experiments.md "Statistics", on sufficient statistics only.

Part 1 checks every formula and null rule against arithmetic done by hand (written out in
the comments). Part 2 checks the statistical behaviour the formulas promise by seeded
simulation: numpy draws each simulated experiment's sums directly (no warehouse), thousands
of experiments per call, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from transforms.experiments.stats import (
    Comparison,
    Moments,
    compare,
    covariance,
    cuped_mean,
    cuped_theta,
    cuped_variance,
    decide,
    fixed_interval,
    relative_lift_variance,
    sequential_half_width,
    srm_p_value,
    variance_reduction,
)

ALPHA = 0.05
TUNING_N = 5000
MIN_NONZERO = 5
Z_975 = 1.959963984540054  # the 0.975 normal quantile


def moments(y: Sequence[float], x: Sequence[float] | None = None) -> Moments:
    """The sums SQL would produce for users with these values (x = 0 without a covariate)."""
    ys = np.asarray(y, dtype=float)
    xs = np.zeros_like(ys) if x is None else np.asarray(x, dtype=float)
    return Moments(
        *(np.asarray(v) for v in (len(ys), ys.sum(), (ys**2).sum(), xs.sum(), (xs**2).sum(), (xs * ys).sum()))
    )


def pool(*arms: Moments) -> Moments:
    """Every variation's sums added up, as the engine's window sums do."""
    return Moments(*(np.sum([getattr(arm, f) for arm in arms], axis=0) for f in Moments.__dataclass_fields__))


def conversions(users: npt.ArrayLike, converted: npt.ArrayLike) -> Moments:
    """Sums of a 0/1 metric without covariate: y² = y, so the count of converters is enough."""
    n, c, zero = (np.asarray(v, dtype=float) for v in (users, converted, np.zeros(np.shape(converted))))
    return Moments(*np.broadcast_arrays(n, c, c, zero, zero, zero))


def run(
    treatment: Moments, control: Moments, *, nonzero: tuple[float, float] = (10**9, 10**9), **kw: float
) -> Comparison:
    """Two-arm comparison with the default vars; nonzero counts default to 'plenty'."""
    settings = {"alpha": ALPHA, "tuning_n": TUNING_N, "min_nonzero": MIN_NONZERO, **kw}
    return compare(treatment, control, pool(treatment, control), nonzero_t=nonzero[0], nonzero_c=nonzero[1], **settings)


# --- 1. every rule by hand -------------------------------------------------------------------


def test_sample_variance_and_covariance_from_sums() -> None:
    # y = 2, 4, 6, 8: Σy = 20, Σy² = 120 -> s² = (120 - 400/4) / 3 = 20/3
    # x = 1, 2, 2, 3: Σx = 8, Σxy = 2 + 8 + 12 + 24 = 46 -> cov = (46 - 8·20/4) / 3 = 2
    assert covariance(4, 20, 20, 120) == pytest.approx(20 / 3)
    assert covariance(4, 8, 20, 46) == pytest.approx(2)
    assert np.isnan(covariance(1, 5, 5, 25))  # n - 1 = 0: undefined, never a division by 0


# Control  y = 2, 4, 6, 8   x = 1, 2, 2, 3
# Treatment y = 5, 6, 7, 6   x = 2, 3, 2, 3
CONTROL = moments([2, 4, 6, 8], [1, 2, 2, 3])
TREATMENT = moments([5, 6, 7, 6], [2, 3, 2, 3])


def test_cuped_by_hand() -> None:
    # Pooled over the 8 users: Σx = 8 + 10 = 18, x̄_pooled = 2.25, Σy = 20 + 24 = 44,
    # Σx² = 18 + 26 = 44, Σxy = 46 + (10 + 18 + 14 + 18 = 60) = 106.
    # var(x) = (44 - 18²/8) / 7 = 3.5/7 = 0.5; cov(x, y) = (106 - 18·44/8) / 7 = 7/7 = 1
    # θ = 1 / 0.5 = 2
    pooled = pool(TREATMENT, CONTROL)
    theta = cuped_theta(pooled)
    assert theta == pytest.approx(2)
    # ȳ'_c = 5 - 2 (2 - 2.25) = 5.5; ȳ'_t = 6 - 2 (2.5 - 2.25) = 5.5: the treatment's raw lead of
    # 1 came entirely from its higher pre-exposure x.
    assert cuped_mean(CONTROL, theta, pooled.mean_x) == pytest.approx(5.5)
    assert cuped_mean(TREATMENT, theta, pooled.mean_x) == pytest.approx(5.5)
    # Control: s²_y = 20/3, s²_x = (18 - 64/4)/3 = 2/3, cov = 2 -> s'² = 20/3 + 4·2/3 - 2·2·2 = 4/3
    # Treatment: s²_y = (146 - 576/4)/3 = 2/3, s²_x = (26 - 100/4)/3 = 1/3,
    #            cov = (60 - 10·24/4)/3 = 0 -> s'² = 2/3 + 4·1/3 - 0 = 2
    assert cuped_variance(CONTROL, theta) == pytest.approx(4 / 3)
    assert cuped_variance(TREATMENT, theta) == pytest.approx(2)
    # 1 - (4/3/4 + 2/4) / (20/3/4 + 2/3/4) = 1 - (5/6) / (11/6) = 6/11
    assert variance_reduction(TREATMENT, CONTROL, theta) == pytest.approx(6 / 11)

    result = run(TREATMENT, CONTROL, min_nonzero=0)
    assert (result.cuped_mean_t, result.cuped_mean_c, result.absolute_lift) == pytest.approx((5.5, 5.5, 0))
    assert result.relative_lift == pytest.approx(0, abs=1e-12)
    # V = 2 / (4 · 5.5²) + 5.5² · (4/3) / (4 · 5.5⁴) = 2/121 + 4/363 = 10/363
    half = Z_975 * math.sqrt(10 / 363)
    assert (result.ci_low, result.ci_high) == pytest.approx((-half, half))
    assert result.p_value == pytest.approx(1)


def test_cuped_theta_is_zero_without_covariate_information() -> None:
    constant_x = pool(moments([1, 2, 3], [4, 4, 4]), moments([2, 5], [4, 4]))
    assert cuped_theta(constant_x) == 0  # var(x) = 0
    assert cuped_theta(moments([3], [1])) == 0  # fewer than 2 users


def test_relative_lift_delta_method_fixed_interval_and_p_value() -> None:
    # ȳ_t = 11, s²_t = 4, n_t = 100; ȳ_c = 10, s²_c = 9, n_c = 100
    # V = 4 / (100 · 10²) + 11² · 9 / (100 · 10⁴) = 0.0004 + 0.001089 = 0.001489
    variance = relative_lift_variance(*(np.asarray(v, dtype=float) for v in (11, 4, 100, 10, 9, 100)))
    assert variance == pytest.approx(0.001489)
    # √V = 0.0385876; lift = 11/10 - 1 = 0.1; half-width = 1.959964 · 0.0385876 = 0.0756302
    # z = 0.1 / 0.0385876 = 2.591509; two-sided p = erfc(z / √2) = 0.0095556
    low, high, p = fixed_interval(np.asarray(0.1), variance, ALPHA)
    assert (low, high) == pytest.approx((0.1 - 0.0756302, 0.1 + 0.0756302), abs=1e-7)
    assert p == pytest.approx(math.erfc(0.1 / math.sqrt(0.001489) / math.sqrt(2)))
    assert p == pytest.approx(0.0095556, rel=1e-4)


def test_sequential_half_width_worked_example() -> None:
    # alpha = 0.05, tuning n = 5000, V = 0.001489, N = 200:
    # -2 ln 0.05 = 5.991465; ln(5.991465 + 1) = 1.944690; rho² = 7.936155 / 5000 = 0.00158723
    # N rho² = 0.317446; sigma² = N V = 0.2978
    # 2 (N rho² + 1) / (N² rho²) = 2.634892 / 63.48924 = 0.0415014
    # ln(√1.317446 / 0.05) = ln(22.95600) = 3.133580
    # half-width = √0.2978 · √(0.0415014 · 3.133580) = 0.545711 · 0.360622 = 0.196795
    width = sequential_half_width(np.asarray(0.001489), np.asarray(200.0), ALPHA, TUNING_N)
    assert width == pytest.approx(0.196795, rel=1e-5)
    # Wider than the fixed interval's 0.0756: the price of being valid at every look.
    assert width > Z_975 * math.sqrt(0.001489)


def test_srm_chi_square() -> None:
    # 510 / 490 against 50/50: χ² = 10²/500 + 10²/500 = 0.4, 1 df: p = erfc(√(0.4/2))
    assert srm_p_value([510, 490], [0.5, 0.5]) == pytest.approx(math.erfc(math.sqrt(0.2)))
    # 120 / 240 / 140 against 0.2 / 0.5 / 0.3 of 500 (100 / 250 / 150):
    # χ² = 400/100 + 100/250 + 100/150 = 5.066667, 2 df: p = exp(-χ²/2) = 0.0793939
    assert srm_p_value([120, 240, 140], [0.2, 0.5, 0.3]) == pytest.approx(math.exp(-(4 + 0.4 + 100 / 150) / 2))
    assert srm_p_value([100, 250, 150], [2, 5, 3]) == pytest.approx(1)  # weights are normalised
    # 52/48 of 20,000: χ² = 400²/10⁴ · 2 = 32, p = erfc(√16) = 1.54e-8 < 0.001; 50/50: p = 1
    assert srm_p_value([10400, 9600], [0.5, 0.5]) == pytest.approx(math.erfc(4))
    assert math.erfc(4) < 0.001
    assert srm_p_value([10000, 10000], [0.5, 0.5]) == pytest.approx(1)
    assert np.isnan(srm_p_value([500], [1.0]))  # k < 2
    assert np.isnan(srm_p_value([0, 0], [0.5, 0.5]))  # no users


@pytest.mark.parametrize(
    ("low", "high", "goal", "srm_flag", "expected"),
    [
        (0.01, 0.2, "increase", False, "win"),
        (-0.2, -0.01, "increase", False, "loss"),
        (-0.1, 0.1, "increase", False, "inconclusive"),
        (-0.2, -0.01, "decrease", False, "win"),
        (0.01, 0.2, "decrease", False, "loss"),
        (-0.1, 0.1, "decrease", False, "inconclusive"),
        (math.nan, math.nan, "increase", False, "inconclusive"),  # no interval
        (0.01, 0.2, "increase", True, "invalid"),
        (math.nan, math.nan, "decrease", True, "invalid"),
    ],
)
def test_decision(low: float, high: float, goal: str, srm_flag: bool, expected: str) -> None:
    assert decide(np.asarray(low), np.asarray(high), goal == "increase", srm_flag) == expected


def test_decision_reads_the_sequential_interval() -> None:
    # Close to the hand example above (lift 0.1, N = 200): the fixed interval, about
    # [0.024, 0.176], excludes 0, the sequential one (about ± 0.2) does not: no win yet.
    treatment = moments([11 + 2, 11 - 2] * 50)  # ȳ = 11, s² = 4·100/99
    control = moments([10 + 3, 10 - 3] * 50)  # ȳ = 10, s² = 9·100/99
    result = run(treatment, control)
    assert result.ci_low > 0 and result.seq_ci_low < 0 < result.seq_ci_high
    assert decide(result.seq_ci_low, result.seq_ci_high, True, False) == "inconclusive"


def _comparison_nulls(result: Comparison) -> list[bool]:
    columns = ("relative_lift", "ci_low", "ci_high", "p_value", "seq_ci_low", "seq_ci_high")
    return [bool(np.isnan(getattr(result, c))) for c in columns]


VARIED = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    ("treatment", "control", "nonzero"),
    [
        pytest.param(moments([3.0]), moments(VARIED), (10, 10), id="treatment n < 2"),
        pytest.param(moments(VARIED), moments([3.0]), (10, 10), id="control n < 2"),
        pytest.param(moments(VARIED), moments([-1.0, 1.0, -2.0, 2.0]), (10, 10), id="control mean = 0"),
        pytest.param(moments(VARIED), moments([-3.0, 1.0, -2.0, 2.0]), (10, 10), id="control mean < 0"),
        pytest.param(moments([1.0] * 6), moments([1.0] * 8), (10, 10), id="V = 0: everyone converted"),
        pytest.param(moments([0.1] * 7), moments([0.1] * 3), (10, 10), id="V = 0 within 1e-12"),
        pytest.param(moments(VARIED), moments(VARIED), (4, 10), id="treatment below min_nonzero"),
        pytest.param(moments(VARIED), moments(VARIED), (10, 4), id="control below min_nonzero"),
    ],
)
def test_null_rules(treatment: Moments, control: Moments, nonzero: tuple[int, int]) -> None:
    result = run(treatment, control, nonzero=nonzero)
    assert _comparison_nulls(result) == [True] * 6
    assert not np.isnan(result.absolute_lift)  # defined as long as both arms have users


def test_relative_zero_rule_is_what_nulls_constant_decimals() -> None:
    # Σy² - (Σy)²/n of seven 0.1s is 1.4e-17 in floating point, not 0: only the relative rule
    # (|value| ≤ 1e-12 · its magnitude, here 0.07) makes the variance 0.
    ys = [0.1] * 7
    assert sum(v * v for v in ys) - sum(ys) ** 2 / 7 != 0
    assert moments(ys).var_y == 0


def test_adjusted_control_mean_at_or_below_zero_is_null() -> None:
    # The treatment (y = x over a wide range) makes the pooled θ ≈ 1; the control's x̄ (21.5)
    # lies 3.25 above the pooled x̄ (18.25) while its ȳ is only 1.5, so ȳ'_c < 0 < ȳ_c.
    treatment = moments([0, 10, 20, 30], [0, 10, 20, 30])
    control = moments([1, 2, 1, 2], [20, 21, 22, 23])
    result = run(treatment, control, min_nonzero=0)
    assert control.mean_y > 0 and result.cuped_mean_c <= 0
    assert _comparison_nulls(result) == [True] * 6


def test_enough_nonzero_users_gives_an_interval() -> None:
    result = run(moments(VARIED), moments(VARIED), nonzero=(MIN_NONZERO, MIN_NONZERO))
    assert _comparison_nulls(result) == [False] * 6


def test_absolute_lift_is_null_for_an_empty_arm() -> None:
    empty = Moments(*(np.asarray(0.0) for _ in range(6)))
    result = run(moments(VARIED), empty)
    assert np.isnan(result.absolute_lift) and np.isnan(result.cuped_mean_c)
    assert np.isnan(result.variance_reduction)


# --- 2. statistical behaviour by simulation --------------------------------------------------


def _excludes_zero(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return (low > 0) | (high < 0)


def test_aa_fixed_interval_false_positive_rate() -> None:
    rng = np.random.default_rng(20240601)
    reps, n, p = 4000, 5000, 0.1
    result = run(conversions(n, rng.binomial(n, p, reps)), conversions(n, rng.binomial(n, p, reps)))
    rate = _excludes_zero(result.ci_low, result.ci_high).mean()
    # alpha = 5%; 4000 replications give a binomial SE of 0.34 points, so 3-7% is ±6 SE.
    assert 0.03 <= rate <= 0.07, rate


def test_daily_peeking_inflates_the_fixed_interval_but_not_the_sequential_one() -> None:
    rng = np.random.default_rng(7)
    reps, days, per_day, p = 2000, 30, 300, 0.1
    # Cumulative users and conversions per arm after each day, shape (reps, days).
    users = per_day * np.arange(1, days + 1)
    arms = [conversions(users, rng.binomial(per_day, p, (reps, days)).cumsum(axis=1)) for _ in range(2)]
    result = run(*arms)
    fixed_ever = _excludes_zero(result.ci_low, result.ci_high).any(axis=1).mean()
    sequential_ever = _excludes_zero(result.seq_ci_low, result.seq_ci_high).any(axis=1).mean()
    # Stopping at the first day the fixed interval excludes 0 makes a false winner far more
    # often than alpha; the confidence sequence bounds the rate over all 30 looks by alpha.
    assert fixed_ever > 2 * ALPHA, fixed_ever
    assert sequential_ever <= ALPHA, sequential_ever


def test_fixed_interval_covers_a_planted_relative_lift() -> None:
    rng = np.random.default_rng(11)
    reps, n, p_c, p_t = 4000, 10000, 0.10, 0.11  # true relative lift 0.11 / 0.10 - 1 = 10%
    result = run(conversions(n, rng.binomial(n, p_t, reps)), conversions(n, rng.binomial(n, p_c, reps)))
    truth = p_t / p_c - 1
    coverage = ((result.ci_low <= truth) & (truth <= result.ci_high)).mean()
    assert 0.93 <= coverage <= 0.97, coverage
    assert ((result.seq_ci_low <= truth) & (truth <= result.seq_ci_high)).mean() >= 0.95


def _covariate_arm(rng: np.random.Generator, reps: int, n: int, rho: float, effect: float) -> tuple[Moments, Moments]:
    """Sums of a metric y ~ 10 + effect + 3 z and a pre-exposure x ~ 5 + 2 (rho z + √(1 - rho²) w).

    Returns the arm's sums with x and the same sums with x blanked (no CUPED), per replication.
    """
    z, w = rng.standard_normal((2, reps, n))
    y = 10 + effect + 3 * z
    x = 5 + 2 * (rho * z + math.sqrt(1 - rho**2) * w)
    blank = np.zeros(reps)
    sums_y = (np.full(reps, float(n)), y.sum(axis=1), (y**2).sum(axis=1))
    with_x = Moments(*sums_y, x.sum(axis=1), (x**2).sum(axis=1), (x * y).sum(axis=1))
    return with_x, Moments(*sums_y, blank, blank, blank)


def test_cuped_reduces_variance_by_rho_squared_without_bias() -> None:
    rng = np.random.default_rng(3)
    reps, n, rho, effect = 400, 2000, 0.7, 0.5  # true relative lift 0.5 / 10 = 5%
    treatment, treatment_raw = _covariate_arm(rng, reps, n, rho, effect)
    control, control_raw = _covariate_arm(rng, reps, n, rho, 0.0)
    adjusted, raw = run(treatment, control), run(treatment_raw, control_raw)

    # variance_reduction estimates rho² = 0.49. Its sampling SD per replication is about
    # 2 rho (1 - rho²) / √(2n) = 0.011 (delta method for the squared sample correlation), so
    # the mean of 400 has an SD of 0.0006, and its bias is O(1/n), about 1e-4: a tolerance of
    # 0.005 is 8 SE wide, yet a wrong adjusted variance (dropping the cross term makes the
    # reduction negative) cannot pass.
    assert adjusted.variance_reduction.mean() == pytest.approx(rho**2, abs=0.005)
    # Unbiased: the mean error of the adjusted lift is within 3 SE of its Monte Carlo mean.
    error = adjusted.relative_lift - effect / 10
    assert abs(error.mean()) < 3 * error.std() / math.sqrt(reps)
    # The delta-method SE matches the estimates' real spread (±10%), which is √(1 - rho²) = 0.71
    # of the unadjusted spread: the narrower interval is earned, not assumed.
    se = (adjusted.ci_high - adjusted.ci_low).mean() / (2 * Z_975)
    assert se == pytest.approx(adjusted.relative_lift.std(), rel=0.1)
    assert adjusted.relative_lift.std() / raw.relative_lift.std() == pytest.approx(math.sqrt(1 - rho**2), rel=0.1)


def test_srm_flags_a_52_48_split_of_20000_users() -> None:
    rng = np.random.default_rng(5)
    reps, users = 4000, 20000

    def flag_rate(share: float) -> float:
        first = rng.binomial(users, share, reps)
        p = srm_p_value(np.stack([first, users - first], axis=1), [0.5, 0.5])
        return float((p < 0.001).mean())

    # 52/48: noncentral χ² (1 df, noncentrality 400²/10⁴ · 2 = 32) exceeds the 0.001 critical
    # value 10.83 with probability 99.1%; 50/50 flags 0.1% by construction. 4000 replications
    # give SEs of 0.15 and 0.05 points: the bounds sit 7 SE from the expected rates.
    assert flag_rate(0.52) >= 0.98
    assert flag_rate(0.50) <= 0.005
