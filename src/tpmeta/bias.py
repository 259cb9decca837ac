"""Small-study effects: Egger's regression test and Begg's rank correlation test.

* Egger's test, classical form (Egger et al. 1997, doi:10.1136/bmj.315.7109.629), as metafor's
  ``regtest(model="lm", predictor="sei")``: weighted least squares of ``y_i`` on ``SE_i`` with weights
  ``1/v_i`` and a free dispersion; the test of the slope uses t with k − 2 df. The intercept ``b₀`` is
  the limit estimate as SE → 0.
* Begg & Mazumdar's rank correlation (1994, doi:10.2307/2533446), as metafor's ``ranktest()``: Kendall's
  τ between the standardised deviates ``(y_i − μ̂_FE)/√(v_i − 1/Σw)`` and the variances ``v_i``; exact
  p-value for k < 50 without ties, otherwise the normal approximation (as R's ``cor.test``).

Both have little power with few studies; the Cochrane Handbook (13.3.5.4) advises against them with
fewer than 10 studies, and :func:`small_study_tests` says so instead of testing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._results import ResultMixin
from .pooling import PoolResult

__all__ = ["EggerResult", "BeggResult", "egger_test", "begg_test", "MIN_STUDIES_FOR_TESTS"]

#: Cochrane Handbook 13.3.5.4: tests for funnel plot asymmetry only with at least 10 studies.
MIN_STUDIES_FOR_TESTS = 10


@dataclass(frozen=True, repr=False)
class EggerResult(ResultMixin):
    """Egger's regression test: slope on SE (``statistic``, ``pvalue``, t with ``df``) and the limit
    estimate (intercept) with its CI."""

    slope: float
    slope_se: float
    statistic: float
    df: int
    pvalue: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    k: int
    level: float

    def __repr__(self) -> str:
        return f"EggerResult(t={self.statistic:.3f}, df={self.df}, p={self.pvalue:.4f}, limit={self.limit_estimate:.4f})"


@dataclass(frozen=True, repr=False)
class BeggResult(ResultMixin):
    """Begg's rank correlation test: Kendall's τ and its p-value."""

    tau: float
    pvalue: float
    k: int

    def __repr__(self) -> str:
        return f"BeggResult(tau={self.tau:.3f}, p={self.pvalue:.4f})"


def _study_arrays(result: PoolResult, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    y, v = np.asarray(result.yi, float), np.asarray(result.vi, float)
    if y.size < 3:
        raise ValueError(f"{name} needs at least 3 studies (k = {y.size})")
    return y, v, y.size


def egger_test(result: PoolResult, level: float = 0.95) -> EggerResult:
    """Egger's regression test for funnel-plot asymmetry (classical WLS form).

    ``y_i = b₀ + b₁ SE_i + e_i``, weights ``1/v_i``, residual variance estimated; t test of ``b₁``.

    >>> from tpmeta import pool
    >>> res = pool([0.1, 0.3, 0.35, 0.6, 0.9], [0.01, 0.02, 0.04, 0.08, 0.16], method="FE")
    >>> round(egger_test(res).slope, 3)
    2.647
    """
    y, v, k = _study_arrays(result, "Egger's test")
    sei = np.sqrt(v)
    X = np.column_stack([np.ones(k), sei])
    w = 1.0 / v
    XtW = X.T * w
    cov_unscaled = np.linalg.inv(XtW @ X)
    beta = cov_unscaled @ (XtW @ y)
    resid = y - X @ beta
    df = k - 2
    sigma2 = float((w * resid**2).sum() / df)
    cov = sigma2 * cov_unscaled
    se = np.sqrt(np.diag(cov))
    t = beta[1] / se[1]
    crit = stats.t.ppf(1 - (1 - level) / 2, df)
    return EggerResult(
        slope=float(beta[1]), slope_se=float(se[1]), statistic=float(t), df=df,
        pvalue=float(2 * stats.t.sf(abs(t), df)), limit_estimate=float(beta[0]),
        limit_ci_low=float(beta[0] - crit * se[0]), limit_ci_high=float(beta[0] + crit * se[0]),
        k=k, level=level,
    )  # fmt: skip


def begg_test(result: PoolResult) -> BeggResult:
    """Begg and Mazumdar's rank correlation test (Kendall's τ of standardised effects vs variances).

    >>> from tpmeta import pool
    >>> res = pool([0.1, 0.3, 0.35, 0.6, 0.9], [0.01, 0.02, 0.04, 0.08, 0.16], method="FE")
    >>> round(begg_test(res).tau, 6)
    1.0
    """
    y, v, k = _study_arrays(result, "Begg's test")
    w = 1.0 / v
    mu = float((w * y).sum() / w.sum())
    vstar = v - 1.0 / w.sum()
    ystar = (y - mu) / np.sqrt(vstar)
    # as R's cor.test(method="kendall"): exact p-value for k < 50 without ties, else the normal
    # approximation with the tie-corrected variance
    ties = np.unique(ystar).size < k or np.unique(v).size < k
    res = stats.kendalltau(ystar, v, method="exact" if (k < 50 and not ties) else "asymptotic")
    return BeggResult(tau=float(res.statistic), pvalue=float(res.pvalue), k=k)
