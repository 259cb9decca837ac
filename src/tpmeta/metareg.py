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
  safeguarded by bisection as in :mod:`tpmeta.pooling`, and metafor's check of the likelihood at 0.
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
from scipy import special

from ._results import ResultMixin, format_number
from .errors import ConvergenceWarning, DataProblem, StudyDataError
from .options import Method, Test, parse_option
from .pooling import DEFAULT_MAX_ITER, DEFAULT_TOL, _check_level, _validate_study_arrays

__all__ = ["meta_regression", "MetaRegResult"]

_TINY = np.finfo(float).eps


# --------------------------------------------------------------------------------------------------
# Batched engine
# --------------------------------------------------------------------------------------------------


class _Design:
    """A preconditioned design, shared ``(k, p)`` or batched ``(n, k, p)``, and its Gram products."""

    def __init__(self, X: np.ndarray, mask: np.ndarray, intercept_col: int | None):
        self.shared = X.ndim == 2
        if mask is None or self.shared:
            Xb, m = (X[None] if self.shared else X), np.ones((1 if self.shared else X.shape[0], X.shape[-2]))
        else:
            Xb, m = np.where(mask[..., None] > 0, X, 0.0), mask
        cnt = np.maximum(m.sum(axis=1), 1.0)[:, None]
        shift = (m[..., None] * Xb).sum(axis=1) / cnt if intercept_col is not None else 0 * Xb[:, 0]
        spread = np.sqrt((m[..., None] * (Xb - shift[:, None, :]) ** 2).sum(axis=1) / cnt)
        if intercept_col is not None:
            shift[:, intercept_col] = 0.0
            spread[:, intercept_col] = 1.0
        scale = np.where(spread > 0, spread, 1.0)
        Xt = (Xb - shift[:, None, :]) / scale[:, None, :]
        p = X.shape[-1]
        # β = T⁻¹ β̃ with β_j = β̃_j / s_j and β_0 = β̃_0 − Σ c_j β̃_j / s_j
        tinv = np.zeros((Xb.shape[0], p, p))
        tinv[:, np.arange(p), np.arange(p)] = 1.0 / scale
        if intercept_col is not None:
            tinv[:, intercept_col, :] -= shift / scale
            tinv[:, intercept_col, intercept_col] = 1.0
        self.tinv = tinv
        self.X = Xt[0] if self.shared else Xt
        outer = self.X[..., :, None] * self.X[..., None, :]
        self.XX = outer.reshape(*self.X.shape[:-1], p * p)
        self.p = p

    def take(self, rows: np.ndarray) -> "_Design":
        if self.shared:
            return self
        new = object.__new__(_Design)
        new.shared, new.p = False, self.p
        new.X, new.XX, new.tinv = self.X[rows], self.XX[rows], self.tinv[rows]
        return new

    def gram(self, u: np.ndarray) -> np.ndarray:
        """``X'diag(u)X`` for each row of ``u`` (n, k) → (n, p, p)."""
        g = u @ self.XX if self.shared else np.einsum("nk,nkr->nr", u, self.XX)
        return g.reshape(u.shape[0], self.p, self.p)

    def xt(self, u: np.ndarray) -> np.ndarray:
        return u @ self.X if self.shared else np.einsum("nk,nkp->np", u, self.X)

    def fitted(self, b: np.ndarray) -> np.ndarray:
        return b @ self.X.T if self.shared else np.einsum("nkp,np->nk", self.X, b)


@dataclass
class _Data:
    y: np.ndarray
    v: np.ndarray
    m: np.ndarray | None  # None: every study present (saves a multiplication per array operation)
    k: np.ndarray
    X: _Design

    def take(self, rows: np.ndarray) -> "_Data":
        m = None if self.m is None else self.m[rows]
        return _Data(self.y[rows], self.v[rows], m, self.k[rows], self.X.take(rows))

    def ones(self) -> np.ndarray:
        return np.ones(self.y.shape) if self.m is None else self.m


def _inv(G: np.ndarray) -> np.ndarray:
    """Batched inverse (closed form for p ≤ 2); NaN for singular matrices instead of an exception."""
    p = G.shape[-1]
    if p <= 2:
        if p == 1:
            det = G[:, 0, 0]
            out = np.ones_like(G)
        else:
            det = G[:, 0, 0] * G[:, 1, 1] - G[:, 0, 1] * G[:, 1, 0]
            out = np.stack([G[:, 1, 1], -G[:, 0, 1], -G[:, 1, 0], G[:, 0, 0]], axis=1).reshape(G.shape)
        scale = np.abs(G).max(axis=(1, 2)) ** p
        return np.where((np.abs(det) > 1e-14 * scale)[:, None, None], out / det[:, None, None], np.nan)
    try:
        return np.linalg.inv(G)
    except np.linalg.LinAlgError:
        ok = np.linalg.cond(G) < 1e14
        eye = np.broadcast_to(np.eye(p), G.shape)
        out = np.linalg.inv(np.where(ok[:, None, None], G, eye))
        out[~ok] = np.nan
        return out


def _tr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nji->n", a, b)


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("nk,nk->n", a, b)


class _WLS:
    """Weighted least squares at weights ``w``: β̃, A = (X'WX)⁻¹, Q = y'Py and y'PPy; traces on demand."""

    def __init__(self, d: _Data, w: np.ndarray):
        self.d, self.w = d, w
        self.A = _inv(d.X.gram(w))
        self.beta = np.einsum("npq,nq->np", self.A, d.X.xt(w * d.y))
        r = d.X.fitted(self.beta)
        np.subtract(d.y, r, out=r)
        if d.m is not None:
            r *= d.m
        wr = w * r
        self.q = _rowdot(wr, r)
        self.ypPPy = _rowdot(wr, wr)
        self.sw = w.sum(axis=1)
        self.w2 = w * w
        self.sw2 = self.w2.sum(axis=1)

    def traces(self, dv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(tr PD, tr PDPD)`` for D = diag(dv), default D = I (tr P, tr PP)."""
        w, g, A = self.w, self.d.X.gram, self.A
        if dv is None:
            wd, w_wd = w, (self.w2 if self.w2 is not None else w * w)
        else:
            wd = w * dv
            w_wd = w * wd
        AB = A @ g(w_wd)
        tr_pd = wd.sum(axis=1) - np.einsum("nii->n", AB)
        w_wd *= wd  # w³d² (in place: a temporary, or w2 no longer needed below)
        tr_pdpd = _rowdot(wd, wd) - 2 * np.einsum("nii->n", A @ g(w_wd)) + _tr(AB, AB)
        if dv is None:
            self.w2 = None  # consumed
        return tr_pd, tr_pdpd

    def tr_ppd(self, dv: np.ndarray) -> np.ndarray:
        """``tr(PPD)`` for D = diag(dv)."""
        w, g, A = self.w, self.d.X.gram, self.A
        w2d = w * w * dv
        return (w2d.sum(axis=1) - 2 * np.einsum("nii->n", A @ g(w2d * w))
                + _tr(A @ g(w * w), A @ g(w2d)))  # fmt: skip


def _weights(d: _Data, tau2: np.ndarray) -> np.ndarray:
    w = np.add(d.v, tau2[:, None])
    np.reciprocal(w, out=w)
    if d.m is not None:
        w *= d.m
    return w


def _he(d: _Data) -> tuple[np.ndarray, _WLS]:
    ols = _WLS(d, d.ones())
    tr_pv, _ = ols.traces(d.v)
    return (ols.q - tr_pv) / (d.k - d.X.p), ols


def _solve_q(d: _Data, target: np.ndarray, tol: float, max_iter: int):
    """Root of Q(τ²) = target (Q decreases; Newton on 1/Q in a bracket), 0 where Q(0) ≤ target."""
    n = d.y.shape[0]
    tau2, conv, n_iter = np.zeros(n), np.ones(n, bool), np.zeros(n, int)
    fe = _WLS(d, _weights(d, tau2))
    active = np.flatnonzero(np.isfinite(target) & (fe.q > target))
    if active.size == 0:
        return tau2, conv, n_iter
    conv[active] = False
    sub, tgt = d.take(active), target[active]
    # Q(τ²) ≤ Σ w (y − Xβ_OLS)² < RSS_OLS / τ², so Q(RSS_OLS/target) < target
    lo, hi = np.zeros(active.size), _WLS(sub, sub.ones()).q / tgt
    t, q, dq = lo.copy(), fe.q[active], -fe.ypPPy[active]
    for it in range(max_iter + 1):
        newton = t - (1.0 / q - 1.0 / tgt) * q * q / -dq
        # a Newton step below the tolerance ends the search (it may not resolve inside the bracket)
        done = (np.abs(newton - t) <= tol * (1 + t)) | (hi - lo <= tol * (1 + t))
        tau2[active[done]] = np.clip(newton[done], lo[done], hi[done])
        conv[active[done]] = True
        keep = ~done
        if not keep.any() or it == max_iter:
            tau2[active[keep]] = t[keep]
            break
        if done.any():
            active, t, lo, hi, tgt, newton = (a[keep] for a in (active, t, lo, hi, tgt, newton))
            sub = sub.take(np.flatnonzero(keep))
        n_iter[active] += 1
        t = np.where((newton > lo) & (newton < hi), newton, 0.5 * (lo + hi))
        s = _WLS(sub, _weights(sub, t))
        q, dq = s.q, -s.ypPPy
        right = q <= tgt
        lo, hi = np.where(right, lo, t), np.where(right, t, hi)
    return tau2, conv, n_iter


def _loglik(d: _Data, tau2: np.ndarray, reml: bool) -> np.ndarray:
    w = _weights(d, tau2)
    s = _WLS(d, w)
    ll = 0.5 * (np.log(w) if d.m is None else d.m * np.log(np.where(d.m > 0, w, 1.0))).sum(axis=1) - 0.5 * s.q
    if reml:
        ll = ll - 0.5 * np.linalg.slogdet(d.X.gram(w))[1]
    return ll


def _fisher(d: _Data, reml: bool, tol: float, max_iter: int):
    """(RE)ML τ² by Fisher scoring with the bracket/bisection safeguard of pooling._fisher_scoring."""
    n = d.y.shape[0]
    tau2 = np.maximum(0.0, _he(d)[0])  # NaN where k ≤ p: not fitted, converged=False
    conv, n_iter = np.zeros(n, bool), np.zeros(n, int)
    active = np.flatnonzero(np.isfinite(tau2))
    sub, t = d.take(active), tau2[active]
    lo, hi = np.full(active.size, -np.inf), np.full(active.size, np.inf)
    prev = np.full(active.size, np.inf)
    for _ in range(max_iter):
        if active.size == 0:
            break
        s = _WLS(sub, _weights(sub, t))
        if reml:
            tr_p, tr_pp = s.traces()
            score, info = s.ypPPy - tr_p, tr_pp
        else:
            score, info = s.ypPPy - s.sw, s.sw2
        lo = np.where(score > 0, np.maximum(lo, t), lo)
        hi = np.where(score < 0, np.minimum(hi, t), hi)
        new = np.maximum(0.0, t + score / info)
        outside = ((score > 0) & (new >= hi)) | ((score < 0) & (new <= lo))
        bisect = (outside | (np.abs(new - t) > 0.5 * prev)) & np.isfinite(hi)
        new = np.where(bisect, 0.5 * (np.maximum(lo, 0.0) + hi), new)
        prev = np.abs(new - t)
        done = (prev <= tol * (1 + new)) | (hi - np.maximum(lo, 0.0) <= tol * (1 + new))
        done |= ~np.isfinite(new)
        n_iter[active] += 1
        tau2[active] = new
        conv[active[done]] = np.isfinite(new[done])
        keep = ~done
        active, t, lo, hi, prev = active[keep], new[keep], lo[keep], hi[keep], prev[keep]
        sub = sub.take(np.flatnonzero(keep))
    pos = np.flatnonzero(conv & (tau2 > 0))
    if pos.size:  # metafor's ll0check: the boundary τ² = 0 wins if its likelihood is higher
        sub = d.take(pos)
        ll_hat, ll_0 = _loglik(sub, tau2[pos], reml), _loglik(sub, np.zeros(pos.size), reml)
        tau2[pos[ll_0 - ll_hat > 1e-12 * (1.0 + np.abs(ll_hat))]] = 0.0
    return tau2, conv, n_iter


def _tau2(d: _Data, method: Method, tol: float, max_iter: int):
    """τ̂², its standard error (metafor's formulas), converged, n_iter."""
    n, k, p = d.y.shape[0], d.k, d.X.p
    kp = k - p
    conv, n_iter = np.ones(n, bool), np.zeros(n, int)
    nan = np.full(n, np.nan)
    if method is Method.FE:
        return np.zeros(n), nan, conv, n_iter
    if method in (Method.DL, Method.HS):
        fe = _WLS(d, _weights(d, np.zeros(n)))
        tr_p, tr_pp = fe.traces()
        tau2 = np.maximum(0.0, (fe.q - kp) / tr_p if method is Method.DL else (fe.q - k) / fe.sw)
        var = 2 * kp + 4 * tau2 * tr_p + 2 * tau2**2 * tr_pp
        return tau2, np.sqrt(var / (tr_p**2 if method is Method.DL else fe.sw**2)), conv, n_iter
    if method is Method.HE:
        raw, ols = _he(d)
        tau2 = np.maximum(0.0, raw)
        tr_pv, tr_pvpv = ols.traces(d.v)
        return tau2, np.sqrt((2 * tr_pvpv + 4 * tau2 * tr_pv + 2 * tau2**2 * kp) / kp**2), conv, n_iter
    if method is Method.SJ:
        m = d.ones()
        ybar = (m * d.y).sum(axis=1) / k
        tau0 = (m * (d.y - ybar[:, None]) ** 2).sum(axis=1) / k
        s = _WLS(d, _weights(d, tau0))
        tau2 = np.maximum(0.0, tau0 * s.q / kp)
        _, tr_pvpv = s.traces(d.v)
        var = 2 * tr_pvpv + 4 * tau2 * s.tr_ppd(d.v) + 2 * tau2**2 * s.traces()[1]
        return tau2, np.sqrt(tau0**2 / kp**2 * var), conv, n_iter
    if method in (Method.PM, Method.EB):
        tau2, conv, n_iter = _solve_q(d, np.where(kp > 0, kp, np.nan), tol, max_iter)
        sw = _weights(d, tau2).sum(axis=1)
        return tau2, np.sqrt(2 * k**2 / kp / sw**2), conv, n_iter
    tau2, conv, n_iter = _fisher(d, method is Method.REML, tol, max_iter)
    s = _WLS(d, _weights(d, tau2))
    se = np.sqrt(2 / s.traces()[1]) if method is Method.REML else np.sqrt(2 / s.sw2)
    return tau2, se, conv, n_iter


@dataclass(frozen=True)
class _BatchFit:
    """Arrays over the batch: (n, p) per coefficient, (n,) otherwise."""

    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    tau2: np.ndarray
    tau2_se: np.ndarray
    qm: np.ndarray
    qm_pvalue: np.ndarray
    qe: np.ndarray
    qe_pvalue: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    k: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def _fit_batch(
    Y: Any,
    V: Any,
    X: Any,
    mask: Any = None,
    *,
    method: Method = Method.REML,
    test: Test = Test.Z,
    level: float = 0.95,
    intercept_col: int | None = 0,
    btt: Any = None,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> _BatchFit:
    """Fit n meta-regressions at once: Y, V (n, k); X (k, p) shared or (n, k, p); mask (n, k).

    ``intercept_col`` is the index of the column of ones (None: no intercept); ``btt`` the
    coefficients tested by QM (default: all but the intercept, or the intercept alone if p = 1).
    No validation: present entries must be finite with V > 0 and a full-rank design.
    """
    Y, V = np.broadcast_arrays(np.atleast_2d(np.asarray(Y, float)), np.atleast_2d(np.asarray(V, float)))
    X = np.asarray(X, float)
    if X.ndim == 3:
        Y, V = np.broadcast_to(Y, X.shape[:2]), np.broadcast_to(V, X.shape[:2])
    m = None if mask is None else np.broadcast_to(np.asarray(mask, bool), Y.shape).astype(float)
    if m is not None and m.all():
        m = None
    p = X.shape[-1]
    if btt is None:
        btt = [j for j in range(p) if j != intercept_col] or [0]
    btt = np.asarray(btt, int)
    # degenerate analyses (k ≤ p, zero Q) give 0/0 or x/0 by design; they end up NaN or masked
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if m is None:
            d = _Data(Y, V, None, np.full(Y.shape[0], float(Y.shape[1])), _Design(X, None, intercept_col))
        else:
            d = _Data(np.where(m > 0, Y, 0.0), np.where(m > 0, V, 1.0), m, m.sum(axis=1),
                      _Design(X, m, intercept_col))  # fmt: skip
        return _finish(d, method, test, level, btt, tol, max_iter)


def _finish(d: _Data, method: Method, test: Test, level: float, btt: np.ndarray, tol, max_iter) -> _BatchFit:
    n, k, p = d.y.shape[0], d.k, d.X.p
    kp = k - p
    tau2, tau2_se, conv, n_iter = _tau2(d, method, tol, max_iter)
    s = _WLS(d, _weights(d, tau2))
    vt_b = s.A  # covariance of β̃ in the preconditioned parameterisation
    alpha = 1.0 - level
    if test is Test.KNHA:
        s2 = np.where(s.q <= _TINY, 0.0, s.q / kp)
        vt_b = s2[:, None, None] * vt_b
        dfc = np.where(kp > 0, kp, np.nan)
    # QM is invariant to the centring/scaling of the moderators, so it is computed before back-transform
    bb = s.beta[:, btt]
    vbb = vt_b[:, btt[:, None], btt[None, :]]
    qm = np.einsum("ni,nij,nj->n", bb, _inv(vbb), bb)
    T = d.X.tinv
    beta = np.einsum("npq,nq->np", T, s.beta)
    vb = T @ vt_b @ np.swapaxes(T, 1, 2)
    se = np.sqrt(np.einsum("nii->ni", vb))
    stat = beta / se
    mdf = btt.size
    if test is Test.KNHA:
        pvalue = 2.0 * special.stdtr(dfc[:, None], -np.abs(stat))
        crit = special.stdtrit(dfc, 1.0 - alpha / 2)[:, None]
        qm = qm / mdf
        qm_p = special.fdtrc(mdf, dfc, qm)
    else:
        pvalue = 2.0 * special.ndtr(-np.abs(stat))
        crit = special.ndtri(1.0 - alpha / 2)
        qm_p = special.chdtrc(mdf, qm)
    fe = _WLS(d, _weights(d, np.zeros(n)))
    tr_p, _ = fe.traces()
    has_df = kp > 0
    qe = np.where(has_df, np.maximum(0.0, fe.q), 0.0)
    qe_p = np.where(has_df, special.chdtrc(np.where(has_df, kp, 1), qe), 1.0)
    vt = kp / tr_p
    if method is Method.FE:
        i2 = np.where(has_df & (qe > 0), np.maximum(0.0, 100 * (qe - kp) / qe), 0.0)
        h2 = np.where(has_df, qe / np.where(has_df, kp, 1), 1.0)
    else:
        i2 = np.where(has_df, 100 * tau2 / (vt + tau2), 0.0)
        h2 = np.where(has_df, tau2 / vt + 1, 1.0)
    return _BatchFit(beta=beta, vb=vb, se=se, statistic=stat, pvalue=pvalue, ci_low=beta - crit * se,
                     ci_high=beta + crit * se, tau2=tau2, tau2_se=tau2_se, qm=qm, qm_pvalue=qm_p, qe=qe,
                     qe_pvalue=qe_p, i2=i2, h2=h2, k=k.astype(int), converged=conv, n_iter=n_iter)  # fmt: skip


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
class MetaRegResult(ResultMixin):
    """A fitted meta-regression (mixed-effects model); definitions in :mod:`tpmeta.metareg`.

    Attributes
    ----------
    names : coefficient names ("intrcpt" first when there is an intercept)
    coef, se, statistic, pvalue, ci_low, ci_high : per coefficient (z, or t on k − p df for knha)
    vcov : covariance matrix of the coefficients
    tau2, tau2_se : residual between-study variance and its standard error (NaN for FE)
    qm, qm_df, qm_df2, qm_pvalue : omnibus test of the moderators (χ² on qm_df; F on (qm_df, qm_df2) for knha)
    qe, qe_df, qe_pvalue : test for residual heterogeneity
    i2, h2 : residual I² (percent) and H²; r2 : pseudo-R² in percent (NaN without intercept or moderators)
    k, p, method, test, level, converged, n_iter, intercept
    yi, vi, X, labels : the data, kept for :func:`permutation_test`
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
    yi: np.ndarray = field(default_factory=lambda: np.empty(0))
    vi: np.ndarray = field(default_factory=lambda: np.empty(0))
    X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    labels: tuple[str, ...] = ()

    _array_fields = ("names", "coef", "se", "statistic", "pvalue", "ci_low", "ci_high", "vcov",
                     "yi", "vi", "X", "labels")  # fmt: skip

    def coef_frame(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, statistic, pvalue, ci_low, ci_high."""
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.statistic,
                             "pvalue": self.pvalue, "ci_low": self.ci_low, "ci_high": self.ci_high},
                            index=pd.Index(self.names, name="term"))  # fmt: skip

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.coef_frame().to_html(float_format=format_number)

    def __repr__(self) -> str:
        dist = f"F({self.qm_df}, {self.qm_df2})" if self.qm_df2 is not None else f"chi2({self.qm_df})"
        lines = [f"MetaRegResult(method={self.method.value}, test={self.test.value}, k={self.k}, p={self.p})",
                 f"  tau2 {format_number(self.tau2)}  I2 {format_number(self.i2, 1)}%  "
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
    test : {"z", "knha"}
        Wald z / χ² tests, or Knapp & Hartung t / F tests.
    level : float
        Confidence level.
    labels : sequence of str, optional
        Study labels for error messages (from a pandas index of ``yi`` if not given).
    tol, max_iter
        Convergence tolerance and iteration cap of the iterative τ² estimators.

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
    if labels is None and isinstance(yi, pd.Series):
        labels = yi.index
    labels = None if labels is None else [str(x) for x in labels]
    y, v = _validate_study_arrays(yi, vi, labels)
    if labels is not None and len(labels) != y.size:
        raise StudyDataError(DataProblem(f"{len(labels)} labels for {y.size} studies", column="labels",
                                         fix="give one label per study"))  # fmt: skip
    X, names, icol = _design(mods, y.size, intercept, labels)
    k, p = X.shape
    need = p if method is Method.FE else p + 1
    if k < need:
        raise StudyDataError(DataProblem(f"{k} studies for {p} coefficients"
                                         f"{'' if method is Method.FE else ' and tau^2'}: too few studies",
                                         fix="use fewer moderators"))  # fmt: skip
    fit = _fit_batch(y, v, X, method=method, test=test, level=level, intercept_col=icol, tol=tol,
                     max_iter=max_iter)  # fmt: skip
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
    return MetaRegResult(
        names=names, **arrays, **f0, qm_df=mdf, qm_df2=(k - p) if test is Test.KNHA else None,
        qe_df=k - p, r2=r2, k=k, p=p, method=method, test=test, level=level,
        converged=bool(fit.converged[0]), n_iter=int(fit.n_iter[0]), intercept=icol is not None,
        yi=y, vi=v, X=X, labels=tuple(labels) if labels is not None else (),
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


# --------------------------------------------------------------------------------------------------
# Permutation test
# --------------------------------------------------------------------------------------------------

#: metafor's ``comptol``: permuted statistics within this of the observed one count as "as extreme"
