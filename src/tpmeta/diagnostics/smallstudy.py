"""Small-study effects: the adjustments (trim-and-fill, PET-PEESE); the tests (Egger, Begg, Peters,
Harbord) live in :mod:`tpmeta.diagnostics.regtest` and are re-exported here.

Adjustments.

Trim and fill (Duval & Tweedie 2000, doi:10.1111/j.0006-341X.2000.00455.x; Duval & Tweedie 2000,
doi:10.1080/01621459.2000.10473905), as metafor 3.8's ``trimfill()`` (Viechtbauer 2010,
doi:10.18637/jss.v036.i03):

1. *Side.* Unless given, the side on which studies are missing is chosen by metafor's rule: fit the
   meta-regression ``y_i = b₀ + b₁ √v_i`` with the model's τ² method; ``b₁ < 0`` → missing on the
   right, otherwise on the left. (Studies missing on the left are filled with values mirrored from the
   right.) For the right side everything below runs on ``−y``.
2. *Iterate.* Sort the studies by effect (stably). Starting from k₀ = 0, refit the model (same
   method) to the k − k₀ smallest effects, giving μ̂; rank ``|y_i − μ̂|`` over all k studies (ties by
   order) and sign the ranks by ``y_i − μ̂``. With ``S_r`` the sum of the positive signed ranks:

   * ``L0 = (4 S_r − k(k+1)) / (2k − 1)``, ``SE = 4 √Var(S_r) / (2k − 1)``,
     ``Var(S_r) = [k(k+1)(2k+1) + 10 L³ + 27 L² + 17 L − 18 k L² − 18 k L + 6 k² L] / 24`` at L = L0;
   * ``R0 = k − h − 1`` with h the largest rank of a study below μ̂ (the rightmost run of positive ranks
     minus one), ``SE = √(2 max(0, R0) + 2)``, and ``p = 0.5^(R0 + 1)`` (``p_k0`` in metafor). A study
     exactly at μ̂ counts as below, and h = 0 when there is none; this differs from metafor only where
     no study lies below μ̂ (e.g. all effects equal), where metafor stops with an error.

   k₀ = max(0, round(estimator)) (round half to even, as R); repeat until k₀ no longer changes. The
   reported SE is that of the last iteration, at the unrounded L0.
3. *Fill.* The k₀ largest effects are mirrored about the last μ̂: ``y* = 2μ̂ − y_i``, with the same
   ``v_i``, and the model is refitted to the k + k₀ studies with the same method. With k₀ = 0 the filled
   model is the original one.

PET-PEESE (Stanley & Doucouliagos 2014, doi:10.1002/jrsm.1095): weighted least squares with weights
``1/v_i`` and a free multiplicative dispersion (as R's ``lm(yi ~ sei, weights = 1/vi)``), of
``y_i = b₀ + b₁ SE_i`` (PET) and of ``y_i = b₀ + b₁ v_i`` (PEESE); the intercept b₀ is the effect of a
study with SE → 0. ``rma(yi, vi, mods = ~sei, method = "FE")`` gives the same coefficients but standard
errors that fix the dispersion at 1 (smaller by the residual SD ``σ̂``); the ``lm`` form is the one
Stanley & Doucouliagos use, and the one validated here. The conditional estimator reports PEESE when
PET's intercept is significant, PET otherwise; the rule used is stated in :func:`pet_peese`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin
from ..models.metareg_engine import _fit_batch
from ..models.pooling import PoolResult, pool, pool_batch
from ..options import Method
from .regtest import (
    MIN_STUDIES_FOR_TESTS,
    BeggResult,
    EggerResult,
    _warn_few,
    begg_test,
    egger_test,
)

__all__ = [
    "EggerResult",
    "BeggResult",
    "egger_test",
    "begg_test",
    "MIN_STUDIES_FOR_TESTS",
    "TrimFillResult",
    "PetPeeseResult",
    "trim_and_fill",
    "pet_peese",
]

# --------------------------------------------------------------------------------------------------
# Adjustments
# --------------------------------------------------------------------------------------------------

_MIN_STUDIES = 3


def _equal_precision(v: np.ndarray) -> bool:
    """All standard errors equal (to rounding): a regression on SE or on v is not identified."""
    se = np.sqrt(v)
    return bool(np.ptp(se) <= 1e-12 * se.max())


def _check(result: PoolResult, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    y = np.asarray(result.yi, dtype=float)
    v = np.asarray(result.vi, dtype=float)
    k = y.size
    if k < _MIN_STUDIES:
        raise ValueError(f"{what} needs at least {_MIN_STUDIES} studies (k = {k})")
    _warn_few(what, k)
    return y, v, k


# --------------------------------------------------------------------------------------------------
# Meta-regression with one moderator: the side-selection rule of trimfill()
# --------------------------------------------------------------------------------------------------


def _metareg(y: np.ndarray, v: np.ndarray, x: np.ndarray, method: Method) -> tuple[np.ndarray, float]:
    """Coefficients ``(b₀, b₁)`` and τ² of ``y = b₀ + b₁ x`` with τ² by ``method``, as
    ``metafor::rma(yi, vi, mods = ~x, method = method)``: the meta-regression engine of
    :mod:`tpmeta.models.metareg` (for ML/REML the global maximum of the likelihood)."""
    X = np.column_stack([np.ones(y.size), x])
    fit = _fit_batch(y[None, :], v[None, :], X, method=method)
    return fit.beta[0], float(fit.tau2[0])


# --------------------------------------------------------------------------------------------------
# Trim and fill
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class TrimFillResult(ResultMixin):
    """Trim-and-fill analysis.

    Attributes
    ----------
    k0, se_k0 : estimated number of missing studies and its standard error (metafor's ``k0``, ``se.k0``)
    p_k0 : for R0, the p-value of the test k₀ = 0 (``0.5^(k0+1)``); NaN for L0
    side : "left" or "right", the side on which studies were filled
    side_slope : the slope of the side-selection regression on √v (NaN when ``side`` was given)
    estimator : "L0" or "R0"
    n_iter : iterations of the trim-and-fill algorithm
    estimate, ci_low, ci_high, pvalue, tau2 : of the filled model; original_estimate : of the input
    filled : PoolResult of the k + k₀ studies (the input model itself when k₀ = 0)
    imputed_yi, imputed_vi : the filled-in studies (labelled "Filled 1", … in ``filled``)
    """

    k0: int
    se_k0: float
    p_k0: float
    side: str
    side_slope: float
    estimator: str
    n_iter: int
    estimate: float
    ci_low: float
    ci_high: float
    pvalue: float
    tau2: float
    original_estimate: float
    filled: PoolResult
    imputed_yi: np.ndarray
    imputed_vi: np.ndarray

    _array_fields = ("filled", "imputed_yi", "imputed_vi")

    @property
    def fill(self) -> np.ndarray:
        """Boolean, one per study of ``filled``: True for the imputed ones (metafor's ``fill``)."""
        return np.arange(self.filled.k) >= self.filled.k - self.k0

    @property
    def imputed(self) -> pd.DataFrame:
        """The imputed studies: ``study`` label, ``yi``, ``vi``."""
        labels = self.filled.study_labels[self.filled.k - self.k0:]
        return pd.DataFrame({"study": labels, "yi": self.imputed_yi, "vi": self.imputed_vi})

    def __repr__(self) -> str:
        return (f"TrimFillResult(estimator={self.estimator}, side={self.side}, k0={self.k0}, "
                f"estimate={self.estimate:.4f} [{self.ci_low:.4f}, {self.ci_high:.4f}], "
                f"original={self.original_estimate:.4f})")  # fmt: skip


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1…k, ties by order of appearance (R's ``rank(ties.method = "first")``)."""
    r = np.empty(a.size, dtype=float)
    r[np.argsort(a, kind="stable")] = np.arange(1, a.size + 1)
    return r


def _k0_estimate(yc: np.ndarray, estimator: str) -> tuple[float, float]:
    k = yc.size
    rank = _ranks(np.abs(yc))
    sign = np.sign(yc)
    if estimator == "R0":
        below = rank[sign <= 0]  # studies below μ̂ (an exact tie has the smallest ranks)
        k0 = k - (below.max() if below.size else 0.0) - 1.0
        return k0, float(np.sqrt(2.0 * max(0.0, k0) + 2.0))
    sr = rank[sign > 0].sum()
    k0 = (4.0 * sr - k * (k + 1)) / (2 * k - 1)
    var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0**3 + 27 * k0**2 + 17 * k0 - 18 * k * k0**2
              - 18 * k * k0 + 6 * k**2 * k0) / 24.0  # fmt: skip
    se = 4.0 * np.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else np.nan
    return k0, float(se)


def trim_and_fill(
    result: PoolResult,
    estimator: Literal["L0", "R0"] = "L0",
    side: Literal["left", "right"] | None = None,
    *,
    max_iter: int = 100,
) -> TrimFillResult:
    """Duval and Tweedie's trim and fill, as ``metafor::trimfill()``.

    The algorithm, the side-selection rule and the estimators are described in
    :mod:`tpmeta.diagnostics.smallstudy` (Duval & Tweedie 2000, doi:10.1111/j.0006-341X.2000.00455.x). All fits use
    ``result``'s τ² method. The filled model also keeps ``result``'s test and level; metafor 3.8's
    ``trimfill()`` refits with its defaults (z test, 95%) whatever the input model used, so the two agree
    for the default ``test="z"``, ``level=0.95``.

    Parameters
    ----------
    result : PoolResult
        The model to adjust (at least 3 studies).
    estimator : {"L0", "R0"}
    side : {"left", "right"}, optional
        Side on which studies are missing; by default chosen by the sign of the slope of the
        regression on √v (metafor's rule).
    max_iter : int
        Iteration cap (metafor's ``maxiter``).

    Returns
    -------
    TrimFillResult

    Raises
    ------
    ValueError
        Fewer than 3 studies, an unknown estimator or side, or ``side=None`` with all variances equal
        (metafor stops with an error there too).
    RuntimeError
        The number of missing studies did not settle within ``max_iter`` iterations.

    Example
    -------
    >>> from tpmeta import pool
    >>> y = [0.1, 0.3, 0.35, 0.6, 0.9, 0.25, 0.45, 0.15, 0.7, 0.5]
    >>> v = [0.01, 0.02, 0.04, 0.08, 0.16, 0.03, 0.05, 0.015, 0.1, 0.06]
    >>> tf = trim_and_fill(pool(y, v, method="FE"))
    >>> tf.side, tf.k0, round(tf.estimate, 4)  # metafor trimfill(): k0 = 5, estimate 0.1893939
    ('left', 5, 0.1894)
    >>> tf.imputed.round(4).values.tolist()[:2]
    [['Filled 1', -0.0712, 0.05], ['Filled 2', -0.1212, 0.06]]
    """
    y, v, k = _check(result, "trim_and_fill")
    if estimator not in ("L0", "R0"):
        raise ValueError(f"estimator={estimator!r} is not valid; choose 'L0' or 'R0'")
    slope = np.nan
    if side is None:
        if _equal_precision(v):
            raise ValueError("all studies have the same variance, so the regression on √v that chooses "
                             "the side is undefined; pass side='left' or side='right'")  # fmt: skip
        beta, _ = _metareg(y, v, np.sqrt(v), result.method)
        slope = float(beta[1])
        side = "right" if slope < 0 else "left"
    elif side not in ("left", "right"):
        raise ValueError(f"side={side!r} is not valid; choose 'left', 'right' or None (automatic)")
    flip = -1.0 if side == "right" else 1.0
    order = np.argsort(flip * y, kind="stable")
    ys, vs = flip * y[order], v[order]
    present = np.arange(k)
    k0, k0_prev, n_iter = 0, -1, 0
    while k0 != k0_prev:
        k0_prev = k0
        n_iter += 1
        if n_iter > max_iter:
            raise RuntimeError(f"trim and fill did not converge in {max_iter} iterations")
        fit = pool_batch(ys, vs, present < k - k0, method=result.method, tau2_ci=False)
        beta = float(fit.estimate)
        yc = ys - beta
        raw, se_k0 = _k0_estimate(yc, estimator)
        k0 = max(0, int(np.round(raw)))
        se_k0 = max(0.0, se_k0) if not np.isnan(se_k0) else np.nan
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else np.nan
    if k0 > 0:
        mirrored = yc - beta if side == "left" else -(yc - beta)
        imputed_yi = -mirrored[k - k0:]
        imputed_vi = vs[k - k0:].copy()
        labels = result.study_labels + [f"Filled {i + 1}" for i in range(k0)]
        filled = pool(np.concatenate([y, imputed_yi]), np.concatenate([v, imputed_vi]), method=result.method,
                      test=result.test, level=result.level, labels=labels)  # fmt: skip
    else:
        imputed_yi, imputed_vi = np.empty(0), np.empty(0)
        filled = result
    for arr in (imputed_yi, imputed_vi):
        arr.setflags(write=False)
    return TrimFillResult(
        k0=k0, se_k0=float(se_k0), p_k0=float(p_k0), side=side, side_slope=slope, estimator=estimator,
        n_iter=n_iter, estimate=filled.estimate, ci_low=filled.ci_low, ci_high=filled.ci_high,
        pvalue=filled.pvalue, tau2=filled.tau2, original_estimate=result.estimate, filled=filled,
        imputed_yi=imputed_yi, imputed_vi=imputed_vi,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# PET-PEESE
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PetPeeseResult(ResultMixin):
    """PET, PEESE and the conditional PET-PEESE estimate.

    ``pet_*`` and ``peese_*``: intercept and slope with standard errors (lm-style, residual dispersion
    estimated), t statistics and two-sided p-values on ``df = k − 2`` degrees of freedom; ``sigma`` is
    the residual SD. ``selected`` is "PET" or "PEESE"; ``estimate``, ``ci_low``, ``ci_high``
    (t interval at ``level``) are that model's intercept. ``rule_pvalue`` is the p-value of PET's
    intercept used by the rule (one- or two-sided, see ``alternative``), compared with ``alpha``.
    """

    selected: str
    estimate: float
    ci_low: float
    ci_high: float
    pet_intercept: float
    pet_intercept_se: float
    pet_intercept_t: float
    pet_intercept_p: float
    pet_slope: float
    pet_slope_se: float
    pet_slope_t: float
    pet_slope_p: float
    pet_sigma: float
    peese_intercept: float
    peese_intercept_se: float
    peese_intercept_t: float
    peese_intercept_p: float
    peese_slope: float
    peese_slope_se: float
    peese_slope_t: float
    peese_slope_p: float
    peese_sigma: float
    rule_pvalue: float
    alpha: float
    alternative: str
    df: int
    k: int
    level: float

    def __repr__(self) -> str:
        return (f"PetPeeseResult(selected={self.selected}, estimate={self.estimate:.4f} "
                f"[{self.ci_low:.4f}, {self.ci_high:.4f}], "
                f"PET p={self.rule_pvalue:.4f} ({self.alternative}))")


def _wls(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """``lm(y ~ x, weights = w)``: coefficients, SEs, t, two-sided p and residual SD."""
    k = y.size
    X = np.column_stack([np.ones(k), x])
    XtW = X.T * w
    cov_unscaled = np.linalg.inv(XtW @ X)
    beta = cov_unscaled @ (XtW @ y)
    df = k - 2
    sigma2 = float((w * (y - X @ beta) ** 2).sum() / df)
    se = np.sqrt(sigma2 * np.diag(cov_unscaled))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    p = 2.0 * special.stdtr(df, -np.abs(t))
    out = {"sigma": float(np.sqrt(sigma2))}
    for i, name in enumerate(("intercept", "slope")):
        out.update({name: float(beta[i]), f"{name}_se": float(se[i]), f"{name}_t": float(t[i]),
                    f"{name}_p": float(p[i])})  # fmt: skip
    return out


def pet_peese(
    result: PoolResult,
    *,
    alpha: float = 0.05,
    alternative: Literal["auto", "greater", "less", "two-sided"] = "auto",
    level: float = 0.95,
) -> PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimator (Stanley & Doucouliagos 2014,
    doi:10.1002/jrsm.1095).

    PET: ``y_i = b₀ + b₁ SE_i``; PEESE: ``y_i = b₀ + b₁ v_i``; both weighted least squares with weights
    ``1/v_i`` and an estimated multiplicative dispersion, identical to R's
    ``lm(yi ~ sei, weights = 1/vi)`` and ``lm(yi ~ vi, weights = 1/vi)`` (metafor's
    ``rma(yi, vi, mods = ~sei, method = "FE")`` has the same coefficients but dispersion-1 SEs).

    Rule (stated here because the literature varies): PEESE is selected when PET's intercept rejects
    ``H₀: b₀ = 0`` at ``alpha`` (default 0.05) with a **one-sided** t test (df = k − 2) in the direction
    of the pooled estimate of ``result`` (``alternative="auto"``), i.e. when PET finds a genuine effect
    in the direction of the meta-analysis; otherwise PET's intercept is reported. Source: Stanley &
    Doucouliagos (2014) use PEESE when PET rejects b₀ = 0, testing one-tailed at 5% in the direction
    of the effect; later statements of the rule (Stanley 2017, doi:10.1177/1948550617693062) and
    implementations (JASP) use the equivalent two-tailed 10% test, which is what ``"auto"`` gives when
    the intercept has the sign of the pooled estimate. ``alternative`` = ``"greater"``/``"less"`` fixes
    the direction; ``"two-sided"`` gives the two-sided test at ``alpha`` (two-sided 5% by default).

    Raises
    ------
    ValueError
        Fewer than 3 studies, all variances equal, or invalid ``alpha``, ``alternative`` or ``level``.

    Example
    -------
    >>> from tpmeta import pool
    >>> y = [0.1, 0.3, 0.35, 0.6, 0.9, 0.25, 0.45, 0.15, 0.7, 0.5]
    >>> v = [0.01, 0.02, 0.04, 0.08, 0.16, 0.03, 0.05, 0.015, 0.1, 0.06]
    >>> pp = pet_peese(pool(y, v, method="FE"))
    >>> pp.selected, round(pp.pet_intercept, 4), round(pp.peese_intercept, 4), round(pp.estimate, 4)
    ('PET', -0.1593, 0.0822, -0.1593)
    """
    y, v, k = _check(result, "pet_peese")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha!r} must be in (0, 1), e.g. 0.05")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    if alternative not in ("auto", "greater", "less", "two-sided"):
        raise ValueError(
            f"alternative={alternative!r} is not valid; choose 'auto', 'greater', 'less' or 'two-sided'"
        )
    if _equal_precision(v):
        raise ValueError("PET-PEESE needs studies of different precision: all variances are equal")
    w = 1.0 / v
    pet = _wls(y, np.sqrt(v), w)
    peese = _wls(y, v, w)
    df = k - 2
    t0 = pet["intercept_t"]
    if alternative == "two-sided":
        rule_p = pet["intercept_p"]
    else:
        direction = alternative
        if direction == "auto":
            direction = "less" if result.estimate < 0 else "greater"
        rule_p = float(special.stdtr(df, -t0) if direction == "greater" else special.stdtr(df, t0))
    use = peese if rule_p < alpha else pet
    crit = float(special.stdtrit(df, 1.0 - (1.0 - level) / 2.0))
    fields = {f"{name}_{key}": val for name, fit in (("pet", pet), ("peese", peese))
              for key, val in fit.items()}  # fmt: skip
    return PetPeeseResult(
        selected="PEESE" if use is peese else "PET", estimate=use["intercept"],
        ci_low=use["intercept"] - crit * use["intercept_se"],
        ci_high=use["intercept"] + crit * use["intercept_se"],
        **fields, rule_pvalue=float(rule_p), alpha=float(alpha), alternative=alternative, df=df, k=k,
        level=float(level),
    )  # fmt: skip
