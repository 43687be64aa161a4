"""BG/NBD and Gamma-Gamma: the fits recover known parameters from simulated customers."""

from __future__ import annotations

import numpy as np

from transforms.clv_models import BgNbd, fit_bgnbd, fit_gamma_gamma

# CDNOW estimates from Fader, Hardie & Lee (2005), in weeks.
TRUE_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def simulate_bgnbd(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers observed for 39 weeks after their first purchase (repeat purchases only)."""
    rates = rng.gamma(TRUE_BGNBD["r"], 1 / TRUE_BGNBD["alpha"], n)
    drop = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"], n)
    age = np.full(n, 39.0)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > age[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    return x, t_x, age


def test_bgnbd_fit_recovers_parameters_within_25_percent() -> None:
    x, t_x, age = simulate_bgnbd(8000, np.random.default_rng(7))
    fitted = fit_bgnbd(x, t_x, age)
    for name, true in TRUE_BGNBD.items():
        assert abs(getattr(fitted, name) - true) / true < 0.25, (name, getattr(fitted, name), true)
    # The population mean of repeat purchases in the next 39 weeks is matched closely.
    model = BgNbd(**TRUE_BGNBD)
    predicted = fitted.expected_purchases(39.0, x, t_x, age).sum()
    reference = model.expected_purchases(39.0, x, t_x, age).sum()
    assert abs(predicted - reference) / reference < 0.1


def test_gamma_gamma_fit_recovers_the_mean_order_value() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    nu = rng.gamma(TRUE_GG["q"], 1 / TRUE_GG["gamma"], n)
    x = rng.integers(1, 8, n).astype(float)
    m = np.array([rng.gamma(TRUE_GG["p"], 1 / nu[i], int(x[i])).mean() for i in range(n)])
    fitted = fit_gamma_gamma(x, m)
    true_mean = TRUE_GG["p"] * TRUE_GG["gamma"] / (TRUE_GG["q"] - 1)  # 35.2
    assert abs(fitted.population_mean - true_mean) / true_mean < 0.1
    assert abs(fitted.p - TRUE_GG["p"]) / TRUE_GG["p"] < 0.3


def test_probability_alive_is_one_without_repeat_purchases_and_falls_with_silence() -> None:
    model = BgNbd(**TRUE_BGNBD)
    alive = model.probability_alive(np.array([0.0, 3.0, 3.0]), np.array([0.0, 30.0, 5.0]), np.array([39.0] * 3))
    assert alive[0] == 1.0
    assert 0 < alive[2] < alive[1] < 1  # the same 3 purchases, long silence since the last one
