"""The generalised least-squares engine of the network meta-analysis: block-diagonal covariances,
τ² by the generalised DerSimonian–Laird moment estimator or REML (global maximum), many τ² at once.

Private to :mod:`tpmeta.models.network`, which states the model. Marginal covariance of a trial's
contrasts ``Σ_i(τ²) = V_i + τ² R_i`` with ``R_i = (I + J)/2`` (variance τ², covariance τ²/2). Trials
are grouped by their number of contrasts so that every τ² and every trial of a size is one batched
``numpy.linalg`` call; all other algebra is p×p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._tau2_global import BEATEN_TOL, better_maxima, upper_bound


@dataclass(frozen=True)
class _Group:
    rows: np.ndarray  # (n, m) indices of the contrasts of the n trials with m contrasts
    V: np.ndarray  # (n, m, m)
    R: np.ndarray  # (m, m)
    y: np.ndarray  # (n, m)
    X: np.ndarray  # (n, m, p)


@dataclass(frozen=True)
class GLS:
    """The fit at each of g values of τ² (leading axis g)."""

    beta: np.ndarray  # (g, p)
    vcov: np.ndarray  # (g, p, p)
    q: np.ndarray  # (g,) residual quadratic form r'Σ⁻¹r
    loglik: np.ndarray  # (g,) restricted log-likelihood, metafor's constants (REMLf = TRUE)


class Engine:
    """One data set (y, block-diagonal V, design X) and its GLS fits."""

    def __init__(self, y: np.ndarray, X: np.ndarray, blocks: list[np.ndarray], starts: np.ndarray):
        self.y, self.X = np.asarray(y, float), np.asarray(X, float)
        self.N, self.p = self.X.shape
        sizes = np.array([b.shape[0] for b in blocks])
        self.groups: list[_Group] = []
        for m in np.unique(sizes):
            sel = np.flatnonzero(sizes == m)
            rows = starts[sel][:, None] + np.arange(m)[None, :]
            R = np.full((m, m), 0.5) + 0.5 * np.eye(m)
            self.groups.append(_Group(rows, np.stack([blocks[i] for i in sel]), R, self.y[rows], self.X[rows]))
        self._const = (-0.5 * (self.N - self.p) * np.log(2 * np.pi)
                       + 0.5 * np.linalg.slogdet(self.X.T @ self.X)[1])  # fmt: skip

    def with_design(self, X: np.ndarray) -> "Engine":
        """The same data with another design (node-splitting and inconsistency models)."""
        new = object.__new__(Engine)
        new.y, new.X = self.y, np.asarray(X, float)
        new.N, new.p = new.X.shape
        new.groups = [_Group(g.rows, g.V, g.R, g.y, new.X[g.rows]) for g in self.groups]
        new._const = -0.5 * (new.N - new.p) * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(new.X.T @ new.X)[1]
        return new

    def _parts(self, tau2: np.ndarray, v_scale: float = 1.0):
        """Σ_groups X'Σ⁻¹X (g,p,p), X'Σ⁻¹y (g,p), y'Σ⁻¹y (g,), log|Σ| (g,) at Σ = v_scale V + τ² R."""
        g = tau2.size
        xsx, xsy = np.zeros((g, self.p, self.p)), np.zeros((g, self.p))
        ysy, logdet = np.zeros(g), np.zeros(g)
        for grp in self.groups:
            S = v_scale * grp.V[None] + tau2[:, None, None, None] * grp.R
            L = np.linalg.cholesky(S)  # (g, n, m, m)
            logdet += 2 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=(1, 2))
            wy = _tri_solve(L, np.broadcast_to(grp.y[None, ..., None], (g, *grp.y.shape, 1)))[..., 0]
            wx = _tri_solve(L, np.broadcast_to(grp.X[None], (g, *grp.X.shape)))
            xsx += np.einsum("gnmp,gnmq->gpq", wx, wx)
            xsy += np.einsum("gnmp,gnm->gp", wx, wy)
            ysy += np.einsum("gnm,gnm->g", wy, wy)
        return xsx, xsy, ysy, logdet

    def fit(self, tau2) -> GLS:
        t = np.atleast_1d(np.asarray(tau2, float))
        xsx, xsy, ysy, logdet = self._parts(t)
        vcov = np.linalg.inv(xsx)
        beta = np.einsum("gpq,gq->gp", vcov, xsy)
        q = ysy - np.einsum("gp,gp->g", beta, xsy)
        ll = self._const - 0.5 * logdet - 0.5 * np.linalg.slogdet(xsx)[1] - 0.5 * q
        return GLS(beta, vcov, q, ll)

    def score_info(self, tau2: float) -> tuple[float, float]:
        """``(y'PRPy − tr PR, tr PRPR)``: twice the REML score and twice the expected information."""
        t = np.array([float(tau2)])
        fit = self.fit(t)
        A, b = fit.vcov[0], fit.beta[0]
        ypp, tr_sr, tr_srsr = 0.0, 0.0, 0.0
        F = np.zeros((self.p, self.p))  # X'Σ⁻¹RΣ⁻¹X
        G = np.zeros((self.p, self.p))  # X'Σ⁻¹RΣ⁻¹RΣ⁻¹X
        for grp in self.groups:
            Si = np.linalg.inv(grp.V + t[0] * grp.R)  # (n, m, m)
            SR = Si @ grp.R
            r = grp.y - np.einsum("nmp,p->nm", grp.X, b)
            u = np.einsum("nij,nj->ni", Si, r)
            ypp += np.einsum("ni,ij,nj->", u, grp.R, u)
            tr_sr += np.einsum("nii->", SR)
            tr_srsr += np.einsum("nij,nji->", SR, SR)
            SX = Si @ grp.X
            RSX = np.einsum("ij,njp->nip", grp.R, SX)
            F += np.einsum("nip,niq->pq", SX, RSX)
            G += np.einsum("nip,niq->pq", RSX, np.einsum("nij,njq->niq", Si, RSX))
        AF = A @ F
        tr_pr = tr_sr - np.trace(AF)
        tr_prpr = tr_srsr - 2 * np.trace(A @ G) + np.trace(AF @ AF)
        return float(ypp - tr_pr), float(tr_prpr)

    def q_fixed(self) -> float:
        """Cochran's generalised Q: the residual quadratic form of the fixed-effect (τ² = 0) fit."""
        return float(self.fit(0.0).q[0])

    def dl(self) -> float:
        """Generalised DerSimonian–Laird: ``max(0, (Q − (N − p)) / tr(P₀R))`` (Jackson, White & Riley
        2012; netmeta's estimator)."""
        df = self.N - self.p
        if df <= 0:
            return 0.0
        fe = self.fit(0.0)
        A = fe.vcov[0]
        tr_sr, F = 0.0, np.zeros((self.p, self.p))
        for grp in self.groups:
            Si = np.linalg.inv(grp.V)
            tr_sr += np.einsum("nij,ji->", Si, grp.R)
            SX = Si @ grp.X
            F += np.einsum("nip,ij,njq->pq", SX, grp.R, SX)
        return max(0.0, (float(fe.q[0]) - df) / (tr_sr - np.trace(A @ F)))

    def reml(self, tol: float, max_iter: int) -> tuple[float, bool, int]:
        """The global maximum of the restricted likelihood over τ² ≥ 0: ``(τ², converged, n_iter)``.

        Fisher scoring from the DL value, then the scan and refinement of
        :mod:`tpmeta.models._tau2_global` on ``[0, U]``. ``U`` comes from the same argument applied to
        ``R^(−1/2) y`` (REML is invariant to that transformation): ``v_max`` = the largest eigenvalue of
        ``R^(−1/2) V R^(−1/2)`` ≤ max over trials of ``λ_max(V_i)/λ_min(R_i)`` and RSS the residual
        sum of squares of the fit with covariance R.
        """
        if self.N - self.p <= 0:
            return 0.0, True, 0
        t, conv, n_iter = self._local(self.dl(), tol, max_iter)
        v_max = max(np.linalg.eigvalsh(grp.V).max() / np.linalg.eigvalsh(grp.R).min() for grp in self.groups)
        v_min = min(np.linalg.eigvalsh(grp.V).min() / np.linalg.eigvalsh(grp.R).max() for grp in self.groups)
        xsx, xsy, ysy, _ = self._parts(np.array([1.0]), v_scale=0.0)
        rss = float(ysy[0] - xsy[0] @ np.linalg.solve(xsx[0], xsy[0]))
        upper = upper_bound(np.array([float(self.N)]), self.p, np.array([v_max]), np.array([rss]))

        def loglik(rows: np.ndarray, tau2: np.ndarray) -> np.ndarray:
            return self.fit(np.maximum(tau2.ravel(), 0.0)).loglik.reshape(tau2.shape)

        rows, t_scan, ll_scan = better_maxima(loglik, np.array([t]), np.array([v_min]), upper)
        if rows.size:
            polished, ok, steps = self._local(float(t_scan[0]), tol * 1e-3, max_iter)
            keep = self.fit(polished).loglik[0] >= ll_scan[0] - BEATEN_TOL * (1.0 + abs(ll_scan[0]))
            t, conv, n_iter = (polished if keep else float(t_scan[0])), ok, n_iter + steps
        if t > 0:  # the boundary wins if its likelihood is higher (metafor's ll0check)
            ll_t, ll_0 = self.fit(np.array([t, 0.0])).loglik
            if ll_0 - ll_t > 1e-12 * (1.0 + abs(ll_t)):
                t = 0.0
        return t, conv, n_iter

    def _local(self, start: float, tol: float, max_iter: int) -> tuple[float, bool, int]:
        """Fisher scoring with the bracket/bisection safeguard of the pairwise engines."""
        t, lo, hi, prev = max(0.0, start), -np.inf, np.inf, np.inf
        for it in range(1, max_iter + 1):
            score, info = self.score_info(t)
            if score > 0:
                lo = max(lo, t)
            elif score < 0:
                hi = min(hi, t)
            new = max(0.0, t + score / info) if info > 0 else t
            outside = (score > 0 and new >= hi) or (score < 0 and new <= lo)
            if (outside or abs(new - t) > 0.5 * prev) and np.isfinite(hi):
                new = 0.5 * (max(lo, 0.0) + hi)
            prev, t = abs(new - t), new
            if prev <= tol * (1 + t) or hi - max(lo, 0.0) <= tol * (1 + t):
                return t, True, it
        return t, False, max_iter


def _tri_solve(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``L⁻¹B`` for batched lower-triangular ``L`` (…, m, m) and ``B`` (…, m, k)."""
    m = L.shape[-1]
    if m == 1:
        return B / L
    return np.linalg.solve(L, B)
