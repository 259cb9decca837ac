"""Heterogeneity: Cochran's Q, I², H², the Q-profile confidence interval for τ², and the prediction
interval, batched over analyses (see :mod:`tpmeta.models._batched`).

Definitions follow metafor 3.8 (Viechtbauer 2010, doi:10.18637/jss.v036.i03) so that numbers agree:

* ``Q = Σ w_i (y_i − μ̂_FE)²`` with ``w_i = 1/v_i``, on ``k − 1`` degrees of freedom.
* Under the fixed-effect model ``I² = max(0, 100 (Q − (k−1)) / Q)`` and ``H² = Q / (k − 1)``.
* Under a random-effects model ``I² = 100 τ̂² / (τ̂² + ṽ)`` and ``H² = 1 + τ̂²/ṽ``, where the typical
  within-study variance is ``ṽ = (k − 1) / (Σw − Σw²/Σw)`` (Higgins & Thompson 2002,
  doi:10.1002/sim.1186). For the DL estimator this equals the familiar ``(Q − (k−1))/Q``.
* Q-profile CI for τ² (Viechtbauer 2007, doi:10.1002/sim.2514): the τ² values at which the generalised
  Q statistic equals the χ²_{k−1} quantiles ``1 − α/2`` (lower bound) and ``α/2`` (upper bound),
  truncated at zero; the I² and H² intervals are the same transformation of the τ² bounds.
* Prediction interval (Higgins, Thompson & Spiegelhalter 2009, doi:10.1111/j.1467-985X.2008.00552.x):
  ``μ̂ ± c √(SE² + τ̂²)`` with ``c`` the normal quantile (z test) or t_{k−1} quantile (knha), as
  metafor's ``predict()`` computes it.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._batched import Batch, solve_generalised_q

__all__ = ["cochran_q", "i2_h2", "tau2_ci_qprofile", "prediction_interval"]


def cochran_q(batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cochran's Q with inverse-variance weights, its df (k − 1) and p-value, per analysis.

    With one study, Q = 0 and p = 1 (as metafor reports).
    """
    q = np.maximum(0.0, batch.q_fe[0])
    df = batch.k - 1
    with np.errstate(invalid="ignore"):
        p = np.where(df > 0, special.chdtrc(np.maximum(df, 1), q), 1.0)
    return q, df, p


def typical_within_variance(batch: Batch) -> np.ndarray:
    """ṽ = (k − 1) / (Σw − Σw²/Σw), w = 1/v (Higgins & Thompson 2002)."""
    trace_p = batch.sw_fe - batch.sw2_fe / batch.sw_fe
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(batch.k > 1, (batch.k - 1) / trace_p, 0.0)


def i2_h2(
    tau2: np.ndarray, q: np.ndarray, df: np.ndarray, vt: np.ndarray, fixed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """I² (percent) and H², metafor's definitions for the fixed or a random-effects model."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # q near 0: (q − df)/q → −inf → I² 0
        if fixed:
            i2 = np.where(df > 0, np.maximum(0.0, 100.0 * (q - df) / q), 0.0)
            i2 = np.where((df > 0) & (q == 0), 0.0, i2)
            h2 = np.where(df > 0, q / np.maximum(df, 1), 1.0)
        else:
            i2 = np.where(df > 0, 100.0 * tau2 / (vt + tau2), 0.0)
            h2 = np.where(df > 0, tau2 / vt + 1.0, 1.0)
    return i2, h2


def tau2_ci_qprofile(
    batch: Batch, level: float, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q-profile confidence interval for τ²: ``(low, high, converged)`` per analysis.

    NaN where k < 2 (no interval is defined).
    """
    df = batch.k - 1
    alpha = 1.0 - level
    dfc = np.maximum(df, 1)
    crit_upper = special.chdtri(dfc, alpha / 2)  # upper α/2 quantile → lower bound of τ²
    crit_lower = special.chdtri(dfc, 1 - alpha / 2)  # lower α/2 quantile → upper bound of τ²
    n = batch.y.shape[0]
    both, conv, _ = solve_generalised_q(
        batch.stacked(2), np.concatenate([crit_upper, crit_lower]), tol=tol, max_iter=max_iter
    )
    low, high, conv_l, conv_h = both[:n], both[n:], conv[:n], conv[n:]
    undefined = df < 1
    low = np.where(undefined, np.nan, low)
    high = np.where(undefined, np.nan, high)
    return low, high, conv_l & conv_h


def prediction_interval(
    estimate: np.ndarray, se: np.ndarray, tau2: np.ndarray, crit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``μ̂ ± crit · √(SE² + τ̂²)``; equals the confidence interval when τ̂² = 0."""
    half = crit * np.sqrt(se**2 + tau2)
    return estimate - half, estimate + half
