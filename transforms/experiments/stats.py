"""Experiment statistics on per-variation sufficient statistics (experiments.md "Statistics").

SQL reduces every user of a variation to six sums (``n``, Σy, Σy², Σx, Σx², Σxy, with ``y``
the metric and ``x`` its pre-exposure covariate); the functions here turn those sums into
CUPED-adjusted lifts, fixed-horizon and always-valid intervals, the sample-ratio-mismatch
test and the decision, as GrowthBook's gbstats engine does. Nothing here needs the users
themselves, so a warehouse of any size yields a few numbers per variation.

Every function works element-wise on numpy arrays (scalars are 0-d arrays): the engine
evaluates all (experiment, metric, variation) rows at once, and the tests simulate thousands
of experiments, or one experiment peeked at every day, in one call. An undefined value is
NaN here; the engine writes it as null (metrics.md "Numbers": never NaN in a mart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2, norm

FloatArray = npt.NDArray[np.float64]
# A difference within this fraction of the magnitudes it is computed from is rounding, not
# signal: Σy² - (Σy)²/n of identical values like 0.1 leaves ~1e-17 relative, never exactly 0.
RELATIVE_ZERO = 1e-12


def _divide(numerator: npt.ArrayLike, denominator: npt.ArrayLike) -> FloatArray:
    """``numerator / denominator``, NaN where the denominator is 0 (a ratio over 0 is null)."""
    num, den = np.broadcast_arrays(np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float))
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den != 0)


def _snap_to_zero(value: FloatArray, magnitude: FloatArray) -> FloatArray:
    """``value`` with 0 where it lies within RELATIVE_ZERO of zero relative to ``magnitude``.

    Differences of large sums cancel catastrophically: a metric with no variance comes out as
    ±1e-17 instead of 0 and would otherwise look like an infinitely precise estimate.
    """
    return np.where(np.abs(value) <= RELATIVE_ZERO * magnitude, 0.0, value)


def covariance(n: npt.ArrayLike, sum_a: npt.ArrayLike, sum_b: npt.ArrayLike, sum_ab: npt.ArrayLike) -> FloatArray:
    """Sample covariance from sums: ``(Σab - Σa·Σb/n) / (n - 1)``; NaN when ``n < 2``.

    The textbook one-pass formula, which is what sufficient statistics allow; with
    ``a = b`` it is the sample variance ``s² = (Σa² - (Σa)²/n) / (n - 1)``.
    """
    count, products = np.asarray(n, dtype=float), np.asarray(sum_ab, dtype=float)
    correction = _divide(np.multiply(sum_a, sum_b), count)
    scatter = _snap_to_zero(products - correction, np.maximum(np.abs(products), np.abs(correction)))
    return np.where(count >= 2, _divide(scatter, count - 1), np.nan)


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of the users that count in one variation (or arrays of them)."""

    n: FloatArray
    sum_y: FloatArray
    sum_y2: FloatArray
    sum_x: FloatArray
    sum_x2: FloatArray
    sum_xy: FloatArray

    @property
    def mean_y(self) -> FloatArray:
        return _divide(self.sum_y, self.n)

    @property
    def mean_x(self) -> FloatArray:
        return _divide(self.sum_x, self.n)

    @property
    def var_y(self) -> FloatArray:
        return covariance(self.n, self.sum_y, self.sum_y, self.sum_y2)

    @property
    def var_x(self) -> FloatArray:
        return covariance(self.n, self.sum_x, self.sum_x, self.sum_x2)

    @property
    def cov_xy(self) -> FloatArray:
        return covariance(self.n, self.sum_x, self.sum_y, self.sum_xy)


def cuped_theta(pooled: Moments) -> FloatArray:
    """CUPED coefficient ``θ = cov(x, y) / var(x)`` over the pooled users.

    Deng et al. 2013, "Improving the Sensitivity of Online Controlled Experiments by
    Utilizing Pre-Experiment Data": regressing y on a pre-exposure covariate removes the part
    of its variance the covariate explains without biasing the difference of means.

    Pooling every variation gives every arm the same θ, estimated on the largest sample; the
    adjustment ``θ (x̄_v - x̄_pooled)`` then has expectation 0 under randomisation (x is
    measured before exposure), so it removes noise without shifting the lift. ``θ = 0`` (no
    adjustment) when ``var(x) = 0`` or fewer than 2 users: the covariate then says nothing.
    """
    return np.nan_to_num(_divide(pooled.cov_xy, pooled.var_x), nan=0.0)


def cuped_mean(arm: Moments, theta: FloatArray, pooled_mean_x: FloatArray) -> FloatArray:
    """Adjusted mean ``ȳ' = ȳ - θ (x̄ - x̄_pooled)`` (Deng et al. 2013).

    Centring on the pooled covariate mean keeps ``ȳ'`` on the scale of ``ȳ``, which the
    relative lift divides by; the adjustment removes the chance imbalance of ``x``.
    """
    return arm.mean_y - theta * (arm.mean_x - pooled_mean_x)


def cuped_variance(arm: Moments, theta: FloatArray) -> FloatArray:
    """Adjusted variance ``s'² = s²_y + θ² s²_x - 2 θ cov(x, y)`` (Deng et al. 2013).

    The sample variance of ``y - θ x``, with θ treated as known (asymptotically exact).
    """
    var_y, adjustment, cross = arm.var_y, theta**2 * arm.var_x, 2 * theta * arm.cov_xy
    return _snap_to_zero(var_y + adjustment - cross, var_y + adjustment + np.abs(cross))


def variance_reduction(treatment: Moments, control: Moments, theta: FloatArray) -> FloatArray:
    """Share of the lift's variance CUPED removed: ``1 - Σ s'²/n / Σ s²/n`` over both arms.

    For a covariate correlated rho with the metric it tends to rho² (Deng et al. 2013);
    it can be slightly negative when the pooled θ fits an arm worse than no adjustment.
    """
    adjusted = cuped_variance(treatment, theta) / treatment.n + cuped_variance(control, theta) / control.n
    raw = treatment.var_y / treatment.n + control.var_y / control.n
    return 1 - _divide(adjusted, raw)


def relative_lift_variance(
    mean_t: FloatArray, var_t: FloatArray, n_t: FloatArray, mean_c: FloatArray, var_c: FloatArray, n_c: FloatArray
) -> FloatArray:
    """Delta-method variance of ``ȳ_t / ȳ_c - 1`` for independent arms.

    First-order Taylor expansion of the ratio of means: ``V = s²_t / (n_t ȳ_c²) +
    ȳ_t² s²_c / (n_c ȳ_c⁴)`` (e.g. Deng, Knoblich & Lu 2018, "Applying the Delta Method in
    Metric Analytics"). Within RELATIVE_ZERO of its terms it is 0: no interval then.
    """
    treatment_term, control_term = var_t / (n_t * mean_c**2), mean_t**2 * var_c / (n_c * mean_c**4)
    return _snap_to_zero(treatment_term + control_term, np.abs(treatment_term) + np.abs(control_term))


def fixed_interval(lift: FloatArray, variance: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fixed-horizon Wald interval ``lift ± z_{1-alpha/2} √V`` and its two-sided normal p-value.

    Valid for one look at a sample size fixed in advance; looking daily inflates its error
    rate, which is why the decision uses the sequential interval instead.
    """
    se = np.sqrt(variance)
    half_width = norm.ppf(1 - alpha / 2) * se
    return lift - half_width, lift + half_width, 2 * norm.sf(np.abs(lift) / se)


def sequential_half_width(variance: FloatArray, users: FloatArray, alpha: float, tuning_n: float) -> FloatArray:
    """Half-width of the asymptotic confidence sequence, valid at every look at once.

    Normal-mixture boundary (Howard et al. 2021, "Time-uniform, nonparametric, nonasymptotic
    confidence sequences") in its asymptotic form (Waudby-Smith et al. 2021,
    "Time-uniform central limit theory and asymptotic confidence sequences"), as in gbstats:
    with ``N`` users, ``sigma² = N V`` and ``rho`` tuned so the sequence is tightest near
    ``tuning_n`` users, ``sigma √(2 (N rho² + 1) / (N² rho²) · ln(√(N rho² + 1) / alpha))``.
    """
    rho2 = (-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning_n
    sigma = np.sqrt(users * variance)
    spread = users * rho2 + 1
    return sigma * np.sqrt(2 * spread / (users**2 * rho2) * np.log(np.sqrt(spread) / alpha))


def srm_p_value(users: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """Pearson χ² goodness-of-fit p-value of users per variation against the expected shares.

    ``χ² = Σ (o - e)² / e`` with ``e = total · weight`` and ``k - 1`` degrees of freedom over
    the last axis (one experiment per row). A split this unlikely means the assignment or the
    logging is broken, and every comparison of the experiment with it. NaN with fewer than 2
    variations or no users: there is no split to test.
    """
    observed = np.asarray(users, dtype=float)
    shares = np.asarray(weights, dtype=float)
    total = observed.sum(axis=-1)
    k = observed.shape[-1]
    if k < 2:
        return np.full(total.shape, np.nan)
    expected = total[..., None] * shares / shares.sum(axis=-1, keepdims=True)
    statistic = _divide((observed - expected) ** 2, expected).sum(axis=-1)
    return np.where(total > 0, chi2.sf(statistic, k - 1), np.nan)


@dataclass(frozen=True)
class Comparison:
    """A treatment against the control on one metric; NaN where the contract says null."""

    cuped_mean_t: FloatArray
    cuped_mean_c: FloatArray
    absolute_lift: FloatArray
    relative_lift: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    p_value: FloatArray
    seq_ci_low: FloatArray
    seq_ci_high: FloatArray
    variance_reduction: FloatArray


def compare(
    treatment: Moments,
    control: Moments,
    pooled: Moments,
    *,
    nonzero_t: npt.ArrayLike,
    nonzero_c: npt.ArrayLike,
    alpha: float,
    tuning_n: float,
    min_nonzero: float,
) -> Comparison:
    """CUPED-adjusted relative lift of ``treatment`` over ``control`` with both intervals.

    ``pooled`` holds the sums over every variation of the experiment (θ and x̄_pooled). The
    lift and its intervals are null when they would be meaningless or falsely certain: an arm
    under 2 users, a control mean (raw or adjusted) ≤ 0 to divide by, ``V ≤ 0``, or an arm
    with fewer than ``min_nonzero`` users with ``y ≠ 0`` (rare events give zero variance).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = cuped_theta(pooled)
        mean_t, mean_c = cuped_mean(treatment, theta, pooled.mean_x), cuped_mean(control, theta, pooled.mean_x)
        lift = mean_t / mean_c - 1
        variance = relative_lift_variance(
            mean_t, cuped_variance(treatment, theta), treatment.n, mean_c, cuped_variance(control, theta), control.n
        )
        defined = (
            (treatment.n >= 2)
            & (control.n >= 2)
            & (control.mean_y > 0)
            & (mean_c > 0)
            & (variance > 0)
            & (np.asarray(nonzero_t) >= min_nonzero)
            & (np.asarray(nonzero_c) >= min_nonzero)
        )
        ci_low, ci_high, p_value = fixed_interval(lift, variance, alpha)
        half_width = sequential_half_width(variance, treatment.n + control.n, alpha, tuning_n)
        reduction = variance_reduction(treatment, control, theta)

    def only_defined(value: FloatArray) -> FloatArray:
        return np.where(defined, value, np.nan)

    return Comparison(
        cuped_mean_t=mean_t,
        cuped_mean_c=mean_c,
        absolute_lift=mean_t - mean_c,
        relative_lift=only_defined(lift),
        ci_low=only_defined(ci_low),
        ci_high=only_defined(ci_high),
        p_value=only_defined(p_value),
        seq_ci_low=only_defined(lift - half_width),
        seq_ci_high=only_defined(lift + half_width),
        variance_reduction=reduction,
    )


def decide(
    seq_ci_low: FloatArray, seq_ci_high: FloatArray, increase: npt.ArrayLike, srm_flag: npt.ArrayLike
) -> npt.NDArray[np.str_]:
    """``invalid`` under sample-ratio mismatch, else ``win``/``loss`` by the sequential interval.

    The always-valid interval is the one safe to act on at whatever day someone looks. A win
    is an interval wholly on the metric's good side (above 0 for ``increase``, below for
    ``decrease``), a loss wholly on its bad side; anything else, or no interval, is
    ``inconclusive``. Lifts are never negated, so the sign always reads the same way.
    """
    above, below = seq_ci_low > 0, seq_ci_high < 0
    up = np.asarray(increase, dtype=bool)
    return np.select(
        [np.asarray(srm_flag, dtype=bool), np.where(up, above, below), np.where(up, below, above)],
        ["invalid", "win", "loss"],
        "inconclusive",
    )
