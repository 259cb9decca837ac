"""Batched building blocks shared by the estimators: weighted sums over the last axis and a
vectorised root finder for the generalised Q statistic.

Everything here works on 2-D arrays shaped ``(n, k)``: ``n`` independent meta-analyses of up to ``k``
studies, with a boolean mask marking the studies present in each analysis. Absent studies carry weight
zero, so a ragged collection of analyses (subsets, bootstrap samples, specifications) is one array
operation. Written here rather than taken from a library because no maintained package solves many
masked random-effects problems at once (PyMARE and statsmodels fit one analysis per call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch", "weighted_mean", "generalised_q", "solve_generalised_q"]


@dataclass(frozen=True)
class Batch:
    """Validated, masked study data for ``n`` meta-analyses: arrays of shape ``(n, k)``.

    Absent entries hold ``y = 0`` and ``v = 1`` so that no NaN leaks into sums; their mask is 0.
    """

    y: np.ndarray
    v: np.ndarray
    mask: np.ndarray  # float 0/1
    k: np.ndarray  # (n,) number of studies present

    @classmethod
    def from_arrays(cls, yi: np.ndarray, vi: np.ndarray, mask: np.ndarray | None) -> "Batch":
        y = np.asarray(yi, dtype=float)
        v = np.asarray(vi, dtype=float)
        y, v = np.broadcast_arrays(y, v)
        present = np.ones(y.shape, dtype=bool) if mask is None else np.broadcast_to(
            np.asarray(mask, dtype=bool), y.shape
        )
        k_axis = y.shape[-1] if y.ndim else 1
        y2 = np.where(present, y, 0.0).reshape(-1, k_axis)
        v2 = np.where(present, v, 1.0).reshape(-1, k_axis)
        m2 = present.reshape(-1, k_axis).astype(float)
        return cls(y=y2, v=v2, mask=m2, k=m2.sum(axis=1))

    def take(self, rows: np.ndarray) -> "Batch":
        """The sub-batch of the given analyses (row indices)."""
        return Batch(self.y[rows], self.v[rows], self.mask[rows], self.k[rows])


def weighted_mean(batch: Batch, tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights ``w_i = 1/(v_i + τ²)``, their sum and the weighted mean, per analysis."""
    w = batch.mask / (batch.v + tau2[:, None])
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (w * batch.y).sum(axis=1) / sw
    return w, sw, mu


def generalised_q(batch: Batch, tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Q, ``Q(τ²) = Σ w_i (y_i − μ̂(τ²))²``, and its derivative ``−Σ w_i² (y_i − μ̂)²``.

    (The derivative has no term from μ̂ because Σ w_i (y_i − μ̂) = 0.)
    """
    w, _, mu = weighted_mean(batch, tau2)
    r2 = (batch.y - mu[:, None]) ** 2
    wr2 = w * r2
    return wr2.sum(axis=1), -(w * wr2).sum(axis=1)


def solve_generalised_q(
    batch: Batch, target: np.ndarray, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve ``Q(τ²) = target`` for τ² ≥ 0 in every analysis at once.

    Q(τ²) decreases strictly in τ² (its derivative is negative), so the root is unique. Where
    ``Q(0) ≤ target`` the answer is 0. Otherwise a safeguarded Newton iteration runs inside a bracket
    ``[lo, hi]``: ``hi = S / target`` with ``S = Σ (y_i − ȳ)²`` satisfies ``Q(hi) < target`` because
    ``Q(τ²) ≤ Σ (y_i − ȳ)² / (v_i + τ²) < S / τ²``; Newton steps that leave the bracket are replaced by
    bisection.

    Returns ``(tau2, converged, n_iter)``.
    """
    n = batch.y.shape[0]
    target = np.broadcast_to(np.asarray(target, dtype=float), (n,))
    tau2 = np.zeros(n)
    converged = np.ones(n, dtype=bool)
    n_iter = np.zeros(n, dtype=int)
    q0, dq0 = generalised_q(batch, tau2)
    active = np.flatnonzero(np.isfinite(target) & (q0 > target))
    if active.size == 0:
        return tau2, converged, n_iter
    converged[active] = False
    sub = batch.take(active)
    tgt = target[active]
    ybar = (sub.mask * sub.y).sum(axis=1) / sub.k
    spread = (sub.mask * (sub.y - ybar[:, None]) ** 2).sum(axis=1)
    lo = np.zeros(active.size)
    hi = spread / tgt
    t = lo.copy()
    f = q0[active] - tgt
    df = dq0[active]
    done = np.zeros(active.size, dtype=bool)
    iters = np.zeros(active.size, dtype=int)
    for _ in range(max_iter):
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        iters[idx] += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -f[idx] / df[idx]
        cand = t[idx] + step
        outside = ~((cand > lo[idx]) & (cand < hi[idx]))
        cand = np.where(outside, 0.5 * (lo[idx] + hi[idx]), cand)
        qn, dqn = generalised_q(sub.take(idx), cand)
        fn = qn - tgt[idx]
        # keep the bracket: f > 0 on the left of the root, f < 0 on the right
        lo[idx] = np.where(fn > 0, cand, lo[idx])
        hi[idx] = np.where(fn <= 0, cand, hi[idx])
        change = np.abs(cand - t[idx])
        t[idx], f[idx], df[idx] = cand, fn, dqn
        scale = 1.0 + np.abs(cand)
        done[idx] = (change <= tol * scale) | (hi[idx] - lo[idx] <= tol * scale) | (fn == 0)
    tau2[active] = t
    converged[active] = done
    n_iter[active] = iters
    return tau2, converged, n_iter
