"""Meta-regression (mixed-effects models) with nine τ² estimators, batched, and permutation tests.

Model: ``y_i = x_i'β + u_i + e_i``, ``u_i ~ N(0, τ²)``, ``e_i ~ N(0, v_i)``. Given τ̂², with
``W = diag(1/(v_i + τ̂²))``: ``β̂ = (X'WX)⁻¹X'Wy`` and ``Var(β̂) = (X'WX)⁻¹``. Everything below
follows metafor 3.8's ``rma.uni()`` with moderators (Viechtbauer 2010, doi:10.18637/jss.v036.i03),
with ``P = W − WX(X'WX)⁻¹X'W``, ``Q(τ²) = y'Py = Σ w_i r_i²`` (``r = y − Xβ̂``), k studies, p
coefficients:

* ``FE`` τ² = 0; ``DL`` ``(Q_FE − (k−p)) / tr P_FE``; ``HS`` ``(Q_FE − k) / Σ(1/v)``;
  ``HE`` ``(y'(I−H)y − tr((I−H)V)) / (k−p)`` with the OLS hat matrix H;
  ``SJ`` ``τ₀² Q(τ₀²)/(k−p)``, ``τ₀² = Σ(y − ȳ)²/k``; ``PM`` (and ``EB``, whose fixed point
  ``Q·k/(k−p) = k`` is the same equation) the root of ``Q(τ²) = k − p``, 0 if ``Q(0) < k − p``;
  ``ML``/``REML`` Fisher scoring from HE with steps ``(y'PPy − Σw)/Σw²`` and ``(y'PPy − tr P)/tr PP``,
  safeguarded by bisection as in :mod:`tpmeta.models.pooling`, and metafor's check of the likelihood at 0.
  All are truncated at 0. Their standard errors ``tau2_se`` are metafor's formulas.
* ``QM = β̂_b' Var(β̂_b)⁻¹ β̂_b`` over the moderators b (every coefficient but the intercept) on m df;
  ``QE = Q_FE`` on k − p df; ``I² = 100 τ̂²/(τ̂² + ṽ)``, ``H² = 1 + τ̂²/ṽ``,
  ``ṽ = (k−p)/tr P_FE``
  (for FE: ``(QE − (k−p))/QE`` and ``QE/(k−p)``); pseudo-R² ``= max(0, 100 (τ̂²_RE − τ̂²)/τ̂²_RE)``
  with τ̂²_RE from the intercept-only model (for FE metafor's weighted adjusted R² of ``lm``).
* Knapp & Hartung (2003, doi:10.1002/sim.1482): ``s² = Σ w_i r_i² / (k − p)``, ``Var = s²(X'WX)⁻¹``,
  t tests on k − p df and ``QM/m`` as an F test on (m, k − p) df.

No k×k matrix is formed: ``tr P = Σw − tr(A X'W²X)``, ``tr PP = Σw² − 2 tr(A X'W³X) +
tr((A X'W²X)²)``, ``y'PPy = Σ(w r)²``, ``A = (X'WX)⁻¹``; so :func:`_fit_batch` fits thousands of
models (bootstrap, permutation, specification curves) in one call with p×p algebra. Moderators
are centred and scaled internally (the column space, hence τ̂², Q and QM, is unchanged) so that
``X'WX`` stays well conditioned; β̂ and its covariance are transformed back.

With ``tau2=`` the model is fitted at that τ² (metafor's ``rma(..., tau2=)``). The fit statistics are
metafor's (log-likelihood, deviance, AIC, BIC, AICc; :func:`~tpmeta.models.metareg_engine._fit_stats`);
tests, predictions and intervals on a fitted model are in :mod:`tpmeta.models.inference`.

Permutation tests (Higgins & Thompson 2004, doi:10.1002/sim.1752) follow metafor's ``permutest()``.

One deliberate difference: in models without an intercept metafor 3.8 estimates τ² and QE from
mean-centred outcomes; tpmeta uses the outcomes themselves (the two agree whenever the model has an
intercept, or a factor coded in full, as then P removes the mean anyway).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._results import CoefTableMixin, format_number
from ..errors import ConvergenceWarning, DataProblem, StudyDataError
from ..options import Method, Test, parse_option
from .metareg_engine import _BatchFit, _Design, _fit_batch, _fit_stats, _is_t
from .pooling import DEFAULT_MAX_ITER, DEFAULT_TOL, _check_level, _study_inputs

__all__ = ["meta_regression", "MetaRegResult"]

# --------------------------------------------------------------------------------------------------
# Design matrix from user input
# --------------------------------------------------------------------------------------------------


def _is_factor(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == bool or not (
        pd.api.types.is_numeric_dtype(col.dtype)
    )


def _design(mods: Any, k: int, intercept: bool, labels: list[str] | None):
    """(X, names, intercept_col) with factors dummy-coded as R's model.matrix does."""

    def where(i: int) -> str:
        return f"study '{labels[i]}'" if labels is not None else f"study {i + 1}"

    if mods is None:
        frame = pd.DataFrame(index=range(k))
    elif isinstance(mods, pd.DataFrame):
        frame = mods.reset_index(drop=True)
    elif isinstance(mods, pd.Series):
        frame = mods.reset_index(drop=True).to_frame(name=mods.name if mods.name is not None else "mods")
    else:
        arr = np.asarray(mods)
        if arr.ndim > 2:
            raise StudyDataError(DataProblem(f"mods must be 1-D or 2-D (got shape {arr.shape})"))
        arr = arr.reshape(arr.shape[0] if arr.ndim else 1, -1)
        names = ["mods"] if np.ndim(mods) < 2 else [f"mods{j + 1}" for j in range(arr.shape[1])]
        frame = pd.DataFrame(arr, columns=names)
    if len(frame) != k:
        raise StudyDataError(DataProblem(f"mods has {len(frame)} rows for {k} studies", column="mods",
                                         fix="give one row of moderators per study"))  # fmt: skip
    problems, cols, names = [], [], []
    full_dummies = not intercept
    for name in frame.columns:
        col = frame[name]
        missing = col.isna().to_numpy()
        if _is_factor(col):
            for i in np.flatnonzero(missing):
                problems.append(DataProblem(f"{where(i)}: missing moderator value", row=int(i), column=str(name),
                                            fix="supply the value or drop the study"))  # fmt: skip
            if missing.any():
                continue
            cat = col.astype("category") if col.dtype != bool else pd.Categorical(col, [False, True])
            cat = pd.Categorical(cat).remove_unused_categories()
            levels = list(cat.categories)
            if len(levels) < 2:
                raise StudyDataError(DataProblem(f"moderator '{name}' has a single level ({levels[0]!r})",
                                                 column=str(name), fix="drop the column"))  # fmt: skip
            codes = np.asarray(cat.codes)
            for j, lev in enumerate(levels):
                if j == 0 and not full_dummies:
                    continue
                cols.append((codes == j).astype(float))
                names.append(f"{name}{lev}")
            full_dummies = False
            continue
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        for i in np.flatnonzero(~np.isfinite(values)):
            problems.append(DataProblem(f"{where(i)}: moderator is not a finite number", row=int(i),
                                        column=str(name), value=col.iloc[i],
                                        fix="supply the value or drop the study"))  # fmt: skip
        cols.append(values)
        names.append(str(name))
    if problems:
        raise StudyDataError(problems)
    if intercept:
        cols.insert(0, np.ones(k))
        names.insert(0, "intrcpt")
    if not cols:
        raise StudyDataError(DataProblem("no intercept and no moderators: nothing to estimate",
                                         fix="use intercept=True or give moderators"))  # fmt: skip
    X = np.column_stack(cols)
    _check_rank(X, names, 0 if intercept else None)
    return X, tuple(names), (0 if intercept else None)


def _check_rank(X: np.ndarray, names: list[str], intercept_col: int | None) -> None:
    Xt = _Design(X, None, intercept_col).X
    norms = np.linalg.norm(Xt, axis=0)
    for j in range(X.shape[1]):
        sv = np.linalg.svd(Xt[:, : j + 1] / np.where(norms[: j + 1] > 0, norms[: j + 1], 1), compute_uv=False)
        if norms[j] == 0 or sv[-1] < 1e-7 * sv[0]:
            if intercept_col is not None and np.ptp(X[:, j]) == 0:
                what = "is constant, so it duplicates the intercept"
            elif norms[j] == 0:
                what = "is zero for every study"
            else:
                what = f"is collinear with (a linear combination of) {', '.join(map(repr, names[:j]))}"
            raise StudyDataError(DataProblem(
                f"moderator '{names[j]}' {what}: the coefficients are not identifiable",
                column=names[j], fix="drop the redundant column(s) of mods"))  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Public single-model API
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MetaRegResult(CoefTableMixin):
    """A fitted meta-regression (mixed-effects model); definitions in :mod:`tpmeta.models.metareg`.

    Attributes
    ----------
    names : coefficient names ("intrcpt" first when there is an intercept)
    coef, se, statistic, pvalue, ci_low, ci_high : per coefficient (z, or t on k − p df for knha)
    vcov : covariance matrix of the coefficients
    tau2, tau2_se : residual between-study variance and its standard error (NaN for FE, or τ² fixed)
    tau2_fixed : τ² was given (``tau2=``), not estimated
    qm, qm_df, qm_df2, qm_pvalue : omnibus test of the moderators (χ² on qm_df; F on (qm_df, qm_df2) for knha)
    qe, qe_df, qe_pvalue : test for residual heterogeneity
    i2, h2 : residual I² (percent) and H²; r2 : pseudo-R² in percent (NaN without intercept or moderators)
    parms : number of parameters (p, plus 1 for an estimated τ²)
    loglik, deviance, aic, bic, aicc : metafor's fit statistics (``fit.stats``), restricted (REML) for
        ``method="REML"``, else maximum likelihood; formulas in :func:`metareg_engine._fit_stats`
    k, p, method, test, level, converged, n_iter, intercept
    yi, vi, X, labels : the data (X the design matrix, intercept first), kept for :func:`permutation_test`
        and the inference of :mod:`tpmeta.models.inference`
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    vcov: np.ndarray
    tau2: float
    tau2_se: float
    qm: float
    qm_df: int
    qm_df2: int | None
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    i2: float
    h2: float
    r2: float
    k: int
    p: int
    method: Method
    test: Test
    level: float
    converged: bool
    n_iter: int
    intercept: bool
    tau2_fixed: bool
    parms: int
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    yi: np.ndarray = field(default_factory=lambda: np.empty(0))
    vi: np.ndarray = field(default_factory=lambda: np.empty(0))
    X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    labels: tuple[str, ...] = ()

    _array_fields = ("names", "coef", "se", "statistic", "pvalue", "ci_low", "ci_high", "vcov",
                     "yi", "vi", "X", "labels")  # fmt: skip

    def __repr__(self) -> str:
        dist = f"F({self.qm_df}, {self.qm_df2})" if self.qm_df2 is not None else f"chi2({self.qm_df})"
        lines = [f"MetaRegResult(method={self.method.value}, test={self.test.value}, k={self.k}, p={self.p})",
                 f"  tau2 {format_number(self.tau2)}{' (fixed)' if self.tau2_fixed else ''}  I2 {format_number(self.i2, 1)}%  "
                 f"R2 {format_number(self.r2, 1)}%  QE {format_number(self.qe)} (p = {format_number(self.qe_pvalue)})",
                 f"  QM {dist} = {format_number(self.qm)}  p = {format_number(self.qm_pvalue)}"]  # fmt: skip
        for j, name in enumerate(self.names):
            lines.append(f"  {name:>12} {format_number(self.coef[j]):>10} [{format_number(self.ci_low[j])}, "
                         f"{format_number(self.ci_high[j])}]  p = {format_number(self.pvalue[j])}")  # fmt: skip
        if not self.converged:
            lines.append(f"  NOT CONVERGED after {self.n_iter} iterations")
        return "\n".join(lines)


def meta_regression(
    yi: Any,
    vi: Any,
    mods: Any = None,
    *,
    intercept: bool = True,
    method: Method | str = "REML",
    test: Test | str = "z",
    level: float = 0.95,
    labels: Any = None,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    tau2: float | None = None,
) -> MetaRegResult:
    """Fit a meta-regression (mixed-effects model) as ``metafor::rma(yi, vi, mods=, method=, test=)``.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (``vi > 0``), one per study.
    mods : array_like (k,) or (k, q), pandas Series or DataFrame, optional
        Moderators. DataFrame columns give the names; non-numeric, categorical and boolean columns
        are factors, dummy-coded with the first level (sorted, or the categorical's order) as
        reference as R does (all levels of the first factor without intercept). Arrays are
        named ``mods`` (1-D) or ``mods1``, ``mods2``, … None: the intercept-only model.
    intercept : bool
        Include an intercept (named ``intrcpt``).
    method : {"REML", "FE", "DL", "ML", "PM", "HE", "SJ", "HS", "EB"}
    test : {"z", "knha", "knha_adhoc"}
        Wald z / χ² tests, or Knapp & Hartung t / F tests (``knha_adhoc``: the variance scale factor
        is at least 1, metafor's ``test="adhoc"``).
    level : float
        Confidence level.
    labels : sequence of str, optional
        Study labels for error messages (from a pandas index of ``yi`` if not given).
    tol, max_iter
        Convergence tolerance and iteration cap of the iterative τ² estimators.
    tau2 : float, optional
        A fixed residual τ² ≥ 0 instead of an estimate (``rma(..., tau2=)``): the model is fitted at
        that value and τ² is not a parameter (``parms = p``). ``method`` then only decides the pseudo-R²
        (the intercept-only model is still estimated with it) and which likelihood the fit statistics
        report (REML or ML). ``tau2_se`` is NaN: metafor computes the
        method's formula at the fixed value but does not print it, and a fixed value has no sampling error.

    Raises
    ------
    StudyDataError
        Invalid yi/vi, mods of the wrong length, missing or non-numeric moderator values (naming the
        study and column), collinear or constant moderators, or fewer studies than parameters.

    Examples
    --------
    >>> res = meta_regression([0.1, 0.3, 0.35, 0.6, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03],
    ...                       [1, 2, 3, 4, 5], method="DL")
    >>> res.names, [round(float(b), 4) for b in res.coef], round(res.qm, 3)
    (('intrcpt', 'mods'), [-0.0455, 0.1491], 8.511)
    """
    method = parse_option(Method, method, "method")
    test = parse_option(Test, test, "test")
    level = _check_level(level)
    fixed = tau2 is not None
    if fixed:
        if method is Method.FE:
            raise ValueError("tau2= fixes the between-study variance of a random-effects model; method='FE' "
                             "already has tau^2 = 0 (use another method, or tau2=0)")  # fmt: skip
        tau2 = float(tau2)
        if not (math.isfinite(tau2) and tau2 >= 0):
            raise ValueError(f"tau2={tau2!r} must be a finite number >= 0")
    y, v, labels = _study_inputs(yi, vi, labels)
    X, names, icol = _design(mods, y.size, intercept, labels)
    k, p = X.shape
    need = p if (method is Method.FE or fixed) else p + 1
    if k < need:
        raise StudyDataError(DataProblem(f"{k} studies for {p} coefficients"
                                         f"{'' if need == p else ' and tau^2'}: too few studies",
                                         fix="use fewer moderators"))  # fmt: skip
    fit = _fit_batch(y, v, X, method=method, test=test, level=level, intercept_col=icol, tol=tol,
                     max_iter=max_iter, tau2=tau2)  # fmt: skip
    if not fit.converged[0]:
        warnings.warn(f"{method.value} estimation of tau^2 did not converge in {int(fit.n_iter[0])} "
                      f"iterations (tol={tol}); the result is flagged converged=False",
                      ConvergenceWarning, stacklevel=2)  # fmt: skip
    r2 = _pseudo_r2(y, v, X, icol, fit, method, tol, max_iter)
    arrays = {a: np.array(getattr(fit, b)[0]) for a, b in (("coef", "beta"), ("vcov", "vb"), ("se", "se"),
              ("statistic", "statistic"), ("pvalue", "pvalue"), ("ci_low", "ci_low"), ("ci_high", "ci_high"))}
    for arr in (y, v, X, *arrays.values()):
        arr.setflags(write=False)
    f0 = {n_: float(getattr(fit, n_)[0]) for n_ in ("tau2", "tau2_se", "qm", "qm_pvalue", "qe",
                                                       "qe_pvalue", "i2", "h2")}  # fmt: skip
    mdf = p - 1 if (icol is not None and p > 1) else p
    parms = p + (0 if (method is Method.FE or fixed) else 1)
    stats = _fit_stats(y, v, X, icol, f0["tau2"], parms, reml=method is Method.REML)
    return MetaRegResult(
        names=names, **arrays, **f0, qm_df=mdf, qm_df2=(k - p) if _is_t(test) else None,
        qe_df=k - p, r2=r2, k=k, p=p, method=method, test=test, level=level,
        converged=bool(fit.converged[0]), n_iter=int(fit.n_iter[0]), intercept=icol is not None,
        tau2_fixed=fixed, parms=parms, **stats, yi=y, vi=v, X=X, labels=tuple(labels) if labels is not None else (),
    )  # fmt: skip


def _pseudo_r2(y, v, X, icol, fit: _BatchFit, method: Method, tol, max_iter) -> float:
    """metafor's R²: (τ²_RE − τ²)/τ²_RE in percent; FE: weighted adjusted R² of lm(yi ~ X)."""
    k, p = X.shape
    if icol is None or p == 1 or k == p:
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        if method is Method.FE:
            w = 1.0 / v
            tss = float((w * (y - (w * y).sum() / w.sum()) ** 2).sum())
            if np.var(y) == 0 or tss == 0:  # metafor: identical(var(yi), 0)
                return 0.0
            adj = 1.0 - (float(fit.qe[0]) / tss) * (k - 1) / (k - p)
            return max(0.0, 100.0 * adj)
        null = _fit_batch(y, v, np.ones((k, 1)), method=method, tol=tol, max_iter=max_iter)
    t_re = float(null.tau2[0])
    if not null.converged[0]:
        return math.nan  # metafor: R² is NA when the intercept-only fit fails
    return 0.0 if t_re == 0 else max(0.0, 100.0 * (t_re - float(fit.tau2[0])) / t_re)
