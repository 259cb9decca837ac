"""Three-level meta-analysis of dependent effect sizes: effects within studies within the analysis.

Model (Konstantopoulos 2011, doi:10.1002/jrsm.35): effect i of study j is
``y_ij = x_ij'β + u_j + w_ij + e_ij`` with ``u_j ~ N(0, σ²₁)`` (between studies), ``w_ij ~ N(0, σ²₂)``
(between effects within a study) and ``e_ij ~ N(0, v_ij)`` (sampling error), all independent; the
marginal covariance is block-diagonal by study, ``V_j = diag(v_j + σ²₂) + σ²₁ 11'``. This is metafor's
``rma.mv(yi, vi, mods=, random = ~ 1 | study/es_id, method=)`` with one row per effect.

Estimation. With ``P = V⁻¹ − V⁻¹X(X'V⁻¹X)⁻¹X'V⁻¹`` and β̂ the GLS estimate, metafor's log-likelihoods
(constants included) are ``ℓ_ML = −½ k log 2π − ½ log|V| − ½ y'Py`` and
``ℓ_REML = −½ (k − p) log 2π + ½ log|X'X| − ½ log|V| − ½ log|X'V⁻¹X| − ½ y'Py``. The variance
components maximise one of them over σ²₁, σ²₂ ≥ 0 by Newton's method on the exact Hessian
``H_rs = ½ tr(Q G_r Q G_s) − y'P G_r P G_s P y`` (Q = P for REML, V⁻¹ for ML; ``G₁ = ZZ'`` the
study blocks of ones, ``G₂ = I``) with score ``½ (y'P G_r P y − tr(Q G_r))``, falling back to Fisher
scoring (``½ tr(Q G_r Q G_s)``) where −H is not positive definite, halving steps that lower ℓ, and
keeping a component at 0 while its score there is ≤ 0 (the Karush-Kuhn-Tucker condition of the
boundary). Each study block is inverted by the Sherman-Morrison formula, so a fit costs O(k p²) per
iteration and no k×k matrix is formed. The local maximum is then checked against a scan of ℓ on a
25 × 25 grid (0 and 24 geometric points up to ``U = max((k+p)/(k−p) max v, 2 RSS_OLS/(k−p))`` per
component); a grid point higher by more than 1e-9 (relative) restarts Newton there and the higher
maximum wins. ``converged``, ``n_iter`` (Newton steps, all starts) and a boundary flag per component
are reported; non-convergence warns with :class:`~tpmeta.errors.ConvergenceWarning`.

Inference (as metafor): ``Var(β̂) = (X'V⁻¹X)⁻¹``; z tests, or t tests on k − p df (``test="t"``);
``QM`` on the moderators (χ², or QM/m as F(m, k − p)); ``QE = Σ (y − Xβ̂_FE)²/v`` on k − p df. I² per
level (Cheung 2014, doi:10.1037/a0032968, with metafor's generalisation to moderators):
``I²_r = 100 σ²_r / (σ²₁ + σ²₂ + ṽ)``, ``ṽ = (k − p)/tr P₀``, ``P₀`` the P of ``V = diag(v)`` (for
the intercept-only model ṽ is Higgins & Thompson's typical sampling variance). Fit statistics are
metafor's ``fit.stats`` (the ML deviance against ``ℓ_QE = −½ k log 2π − ½ Σ log v``).
:func:`profile_sigma2` gives the profile likelihood of one component (the other re-maximised) and its
profile-likelihood interval (metafor's ``profile`` and ``confint`` of ``rma.mv``). Cluster-robust
(CR2) inference on a fit: :func:`tpmeta.models.robust.robust`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from .._results import CoefTableMixin, ResultMixin, format_number
from ..errors import ConvergenceWarning, DataProblem, StudyDataError
from ..options import Method, MultilevelTest, parse_option
from .metareg import _design
from .metareg_engine import _Design
from .pooling import _check_level, _study_inputs
from .tau2 import DEFAULT_MAX_ITER, DEFAULT_TOL

__all__ = ["multilevel", "MultilevelResult", "profile_sigma2", "Sigma2Profile"]

_LOG2PI = math.log(2.0 * math.pi)
#: grid points per component of the scan for other maxima (0 included)
SCAN_POINTS = 25
#: a scanned point beats the local maximum only if ℓ is higher by more than this (relative to 1 + |ℓ|)
BEATEN_TOL = 1e-9


class _ThreeLevel:
    """``V = diag(v) + σ²₁ ZZ' + σ²₂ I`` for data sorted by study; V⁻¹ per block by Sherman-Morrison."""

    def __init__(self, y: np.ndarray, v: np.ndarray, X: np.ndarray, codes: np.ndarray):
        self.y, self.v, self.X = y, v, X
        new = np.r_[True, codes[1:] != codes[:-1]]
        self.starts, self.idx = np.flatnonzero(new), np.cumsum(new) - 1
        self.k, self.p = X.shape
        self.logdet_xx = np.linalg.slogdet(X.T @ X)[1]

    def seg(self, a: np.ndarray, axis: int = 0) -> np.ndarray:
        return np.add.reduceat(a, self.starts, axis=axis)

    def vinv(self, u: np.ndarray, e: np.ndarray, c: np.ndarray) -> np.ndarray:
        """``V⁻¹u`` for u of shape (k,) or (k, m), by study block:
        ``V_j⁻¹ = D⁻¹ − c_j D⁻¹11'D⁻¹`` with ``D = diag(v + σ²₂)``, ``c_j = σ²₁/(1 + σ²₁ Σ_j 1/d)``."""
        e_ = e if u.ndim == 1 else e[:, None]
        eu = e_ * u
        s = self.seg(eu)
        return eu - e_ * (c if u.ndim == 1 else c[:, None])[self.idx] * s[self.idx]

    def state(self, theta: np.ndarray) -> dict[str, Any]:
        t1, t2 = float(theta[0]), float(theta[1])
        d = self.v + t2
        e = 1.0 / d
        a = self.seg(e)
        c = t1 / (1.0 + t1 * a)
        U = self.vinv(self.X, e, c)
        xvx = self.X.T @ U
        A = np.linalg.inv(xvx)
        beta = A @ (U.T @ self.y)
        r = self.y - self.X @ beta
        q = self.vinv(r, e, c)
        return {"t1": t1, "e": e, "a": a, "c": c, "U": U, "A": A, "beta": beta, "q": q, "rss": float(r @ q),
                "logdet_v": float(np.log(d).sum() + np.log1p(t1 * a).sum()),
                "logdet_xvx": float(np.linalg.slogdet(xvx)[1])}  # fmt: skip

    def loglik(self, st: dict[str, Any], reml: bool) -> float:
        if reml:
            return (-0.5 * (self.k - self.p) * _LOG2PI + 0.5 * self.logdet_xx - 0.5 * st["logdet_v"]
                    - 0.5 * st["logdet_xvx"] - 0.5 * st["rss"])  # fmt: skip
        return -0.5 * self.k * _LOG2PI - 0.5 * st["logdet_v"] - 0.5 * st["rss"]

    def loglik_many(self, theta: np.ndarray, reml: bool) -> np.ndarray:
        """ℓ at each row of ``theta`` (g, 2), vectorised (for the scan). The k-long sums depend on σ²₂
        only, so they are formed once per distinct σ²₂ (a 25 × 25 grid: 25 times, not 625)."""
        t1 = theta[:, :1]
        t2, row = np.unique(theta[:, 1], return_inverse=True)
        d = self.v[None, :] + t2[:, None]
        e = 1.0 / d
        a = self.seg(e, axis=1)[row]
        c = t1 / (1.0 + t1 * a)
        eX = e[..., None] * self.X[None]
        sX, sy = self.seg(eX, axis=1)[row], self.seg(e * self.y, axis=1)[row]
        xvx = np.einsum("kp,gkq->gpq", self.X, eX)[row] - np.einsum("gj,gjp,gjq->gpq", c, sX, sX)
        xvy = ((e * self.y) @ self.X)[row] - np.einsum("gj,gjp,gj->gp", c, sX, sy)
        yvy = (e * self.y * self.y).sum(axis=1)[row] - (c * sy * sy).sum(axis=1)
        rss = yvy - np.einsum("gp,gp->g", xvy, np.linalg.solve(xvx, xvy[..., None])[..., 0])
        logdet_v = np.log(d).sum(axis=1)[row] + np.log1p(t1 * a).sum(axis=1)
        if reml:
            return (-0.5 * (self.k - self.p) * _LOG2PI + 0.5 * self.logdet_xx - 0.5 * logdet_v
                    - 0.5 * np.linalg.slogdet(xvx)[1] - 0.5 * rss)  # fmt: skip
        return -0.5 * self.k * _LOG2PI - 0.5 * logdet_v - 0.5 * rss

    def derivs(self, st: dict[str, Any], reml: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score, Hessian and expected information of ℓ in (σ²₁, σ²₂) (module docstring)."""
        e, a, c, U, A, q, t1 = st["e"], st["a"], st["c"], st["U"], st["A"], st["q"], st["t1"]
        f = 1.0 / (1.0 + t1 * a)
        b = a * f  # 1'V_j⁻¹1
        e2, e3 = self.seg(e * e), self.seg(e**3)
        sq = self.seg(q)
        Gq = (sq[self.idx], q)
        tr = np.array([b.sum(), e.sum() - (c * e2).sum()])
        T = np.array([[(b * b).sum(), (e2 * f * f).sum()], [0.0, (e2 - 2 * c * e3 + c * c * e2 * e2).sum()]])
        T[1, 0] = T[0, 1]
        if reml:
            sU = self.seg(U)
            M = (sU.T @ sU, U.T @ U)
            n12 = sU.T @ (self.seg(e[:, None] * U) * f[:, None])
            N = ((sU * b[:, None]).T @ sU, n12, n12.T, self.vinv(U, e, c).T @ U)
            tr = tr - np.array([np.trace(A @ M[0]), np.trace(A @ M[1])])
            for r in range(2):
                for s in range(2):
                    T[r, s] += (-np.trace(A @ N[2 * r + s]) - np.trace(A @ N[2 * s + r])
                                + np.trace(A @ M[r] @ A @ M[s]))  # fmt: skip
        score = 0.5 * (np.array([sq @ sq, q @ q]) - tr)
        info = 0.5 * T
        PGq = [self.vinv(g, e, c) - U @ (A @ (U.T @ g)) for g in Gq]
        cross = np.array([[Gq[r] @ PGq[s] for s in range(2)] for r in range(2)])
        return score, info - 0.5 * (cross + cross.T), info


def _newton(m: _ThreeLevel, reml: bool, est: np.ndarray, start: np.ndarray, tol: float, max_iter: int):
    """Local maximum of ℓ over the estimated components ``est`` from ``start``: (θ, converged, steps)."""
    theta = np.array(start, dtype=float)
    st = m.state(theta)
    ll = m.loglik(st, reml)
    for it in range(1, max_iter + 1):
        score, hess, info = m.derivs(st, reml)
        free = est & ~((theta <= 0.0) & (score <= 0.0))
        if not free.any():
            return theta, True, it - 1
        F = np.ix_(free, free)
        neg_h = -hess[F]
        mat = neg_h if np.all(np.linalg.eigvalsh(neg_h) > 0) else info[F]
        step = np.linalg.lstsq(mat, score[free], rcond=None)[0]
        for halvings in range(60):  # step-halving: ℓ never decreases (beyond rounding)
            new = theta.copy()
            new[free] = np.maximum(0.0, theta[free] + step)
            st_new = m.state(new)
            ll_new = m.loglik(st_new, reml)
            if ll_new >= ll - 1e-13 * (1.0 + abs(ll)):
                break
            step = step / 2
        else:  # no ascent along the Newton (or scoring) direction: stop, flagged
            return theta, False, it
        delta = np.abs(new - theta)
        theta, st, ll = new, st_new, ll_new
        # converged on a full (not halved) step below the tolerance; at a bound the next iteration
        # checks the sign of the score there
        if halvings == 0 and np.all(delta <= tol * (1.0 + theta)):
            return theta, True, it
    return theta, False, max_iter


def _maximise(m: _ThreeLevel, reml: bool, est: np.ndarray, theta0: np.ndarray, tol: float, max_iter: int):
    """The (restricted) ML estimate: Newton from metafor's start, checked against a grid scan."""
    if not est.any():
        return theta0.copy(), True, 0
    w = 1.0 / m.v
    b_fe = np.linalg.lstsq(m.X * np.sqrt(w)[:, None], m.y * np.sqrt(w), rcond=None)[0]
    resid = m.y - m.X @ b_fe
    total = max(0.002, float(np.var(resid, ddof=1)) - 1.0 / float(np.mean(w)))  # rma.mv's start
    start = np.where(est, total / 2.0, theta0)
    theta, conv, n_iter = _newton(m, reml, est, start, tol, max_iter)
    kp = m.k - m.p
    rss_ols = float(np.sum((m.y - m.X @ np.linalg.lstsq(m.X, m.y, rcond=None)[0]) ** 2))
    upper = max((m.k + m.p) / kp * float(m.v.max()), 2.0 * rss_ols / kp)
    axis = np.r_[0.0, np.geomspace(float(m.v.min()) * 1e-3, upper, SCAN_POINTS - 1)]
    axes = [axis if est[r] else np.array([theta0[r]]) for r in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    ll_grid = m.loglik_many(grid, reml)
    ll_grid[~np.isfinite(ll_grid)] = -np.inf
    ll_local = float(m.loglik_many(theta[None], reml)[0])
    best = int(np.argmax(ll_grid))
    if ll_grid[best] > ll_local + BEATEN_TOL * (1.0 + abs(ll_local)):
        theta2, conv2, n2 = _newton(m, reml, est, grid[best], tol, max_iter)
        n_iter += n2
        if float(m.loglik_many(theta2[None], reml)[0]) > ll_local:
            theta, conv = theta2, conv2
    return theta, conv, n_iter


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------


def _study_codes(study: Any, k: int, labels: list[str] | None, column: str = "study"
                 ) -> tuple[np.ndarray, tuple[str, ...]]:  # fmt: skip
    """Codes 0..J−1 of the groups (sorted labels) and the labels; a missing value is a DataProblem."""
    s = pd.Series(list(study) if not isinstance(study, pd.Series) else study.to_list(), dtype=object)
    if len(s) != k:
        raise StudyDataError(DataProblem(f"{column} has {len(s)} values for {k} effect sizes", column=column,
                                         fix=f"give the {column} of every effect size"))  # fmt: skip
    problems = [DataProblem(f"effect '{labels[i] if labels else i + 1}': {column} is missing", row=int(i),
                            column=column, value=None, fix=f"name the {column} the effect size belongs to")
                for i in np.flatnonzero(s.isna().to_numpy())]  # fmt: skip
    if problems:
        raise StudyDataError(problems)
    codes, levels = pd.factorize(s.astype(str), sort=True)
    return codes.astype(int), tuple(str(x) for x in levels)


def _check_nesting(codes: np.ndarray, levels: tuple[str, ...]) -> None:
    """A single study, or one effect per study (then ``ZZ' = I`` and σ²₁, σ²₂ are one parameter)."""
    if len(levels) < 2:
        raise StudyDataError(DataProblem(f"all effect sizes come from one study ({levels[0]!r}): the "
                                         "between-study variance is not identifiable", column="study",
                                         value=levels[0], fix="use pool() or meta_regression() within "
                                         "one study"))  # fmt: skip
    if np.bincount(codes).max() == 1:
        raise StudyDataError(DataProblem(f"each of the {len(levels)} studies has a single effect size: the "
                                         "between- and within-study variances are not separately identifiable",
                                         column="study", fix="use pool() or meta_regression() (one level of "
                                         "heterogeneity), or fix one component with sigma2="))  # fmt: skip


def _check_sigma2(sigma2: Any) -> tuple[np.ndarray, np.ndarray]:
    """(estimated mask, fixed values) from ``sigma2=(s1 or None, s2 or None)``."""
    if sigma2 is None:
        return np.ones(2, bool), np.zeros(2)
    vals = list(sigma2)
    if len(vals) != 2:
        raise ValueError(f"sigma2={sigma2!r} must be a pair (between, within); None estimates a component")
    est = np.array([x is None for x in vals])
    fixed = np.zeros(2)
    for r, x in enumerate(vals):
        if x is not None:
            x = float(x)
            if not (math.isfinite(x) and x >= 0):
                raise ValueError(f"sigma2={sigma2!r}: a fixed variance component must be finite and >= 0")
            fixed[r] = x
    return est, fixed


# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MultilevelResult(CoefTableMixin):
    """A fitted three-level model; definitions in :mod:`tpmeta.models.multilevel`.

    Attributes
    ----------
    names, coef, se, statistic, pvalue, ci_low, ci_high : per coefficient (z, or t on k − p df)
    vcov : model-based covariance of the coefficients, ``(X'V⁻¹X)⁻¹``
    sigma2_between, sigma2_within : σ²₁ (between studies) and σ²₂ (effects within studies); also
        as the array ``sigma2``; ``between_fixed``/``within_fixed`` when given, not estimated
    between_at_zero, within_at_zero : an estimated component is on the boundary 0
    i2_between, i2_within, i2_total : I² per level and their sum, percent (also the array ``i2``)
    qe, qe_df, qe_pvalue : test for residual heterogeneity; qm, qm_df, qm_df2, qm_pvalue : moderators
    loglik, deviance, aic, bic, aicc : metafor's fit statistics (REML or ML, as the method); parms
    k (effects), n_studies, p, method, test, level, converged, n_iter, intercept
    yi, vi, X, study, study_levels, labels : the data in input order (``study`` as codes into
        ``study_levels``), kept for :func:`tpmeta.models.robust.robust` and :func:`profile_sigma2`
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    vcov: np.ndarray
    sigma2_between: float
    sigma2_within: float
    between_fixed: bool
    within_fixed: bool
    between_at_zero: bool
    within_at_zero: bool
    i2_between: float
    i2_within: float
    i2_total: float
    qe: float
    qe_df: int
    qe_pvalue: float
    qm: float
    qm_df: int
    qm_df2: int | None
    qm_pvalue: float
    k: int
    n_studies: int
    p: int
    method: Method
    test: MultilevelTest
    level: float
    converged: bool
    n_iter: int
    intercept: bool
    parms: int
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    yi: np.ndarray = field(default_factory=lambda: np.empty(0))
    vi: np.ndarray = field(default_factory=lambda: np.empty(0))
    X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    study: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    study_levels: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    _array_fields = ("names", "coef", "se", "statistic", "pvalue", "ci_low", "ci_high", "vcov", "yi", "vi",
                     "X", "study", "study_levels", "labels")  # fmt: skip

    @property
    def sigma2(self) -> np.ndarray:
        """``[σ²₁, σ²₂]``: between studies, within studies."""
        return np.array([self.sigma2_between, self.sigma2_within])

    @property
    def i2(self) -> np.ndarray:
        """``[I²_between, I²_within]`` in percent."""
        return np.array([self.i2_between, self.i2_within])

    def __repr__(self) -> str:
        flag = {True: " (fixed)", False: ""}
        lines = [f"MultilevelResult(method={self.method.value}, test={self.test.value}, k={self.k}, "
                 f"studies={self.n_studies}, p={self.p})",
                 f"  sigma2 between {format_number(self.sigma2_between)}{flag[self.between_fixed]} "
                 f"(I2 {format_number(self.i2_between, 1)}%)  within {format_number(self.sigma2_within)}"
                 f"{flag[self.within_fixed]} (I2 {format_number(self.i2_within, 1)}%)",
                 f"  QE {format_number(self.qe)} (p = {format_number(self.qe_pvalue)})  QM "
                 f"{format_number(self.qm)} (p = {format_number(self.qm_pvalue)})"]  # fmt: skip
        for j, name in enumerate(self.names):
            lines.append(f"  {name:>12} {format_number(self.coef[j]):>10} [{format_number(self.ci_low[j])}, "
                         f"{format_number(self.ci_high[j])}]  p = {format_number(self.pvalue[j])}")  # fmt: skip
        if not self.converged:
            lines.append(f"  NOT CONVERGED after {self.n_iter} iterations")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def _prepare(yi, vi, study, mods, intercept, labels):
    y, v, labels = _study_inputs(yi, vi, labels, ("effect sizes", "effect size"))
    codes, levels = _study_codes(study, y.size, labels)
    X, names, icol = _design(mods, y.size, intercept, labels)
    return y, v, codes, levels, X, names, icol, labels


def _model(y, v, X, codes, icol) -> tuple[_ThreeLevel, np.ndarray]:
    """The engine on the sorted, preconditioned data, and T⁻¹ mapping its β back (β = T⁻¹β̃)."""
    design = _Design(X, None, icol)
    order = np.argsort(codes, kind="stable")
    return _ThreeLevel(y[order], v[order], design.X[order], codes[order]), design.tinv[0]


def multilevel(
    yi: Any,
    vi: Any,
    *,
    study: Any,
    mods: Any = None,
    intercept: bool = True,
    method: Method | str = "REML",
    test: MultilevelTest | str = "z",
    level: float = 0.95,
    sigma2: tuple[float | None, float | None] | None = None,
    labels: Any = None,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> MultilevelResult:
    """Fit the three-level model ``rma.mv(yi, vi, mods=, random = ~ 1 | study/es_id, method=)``.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (``vi > 0``), one row per effect size.
    study : array_like
        The study (cluster) of each effect size; any labels. Effects of a study share σ²₁.
    mods, intercept : moderators and intercept, coded as in :func:`tpmeta.meta_regression`.
    method : {"REML", "ML"}
    test : {"z", "t"}
        Wald z tests, or t tests on k − p df with QM/m as an F test (metafor's ``test="t"``).
    level : confidence level.
    sigma2 : (between, within), optional
        Fix a component at a value (``None`` estimates it), as ``rma.mv(sigma2=c(NA, 0.05))``.
    labels : labels of the effect sizes for error messages (from a pandas index of ``yi``).
    tol, max_iter : convergence tolerance (relative step) and iteration cap of Newton's method.

    Raises
    ------
    StudyDataError
        Invalid yi/vi, a missing study, a single study, bad moderators, or fewer effects than parameters.

    Examples
    --------
    >>> res = multilevel([0.1, 0.3, 0.2, 0.6, 0.5, 0.9, 0.4], [0.02, 0.03, 0.02, 0.04, 0.03, 0.05, 0.02],
    ...                  study=["a", "a", "b", "b", "b", "c", "c"])
    >>> round(float(res.coef[0]), 4), [round(float(s2), 4) for s2 in res.sigma2], res.converged
    (0.3893, [0.0113, 0.0225], True)
    """
    method = parse_option(Method, method, "method")
    if method not in (Method.REML, Method.ML):
        raise ValueError(f"method={method.value!r} is not available for multilevel models; choose one of "
                         "'REML', 'ML'")  # fmt: skip
    test = parse_option(MultilevelTest, test, "test")
    level = _check_level(level)
    est, theta0 = _check_sigma2(sigma2)
    y, v, codes, levels, X, names, icol, labels = _prepare(yi, vi, study, mods, intercept, labels)
    if est.all() or len(levels) < 2:
        _check_nesting(codes, levels)
    k, p = X.shape
    if k < p + int(est.sum()) or k <= p:
        raise StudyDataError(DataProblem(f"{k} effect sizes for {p} coefficients and {int(est.sum())} "
                                         "variance components: too few", fix="use fewer moderators"))  # fmt: skip
    reml = method is Method.REML
    m, tinv = _model(y, v, X, codes, icol)
    theta, conv, n_iter = _maximise(m, reml, est, theta0, tol, max_iter)
    if not conv:
        warnings.warn(f"{method.value} estimation of the variance components did not converge in {n_iter} "
                      f"iterations (tol={tol}); the result is flagged converged=False",
                      ConvergenceWarning, stacklevel=2)  # fmt: skip
    st = m.state(theta)
    beta, vb = tinv @ st["beta"], tinv @ st["A"] @ tinv.T
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    alpha = 1.0 - level
    btt = np.array([j for j in range(p) if j != icol]) if (icol is not None and p > 1) else np.arange(p)
    qm = float(beta[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], beta[btt]))
    if test is MultilevelTest.T:
        df = k - p
        pval, crit = 2.0 * special.stdtr(df, -np.abs(stat)), float(special.stdtrit(df, 1.0 - alpha / 2))
        qm /= btt.size
        qm_p, qm_df2 = float(special.fdtrc(btt.size, df, qm)), df
    else:
        pval, crit = 2.0 * special.ndtr(-np.abs(stat)), float(special.ndtri(1.0 - alpha / 2))
        qm_p, qm_df2 = float(special.chdtrc(btt.size, qm)), None
    # QE and the typical sampling variance from the model with V = diag(v)
    w = 1.0 / m.v
    xw = m.X * w[:, None]
    a0 = np.linalg.inv(m.X.T @ xw)
    qe = float(np.sum(w * (m.y - m.X @ (a0 @ (xw.T @ m.y))) ** 2))
    typical = (k - p) / (w.sum() - np.trace(a0 @ (xw.T @ xw)))
    i2 = 100.0 * theta / (theta.sum() + typical)
    parms = p + int(est.sum())
    ll = m.loglik(st, reml)
    n = k - p if reml else k
    dev = -2.0 * ll if reml else -2.0 * (ll + 0.5 * k * _LOG2PI + 0.5 * float(np.log(v).sum()))
    nn = max(n, parms + 2)
    arrays = {"coef": beta, "se": se, "statistic": stat, "pvalue": pval, "ci_low": beta - crit * se,
              "ci_high": beta + crit * se, "vcov": vb, "yi": y, "vi": v, "X": X, "study": codes}  # fmt: skip
    for arr in arrays.values():
        arr.setflags(write=False)
    return MultilevelResult(
        names=names, **arrays, sigma2_between=float(theta[0]), sigma2_within=float(theta[1]),
        between_fixed=not est[0], within_fixed=not est[1], between_at_zero=bool(est[0] and theta[0] == 0),
        within_at_zero=bool(est[1] and theta[1] == 0), i2_between=float(i2[0]), i2_within=float(i2[1]),
        i2_total=float(i2.sum()), qe=qe, qe_df=k - p, qe_pvalue=float(special.chdtrc(k - p, qe)), qm=qm,
        qm_df=int(btt.size), qm_df2=qm_df2, qm_pvalue=qm_p, k=k, n_studies=len(levels), p=p, method=method,
        test=test, level=level, converged=bool(conv), n_iter=int(n_iter), intercept=icol is not None,
        parms=parms, loglik=ll, deviance=float(dev), aic=-2.0 * ll + 2 * parms,
        bic=-2.0 * ll + parms * math.log(n), aicc=-2.0 * ll + 2 * parms * nn / (nn - parms - 1),
        study_levels=levels, labels=tuple(labels) if labels is not None else (),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Profile likelihood of one variance component
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Sigma2Profile(ResultMixin):
    """The profile (restricted) log-likelihood of one variance component and its profile interval.

    Attributes
    ----------
    component : 1 (σ²₁, between studies) or 2 (σ²₂, within studies)
    values, loglik, other : the grid of the component, ℓ there and the re-maximised other component
    estimate, loglik_max : the fitted value and ℓ at the fit
    ci_low, ci_high, level : ``{σ² : 2 (ℓ_max − ℓ_p(σ²)) ≤ χ²_{1, level}}`` (0 when ℓ_p(0) is inside)
    converged : every profile fit converged (and the bounds were bracketed)
    """

    component: int
    values: np.ndarray
    loglik: np.ndarray
    other: np.ndarray
    estimate: float
    loglik_max: float
    ci_low: float
    ci_high: float
    level: float
    converged: bool

    _array_fields = ("values", "loglik", "other")


def profile_sigma2(result: MultilevelResult, component: int, values: Any = None, *, level: float | None = None,
                   tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER) -> Sigma2Profile:  # fmt: skip
    """Profile ℓ of σ²₁ (``component=1``) or σ²₂ (``2``), the other component re-maximised at each value
    (metafor's ``profile(res, sigma2=)``), with the profile-likelihood interval (``confint(res, sigma2=)``).

    ``values`` default: 21 points from 0 to the larger of 3 σ̂² and 1.2 times the upper bound. The
    bounds are roots of ``ℓ_p(σ²) = ℓ_max − χ²/2`` found by Brent's method, the upper one bracketed by
    doubling.
    """
    if component not in (1, 2):
        raise ValueError(f"component={component!r} must be 1 (between studies) or 2 (within studies)")
    if (result.between_fixed, result.within_fixed)[component - 1]:
        raise ValueError(f"sigma2 component {component} was fixed in the fit: it has no profile")
    level = result.level if level is None else _check_level(level)
    r = component - 1
    icol = 0 if result.intercept else None
    m, _ = _model(np.asarray(result.yi), np.asarray(result.vi), np.asarray(result.X), np.asarray(result.study),
                  icol)  # fmt: skip
    reml = result.method is Method.REML
    fitted = result.sigma2
    est = np.array([not result.between_fixed, not result.within_fixed])
    est[r] = False
    ok = [True]

    def at(x: float) -> tuple[float, float]:
        theta0 = fitted.copy()
        theta0[r] = x
        theta, conv, _ = _maximise(m, reml, est, theta0, tol, max_iter)
        ok[0] &= conv
        return m.loglik(m.state(theta), reml), float(theta[1 - r])

    ll_max = m.loglik(m.state(fitted), reml)
    cut = ll_max - 0.5 * float(special.chdtri(1, 1.0 - level))

    def gap(x: float) -> float:
        return at(x)[0] - cut

    lo = 0.0 if gap(0.0) >= 0 else optimize.brentq(gap, 0.0, fitted[r], xtol=1e-14, rtol=1e-13)
    hi = max(2.0 * fitted[r], 1e-4)
    for _ in range(60):
        if gap(hi) < 0:
            break
        hi *= 2.0
    else:
        ok[0] = False
    ci_high = optimize.brentq(gap, fitted[r], hi, xtol=1e-14, rtol=1e-13)
    if values is None:
        grid = np.linspace(0.0, max(3.0 * fitted[r], 1.2 * ci_high), 21)
    else:
        grid = np.atleast_1d(np.asarray(values, float))
    prof = np.array([at(float(x)) for x in grid]).reshape(-1, 2)
    if not ok[0]:
        warnings.warn(f"a profile fit of sigma2 component {component} did not converge (or the upper bound "
                      "was not bracketed); the profile is flagged converged=False", ConvergenceWarning,
                      stacklevel=2)  # fmt: skip
    values_arr, ll_arr, other = grid.copy(), prof[:, 0].copy(), prof[:, 1].copy()
    for arr in (values_arr, ll_arr, other):
        arr.setflags(write=False)
    return Sigma2Profile(component=component, values=values_arr, loglik=ll_arr, other=other,
                        estimate=float(fitted[r]), loglik_max=ll_max, ci_low=float(lo), ci_high=float(ci_high),
                        level=level, converged=bool(ok[0]))  # fmt: skip
