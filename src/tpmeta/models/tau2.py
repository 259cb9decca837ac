"""The nine τ² estimators, on a :class:`~tpmeta.models._batched.Batch` of many meta-analyses.

Estimators of τ² (formulas as implemented in metafor 3.8, Viechtbauer 2010, doi:10.18637/jss.v036.i03;
see Veroniki et al. 2016, doi:10.1002/jrsm.1164, for a review), with Q(τ²) the generalised Q:

* ``FE``   τ² = 0.
* ``DL``   ``max(0, (Q − (k−1)) / (Σw − Σw²/Σw))``, w = 1/v (DerSimonian & Laird 1986,
  doi:10.1016/0197-2456(86)90046-2).
* ``HE``   ``max(0, Σ(y − ȳ)²/(k−1) − Σv/k)`` (Hedges 1983, doi:10.1037/0033-2909.93.2.388).
* ``HS``   ``max(0, (Q − k) / Σw)``, w = 1/v (Hunter & Schmidt 2004).
* ``SJ``   ``τ₀² Q_{τ₀²} / (k − 1)`` with ``τ₀² = Σ(y − ȳ)²/k`` (Sidik & Jonkman 2005,
  doi:10.1002/sim.2074).
* ``PM``   root of ``Q(τ²) = k − 1``, 0 if ``Q(0) < k − 1`` (Paule & Mandel 1982,
  doi:10.6028/jres.087.022).
* ``EB``   Morris's empirical Bayes estimator (Morris 1983, doi:10.1080/01621459.1983.10477914); without
  moderators its fixed point ``Q(τ²)·k/(k−1) = k`` is the PM equation, so it is solved the same way.
* ``ML``, ``REML``  the global maximum of the (restricted) likelihood over τ² ≥ 0 (Raudenbush 2009,
  *Handbook of research synthesis and meta-analysis*, 2nd ed., ch. 16). Fisher scoring from the HE
  estimate, as metafor does, steps ``Δ = (y'PPy − tr P)/tr PP`` (REML) or ``(y'PPy − Σw)/Σw²`` (ML),
  clamped at 0 and safeguarded by a bracket on the score, gives a local solution; the likelihood can
  also have a boundary maximum at 0 beside an interior one, or two interior maxima, so the likelihood
  is then scanned over ``[0, U]``, the range proved to hold the maximum, and any higher grid maximum is
  refined and taken (:mod:`tpmeta.models._tau2_global`, which states the bound and what the scan can
  miss). metafor 3.8 keeps its local solution (after checking τ² = 0), so on such data it can report a
  lower maximum; its own ``logLik`` at tpmeta's τ² is then higher.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..options import Method, parse_option
from ._batched import Batch, generalised_q, rowsum, solve_generalised_q, weighted_mean
from ._tau2_global import BEATEN_TOL, bracket, golden, scan, upper_bound

__all__ = ["estimate_tau2", "DEFAULT_TOL", "DEFAULT_MAX_ITER"]

#: Default convergence tolerance of the iterative τ² solvers (change in τ², relative to 1 + τ²).
DEFAULT_TOL = 1e-10
DEFAULT_MAX_ITER = 1000


# --------------------------------------------------------------------------------------------------
# τ² estimators on a Batch
# --------------------------------------------------------------------------------------------------


def _closed_form_tau2(batch: Batch, method: Method) -> np.ndarray:
    k = batch.k
    m = batch.mask
    with np.errstate(invalid="ignore", divide="ignore"):
        if method is Method.FE:
            return np.zeros(k.shape)
        if method in (Method.DL, Method.HS):
            sw = batch.sw_fe
            q = batch.q_fe[0]
            if method is Method.DL:
                raw = (q - (k - 1)) / (sw - batch.sw2_fe / sw)
            else:
                raw = (q - k) / sw
            return np.where(k > 1, np.maximum(0.0, raw), 0.0)
        spread = batch.spread
        if method is Method.HE:
            raw = spread / (k - 1) - rowsum(m * batch.v) / k
            return np.where(k > 1, np.maximum(0.0, raw), 0.0)
        if method is Method.SJ:
            tau0 = spread / k
            q0, _ = generalised_q(batch, tau0)
            return np.where((k > 1) & (tau0 > 0), tau0 * q0 / (k - 1), 0.0)
    raise AssertionError(f"not a closed-form method: {method}")  # pragma: no cover - internal


def _log_likelihood(batch: Batch, tau2: np.ndarray, reml: bool) -> np.ndarray:
    """(Restricted) log-likelihood of the intercept-only model, up to a constant."""
    q, _ = generalised_q(batch, tau2)
    _, sw, _ = weighted_mean(batch, tau2)
    ll = -0.5 * rowsum(batch.mask * np.log(batch.v + tau2[:, None])) - 0.5 * q
    if reml:
        ll = ll - 0.5 * np.log(sw)
    return ll


def _fisher_scoring(
    batch: Batch, reml: bool, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RE)ML τ²: the global maximum of the (restricted) likelihood over τ² ≥ 0, every analysis at once.

    The likelihood is scanned over ``[0, U]``, the range that must hold the maximum, and the
    safeguarded Newton/Fisher iteration (:func:`_local_fisher_scoring`) starts from the best grid
    point; where it ends below that grid point, a golden-section search of the bracketing grid interval
    and a second polish take over (:mod:`tpmeta.models._tau2_global`). Starting next to the maximum
    also saves iterations over metafor's HE start. Returns ``(tau2, converged, n_iter)``.
    """
    n = batch.y.shape[0]
    tau2, converged, n_iter = np.zeros(n), np.ones(n, bool), np.zeros(n, int)  # k < 2: τ² = 0
    fit = np.flatnonzero(batch.k >= 2)
    if fit.size == 0:
        return tau2, converged, n_iter
    sub = batch.take(fit)
    v_present = np.where(sub.mask > 0, sub.v, np.nan)
    upper = upper_bound(sub.k, 1, np.nanmax(v_present, axis=1), sub.spread)

    def loglik(rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        return _log_likelihood_grid(sub, rows, t, reml)

    grid, ll_grid = scan(loglik, np.nanmin(v_present, axis=1), upper)
    every = np.arange(fit.size)
    best = np.argmax(ll_grid, axis=1)
    ll_best = ll_grid[every, best]
    t, conv, steps = _local_fisher_scoring(sub, reml, tol=tol, max_iter=max_iter, start=grid[every, best])
    ll_t = loglik(every, t[:, None])[:, 0]
    off = np.flatnonzero(~(ll_t >= ll_best - BEATEN_TOL * (1.0 + np.abs(ll_best))))  # ended below the grid point
    if off.size:
        a, b = bracket(grid[off], best[off])
        t_gold, ll_gold = golden(loglik, off, a, b)
        polished, conv_p, steps_p = _local_fisher_scoring(sub.take(off), reml, tol=tol, max_iter=max_iter,
                                                          start=t_gold)  # fmt: skip
        keep = loglik(off, polished[:, None])[:, 0] >= ll_gold - BEATEN_TOL * (1.0 + np.abs(ll_gold))
        t[off] = np.where(keep, polished, t_gold)
        conv[off] = conv_p  # the polishing iteration (within max_iter) decides
        steps[off] += steps_p
    tau2[fit], converged[fit], n_iter[fit] = t, conv, steps
    return tau2, converged, n_iter


def _log_likelihood_grid(batch: Batch, rows: np.ndarray, grid: np.ndarray, reml: bool) -> np.ndarray:
    """:func:`_log_likelihood` of analyses ``rows`` at every τ² of ``grid`` (r, g) → (r, g).

    The weighted sums Σw, Σwy, Σwy² and Σ log(v + τ²) of all grid points come from batched matrix
    products per chunk of analyses, in buffers reused across chunks; y is centred per analysis first
    (Q is unchanged by a shift), so ``Q = Σwy² − (Σwy)²/Σw`` loses no digits to cancellation.
    """
    out = np.empty(grid.shape)
    k, g = batch.y.shape[1], grid.shape[1]
    kb = min(k, max(1, (1 << 17) // g))  # studies per block: about 1 MB per buffer, stays in cache
    step = max(1, (1 << 17) // (g * kb))  # analyses per chunk
    # laid out (analysis, study, τ²): the inner loops then run over the τ² grid, which is contiguous
    buf, logs = np.empty((min(step, rows.size), kb, g)), np.empty((min(step, rows.size), kb, g))
    for start in range(0, rows.size, step):
        r = rows[start:start + step]
        c = r.size
        m_all = batch.mask[r]
        y_all = batch.y[r] - rowsum(m_all * batch.y[r])[:, None] / batch.k[r, None]
        s = np.zeros((c, 3, g))
        log_sum = np.zeros((c, g))
        for k0 in range(0, k, kb):  # one block for the usual k; many for k in the thousands and more
            m, y, v = m_all[:, k0:k0 + kb], y_all[:, k0:k0 + kb], batch.v[r, k0:k0 + kb]
            kk = m.shape[1]
            sums = np.stack([m, m * y, m * y * y], axis=1)  # (c, 3, kk)
            vt, lg = buf[:c, :kk], logs[:c, :kk]
            np.add(v[:, :, None], grid[start:start + step, None, :], out=vt)
            np.log(vt, out=lg)
            np.reciprocal(vt, out=vt)
            s += sums @ vt  # (c, 3, g): Σw, Σwy, Σwy²
            log_sum += np.ones(kk) @ lg if m.all() else (m[:, None, :] @ lg)[:, 0, :]
        ll = -0.5 * log_sum - 0.5 * (s[:, 2] - s[:, 1] ** 2 / s[:, 0])
        out[start:start + step] = ll - 0.5 * np.log(s[:, 0]) if reml else ll
    return out


def _local_fisher_scoring(
    batch: Batch, reml: bool, *, tol: float, max_iter: int, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A local maximum of the (RE)ML likelihood by Newton/Fisher scoring from ``start`` (default: the HE
    estimate, as metafor); ``(tau2, converged, n_iter)``.

    Where the log-likelihood is locally concave the step uses the observed information (Newton's
    method, quadratic convergence); elsewhere the expected information (Fisher scoring, metafor's
    algorithm). Both find the same root of the score.

    Plain Fisher scoring (metafor's algorithm) can oscillate, e.g. between 0 and a positive value, and
    then metafor stops with "did not converge". Here each analysis also keeps a bracket on the root
    of the score (``lo``: score > 0 seen there, ``hi``: score < 0 seen there), and a step that leaves
    the bracket, or that does not halve the previous change, is replaced by bisection (the safeguard of
    Numerical Recipes' ``rtsafe``). The answer is the same root of the score that metafor finds when
    plain Fisher scoring converges; where plain scoring cycles, this still converges.
    """
    n = batch.y.shape[0]
    tau2 = _closed_form_tau2(batch, Method.HE) if start is None else np.array(start, dtype=float)
    converged = batch.k < 2
    n_iter = np.zeros(n, dtype=int)
    active = np.flatnonzero(~converged)
    sub = batch.take(active)
    t = tau2[active]
    lo = np.full(active.size, -np.inf)  # largest τ² with a positive score (−inf: none seen yet)
    hi = np.full(active.size, np.inf)  # smallest τ² with a negative score
    prev_change = np.full(active.size, np.inf)
    steps = np.zeros(active.size, dtype=int)
    for _ in range(max_iter):
        if active.size == 0:
            break
        w = sub.mask / (sub.v + t[:, None])
        sw = rowsum(w)
        w2 = w * w
        sw2 = rowsum(w2)
        r = sub.y - rowsum(w * sub.y)[:, None] / sw[:, None]
        w2r = w2 * r
        ypPPy = rowsum(w2r * r)
        # y'PPPy = Σw³r² − (Σw²r)²/Σw: with it the observed information, for Newton steps
        ypPPPy = rowsum(w * w2r * r) - rowsum(w2r) ** 2 / sw
        if reml:
            ratio = sw2 / sw
            score = ypPPy - (sw - ratio)  # twice the REML score
            info = sw2 - 2.0 * rowsum(w2 * w) / sw + ratio * ratio  # tr(PP): expected information
        else:
            score = ypPPy - sw
            info = sw2
        observed = 2.0 * ypPPPy - info  # minus twice the second derivative of the (restricted) log-likelihood
        # Newton's step where the log-likelihood is concave (quadratic convergence), Fisher's elsewhere
        info = np.where(observed > 0, observed, info)
        pos, neg = score > 0, score < 0
        lo = np.where(pos, np.maximum(lo, t), lo)
        hi = np.where(neg, np.minimum(hi, t), hi)
        new = np.maximum(0.0, t + score / info)
        # bisect when the step leaves the bracket or fails to halve the previous change (a cycle)
        change = np.abs(new - t)
        bisect = ((pos & (new >= hi)) | (neg & (new <= lo)) | (change > 0.5 * prev_change)) & (hi < np.inf)
        if bisect.any():
            new = np.where(bisect, 0.5 * (np.maximum(lo, 0.0) + hi), new)
            change = np.abs(new - t)
        prev_change, t = change, new
        steps += 1
        done = (change <= tol * (1.0 + new)) | (hi - np.maximum(lo, 0.0) <= tol * (1.0 + new))
        if done.any():  # write back the finished analyses and drop them from the working set
            tau2[active[done]] = new[done]
            converged[active[done]] = True
            n_iter[active[done]] = steps[done]
            keep = ~done
            active, t, lo, hi, prev_change, steps = (a[keep] for a in (active, t, lo, hi, prev_change, steps))
            sub = sub.take(np.flatnonzero(keep))
    if active.size:  # not converged within max_iter: report where the iteration stopped
        tau2[active], n_iter[active] = t, steps
    # metafor's ll0check: a boundary value τ² = 0 with a higher likelihood wins.
    positive = np.flatnonzero(converged & (tau2 > 0))
    if positive.size:
        sub = batch.take(positive)
        ll_hat = _log_likelihood(sub, tau2[positive], reml)
        ll_zero = _log_likelihood(sub, np.zeros(positive.size), reml)
        tau2[positive[ll_zero - ll_hat > 1e-12 * (1.0 + np.abs(ll_hat))]] = 0.0
    return tau2, converged, n_iter


def _estimate_tau2_batch(
    batch: Batch, method: Method, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if method in (Method.FE, Method.DL, Method.HE, Method.HS, Method.SJ):
        n = batch.y.shape[0]
        return _closed_form_tau2(batch, method), np.ones(n, bool), np.zeros(n, int)
    if method in (Method.PM, Method.EB):
        target = np.where(batch.k > 1, batch.k - 1, np.nan)
        return solve_generalised_q(batch, target, tol=tol, max_iter=max_iter)
    return _fisher_scoring(batch, method is Method.REML, tol=tol, max_iter=max_iter)


def estimate_tau2(
    yi: Any,
    vi: Any,
    method: Method | str = "REML",
    *,
    mask: Any = None,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> np.ndarray:
    """τ² alone, for arrays shaped ``(..., k)``; see the module docstring for the formulas.

    >>> float(estimate_tau2([0.1, 0.5, 0.9], [0.01, 0.02, 0.03], "DL"))  # doctest: +ELLIPSIS
    0.1...
    """
    method = parse_option(Method, method, "method")
    batch = Batch.from_arrays(np.asarray(yi, float), np.asarray(vi, float), mask)
    tau2, _, _ = _estimate_tau2_batch(batch, method, tol=tol, max_iter=max_iter)
    shape = np.broadcast_shapes(np.shape(yi), np.shape(vi))[:-1]
    return tau2.reshape(shape)
