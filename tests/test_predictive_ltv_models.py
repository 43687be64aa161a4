"""transforms.clv_models beyond parameter recovery (tests/test_clv_models.py): predictions
against a simulated holdout, the closed-form likelihood against numerical integration of its
definition, the unconditional expectation against a direct simulation, Gamma-Gamma shrinkage."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, special, stats

from transforms import predictive_ltv
from transforms.clv_models import BgNbd, GammaGamma, bgnbd_log_likelihood, fit_bgnbd

TRUE_BG = BgNbd(r=0.6, alpha=20.0, a=1.2, b=4.0)  # time in days: about one purchase a month
GG_P, GG_Q, GG_V = 6.0, 4.0, 300.0  # Gamma-Gamma: population mean order value 600
HOLDOUT_DAYS = 90.0


def simulate(n: int, seed: int) -> dict[str, np.ndarray]:
    """BG/NBD customers, each observed 60-540 days after the first purchase, then followed
    for HOLDOUT_DAYS more days."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE_BG.r, 1 / TRUE_BG.alpha, n)
    drop = rng.beta(TRUE_BG.a, TRUE_BG.b, n)
    age = rng.uniform(60, 540, n)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:  # after every repeat purchase the customer drops out with probability p
            t += rng.exponential(1 / rate[i])
            if t > age[i] + HOLDOUT_DAYS:
                break
            if t <= age[i]:
                x[i] += 1
                t_x[i] = t
            else:
                future[i] += 1
            if rng.random() < drop[i]:
                break
    return {"x": x, "t_x": t_x, "age": age, "future": future}


def test_bgnbd_fit_predicts_a_simulated_holdout() -> None:
    customers = simulate(5000, seed=1)
    x, t_x, age = customers["x"], customers["t_x"], customers["age"]
    fitted = fit_bgnbd(x, t_x, age)
    # Measured on six seeds: r, alpha within 7%, a, b within 16% of the truth.
    assert abs(fitted.r / fitted.alpha - TRUE_BG.r / TRUE_BG.alpha) / (TRUE_BG.r / TRUE_BG.alpha) < 0.05
    # The maximum is at least as likely as the truth.
    truth = np.log([TRUE_BG.r, TRUE_BG.alpha, TRUE_BG.a, TRUE_BG.b])
    found = np.log([fitted.r, fitted.alpha, fitted.a, fitted.b])
    assert bgnbd_log_likelihood(found, x, t_x, age) >= bgnbd_log_likelihood(truth, x, t_x, age)
    predicted = fitted.expected_purchases(HOLDOUT_DAYS, x, t_x, age)
    actual = customers["future"]
    assert abs(predicted.sum() - actual.sum()) / actual.sum() < 0.08  # measured: +1.0%
    # Customers the model thinks alive buy far more in the holdout than those it thinks gone.
    alive = fitted.probability_alive(x, t_x, age)
    assert actual[alive > 0.8].mean() > 3 * actual[alive < 0.2].mean()


def test_bgnbd_likelihood_equals_numerical_integration_of_its_definition() -> None:
    model = BgNbd(r=1.8, alpha=5.0, a=1.5, b=3.0)
    beta = special.beta(model.a, model.b)

    def by_integration(x: int, t_x: float, age: float) -> float:
        # E over p ~ Beta(a, b) of (1-p)^x and p (1-p)^(x-1) are Beta-function ratios; the
        # Gamma mixture over the purchase rate is integrated numerically.
        alive_weight = special.beta(model.a, model.b + x) / beta
        dead_weight = special.beta(model.a + 1, model.b + x - 1) / beta if x > 0 else 0.0

        def integrand(lam: float) -> float:
            density = stats.gamma.pdf(lam, model.r, scale=1 / model.alpha)
            return density * lam**x * (alive_weight * math.exp(-lam * age) + dead_weight * math.exp(-lam * t_x))

        value, _ = integrate.quad(integrand, 0, np.inf, epsabs=1e-14, epsrel=1e-10, limit=200)
        return value

    params = np.log([model.r, model.alpha, model.a, model.b])
    for x, t_x, age in [(0, 0.0, 10.0), (1, 4.0, 10.0), (4, 9.5, 12.0), (2, 1.0, 30.0)]:
        closed = math.exp(bgnbd_log_likelihood(params, np.array([float(x)]), np.array([t_x]), np.array([age])))
        assert closed == pytest.approx(by_integration(x, t_x, age), rel=1e-6)


def test_unconditional_expectation_matches_a_direct_simulation() -> None:
    rng = np.random.default_rng(5)
    n, horizon = 100_000, 60.0
    rate = rng.gamma(TRUE_BG.r, 1 / TRUE_BG.alpha, n)
    drop = rng.beta(TRUE_BG.a, TRUE_BG.b, n)
    # Purchases in (0, horizon] until the geometric number of purchases that ends the life.
    purchases_to_death = rng.geometric(drop)
    in_window = rng.poisson(rate * horizon)
    simulated = np.minimum(in_window, purchases_to_death).mean()
    new_customer = TRUE_BG.expected_purchases(horizon, np.zeros(1), np.zeros(1), np.zeros(1))[0]
    assert new_customer == pytest.approx(simulated, rel=0.03)


def test_gamma_gamma_expected_value_shrinks_toward_the_population_mean() -> None:
    model = GammaGamma(GG_P, GG_Q, GG_V)
    values = model.expected_value(np.array([0.0, 1.0, 50.0]), np.array([0.0, 100.0, 100.0]))
    assert values[0] == pytest.approx(600.0)  # no repeat purchase: the population mean
    # p (v + x m) / (p x + q - 1) by hand: x = 1 -> 6 * 400 / 9; x = 50 -> 6 * 5300 / 303.
    assert values[1] == pytest.approx(6 * 400 / 9) and values[2] == pytest.approx(6 * 5300 / 303)


def test_expected_purchases_are_continuous_through_a_equal_to_one() -> None:
    x, t_x, age = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([30.0, 40.0])
    at_one = BgNbd(0.6, 20.0, 1.0, 4.0).expected_purchases(60.0, x, t_x, age)
    below = BgNbd(0.6, 20.0, 1.0 - 1e-4, 4.0).expected_purchases(60.0, x, t_x, age)
    above = BgNbd(0.6, 20.0, 1.0 + 1e-4, 4.0).expected_purchases(60.0, x, t_x, age)
    assert np.all(np.isfinite(at_one))
    assert at_one == pytest.approx((below + above) / 2, rel=1e-3)


def test_order_value_falls_back_to_the_observed_mean_when_the_population_mean_is_infinite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Gamma-Gamma with q < 1 has no finite population mean: one-purchase customers would be
    # valued at infinity (or NaN); they get the mean repeat value of the repeat customers.
    monkeypatch.setattr(predictive_ltv, "fit_gamma_gamma", lambda x, m: GammaGamma(2.0, 0.8, 10.0))
    rfm = pl.DataFrame(
        {
            "frequency": [3, 5, 0, 0],
            "recency_weeks": [10.0, 20.0, 0.0, 0.0],
            "age_weeks": [30.0, 30.0, 5.0, 0.0],
            "repeat_mean_value": [40.0, 80.0, 0.0, 0.0],
            "purchase_days": [4, 6, 1, 0],
            "lifetime_revenue": [160.0, 480.0, 50.0, 0.0],
        }
    )
    out = predictive_ltv._predict(rfm, horizon_weeks=52.0)
    purchases, revenue = out["expected_purchases"].to_list(), out["expected_revenue"].to_list()
    assert all(math.isfinite(v) for v in purchases + revenue)
    assert purchases[2] > 0 and revenue[2] == pytest.approx(purchases[2] * (40.0 + 80.0) / 2)
    # Repeat customers keep the model's value p (v + x m) / (p x + q - 1).
    assert revenue[0] == pytest.approx(purchases[0] * 2.0 * (10.0 + 3 * 40.0) / (2.0 * 3 + 0.8 - 1))
    assert (purchases[3], revenue[3], out["probability_alive"][3]) == (0.0, 0.0, None)
