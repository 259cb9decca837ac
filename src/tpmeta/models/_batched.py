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
from functools import cached_property

import numpy as np

__all__ = ["Batch", "weighted_mean", "generalised_q", "solve_generalised_q", "rowsum"]


def rowsum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis of a 2-D array as a matrix-vector product (BLAS): on (100,000 × 12)
    arrays this is about 14 times faster than ``a.sum(axis=1)``, whose short inner loops dominate the
    batched engine. (Summation order differs, so results differ in the last bits only.)"""
    if a.shape[0] < 64:  # a few analyses: the plain sum has less call overhead
        return a.sum(axis=1)
    return a @ np.ones(a.shape[-1])


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
        k_axis = y.shape[-1] if y.ndim else 1
        if mask is None:
            y2, v2 = y.reshape(-1, k_axis), v.reshape(-1, k_axis)
            m2 = np.ones(y2.shape)
            return cls(y=y2, v=v2, mask=m2, k=np.full(y2.shape[0], float(k_axis)))
        present = np.broadcast_to(np.asarray(mask, dtype=bool), y.shape)
        y2 = np.where(present, y, 0.0).reshape(-1, k_axis)
        v2 = np.where(present, v, 1.0).reshape(-1, k_axis)
        m2 = present.reshape(-1, k_axis).astype(float)
        return cls(y=y2, v=v2, mask=m2, k=rowsum(m2))

    # Fixed-effect (τ² = 0) quantities, computed once and shared by the estimators and Q, I², H².
    @cached_property
    def w_fe(self) -> np.ndarray:
        """Inverse-variance weights ``1/v`` (0 for absent studies)."""
        return self.mask / self.v

    @cached_property
    def sw_fe(self) -> np.ndarray:
        return rowsum(self.w_fe)

    @cached_property
    def sw2_fe(self) -> np.ndarray:
        return rowsum(self.w_fe * self.w_fe)

    @cached_property
    def q_fe(self) -> tuple[np.ndarray, np.ndarray]:
        """Cochran's Q (the generalised Q at τ² = 0) and its derivative there."""
        w = self.w_fe
        mu = rowsum(w * self.y) / self.sw_fe
        wr2 = w * (self.y - mu[:, None]) ** 2
        return rowsum(wr2), -rowsum(w * wr2)

    @cached_property
    def spread(self) -> np.ndarray:
        """Unweighted ``Σ (y_i − ȳ)²``."""
        ybar = rowsum(self.mask * self.y) / self.k
        return rowsum(self.mask * (self.y - ybar[:, None]) ** 2)

    def take(self, rows: np.ndarray) -> "Batch":
        """The sub-batch of the given analyses (row indices); ``self`` if that is all of them."""
        if rows.size == self.y.shape[0]:
            return self
        return Batch(self.y[rows], self.v[rows], self.mask[rows], self.k[rows])

    def stacked(self, times: int) -> "Batch":
        """The batch repeated ``times`` over along the analysis axis (to solve several targets at once)."""
        return Batch(
            np.tile(self.y, (times, 1)), np.tile(self.v, (times, 1)),
            np.tile(self.mask, (times, 1)), np.tile(self.k, times),
        )  # fmt: skip


def weighted_mean(batch: Batch, tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights ``w_i = 1/(v_i + τ²)``, their sum and the weighted mean, per analysis."""
    w = batch.mask / (batch.v + tau2[:, None])
    sw = rowsum(w)
    mu = rowsum(w * batch.y) / sw  # callers silence 0/0 for empty analyses (errstate)
    return w, sw, mu


def generalised_q(batch: Batch, tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Q, ``Q(τ²) = Σ w_i (y_i − μ̂(τ²))²``, and its derivative ``−Σ w_i² (y_i − μ̂)²``.

    (The derivative has no term from μ̂ because Σ w_i (y_i − μ̂) = 0.)
    """
    w, _, mu = weighted_mean(batch, tau2)
    r2 = (batch.y - mu[:, None]) ** 2
    wr2 = w * r2
    return rowsum(wr2), -rowsum(w * wr2)


def solve_generalised_q(
    batch: Batch, target: np.ndarray, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve ``Q(τ²) = target`` for τ² ≥ 0 in every analysis at once.

    Q(τ²) decreases strictly in τ² (its derivative is negative), so the root is unique. Where
    ``Q(0) ≤ target`` the answer is 0. Otherwise Newton's method is applied to ``1/Q(τ²) − 1/target``,
    which is nearly linear in τ² (Q behaves like S/(v + τ²)) and so converges in a few steps, inside a
    bracket ``[lo, hi]``: ``hi = S / target`` with ``S = Σ (y_i − ȳ)²`` satisfies ``Q(hi) < target``
    because ``Q(τ²) ≤ Σ (y_i − ȳ)² / (v_i + τ²) < S / τ²``; a step that leaves the bracket is replaced
    by bisection.

    Returns ``(tau2, converged, n_iter)``.
    """
    n = batch.y.shape[0]
    target = np.broadcast_to(np.asarray(target, dtype=float), (n,))
    tau2 = np.zeros(n)
    converged = np.ones(n, dtype=bool)
    n_iter = np.zeros(n, dtype=int)
    q0, dq0 = batch.q_fe
    active = np.flatnonzero(np.isfinite(target) & (q0 > target))
    if active.size == 0:
        return tau2, converged, n_iter
    converged[active] = False
    sub = batch.take(active)
    inv_tgt = 1.0 / target[active]
    lo = np.zeros(active.size)
    hi = batch.spread[active] * inv_tgt
    t = lo.copy()
    q, dq = q0[active], dq0[active]
    for _ in range(max_iter):
        n_iter[active] += 1
        g = 1.0 / q - inv_tgt  # < 0 left of the root, > 0 right of it
        cand = t - g * q * q / -dq  # Newton step on 1/Q: g' = −Q'/Q²
        # a Newton step below the tolerance is convergence, not a reason to bisect (the candidate
        # then equals t, a bracket end, and would look "outside" the open bracket)
        tiny = np.abs(cand - t) <= tol * (1.0 + t)
        outside = ~((cand > lo) & (cand < hi)) & ~tiny
        cand = np.where(outside, 0.5 * (lo + hi), cand)
        q, dq = generalised_q(sub, cand)
        right = q <= 1.0 / inv_tgt
        lo = np.where(right, lo, cand)
        hi = np.where(right, cand, hi)
        scale = 1.0 + cand
        done = (np.abs(cand - t) <= tol * scale) | (hi - lo <= tol * scale)
        t = cand
        if done.any():
            tau2[active[done]] = t[done]
            converged[active[done]] = True
            keep = ~done
            if not keep.any():
                break
            active, t, lo, hi, q, dq, inv_tgt = (
                a[keep] for a in (active, t, lo, hi, q, dq, inv_tgt)
            )
            sub = sub.take(np.flatnonzero(keep))
    else:
        tau2[active] = t
    return tau2, converged, n_iter
