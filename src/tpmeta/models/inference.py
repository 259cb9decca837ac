"""Inference on a fitted model (:func:`tpmeta.pool` or :func:`tpmeta.meta_regression`) as metafor 3.8
does it on ``rma.uni`` fits: predictions (``predict``), study-specific estimates (``blup``), Wald tests
of coefficients and linear contrasts (``anova(res, btt=)``, ``anova(res, X=)``) and confidence intervals
for the (residual) τ² (``confint``). Likelihood-ratio tests of nested models are in
:mod:`tpmeta.models.comparison`, the likelihood profile of τ² in :mod:`tpmeta.models.profile`.

With β̂, ``V = Var(β̂)`` (knha-scaled under ``test="knha"``), τ̂², and c the two-sided critical value
(normal, or t on k − p df for knha; Knapp & Hartung 2003, doi:10.1002/sim.1482):

* prediction at x: ``x'β̂ ± c √(x'Vx)`` and the prediction interval ``x'β̂ ± c √(x'Vx + τ̂²)``
  (Higgins, Thompson & Spiegelhalter 2009, doi:10.1111/j.1467-985X.2008.00552.x);
* BLUP of study i (Raudenbush & Bryk 1985, doi:10.3102/10769986010002075): with
  ``λ_i = τ̂²/(τ̂² + v_i)``, ``λ_i y_i + (1 − λ_i) x_i'β̂``, variance ``λ_i v_i + (1 − λ_i)² x_i'Vx_i``,
  interval ± c·se;
* contrasts L (m × p) with right-hand side r: ``Lβ̂ − r``, se ``√diag(LVL')``, z or t, and the omnibus
  ``QM = (Lβ̂ − r)'(LVL')⁻¹(Lβ̂ − r)`` on m df (χ²; for knha QM/m on (m, k − p) df, F), when L has
  rank m; a Wald test of coefficients ``btt`` is L = the rows of the identity;
* Q-profile interval for τ² (Viechtbauer 2007, doi:10.1002/sim.2514): the τ² where
  ``Q(τ²) = y'P(τ²)y`` equals the χ²_{k−p} quantiles 1 − α/2 (lower bound) and α/2 (upper bound),
  0 where Q(0) is already below; the profile-likelihood interval of :mod:`tpmeta.models.profile`;
  I² and H² intervals transform the τ² bounds with ``ṽ = (k − p)/tr P_FE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, special

from .._results import ResultMixin, format_number
from ..options import Method, Test, _Option, parse_option
from ._fitted import _Fitted, check_level, fitted_view
from .metareg_engine import _q_roots
from .profile import _check_profilable, _pl_interval
from .tau2 import DEFAULT_MAX_ITER, DEFAULT_TOL

__all__ = ["predict", "PredictResult", "blup", "BlupResult", "wald_test", "WaldResult", "confint_tau2",
           "Tau2Interval", "Tau2CIType"]  # fmt: skip


class Tau2CIType(_Option):
    """Confidence interval for τ² (metafor's ``confint(res, type=)``)."""

    QP = "QP"  #: Q-profile (Viechtbauer 2007)
    PL = "PL"  #: profile likelihood (ML and REML fits)


def _rows_frame(result: Any, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: getattr(result, c) for c in columns}, index=pd.Index(result.labels, name="label"))


# --------------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PredictResult(ResultMixin):
    """Predicted (average) effects at given moderator values, with confidence and prediction intervals.

    Attributes
    ----------
    pred, se, ci_low, ci_high, pi_low, pi_high : one entry per row of ``X`` (the prediction interval
        adds τ̂² to the variance)
    X, names : the rows of the design the predictions are for, and the coefficient names (its columns)
    labels : a label per row (the study labels for fitted values)
    tau2, level, test, df : τ̂², the level, the test and its df (t quantiles on k − p df for knha)
    """

    pred: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    labels: tuple[str, ...]
    tau2: float
    level: float
    test: Test
    df: int | None

    _array_fields = ("pred", "se", "ci_low", "ci_high", "pi_low", "pi_high", "X", "names", "labels")

    def to_frame(self) -> pd.DataFrame:
        """One row per prediction: the moderator values, pred, se and the two intervals."""
        frame = pd.DataFrame(self.X, columns=list(self.names), index=pd.Index(self.labels, name="label"))
        frame = frame.drop(columns=[c for c in frame.columns if c == "intrcpt"])
        cols = ["pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"]
        return pd.concat([frame, _rows_frame(self, cols)], axis=1)

    def _repr_html_(self) -> str:
        return f"<table><caption>PredictResult (level {self.level:g})</caption></table>" + self.to_frame().to_html(
            float_format=format_number)

    def __repr__(self) -> str:
        return f"PredictResult(level={self.level:g}, test={self.test.value})\n" + self.to_frame().to_string()


def _new_design(f: _Fitted, newmods: Any, intercept: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    mods = [n for j, n in enumerate(f.names) if j != f.icol]
    if not mods:
        raise ValueError("the model has no moderators: predict(result) without newmods gives its estimate")
    if isinstance(newmods, dict):
        newmods = pd.DataFrame({k: np.atleast_1d(v) for k, v in newmods.items()})
    if isinstance(newmods, pd.DataFrame):
        missing = [n for n in mods if n not in newmods.columns]
        unknown = [str(c) for c in newmods.columns if c not in mods]
        if missing or unknown:
            raise ValueError(f"newmods must have one column per moderator coefficient {mods} "
                             f"(missing {missing}, unknown {unknown}); factors as their dummy columns")  # fmt: skip
        labels = tuple(str(i) for i in newmods.index)
        newmods = newmods[mods]
    else:
        labels = None
    try:
        arr = np.asarray(newmods, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("newmods must be numeric: give factors as the model's dummy columns "
                         f"(coefficients {mods})") from None  # fmt: skip
    if arr.ndim <= 1:
        arr = arr.reshape(-1, 1) if len(mods) == 1 else arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != len(mods):
        raise ValueError(f"newmods has {arr.shape[-1]} column(s) for the {len(mods)} moderator coefficient(s) "
                         f"{mods}")  # fmt: skip
    if not np.all(np.isfinite(arr)):
        raise ValueError("newmods must be finite numbers")
    if f.icol is not None:
        arr = np.insert(arr, f.icol, 1.0 if intercept else 0.0, axis=1)
    return arr, labels or tuple(str(i + 1) for i in range(arr.shape[0]))


def predict(result: Any, newmods: Any = None, *, intercept: bool = True, level: float | None = None
            ) -> PredictResult:  # fmt: skip
    """Predicted effects, as ``predict(res, newmods=)`` in metafor.

    ``x'β̂`` with ``se = √(x'Vx)``, the confidence interval ``x'β̂ ± c·se`` and the prediction interval
    ``x'β̂ ± c √(se² + τ̂²)``; c is the normal quantile, or the t quantile on k − p df under knha
    (Higgins, Thompson & Spiegelhalter 2009, doi:10.1111/j.1467-985X.2008.00552.x).

    Parameters
    ----------
    result : MetaRegResult or PoolResult
    newmods : array_like, DataFrame or dict, optional
        Moderator values, one row per prediction, one column per moderator coefficient (the model's
        ``names`` without ``intrcpt``; factors as their dummy columns, e.g. ``allocrandom``). A 1-D
        array gives several values of a single moderator, or one row when there are several. None:
        the fitted values of the studies (for a model without moderators, its one estimate).
    intercept : bool
        Include the intercept in x (metafor's ``intercept=``).
    level : float, optional
        Level of both intervals (default: the model's level).

    Examples
    --------
    >>> import tpmeta
    >>> res = tpmeta.meta_regression([0.1, 0.3, 0.35, 0.6, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03],
    ...                              [1, 2, 3, 4, 5], method="DL")
    >>> pr = predict(res, [0, 6])
    >>> [round(float(x), 4) for x in pr.pred], round(float(pr.pi_high[1]), 4)
    ([-0.0455, 0.8494], 1.2015)
    """
    f = fitted_view(result)
    level = check_level(level, f.level)
    if newmods is None:
        if f.p == 1 and f.icol is not None:
            X, labels = np.ones((1, 1)), ("pred",)
        else:
            X, labels = f.X.copy(), f.labels or tuple(str(i + 1) for i in range(f.k))
    else:
        X, labels = _new_design(f, newmods, intercept)
    pred = X @ f.coef
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, f.vcov, X), 0.0))
    c = f.crit(level)
    half_pi = c * np.sqrt(se**2 + f.tau2)
    out = {"pred": pred, "se": se, "ci_low": pred - c * se, "ci_high": pred + c * se, "pi_low": pred - half_pi,
           "pi_high": pred + half_pi, "X": X}  # fmt: skip
    for arr in out.values():
        arr.setflags(write=False)
    return PredictResult(**out, names=f.names, labels=tuple(labels), tau2=f.tau2, level=level, test=f.test,
                         df=f.df)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# blup
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class BlupResult(ResultMixin):
    """Best linear unbiased predictions of the study-specific true effects (``blup.rma.uni``).

    Attributes
    ----------
    pred, se, pi_low, pi_high : per study (metafor's names: the interval is a prediction interval)
    shrinkage : λ_i = τ̂²/(τ̂² + v_i), the weight of the study's own estimate
    labels, tau2, level, test, df
    """

    pred: np.ndarray
    se: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    shrinkage: np.ndarray
    labels: tuple[str, ...]
    tau2: float
    level: float
    test: Test
    df: int | None

    _array_fields = ("pred", "se", "pi_low", "pi_high", "shrinkage", "labels")

    def to_frame(self) -> pd.DataFrame:
        """One row per study: pred, se, pi_low, pi_high and the shrinkage weight."""
        return _rows_frame(self, ["pred", "se", "pi_low", "pi_high", "shrinkage"])

    def _repr_html_(self) -> str:
        return f"<table><caption>BlupResult (level {self.level:g})</caption></table>" + self.to_frame().to_html(
            float_format=format_number)

    def __repr__(self) -> str:
        return f"BlupResult(tau2={format_number(self.tau2)}, level={self.level:g})\n" + self.to_frame().to_string()


def blup(result: Any, level: float | None = None) -> BlupResult:
    """Study-specific estimates shrunk towards the model's prediction, as ``blup(res)`` in metafor.

    ``λ_i y_i + (1 − λ_i) x_i'β̂`` with ``λ_i = τ̂²/(τ̂² + v_i)``, variance ``λ_i v_i + (1 − λ_i)² x_i'Vx_i``,
    interval ``± c·se`` (c normal, or t on k − p df under knha); Raudenbush & Bryk 1985,
    doi:10.3102/10769986010002075. Under FE (τ² = 0) these are the fitted values.

    Examples
    --------
    >>> import tpmeta
    >>> res = tpmeta.pool([0.1, 0.5, 0.9, 0.2, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03])
    >>> [round(float(x), 3) for x in blup(res).pred]
    [0.169, 0.496, 0.826, 0.287, 0.647]
    """
    f = fitted_view(result)
    level = check_level(level, f.level)
    lam = f.tau2 / (f.tau2 + f.v)
    fitted = f.X @ f.coef
    vfit = np.einsum("ij,jk,ik->i", f.X, f.vcov, f.X)
    pred = lam * f.y + (1 - lam) * fitted
    se = np.sqrt(lam * f.v + (1 - lam) ** 2 * vfit)
    c = f.crit(level)
    out = {"pred": pred, "se": se, "pi_low": pred - c * se, "pi_high": pred + c * se, "shrinkage": lam}
    for arr in out.values():
        arr.setflags(write=False)
    return BlupResult(**out, labels=f.labels or tuple(str(i + 1) for i in range(f.k)), tau2=f.tau2, level=level,
                      test=f.test, df=f.df)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Wald tests of coefficients and contrasts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class WaldResult(ResultMixin):
    """Wald tests of linear hypotheses ``Lβ = r`` (``anova(res, btt=)`` / ``anova(res, X=)``).

    Attributes
    ----------
    hypotheses : each row as text, e.g. ``"allocrandom - allocsystematic = 0"``
    estimate, se, statistic, pvalue, ci_low, ci_high : per row, of ``Lβ̂ − r`` (z, or t on df for knha)
    L, rhs : the hypothesis matrix (m × p) and right-hand side
    qm, qm_df, qm_df2, qm_pvalue : the omnibus test of all rows (χ² on qm_df; F on (qm_df, qm_df2) for
        knha); NaN when L has rank < m
    test, level, df
    """

    hypotheses: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    L: np.ndarray
    rhs: np.ndarray
    qm: float
    qm_df: int
    qm_df2: int | None
    qm_pvalue: float
    test: Test
    level: float
    df: int | None

    _array_fields = ("hypotheses", "estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "L", "rhs")

    def table(self) -> pd.DataFrame:
        """One row per hypothesis: estimate, se, statistic, pvalue, ci_low, ci_high."""
        return pd.DataFrame({c: getattr(self, c) for c in ("estimate", "se", "statistic", "pvalue", "ci_low",
                                                            "ci_high")},
                            index=pd.Index(self.hypotheses, name="hypothesis"))  # fmt: skip

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.table().to_html(float_format=format_number)

    def __repr__(self) -> str:
        dist = f"F({self.qm_df}, {self.qm_df2})" if self.qm_df2 is not None else f"chi2({self.qm_df})"
        return (f"WaldResult(test={self.test.value})  {dist} = {format_number(self.qm)}, "
                f"p = {format_number(self.qm_pvalue)}\n" + self.table().to_string())  # fmt: skip


def _btt(f: _Fitted, btt: Any) -> list[int]:
    names = list(f.names)
    if btt is None:
        return [j for j in range(f.p) if j != f.icol] or [0]
    if isinstance(btt, str):
        idx = [j for j, n in enumerate(names) if re.search(btt, n)]
        if not idx:
            raise ValueError(f"btt={btt!r} matches no coefficient of {names}")
        return idx
    items = [btt] if isinstance(btt, (int, np.integer)) else list(btt)
    idx = []
    for b in items:
        if isinstance(b, str):
            if b not in names:
                raise ValueError(f"btt: no coefficient named {b!r}; the coefficients are {names}")
            idx.append(names.index(b))
        elif isinstance(b, (int, np.integer)) and not isinstance(b, bool) and 0 <= b < f.p:
            idx.append(int(b))
        else:
            raise ValueError(f"btt: {b!r} is not a coefficient position 0..{f.p - 1} (0-based) or name of {names}")
    if not idx:
        raise ValueError("btt is empty: name at least one coefficient")
    return sorted(set(idx))


def _hypothesis(row: np.ndarray, names: tuple[str, ...], rhs: float) -> str:
    text = ""
    for c, name in zip(row, names):
        if c == 0:
            continue
        term = name if abs(c) == 1 else f"{abs(c):g}*{name}"
        text += (" - " if c < 0 else " + ") + term if text else ("-" if c < 0 else "") + term
    return f"{text or '0'} = {rhs:g}"


def wald_test(result: Any, btt: Any = None, *, L: Any = None, rhs: Any = 0.0, level: float | None = None
              ) -> WaldResult:  # fmt: skip
    """Wald test of coefficients (``btt``) or of linear contrasts ``Lβ = r`` (metafor's ``anova(res, btt=)``
    and ``anova(res, X=)``).

    Each row: ``Lβ̂ − r`` with ``se = √diag(LVL')``, a z test (t on k − p df under knha) and an interval;
    all rows together: ``QM = (Lβ̂ − r)'(LVL')⁻¹(Lβ̂ − r)`` on m df (χ²), or ``QM/m`` on (m, k − p) df (F)
    under knha (Knapp & Hartung 2003, doi:10.1002/sim.1482); NaN when L has rank < m.

    Parameters
    ----------
    result : MetaRegResult or PoolResult
    btt : int, str or sequence, optional
        Coefficients to test: 0-based positions (metafor counts from 1) or names; a single string is a
        regular expression matched against the names as metafor does (``"alloc"``: every alloc dummy).
        Default: every coefficient but the intercept (the model's QM).
    L : array_like (m, p), optional
        Contrast rows, one column per coefficient (instead of ``btt``). metafor also accepts p − 1
        columns and then prepends the intercept; tpmeta asks for all p, so that a row means one thing.
    rhs : float or array_like (m,)
        Hypothesised values r (default 0).
    level : float, optional
        Level of the per-row intervals (default: the model's level).

    Examples
    --------
    >>> import tpmeta
    >>> res = tpmeta.meta_regression([0.1, 0.3, 0.35, 0.6, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03],
    ...                              [1, 2, 3, 4, 5], method="DL")
    >>> w = wald_test(res, L=[[1, 3]])
    >>> w.hypotheses, round(float(w.estimate[0]), 4), round(w.qm, 3)
    (('intrcpt + 3*mods = 0',), 0.402, 30.256)
    """
    f = fitted_view(result)
    level = check_level(level, f.level)
    if L is not None:
        if btt is not None:
            raise ValueError("give btt (coefficients) or L (contrasts), not both")
        try:
            Lm = np.atleast_2d(np.asarray(L, dtype=float))
        except (TypeError, ValueError):
            raise ValueError("L must be a numeric matrix, one column per coefficient") from None
        if Lm.ndim != 2 or Lm.shape[1] != f.p or Lm.shape[0] == 0 or not np.all(np.isfinite(Lm)):
            raise ValueError(f"L must be a finite matrix with one column per coefficient {list(f.names)} "
                             f"(got shape {np.shape(L)})")  # fmt: skip
    else:
        Lm = np.eye(f.p)[_btt(f, btt)]
    m = Lm.shape[0]
    r = np.broadcast_to(np.asarray(rhs, dtype=float), (m,)) if np.size(rhs) in (1, m) else None
    if r is None or not np.all(np.isfinite(r)):
        raise ValueError(f"rhs must be one finite number or {m} (one per hypothesis)")
    est = Lm @ f.coef - r
    V = Lm @ f.vcov @ Lm.T
    se = np.sqrt(np.maximum(np.diag(V), 0.0))
    stat = est / se
    c = f.crit(level)
    qm = np.nan
    if np.linalg.matrix_rank(Lm) == m:
        try:
            qm = float(est @ linalg.cho_solve(linalg.cho_factor(V), est))
        except linalg.LinAlgError:
            qm = np.nan
    if f.t_test:
        qm = qm / m
        qm_p = float(special.fdtrc(m, f.k - f.p, qm)) if np.isfinite(qm) else np.nan
    else:
        qm_p = float(special.chdtrc(m, qm)) if np.isfinite(qm) else np.nan
    out = {"estimate": est, "se": se, "statistic": stat, "pvalue": f.pvalue(stat), "ci_low": est - c * se,
           "ci_high": est + c * se, "L": Lm, "rhs": np.array(r)}  # fmt: skip
    for arr in out.values():
        arr.setflags(write=False)
    hyp = tuple(_hypothesis(Lm[i], f.names, float(r[i])) for i in range(m))
    return WaldResult(hypotheses=hyp, **out, qm=qm, qm_df=m, qm_df2=f.df, qm_pvalue=qm_p, test=f.test,
                      level=level, df=f.df)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Confidence interval for τ²
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Tau2Interval(ResultMixin):
    """A confidence interval for the (residual) τ², with τ, I² and H² (``confint(res)$random``).

    Attributes
    ----------
    tau2, ci_low, ci_high : τ̂² and its interval; tau, tau_ci_low, tau_ci_high : their square roots
    i2, i2_ci_low, i2_ci_high : I² (percent); h2, h2_ci_low, h2_ci_high : H²
    type : Q-profile (QP) or profile likelihood (PL); level, method, k, p
    converged : the root finding succeeded; ci_connected : False when a profile-likelihood region is not
        one interval (the bounds give its hull)
    """

    tau2: float
    ci_low: float
    ci_high: float
    tau: float
    tau_ci_low: float
    tau_ci_high: float
    i2: float
    i2_ci_low: float
    i2_ci_high: float
    h2: float
    h2_ci_low: float
    h2_ci_high: float
    type: Tau2CIType
    level: float
    method: Method
    k: int
    p: int
    converged: bool
    ci_connected: bool

    def table(self) -> pd.DataFrame:
        """metafor's layout: rows tau^2, tau, I^2(%), H^2; columns estimate, ci_low, ci_high."""
        rows = [(self.tau2, self.ci_low, self.ci_high), (self.tau, self.tau_ci_low, self.tau_ci_high),
                (self.i2, self.i2_ci_low, self.i2_ci_high), (self.h2, self.h2_ci_low, self.h2_ci_high)]
        return pd.DataFrame(rows, columns=["estimate", "ci_low", "ci_high"],
                            index=pd.Index(["tau^2", "tau", "I^2(%)", "H^2"]))  # fmt: skip

    def __repr__(self) -> str:
        return (f"Tau2Interval(type={self.type.value}, level={self.level:g}, method={self.method.value})\n"
                + self.table().to_string(float_format=format_number))  # fmt: skip


def confint_tau2(result: Any, level: float | None = None, type: Tau2CIType | str = "QP") -> Tau2Interval:
    """Confidence interval for the (residual) τ² of a pooled or meta-regression model, with τ, I² and H²,
    as ``confint(res, type=)`` in metafor.

    ``QP``: the Q-profile interval, the τ² at which ``Q(τ²) = Σ w_i(τ²)(y_i − x_i'β̂(τ²))²`` equals the
    χ²_{k−p} quantiles ``1 − α/2`` (lower bound) and ``α/2`` (upper bound), 0 where ``Q(0)`` is already
    below (Viechtbauer 2007, doi:10.1002/sim.2514). ``PL``: the profile-likelihood interval
    ``{τ²: 2(ℓ(τ̂²) − ℓ(τ²)) ≤ χ²_{1,1−α}}`` of an ML or REML fit (:func:`tpmeta.profile_tau2`). I² and H²
    bounds are ``100 τ²/(ṽ + τ²)`` and ``1 + τ²/ṽ`` at the τ² bounds, ``ṽ = (k − p)/tr P_FE``.
    The bounds are the roots themselves: metafor searches ``[0, tau2.max]`` (by default
    ``max(100, 10 τ̂²)``) and reports that end with ">" when a root lies beyond it.

    Raises
    ------
    ValueError
        A fixed-effect model, τ² fixed by the user, k ≤ p, or ``type="PL"`` for a fit other than ML/REML.

    Examples
    --------
    >>> import tpmeta
    >>> res = tpmeta.pool([0.1, 0.5, 0.9, 0.2, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03])
    >>> ci = confint_tau2(res)
    >>> round(ci.ci_low, 4), round(ci.ci_high, 4), round(ci.i2_ci_low, 1)
    (0.0167, 0.9003, 38.7)
    """
    f = fitted_view(result)
    level = check_level(level, f.level)
    kind = parse_option(Tau2CIType, type, "type")
    if f.method is Method.FE:
        raise ValueError("a fixed-effect model has no random-effects component: no interval for tau^2")
    if f.tau2_fixed:
        raise ValueError("tau^2 was fixed (tau2=), not estimated: there is no interval for it")
    if f.k <= f.p:
        raise ValueError(f"{f.k} studies for {f.p} coefficients: no residual df for an interval for tau^2")
    connected = True
    if kind is Tau2CIType.QP:
        alpha = 1.0 - level
        targets = [special.chdtri(f.k - f.p, alpha / 2), special.chdtri(f.k - f.p, 1 - alpha / 2)]
        (low, high), conv = _q_roots(f.y, f.v, f.X, f.icol, targets, DEFAULT_TOL, DEFAULT_MAX_ITER)
        converged = bool(conv.all())
    else:
        low, high, connected, _, _, _ = _pl_interval(f, level, _check_profilable(f))
        converged = True
    vt = f.typical_v()
    t = np.array([f.tau2, low, high])
    i2, h2 = 100 * t / (vt + t), t / vt + 1
    tau = np.sqrt(t)
    return Tau2Interval(tau2=f.tau2, ci_low=float(low), ci_high=float(high), tau=float(tau[0]),
                        tau_ci_low=float(tau[1]), tau_ci_high=float(tau[2]), i2=float(i2[0]),
                        i2_ci_low=float(i2[1]), i2_ci_high=float(i2[2]), h2=float(h2[0]), h2_ci_low=float(h2[1]),
                        h2_ci_high=float(h2[2]), type=kind, level=level, method=f.method, k=f.k, p=f.p,
                        converged=converged, ci_connected=connected)  # fmt: skip
