"""Cluster-robust inference for dependent effect sizes: CR2 sandwich estimators with Satterthwaite
degrees of freedom for fitted models, and the correlated-effects robust variance estimation (RVE) model.

:func:`robust` (as clubSandwich's ``coef_test(fit, vcov="CR2", cluster=, test="Satterthwaite")`` on an
``rma.mv`` or ``rma.uni`` fit; Pustejovsky & Tipton 2018, doi:10.1080/07350015.2016.1247004). With the
fitted marginal covariance ``V`` as working model, weights ``W = V⁻¹``, ``M = (X'WX)⁻¹``, residuals
``e = y − Xβ̂`` and clusters c:

* ``V^CR = M (Σ_c X_c'W_c A_c e_c e_c' A_c' W_c X_c) M``. CR2:
  ``A_c = R_c' (R_c (V_c − X_c M X_c') R_c')^(−1/2) R_c`` with ``V_c = R_c'R_c`` (upper Cholesky
  factor), the inverse square root taken over eigenvalues above 1e-12 (others set to 0,
  clubSandwich's ``matrix_power``); CR0: ``A_c = I``.
* Satterthwaite df for coefficient i: with ``E_c = M X_c'W_c A_c``, ``g_ci = (E_c V_c E_c')_ii`` and
  ``h_ci = (E_c X_c L)_i·`` (``M = LL'``), the matrix ``P_i = diag_c(g_ci) − [h_ci·h_di]_cd`` gives
  ``ν_i = (tr P_i)² / Σ P_i²``; t tests and intervals on ν_i df.

:func:`rve` (as robumeta's ``robu(..., modelweights="CORR", rho=, small=)``; Hedges, Tipton & Johnson
2010, doi:10.1002/jrsm.5; small-sample corrections of Tipton 2015, doi:10.1037/met0000011). Study j has
k_j effects with mean sampling variance v̄_j:

* Working weights ``w_ij = 1/(k_j v̄_j)``; ``b = (X'WX)⁻¹X'Wy``, ``Q_E = Σ w e²``. The moment
  estimator ``τ² = max(0, [Q_E − m + tr(V A)]/D + ρ tr(V B)/D)`` with ``V = (X'WX)⁻¹``,
  ``A = Σ_ij (w_ij/k_j) x x'``, ``B = Σ_j (w_j/k_j)(X_j'11'X_j − X_j'X_j)``,
  ``D = Σw − tr(V Σ_j X_j'w_j11'w_jX_j)`` and m studies; ``I² = max(0, 100 (Q_E − df)/Q_E)``,
  ``df = m − tr(V A) − ρ tr(V B)``.
* Weights ``1/(k_j (v̄_j + τ²))``, coefficients by weighted least squares, and the sandwich of the
  first bullet of :func:`robust` with ``A_j = (I − X_j (X'WX)⁻¹ X_j'W_j)^(−1/2)`` (eigenvalues below
  1e-10 set to 0) and the Bell-McCaffrey df ``(tr B_i)²/tr(B_i²)``, ``B_i = Σ_j g_ij g_ij'``,
  ``g_ij = Φ^½ (I − H)_j' A_j W_j X_j (X'WX)⁻¹ e_i`` with Φ the inverse weights (robumeta's
  ``small=TRUE``); ``small=False``: ``A_j = I``, SE × √(m/(m − p)) and m − p df.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..errors import DataProblem, StudyDataError
from .metareg import MetaRegResult, _design
from .multilevel import MultilevelResult, _study_codes
from .pooling import _check_level, _study_inputs

__all__ = ["robust", "RobustResult", "rve", "RveResult"]

#: clubSandwich's ``matrix_power``: eigenvalues at or below this are treated as 0
_EIG_TOL_CR2 = 1e-12
#: robumeta's threshold for the eigenvalues of its adjustment matrices
_EIG_TOL_RVE = 1e-10


def _power(S: np.ndarray, tol: float) -> np.ndarray:
    """``S^(−1/2)`` of a symmetric matrix over eigenvalues above ``tol`` (a pseudo-inverse square root)."""
    val, vec = np.linalg.eigh(S)
    inv = np.zeros_like(val)
    keep = val > tol
    inv[keep] = 1.0 / np.sqrt(val[keep])
    return (vec * inv) @ vec.T


def _t_inference(coef: np.ndarray, se: np.ndarray, df: np.ndarray, level: float) -> dict[str, np.ndarray]:
    stat = coef / se
    crit = special.stdtrit(df, 1.0 - (1.0 - level) / 2)
    return {"statistic": stat, "pvalue": 2.0 * special.stdtr(df, -np.abs(stat)), "ci_low": coef - crit * se,
            "ci_high": coef + crit * se}  # fmt: skip


@dataclass(frozen=True, repr=False)
class _CoefTable(ResultMixin):
    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    vcov: np.ndarray

    _array_fields = ("names", "coef", "se", "statistic", "df", "pvalue", "ci_low", "ci_high", "vcov", "weights")

    def coef_frame(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, statistic, df, pvalue, ci_low, ci_high."""
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.statistic, "df": self.df,
                             "pvalue": self.pvalue, "ci_low": self.ci_low, "ci_high": self.ci_high},
                            index=pd.Index(self.names, name="term"))  # fmt: skip

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.coef_frame().to_html(float_format=format_number)

    def __repr__(self) -> str:
        head = ", ".join(f"{n}={format_number(v)}" for n, v in self._scalar_items())
        rows = [f"  {n:>12} {format_number(self.coef[j]):>10} (se {format_number(self.se[j])}, df "
                f"{format_number(self.df[j], 2)})  p = {format_number(self.pvalue[j])}"
                for j, n in enumerate(self.names)]  # fmt: skip
        return "\n".join([f"{type(self).__name__}({head})", *rows])


@dataclass(frozen=True, repr=False)
class RobustResult(_CoefTable):
    """Cluster-robust coefficient tests of a fitted model (definitions in :mod:`tpmeta.models.robust`).

    Attributes: names, coef (the model's), se, statistic (t), df (Satterthwaite), pvalue, ci_low,
    ci_high, vcov (the sandwich); type ("CR2" or "CR0"), n_clusters, k, level.
    """

    type: str
    n_clusters: int
    k: int
    level: float


@dataclass(frozen=True, repr=False)
class RveResult(_CoefTable):
    """The correlated-effects RVE model (definitions in :mod:`tpmeta.models.robust`).

    Attributes: names, coef, se, statistic, df, pvalue, ci_low, ci_high, vcov; tau2 (moment estimate),
    i2 (percent), qe, rho, small, k (effects), n_studies, p, level; weights (per effect, input order).
    """

    tau2: float
    i2: float
    qe: float
    rho: float
    small: bool
    k: int
    n_studies: int
    p: int
    level: float
    weights: np.ndarray


def _cluster_codes(cluster: Any, k: int, study: np.ndarray | None) -> np.ndarray:
    codes, levels = _study_codes(cluster, k, None, column="cluster")
    if len(levels) < 2:
        raise StudyDataError(DataProblem(f"a single cluster ({levels[0]!r}): cluster-robust variances need "
                                         "at least two", column="cluster", value=levels[0],
                                         fix="cluster by study (the default for multilevel fits)"))  # fmt: skip
    if study is not None:  # the random effects must be nested within the clusters (as clubSandwich)
        spans = pd.Series(codes).groupby(study).nunique()
        bad = spans.index[spans.to_numpy() > 1]
        if len(bad):
            raise StudyDataError([DataProblem(f"the effects of study code {int(s)} fall in more than one cluster: "
                                              "the random effects are not nested within the clusters",
                                              column="cluster", fix="cluster by study or by a grouping of "
                                              "whole studies") for s in bad])  # fmt: skip
    return codes


def robust(result: MultilevelResult | MetaRegResult, cluster: Any = None, *, adjust: bool = True,
           level: float | None = None) -> RobustResult:  # fmt: skip
    """Cluster-robust t tests of a fit's coefficients: CR2 with Satterthwaite df (``adjust=True``, as
    clubSandwich's ``coef_test(fit, vcov="CR2", cluster=, test="Satterthwaite")``) or CR0 with
    Satterthwaite df (``adjust=False``).

    ``result`` is a :func:`tpmeta.multilevel` fit (``cluster`` defaults to its studies, and may be any
    grouping of whole studies) or a :func:`tpmeta.meta_regression` fit (``cluster`` required). ``level``
    defaults to the fit's.

    >>> from tpmeta.models.multilevel import multilevel
    >>> fit = multilevel([0.1, 0.3, 0.2, 0.6, 0.5, 0.9, 0.4, 0.2], [0.02, 0.03, 0.02, 0.04, 0.03, 0.05, 0.02, 0.03],
    ...                  study=["a", "a", "b", "b", "b", "c", "c", "d"])
    >>> rob = robust(fit)
    >>> rob.n_clusters, round(float(rob.se[0]), 4), round(float(rob.df[0]), 2)
    (4, 0.0895, 2.73)
    """
    if isinstance(result, MultilevelResult):
        y, v, X, study = (np.asarray(a) for a in (result.yi, result.vi, result.X, result.study))
        codes = study if cluster is None else _cluster_codes(cluster, y.size, study)
        s1, s2 = result.sigma2_between, result.sigma2_within
    elif isinstance(result, MetaRegResult):
        if cluster is None:
            raise ValueError("cluster= is required for a meta-regression (it has no study grouping of its own)")
        y, v, X = (np.asarray(a) for a in (result.yi, result.vi, result.X))
        codes, study = _cluster_codes(cluster, y.size, None), None
        s1, s2 = 0.0, result.tau2
    else:
        raise TypeError(f"robust() takes a MultilevelResult or MetaRegResult, not {type(result).__name__}")
    level = result.level if level is None else _check_level(level)
    beta = np.asarray(result.coef)
    e = y - X @ beta
    groups = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
    blocks = []
    for idx in groups:
        V = np.diag(v[idx] + s2)
        if study is not None:
            V += s1 * (study[idx][:, None] == study[idx][None, :])
        blocks.append((idx, V, np.linalg.inv(V)))
    M = np.linalg.inv(sum(X[i].T @ W @ X[i] for i, _, W in blocks))
    L = np.linalg.cholesky(M)
    u, g, h = [], [], []
    for idx, V, W in blocks:
        Xc = X[idx]
        E = Xc.T @ W
        if adjust:
            R = np.linalg.cholesky(V).T  # V = R'R
            E = E @ (R.T @ _power(R @ (V - Xc @ M @ Xc.T) @ R.T, _EIG_TOL_CR2) @ R)
        u.append(E @ e[idx])
        ME = M @ E
        g.append(np.einsum("ij,jk,ik->i", ME, V, ME))
        h.append(ME @ Xc @ L)
    U, G, H = np.array(u), np.array(g), np.array(h)  # (C, p), (C, p), (C, p, p)
    vcov = M @ (U.T @ U) @ M
    df = np.empty(beta.size)
    for i in range(beta.size):
        P = np.diag(G[:, i]) - H[:, i, :] @ H[:, i, :].T
        df[i] = np.trace(P) ** 2 / np.sum(P * P)
    se = np.sqrt(np.diag(vcov))
    arrays = {"coef": beta.copy(), "se": se, "df": df, "vcov": vcov, **_t_inference(beta, se, df, level)}
    for arr in arrays.values():
        arr.setflags(write=False)
    return RobustResult(names=tuple(result.names), **arrays, type="CR2" if adjust else "CR0",
                        n_clusters=len(groups), k=int(y.size), level=level)  # fmt: skip


def rve(yi: Any, vi: Any, *, study: Any, mods: Any = None, intercept: bool = True, rho: float = 0.8,
        small: bool = True, level: float = 0.95, labels: Any = None) -> RveResult:  # fmt: skip
    """The correlated-effects RVE meta-regression, as robumeta's
    ``robu(yi ~ mods, studynum=study, var.eff.size=vi, modelweights="CORR", rho=, small=)``.

    Parameters: effect sizes and variances (one row per effect), their ``study``, moderators coded as in
    :func:`tpmeta.meta_regression`, the assumed within-study correlation ``rho`` in [0, 1], and ``small``
    (Tipton's small-sample corrections, CR2-type SEs with Satterthwaite df, robumeta's default).

    >>> res = rve([0.1, 0.3, 0.2, 0.6, 0.5, 0.9, 0.4, 0.2], [0.02, 0.03, 0.02, 0.04, 0.03, 0.05, 0.02, 0.03],
    ...           study=["a", "a", "b", "b", "b", "c", "c", "d"])
    >>> round(float(res.coef[0]), 4), round(res.tau2, 4), round(float(res.df[0]), 2)
    (0.3634, 0.0448, 2.99)
    """
    rho = float(rho)
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho={rho!r} must be a correlation in [0, 1]")
    level = _check_level(level)
    y, v, labels = _study_inputs(yi, vi, labels)
    codes, levels = _study_codes(study, y.size, labels)
    X, names, _ = _design(mods, y.size, intercept, labels)
    k, p = X.shape
    m = len(levels)
    if m <= p:
        raise StudyDataError(DataProblem(f"{m} studies for {p} coefficients: robust variance estimation needs "
                                         "more studies than coefficients", fix="use fewer moderators"))  # fmt: skip
    kj = np.bincount(codes).astype(float)
    vbar = np.bincount(codes, weights=v) / kj
    n_j, vbar_i = kj[codes], vbar[codes]
    w = 1.0 / (n_j * vbar_i)

    def seg(a: np.ndarray) -> np.ndarray:  # per-study sums of the rows of a (k, ...)
        out = np.zeros((m, *a.shape[1:]))
        np.add.at(out, codes, a)
        return out

    Vi = np.linalg.inv(X.T @ (w[:, None] * X))
    e = y - X @ (Vi @ (X.T @ (w * y)))
    qe = float(np.sum(w * e * e))
    sw = seg(w[:, None] * X)
    sx = seg(X)
    wk = w / n_j  # the same for every effect of a study
    wk_j = seg(wk) / kj
    term_a = float(np.trace(Vi @ (X.T @ (wk[:, None] * X))))
    B = np.einsum("j,jp,jq->pq", wk_j, sx, sx) - X.T @ (wk[:, None] * X)
    term_b = float(np.trace(Vi @ B))
    denom = float(w.sum() - np.trace(Vi @ (sw.T @ sw)))
    term1, term2 = (qe - m + term_a) / denom, term_b / denom
    tau2 = max(0.0, term1 + rho * term2)
    df_i2 = m - term_a - rho * term_b
    i2 = max(0.0, 100.0 * (qe - df_i2) / qe)
    r = 1.0 / (n_j * (vbar_i + tau2))
    Q = np.linalg.inv(X.T @ (r[:, None] * X))
    b = Q @ (X.T @ (r * y))
    er = y - X @ b
    groups = [np.flatnonzero(codes == j) for j in range(m)]
    meat = np.zeros((p, p))
    if not small:
        for idx in groups:
            s = X[idx].T @ (r[idx] * er[idx])
            meat += np.outer(s, s)
        vcov = Q @ meat @ Q
        se = np.sqrt(np.diag(vcov)) * np.sqrt(m / (m - p))
        df = np.full(p, float(m - p))
    else:
        half = np.zeros((p, k, m))  # for coefficient i, column j: Φ^½ (I − H)_j' A_j W_j X_j Q e_i
        rx = r[:, None] * X
        for j, idx in enumerate(groups):
            Xj, rj = X[idx], r[idx][0]
            A = _power(np.eye(idx.size) - rj * Xj @ Q @ Xj.T, _EIG_TOL_RVE)
            s = Xj.T @ (rj * (A @ er[idx]))
            meat += np.outer(s, s)
            z = rj * A @ Xj @ Q  # (n_j, p)
            col = -rx @ (Q @ (Xj.T @ z))  # (I − H)_j' z = [z in rows of j] − W X Q X_j' z
            col[idx] += z
            half[:, :, j] = (col / np.sqrt(r)[:, None]).T
        vcov = Q @ meat @ Q
        se = np.sqrt(np.diag(vcov))
        gram = np.einsum("ikj,ikl->ijl", half, half)
        df = np.einsum("ijj->i", gram) ** 2 / np.einsum("ijl,ijl->i", gram, gram)
    arrays = {"coef": b, "se": se, "df": df, "vcov": vcov, "weights": r, **_t_inference(b, se, df, level)}
    for arr in arrays.values():
        arr.setflags(write=False)
    return RveResult(names=names, **arrays, tau2=float(tau2), i2=float(i2), qe=qe, rho=rho, small=bool(small),
                     k=k, n_studies=m, p=p, level=level)  # fmt: skip
