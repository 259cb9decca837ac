"""The batched meta-regression engine: weighted least squares and the nine τ² estimators for many
models at once, with p×p algebra only (definitions in :mod:`tpmeta.models.metareg`).

Private to :mod:`tpmeta.models`: :func:`_fit_batch` is used by meta-regression, subgroups,
permutation tests and the small-study adjustments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from ..options import Method, Test
from ._tau2_global import BEATEN_TOL, better_maxima, upper_bound
from .tau2 import DEFAULT_MAX_ITER, DEFAULT_TOL

_TINY = np.finfo(float).eps


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


def _is_t(test: Test) -> bool:
    """Knapp-Hartung type tests: t and F quantiles on k − p df (metafor's "knha" and "adhoc")."""
    return test.knapp_hartung


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
    """(RE)ML τ²: the global maximum over τ² ≥ 0 (as :func:`tpmeta.models.tau2._fisher_scoring`).

    The local solution from the HE start is checked against a scan of ``[0, U]`` and replaced where the
    scan finds a higher likelihood (:mod:`tpmeta.models._tau2_global`).
    """
    he, ols = _he(d)
    tau2, conv, n_iter = _local_fisher(d, reml, tol, max_iter, start=np.maximum(0.0, he))
    fit = np.flatnonzero(np.isfinite(he))
    if fit.size == 0:
        return tau2, conv, n_iter
    sub = d.take(fit)
    v_present = sub.v if sub.m is None else np.where(sub.m > 0, sub.v, np.nan)
    upper = upper_bound(sub.k, sub.X.p, np.nanmax(v_present, axis=1), ols.q[fit])

    def loglik(rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        # every (analysis, τ²) pair as one analysis of a tiled batch: p×p algebra, no loop over τ²
        g = t.shape[1]
        out = np.empty(t.shape)
        step = max(1, (1 << 18) // (g * sub.y.shape[1] * sub.X.p))
        for start in range(0, rows.size, step):
            r = rows[start:start + step]
            tiled = sub.take(np.repeat(r, g))
            out[start:start + step] = _loglik(tiled, t[start:start + step].ravel(), reml).reshape(r.size, g)
        return out

    rows, t_scan, ll_scan = better_maxima(loglik, tau2[fit], np.nanmin(v_present, axis=1), upper)
    if rows.size:
        # Fisher scoring converges linearly, so where it stops depends on where it starts: polish a
        # thousand times tighter so that the same data give the same τ² in any batch (to ~1e-12)
        polished, ok, steps = _local_fisher(sub.take(rows), reml, tol * 1e-3, max_iter, start=t_scan)
        # the polished stationary point unless clearly lower (at the maximum, ℓ differs only by rounding)
        keep = loglik(rows, polished[:, None])[:, 0] >= ll_scan - BEATEN_TOL * (1.0 + np.abs(ll_scan))
        idx = fit[rows]
        tau2[idx] = np.where(keep, polished, t_scan)
        conv[idx] = ok  # the polishing iteration (within max_iter) decides, as for the local solution
        n_iter[idx] += steps
    return tau2, conv, n_iter


def _local_fisher(d: _Data, reml: bool, tol: float, max_iter: int, start: np.ndarray):
    """A local (RE)ML maximum by Fisher scoring from ``start``, with the bracket/bisection safeguard of
    :func:`tpmeta.models.tau2._local_fisher_scoring`."""
    n = d.y.shape[0]
    tau2 = np.array(start, dtype=float)  # NaN where k ≤ p: not fitted, converged=False
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
    tau2: Any = None,
) -> _BatchFit:
    """Fit n meta-regressions at once: Y, V (n, k); X (k, p) shared or (n, k, p); mask (n, k).

    ``intercept_col`` is the index of the column of ones (None: no intercept); ``btt`` the
    coefficients tested by QM (default: all but the intercept, or the intercept alone if p = 1);
    ``tau2`` a fixed τ² (scalar or (n,)) instead of estimating it (``rma(..., tau2=)``: its standard
    error is NaN, converged True, n_iter 0).
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
        fixed = None if tau2 is None else np.broadcast_to(np.asarray(tau2, float), Y.shape[:1])
        return _finish(d, method, test, level, btt, tol, max_iter, fixed)


def _finish(d: _Data, method: Method, test: Test, level: float, btt: np.ndarray, tol, max_iter,
            fixed: np.ndarray | None = None) -> _BatchFit:  # fmt: skip
    n, k, p = d.y.shape[0], d.k, d.X.p
    kp = k - p
    if fixed is None:
        tau2, tau2_se, conv, n_iter = _tau2(d, method, tol, max_iter)
    else:
        tau2, tau2_se, conv, n_iter = fixed.copy(), np.full(n, np.nan), np.ones(n, bool), np.zeros(n, int)
    s = _WLS(d, _weights(d, tau2))
    vt_b = s.A  # covariance of β̃ in the preconditioned parameterisation
    alpha = 1.0 - level
    if _is_t(test):
        s2 = np.where(s.q <= _TINY, 0.0, s.q / kp)
        if test is Test.KNHA_ADHOC:  # metafor's test="adhoc": the scale factor is at least 1
            s2 = np.maximum(s2, 1.0)
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
    if _is_t(test):
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
# One data set at many fixed τ²: the profile likelihood and the generalised Q (inference, profile)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AtTau2:
    """A model refitted at each of g fixed τ² values (arrays (g,) or (g, p))."""

    ll_ml: np.ndarray
    ll_reml: np.ndarray
    beta: np.ndarray
    q: np.ndarray


def _tiled(y: np.ndarray, v: np.ndarray, X: np.ndarray, intercept_col: int | None, g: int) -> _Data:
    y, v = np.asarray(y, float), np.asarray(v, float)
    k = y.size
    return _Data(np.broadcast_to(y, (g, k)), np.broadcast_to(v, (g, k)), None, np.full(g, float(k)),
                 _Design(np.asarray(X, float), None, intercept_col))  # fmt: skip


def _at_tau2(y: Any, v: Any, X: Any, intercept_col: int | None, tau2: Any) -> _AtTau2:
    """metafor's log-likelihoods (``fit.stats``: ML and REML, constants included, ``REMLf=TRUE``), β̂ and
    Q = Σ w (y − Xβ̂)² of the model refitted at each fixed τ² (``rma(yi, vi, mods=, tau2=t)``).

    ``ℓ_ML = −½ k log 2π − ½ Σ log(v + τ²) − ½ Q`` and
    ``ℓ_REML = −½ (k − p) log 2π + ½ log|X'X| − ½ Σ log(v + τ²) − ½ log|X'WX| − ½ Q``; the two
    determinants are taken on the preconditioned design (their difference does not depend on it).
    """
    t = np.atleast_1d(np.asarray(tau2, float))
    d = _tiled(y, v, X, intercept_col, t.size)
    k, p = d.y.shape[1], d.X.p
    s = _WLS(d, _weights(d, t))
    log_v = np.log(d.v + t[:, None]).sum(axis=1)
    ll_ml = -0.5 * k * np.log(2 * np.pi) - 0.5 * log_v - 0.5 * s.q
    logdet_xx = np.linalg.slogdet(d.X.gram(np.ones((1, k))))[1][0]
    ll_reml = (-0.5 * (k - p) * np.log(2 * np.pi) + 0.5 * logdet_xx - 0.5 * log_v
               - 0.5 * np.linalg.slogdet(d.X.gram(_weights(d, t)))[1] - 0.5 * s.q)  # fmt: skip
    return _AtTau2(ll_ml=ll_ml, ll_reml=ll_reml, beta=s.beta @ d.X.tinv[0].T, q=s.q)


def _q_roots(y: Any, v: Any, X: Any, intercept_col: int | None, targets: Any, tol: float, max_iter: int):
    """τ² with ``Q(τ²) = y'P(τ²)y`` equal to each target (0 where Q(0) ≤ target): ``(tau2, converged)``."""
    targets = np.atleast_1d(np.asarray(targets, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2, conv, _ = _solve_q(_tiled(y, v, X, intercept_col, targets.size), targets, tol, max_iter)
    return tau2, conv


def _fit_stats(y: Any, v: Any, X: Any, intercept_col: int | None, tau2: float, parms: int, reml: bool
               ) -> dict[str, float]:  # fmt: skip
    """metafor's ``fit.stats`` column "REML" or "ML" of a model with τ² (``parms`` parameters):
    log-likelihood, deviance, AIC, BIC and AICc.

    ML: ``dev = −2 (ℓ − Σ log φ(y_i; y_i, v_i))`` (0 when k = p), ``BIC = −2ℓ + parms log k``,
    ``AICc = −2ℓ + 2 parms n/(n − parms − 1)`` with ``n = max(k, parms + 2)``; REML: ``dev = −2ℓ`` and
    k − p in place of k.
    """
    v = np.asarray(v, float)
    k, p = np.shape(X)
    at = _at_tau2(y, v, X, intercept_col, [tau2])
    if reml:
        ll, n = float(at.ll_reml[0]), k - p
        dev = -2.0 * ll
    else:
        ll, n = float(at.ll_ml[0]), k
        dev = -2.0 * ll - k * np.log(2 * np.pi) - float(np.log(v).sum()) if k > p else 0.0
    m = max(n, parms + 2)
    with np.errstate(divide="ignore"):
        bic = -2.0 * ll + parms * float(np.log(n))
    return {"loglik": ll, "deviance": float(dev), "aic": -2.0 * ll + 2 * parms, "bic": float(bic),
            "aicc": -2.0 * ll + 2 * parms * m / (m - parms - 1)}  # fmt: skip
