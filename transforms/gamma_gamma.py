"""Gamma-Gamma model of the value of a customer's orders.

Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013 note; Fader, Hardie &
Lee 2005, "RFM and CLV"). Each order of a customer is worth ``z ~ Gamma(p, nu)`` (shape
``p``, rate ``nu``), so the customer's mean order value is ``p / nu``; across customers
``nu ~ Gamma(q, v)``. The model is fitted on customers with at least one repeat purchase,
from ``x`` (repeat purchases) and ``m`` (their mean value), by maximum likelihood over the
logarithms of (p, q, v) with L-BFGS-B. It assumes order value is independent of purchase
frequency, which is what lets it be combined with the BG/NBD.

Own scipy implementation for the same reason as :mod:`transforms.bgnbd`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from transforms.bgnbd import LOG_BOUNDS, Array, FitError


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float

    @property
    def population_mean(self) -> float:
        """E[order value] of a customer about whom nothing is known: p v / (q - 1) (q > 1)."""
        if self.q <= 1.0:
            return float("inf")
        return self.p * self.v / (self.q - 1.0)


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    customers: int
    converged: bool


def log_likelihood(params: GammaGammaParams, x: npt.ArrayLike, m: npt.ArrayLike) -> Array:
    """Per-customer log-likelihood of the mean value ``m`` of ``x`` orders (x > 0, m > 0)."""
    xs, ms = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64))
    p, q, v = params.p, params.q, params.v
    px = p * xs
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(ms)
        + px * np.log(xs)
        - (px + q) * np.log(xs * ms + v),
        dtype=np.float64,
    )


def fit_gamma_gamma(x: npt.ArrayLike, m: npt.ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood (p, q, v) from customers with x > 0 repeat orders of mean value m > 0."""
    xs, ms = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (x, m))
    keep = (xs > 0) & (ms > 0)
    xs, ms = xs[keep], ms[keep]
    if xs.size == 0:
        raise FitError("Gamma-Gamma: no customer with a repeat purchase of positive value")
    rows, weights = np.unique(np.column_stack([xs, ms]), axis=0, return_counts=True)
    ux, um, w = rows[:, 0], rows[:, 1], weights.astype(np.float64)
    total = float(w.sum())
    mean_value = float(np.mean(ms))

    def objective(theta: Array) -> float:
        p, q, v = np.exp(theta)
        value = -float(np.dot(w, log_likelihood(GammaGammaParams(p, q, v), ux, um))) / total
        return value if np.isfinite(value) else 1e100

    best: optimize.OptimizeResult | None = None
    for start in ([1.0, 3.0, 2.0 * mean_value], [5.0, 5.0, mean_value]):
        result = optimize.minimize(
            objective, np.log(start), method="L-BFGS-B", bounds=[LOG_BOUNDS] * 3, options={"maxiter": 2000}
        )
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    if best.fun >= 1e99:
        raise FitError("Gamma-Gamma: the likelihood could not be evaluated at any start point")
    p, q, v = (float(val) for val in np.exp(best.x))
    return GammaGammaFit(GammaGammaParams(p, q, v), -best.fun * total, int(xs.size), bool(best.success))


def expected_order_value(params: GammaGammaParams, x: npt.ArrayLike, m: npt.ArrayLike) -> Array:
    """E[order value | x, m] = (p (v + x m)) / (p x + q - 1): a credibility-weighted mix of
    the population mean and the customer's own mean; the population mean when x = 0."""
    xs, ms = np.broadcast_arrays(
        np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(np.asarray(m, dtype=np.float64))
    )
    p, q, v = params.p, params.q, params.v
    ms = np.where(xs > 0, ms, 0.0)
    return np.asarray(p * (v + xs * ms) / (p * xs + q - 1.0), dtype=np.float64)
