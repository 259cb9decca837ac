"""Tests for funnel-plot asymmetry (small-study effects): Egger's regression test in metafor's two
forms, Begg's rank correlation, and Peters' and Harbord's tests for 2×2 tables.

* **Egger's test** (Egger et al. 1997, doi:10.1136/bmj.315.7109.629), as ``metafor::regtest()``
  (Viechtbauer 2010, doi:10.18637/jss.v036.i03) with ``y_i = b₀ + b₁ x_i`` and ``x_i`` one of the
  predictors ``sei`` (√v_i, the classical test), ``vi``, ``ni``, ``ninv`` (1/n_i), ``sqrtni`` and
  ``sqrtninv`` (1/√n_i); the test is of ``b₁``.

  - ``model="lm"``: weighted least squares with weights ``1/v_i`` and a free multiplicative dispersion
    (R's ``lm(yi ~ x, weights = 1/vi)``); t test on k − 2 df. This is Egger's original regression
    (``y_i/SE_i`` on ``1/SE_i``, rewritten), and tpmeta's default.
  - ``model="rma"``: metafor's default: the meta-regression ``rma(yi, vi, mods = ~x)`` with the model's
    τ² method and test (z, or t on k − 2 df under Knapp-Hartung), fitted by the batched engine. With
    τ² > 0 it weights by ``1/(v_i + τ̂²)`` and fixes the dispersion at 1, so with heterogeneity its
    p-value can differ from the lm form by orders of magnitude (dat.linde2005, dat.curtis1998,
    dat.crede2010 in the tests).

  For the predictors sei, vi, ninv and sqrtninv, ``b₀`` is the "limit estimate" (the effect as the
  predictor → 0) with its CI (t quantiles for lm, the model's test for rma); for ni and sqrtni it is
  not reported (NaN), as in metafor.
* **Begg and Mazumdar's rank correlation** (1994, doi:10.2307/2533446), as ``metafor::ranktest()``:
  Kendall's τ_b between ``(y_i − μ̂_FE)/√(v_i − 1/Σw)`` and ``v_i``. metafor 3.8.1 calls
  ``cor.test(..., exact = TRUE)``, so without ties the p-value is the exact two-sided p of Kendall's
  statistic for every k (not only k < 50, R's default for ``exact = NULL``); with ties it is the normal
  approximation with the tie-corrected variance and no continuity correction. tpmeta does the same, with
  one difference: for k ≥ 171 R's exact distribution overflows (it divides counts by k!) and metafor
  reports p = NaN, while tpmeta computes the exact p-value (SciPy's recursion on probabilities).
* **Peters' test** (Peters et al. 2006, doi:10.1001/jama.295.6.676): weighted least squares of the
  effect (usually the log OR) on ``1/N_i`` (N the total sample size), weights
  ``1/(1/(a+c) + 1/(b+d))`` (total events and non-events), free dispersion; t test of the slope on
  k − 2 df. Studies without events or without non-events have weight 0 and are left out.
* **Harbord's test** (Harbord, Egger & Sterne 2006, doi:10.1002/sim.2380): ordinary least squares of
  ``Z_i/√V_i`` on ``√V_i``, with ``Z = a − (a+c)(a+b)/N`` the efficient score and
  ``V = (a+b)(c+d)(a+c)(b+d)/(N²(N−1))`` the Fisher information of the log odds ratio (from the
  counts as given, without continuity correction); the intercept measures asymmetry (t test, k − 2 df)
  and the slope is the log OR of a study of infinite information. This equals Egger's lm test on
  Peto's log odds ratios ``Z/V`` with variances ``1/V``. Studies with V = 0 are left out.

All of them have little power with few studies; the Cochrane Handbook (13.3.5.4) advises against them
with fewer than 10 studies, so every function here warns (:class:`~tpmeta.errors.FewStudiesWarning`)
below :data:`MIN_STUDIES_FOR_TESTS` and still computes the result, as metafor does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from .._results import ResultMixin
from ..errors import ConvergenceWarning, FewStudiesWarning
from ..models.effects import _Reader
from ..models.metareg_engine import _fit_batch
from ..models.pooling import PoolResult
from ..options import EggerModel, EggerPredictor, Test, parse_option

__all__ = [
    "MIN_STUDIES_FOR_TESTS",
    "EggerResult",
    "BeggResult",
    "PetersResult",
    "HarbordResult",
    "egger_test",
    "begg_test",
    "peters_test",
    "harbord_test",
    "PREDICTORS",
]

#: Cochrane Handbook 13.3.5.4: tests for funnel plot asymmetry only with at least 10 studies.
MIN_STUDIES_FOR_TESTS = 10

#: The predictors of ``metafor::regtest()``.
PREDICTORS = tuple(p.value for p in EggerPredictor)
#: predictors that go to 0 for an infinitely precise study: the intercept is the limit estimate
_LIMIT_PREDICTORS = frozenset({EggerPredictor.SEI, EggerPredictor.VI, EggerPredictor.NINV, EggerPredictor.SQRTNINV})


@dataclass(frozen=True, repr=False)
class EggerResult(ResultMixin):
    """Egger's regression test: the slope on the predictor (``statistic``, ``pvalue``; t with ``df``
    degrees of freedom, ``df`` NaN for a z test) and the limit estimate (intercept) with its CI.

    ``model`` is "lm" or "rma", ``predictor`` one of :data:`PREDICTORS`; ``tau2`` is the residual τ² of
    the rma model (NaN for lm)."""

    slope: float
    slope_se: float
    statistic: float
    df: float
    pvalue: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    k: int
    level: float
    model: EggerModel = EggerModel.LM
    predictor: EggerPredictor = EggerPredictor.SEI
    tau2: float = float("nan")

    def __repr__(self) -> str:
        dist = f"z={self.statistic:.3f}" if np.isnan(self.df) else f"t={self.statistic:.3f}, df={self.df:g}"
        return (f"EggerResult(model={self.model}, predictor={self.predictor}, {dist}, p={self.pvalue:.4f}, "
                f"limit={self.limit_estimate:.4f})")  # fmt: skip


@dataclass(frozen=True, repr=False)
class BeggResult(ResultMixin):
    """Begg's rank correlation test: Kendall's τ and its p-value; ``exact`` says whether the p-value is
    exact (no ties) or the normal approximation (ties)."""

    tau: float
    pvalue: float
    k: int
    exact: bool = True

    def __repr__(self) -> str:
        return f"BeggResult(tau={self.tau:.3f}, p={self.pvalue:.4f}{'' if self.exact else ', normal approximation'})"


@dataclass(frozen=True, repr=False)
class PetersResult(ResultMixin):
    """Peters' test: slope of the effect on 1/N (``statistic``, ``pvalue``, t with ``df``) and the
    intercept (the effect as N → ∞). ``k`` studies entered the regression; ``excluded`` are the labels
    of those left out (no events or no non-events)."""

    slope: float
    slope_se: float
    statistic: float
    df: int
    pvalue: float
    intercept: float
    k: int
    excluded: tuple[str, ...] = ()

    _array_fields = ("excluded",)

    def __repr__(self) -> str:
        return f"PetersResult(t={self.statistic:.3f}, df={self.df}, p={self.pvalue:.4f})"


@dataclass(frozen=True, repr=False)
class HarbordResult(ResultMixin):
    """Harbord's test: intercept (``bias``) of ``Z/√V`` on ``√V`` with its t test (``df``) and the
    slope (the log odds ratio as V → ∞). ``excluded`` lists the labels of the rows with V = 0."""

    bias: float
    bias_se: float
    statistic: float
    df: int
    pvalue: float
    slope: float
    k: int
    excluded: tuple[str, ...] = ()

    _array_fields = ("excluded",)

    def __repr__(self) -> str:
        return f"HarbordResult(bias={self.bias:.3f}, t={self.statistic:.3f}, df={self.df}, p={self.pvalue:.4f})"


def _warn_few(name: str, k: int) -> None:
    if k < MIN_STUDIES_FOR_TESTS:
        warnings.warn(f"{name} with {k} studies: the Cochrane Handbook (13.3.5.4) advises at least "
                      f"{MIN_STUDIES_FOR_TESTS}; with fewer it has too little power to tell asymmetry from chance",
                      FewStudiesWarning, stacklevel=3)  # fmt: skip


def _study_arrays(result: PoolResult, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    y, v = np.asarray(result.yi, float), np.asarray(result.vi, float)
    if y.size < 3:
        raise ValueError(f"{name} needs at least 3 studies (k = {y.size})")
    _warn_few(name, y.size)
    return y, v, y.size


def _lm(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``lm(y ~ x, weights = w)``: coefficients, their standard errors and the residual df."""
    X = np.column_stack([np.ones(y.size), x])
    XtW = X.T * w
    cov_unscaled = np.linalg.inv(XtW @ X)
    beta = cov_unscaled @ (XtW @ y)
    df = y.size - 2
    sigma2 = float((w * (y - X @ beta) ** 2).sum() / df)
    return beta, np.sqrt(sigma2 * np.diag(cov_unscaled)), df


def _predictor(predictor: EggerPredictor, v: np.ndarray, ni: Any, k: int) -> np.ndarray:
    if predictor is EggerPredictor.SEI:
        return np.sqrt(v)
    if predictor is EggerPredictor.VI:
        return v.copy()
    if ni is None:
        raise ValueError(f"predictor={predictor!r} needs the sample sizes: pass ni= (one per study)")
    n = np.asarray(ni, float)
    if n.shape != (k,) or not np.all(np.isfinite(n) & (n > 0)):
        raise ValueError(f"ni must hold {k} positive sample sizes, one per study of the model")
    return {EggerPredictor.NI: n, EggerPredictor.NINV: 1 / n, EggerPredictor.SQRTNI: np.sqrt(n),
            EggerPredictor.SQRTNINV: 1 / np.sqrt(n)}[predictor]  # fmt: skip


def egger_test(
    result: PoolResult,
    level: float | None = None,
    *,
    model: EggerModel | str = "lm",
    predictor: EggerPredictor | str = "sei",
    ni: Any = None,
) -> EggerResult:
    """Egger's regression test for funnel-plot asymmetry, as ``metafor::regtest(result, model=,
    predictor=)``.

    The default is the classical test, ``model="lm"`` with ``predictor="sei"``: Egger et al. (1997)
    and the Cochrane Handbook describe this weighted regression with a free dispersion, and the review
    (GRADE's publication-bias domain, :func:`tpmeta.appraisal.grade.suggest_grade`, through
    ``egger_test(result)``) uses it. metafor's own default is ``model="rma"``, the meta-regression on the
    predictor with ``result``'s τ² method and test; pass ``model="rma"`` for it. The two agree when
    τ̂² = 0 and the lm dispersion is 1, and can differ much with heterogeneity (module docstring).

    Parameters
    ----------
    result : PoolResult
        The model (at least 3 studies); its ``yi``, ``vi``, ``method`` and ``test`` are used.
    level : float, optional
        Confidence level of the limit estimate's CI; default ``result.level`` (as metafor).
    model : {"lm", "rma"}
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
    ni : array_like, optional
        Sample sizes, one per study, for the predictors based on n.

    >>> from tpmeta import pool
    >>> y = [0.1, 0.3, 0.35, 0.6, 0.9, 0.25, 0.45, 0.15, 0.7, 0.5]
    >>> v = [0.01, 0.02, 0.04, 0.08, 0.16, 0.03, 0.05, 0.015, 0.1, 0.06]
    >>> round(egger_test(pool(y, v, method="FE")).slope, 3)  # metafor regtest(model="lm"): 2.674447
    2.674
    """
    y, v, k = _study_arrays(result, "Egger's test")
    level = result.level if level is None else float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    model = parse_option(EggerModel, model, "model")
    predictor = parse_option(EggerPredictor, predictor, "predictor")
    x = _predictor(predictor, v, ni, k)
    if np.ptp(x) <= 1e-12 * np.abs(x).max():
        raise ValueError(f"all studies have the same {predictor}: the regression on it is not identified")
    tau2 = float("nan")
    if model is EggerModel.LM:
        beta, se, df_int = _lm(y, x, 1.0 / v)
        df = float(df_int)
        stat = beta / se
        pval = 2 * special.stdtr(df, -np.abs(stat))
        crit = special.stdtrit(df, 1 - (1 - level) / 2)
        lo, hi = beta[0] - crit * se[0], beta[0] + crit * se[0]
    else:
        fit = _fit_batch(y[None, :], v[None, :], np.column_stack([np.ones(k), x]), method=result.method,
                         test=result.test, level=level)  # fmt: skip
        if not bool(fit.converged[0]):
            warnings.warn(f"Egger's test (rma): {result.method.value} estimation of tau^2 did not converge",
                          ConvergenceWarning, stacklevel=2)  # fmt: skip
        beta, se, stat, pval = fit.beta[0], fit.se[0], fit.statistic[0], fit.pvalue[0]
        lo, hi = fit.ci_low[0, 0], fit.ci_high[0, 0]
        df = float(k - 2) if result.test is not Test.Z else float("nan")
        tau2 = float(fit.tau2[0])
    limit = predictor in _LIMIT_PREDICTORS
    nan = float("nan")
    return EggerResult(
        slope=float(beta[1]), slope_se=float(se[1]), statistic=float(stat[1]), df=df, pvalue=float(pval[1]),
        limit_estimate=float(beta[0]) if limit else nan, limit_ci_low=float(lo) if limit else nan,
        limit_ci_high=float(hi) if limit else nan, k=k, level=level, model=model, predictor=predictor,
        tau2=tau2,
    )  # fmt: skip


def begg_test(result: PoolResult) -> BeggResult:
    """Begg and Mazumdar's rank correlation test (Kendall's τ of standardised effects vs variances), as
    ``metafor::ranktest()``: exact p-value without ties for every k (metafor: up to k = 170, NaN
    beyond), the normal approximation with ties (module docstring).

    >>> from tpmeta import pool
    >>> y = [0.1, 0.3, 0.35, 0.6, 0.9, 0.25, 0.45, 0.15, 0.7, 0.5]
    >>> v = [0.01, 0.02, 0.04, 0.08, 0.16, 0.03, 0.05, 0.015, 0.1, 0.06]
    >>> round(begg_test(pool(y, v, method="FE")).tau, 6)  # metafor ranktest(): 0.9555556
    0.955556
    """
    y, v, k = _study_arrays(result, "Begg's test")
    w = 1.0 / v
    mu = float((w * y).sum() / w.sum())
    ystar = (y - mu) / np.sqrt(v - 1.0 / w.sum())
    ties = np.unique(ystar).size < k or np.unique(v).size < k  # R's TIES: exact equality
    res = stats.kendalltau(ystar, v, method="asymptotic" if ties else "exact")
    return BeggResult(tau=float(res.statistic), pvalue=float(res.pvalue), k=k, exact=not ties)


# --------------------------------------------------------------------------------------------------
# Tests for 2x2 tables
# --------------------------------------------------------------------------------------------------


def _table(data: Any, columns: dict[str, str], name: str) -> tuple[np.ndarray, ...]:
    """The counts ``a, b, c, d`` from ``data`` (``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``), checked as
    :func:`tpmeta.effect_sizes` checks them."""
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    unknown = set(columns) - {"ai", "bi", "ci", "di", "n1i", "n2i"}
    if unknown:
        raise ValueError(f"unknown column option(s) {sorted(unknown)} for {name}; valid: ai, bi, ci, di, n1i, n2i")
    r = _Reader(data, columns, None)
    a, c = r.column("ai"), r.column("ci")
    if columns.get("bi", "bi") in data.columns and columns.get("di", "di") in data.columns:
        b, d = r.column("bi"), r.column("di")
    else:
        n1, n2 = r.column("n1i"), r.column("n2i")
        b = None if n1 is None or a is None else n1 - a
        d = None if n2 is None or c is None else n2 - c
    for key, x in (("ai", a), ("bi", b), ("ci", c), ("di", d)):
        if x is not None:
            r.check(x, key, x < 0, "counts cannot be negative (events above the group size?)", "check the 2x2 table")
    r.raise_if_any()
    return tuple(np.asarray(x, float) for x in (a, b, c, d))


def _labels(data: Any, k: int) -> list[str]:
    index = data.index if isinstance(data, pd.DataFrame) else range(k)
    return [str(i) for i in index]


def peters_test(result: PoolResult, data: Any, **columns: str) -> PetersResult:
    """Peters' test for small-study effects in meta-analyses of 2×2 tables (Peters et al. 2006,
    doi:10.1001/jama.295.6.676): regression of ``result.yi`` (e.g. log odds ratios from
    :func:`tpmeta.effect_sizes`) on ``1/N`` with weights ``1/(1/(a+c) + 1/(b+d))``.

    ``data`` holds the counts of the same studies in the same order (``ai, bi, ci, di`` or
    ``ai, n1i, ci, n2i``; other names by keyword, e.g. ``ai="tpos"``). Studies without events or
    without non-events have weight 0 and are left out (``excluded``), as R's ``lm`` leaves out zero
    weights.

    >>> import pandas as pd
    >>> from tpmeta import effect_sizes, pool
    >>> tab = pd.DataFrame({"ai": [3, 12, 5, 30, 9, 16, 2, 20, 7, 11],
    ...                     "n1i": [25, 100, 40, 300, 60, 120, 15, 200, 50, 90],
    ...                     "ci": [6, 15, 9, 38, 13, 20, 5, 26, 10, 14],
    ...                     "n2i": [25, 100, 40, 300, 60, 120, 15, 200, 50, 90]})
    >>> es = effect_sizes(tab, "OR")
    >>> res = peters_test(pool(es["yi"], es["vi"]), es)
    >>> round(res.slope, 2), res.df
    (-30.65, 8)
    """
    a, b, c, d = _table(data, columns, "peters_test")
    y = np.asarray(result.yi, float)
    if a.size != y.size:
        raise ValueError(f"data has {a.size} rows but the model {y.size} studies; pass the counts of the model's studies")
    with np.errstate(divide="ignore"):
        w = 1.0 / (1.0 / (a + c) + 1.0 / (b + d))
    keep = w > 0
    labels = _labels(data, a.size)
    k = int(keep.sum())
    if k < 3:
        raise ValueError(f"Peters' test needs at least 3 studies with events and non-events (k = {k})")
    _warn_few("Peters' test", k)
    n = a + b + c + d
    beta, se, df = _lm(y[keep], 1.0 / n[keep], w[keep])
    t = beta[1] / se[1]
    return PetersResult(slope=float(beta[1]), slope_se=float(se[1]), statistic=float(t), df=df,
                        pvalue=float(2 * special.stdtr(df, -abs(t))), intercept=float(beta[0]), k=k,
                        excluded=tuple(lab for lab, kept in zip(labels, keep) if not kept))  # fmt: skip


def harbord_test(data: Any, **columns: str) -> HarbordResult:
    """Harbord's modified test for small-study effects with binary outcomes (Harbord, Egger & Sterne
    2006, doi:10.1002/sim.2380): ``Z/√V = b₀ + b₁ √V``, ordinary least squares; t test of ``b₀``.

    It needs the counts only (``Z`` and ``V`` are the score and information of the log odds ratio at
    OR = 1, so no fitted model enters): ``data`` holds ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i`` (other
    names by keyword). Rows with V = 0 (no events or no non-events at all) are left out (``excluded``).

    >>> import pandas as pd
    >>> tab = pd.DataFrame({"ai": [3, 12, 5, 30, 9, 16, 2, 20, 7, 11],
    ...                     "n1i": [25, 100, 40, 300, 60, 120, 15, 200, 50, 90],
    ...                     "ci": [6, 15, 9, 38, 13, 20, 5, 26, 10, 14],
    ...                     "n2i": [25, 100, 40, 300, 60, 120, 15, 200, 50, 90]})
    >>> round(harbord_test(tab).bias, 3)
    -1.144
    """
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    a, b, c, d = _table(data, columns, "harbord_test")
    n1, n2 = a + b, c + d
    n = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = a - (a + c) * n1 / n
        v = n1 * n2 * (a + c) * (b + d) / (n**2 * (n - 1))
    keep = v > 0
    k = int(keep.sum())
    if k < 3:
        raise ValueError(f"Harbord's test needs at least 3 tables with events and non-events (k = {k})")
    _warn_few("Harbord's test", k)
    sv = np.sqrt(v[keep])
    beta, se, df = _lm(z[keep] / sv, sv, np.ones(k))
    t = beta[0] / se[0]
    labels = _labels(data, a.size)
    return HarbordResult(bias=float(beta[0]), bias_se=float(se[0]), statistic=float(t), df=df,
                         pvalue=float(2 * special.stdtr(df, -abs(t))), slope=float(beta[1]), k=k,
                         excluded=tuple(lab for lab, kept in zip(labels, keep) if not kept))  # fmt: skip
