"""The global maximum of the (restricted) log-likelihood of τ² ≥ 0, for many analyses at once.

Newton or Fisher scoring finds *a* stationary point (or stops at the boundary τ² = 0), and the
(restricted) likelihood of the random-effects model can have more than one local maximum: a boundary
maximum at 0 next to an interior one, or two interior ones. The engines therefore treat the local
solution as one candidate and search the whole range where the maximum can lie:

1. *A bound.* With ``w_i = 1/(v_i + τ²)``, ``RSS`` the residual sum of squares of the unweighted
   (OLS) fit and p coefficients, every τ² above ``U = max(c·v_max, 2·RSS/(k − p))``,
   ``c = (k + p)/(k − p)``, has a negative (RE)ML score, so the likelihood decreases there and the
   maximum lies in ``[0, U]``. (Proof: ``y'PPy ≤ w_max·y'Py ≤ w_max²·RSS`` and
   ``tr P ≥ Σw − p·w_max ≥ k·w_min − p·w_max``; for τ² ≥ c·v_max, ``w_min ≥ w_max·c/(1 + c)``, so the
   REML score ``y'PPy − tr P < 0`` once ``RSS/τ² < (k − p)/2``; the ML score ``y'PPy − Σw`` is smaller
   still.)
2. *A scan.* The log-likelihood is evaluated at τ² = 0 and at :data:`GRID_POINTS` points spaced
   geometrically from ``min(v)/1000`` to ``U`` (the likelihood varies on the scale of τ² relative to
   the ``v_i``, hence a geometric grid).
3. *Refinement.* Where a grid point beats the local solution, the maximum is bracketed by that point's
   neighbours, narrowed by vectorised golden-section search and polished by the engine's own
   safeguarded Newton/Fisher iteration; the higher of the polished and bracketed values wins.

The answer is the largest likelihood among the local solution, τ² = 0 and every refined grid
maximum. What this cannot see is a second maximum narrower than one grid step (a ratio of
``(1000·U/min v)^(1/(GRID_POINTS − 1))`` in τ²); ``tests/models/test_tau2_global.py`` checks 10,000+
simulated analyses against an independent dense grid with bounded search and finds none.

Written here rather than with ``scipy.optimize``: SciPy's scalar optimisers solve one problem per
call, while the engines fit thousands of analyses in one vectorised pass.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Geometric grid points between min(v)/1000 and the upper bound U (τ² = 0 is added).
GRID_POINTS = 32
#: Golden-section steps on the bracketing grid interval (width × 0.618⁴⁰ ≈ 4e-9) before polishing.
GOLDEN_STEPS = 40
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
#: A grid point beats the local solution only if its log-likelihood is higher by more than this (relative
#: to 1 + |ℓ|): far above rounding, far below any real second maximum (the oracle test's tolerance).
BEATEN_TOL = 1e-9

#: ``loglik(rows, tau2)``: the (restricted) log-likelihood of analyses ``rows`` (r,) at ``tau2`` (r, g),
#: shape (r, g); up to a constant per analysis.
LogLik = Callable[[np.ndarray, np.ndarray], np.ndarray]


def upper_bound(k: np.ndarray, p: int | np.ndarray, v_max: np.ndarray, rss: np.ndarray) -> np.ndarray:
    """``U`` above which the (RE)ML score is negative (module docstring, step 1)."""
    kp = np.maximum(k - p, 1)
    return np.maximum((k + p) / kp * v_max, 2.0 * rss / kp)


def scan(loglik: LogLik, v_min: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log-likelihood on the grid of step 2: ``(grid, ll)``, both (n, GRID_POINTS + 1)."""
    n = v_min.size
    lo = np.maximum(v_min * 1e-3, np.finfo(float).tiny)
    hi = np.maximum(upper, lo * (1.0 + 1e-6))
    steps = np.linspace(0.0, 1.0, GRID_POINTS)
    grid = np.concatenate([np.zeros((n, 1)), lo[:, None] * (hi / lo)[:, None] ** steps[None, :]], axis=1)
    ll = loglik(np.arange(n), grid)
    return grid, np.where(np.isnan(ll), -np.inf, ll)


def golden(loglik: LogLik, rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Golden-section search for a maximum in ``[a, b]`` (step 3), every analysis at once: ``(tau2, ll)``."""
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    fc, fd = loglik(rows, np.stack([c, d], axis=1)).T
    for _ in range(GOLDEN_STEPS):  # keep the sub-interval holding the larger of the two inner values
        left = fc >= fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        # one new evaluation per step: the surviving inner point is reused
        x = np.where(left, b - _GOLDEN * (b - a), a + _GOLDEN * (b - a))
        fx = loglik(rows, x[:, None])[:, 0]
        c, fc, d, fd = (np.where(left, x, d), np.where(left, fx, fd),
                        np.where(left, c, x), np.where(left, fc, fx))  # fmt: skip
    return np.where(fc >= fd, c, d), np.maximum(fc, fd)


def bracket(grid: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The neighbours of grid point ``j`` in each row: an interval that holds a local maximum."""
    rows = np.arange(grid.shape[0])
    return grid[rows, np.maximum(j - 1, 0)], grid[rows, np.minimum(j + 1, grid.shape[1] - 1)]


def better_maxima(loglik: LogLik, t_local: np.ndarray, v_min: np.ndarray, upper: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Analyses whose local solution is beaten by a grid point, with the bracketed maximum there.

    Returns ``(rows, tau2, ll)``: indices into ``t_local``, the refined τ² and its log-likelihood.
    """
    n = t_local.size
    grid, ll_grid = scan(loglik, v_min, upper)
    ll_local = loglik(np.arange(n), np.nan_to_num(t_local)[:, None])[:, 0]
    ll_local = np.where(np.isfinite(t_local) & ~np.isnan(ll_local), ll_local, -np.inf)
    best = np.argmax(ll_grid, axis=1)
    ll_best = ll_grid[np.arange(n), best]
    # beaten by more than rounding: otherwise the same data in a batch of another shape (other summation
    # order) could take the refinement path once and not the other, and differ at the 1e-9 level
    beaten = ll_best > ll_local + BEATEN_TOL * (1.0 + np.abs(ll_best))
    rows = np.flatnonzero(beaten & np.isfinite(ll_best))
    if rows.size == 0:
        return rows, np.empty(0), np.empty(0)
    a, b = bracket(grid[rows], best[rows])
    t, ll = golden(loglik, rows, a, b)
    grid_wins = ll_best[rows] > ll
    return rows, np.where(grid_wins, grid[rows, best[rows]], t), np.where(grid_wins, ll_best[rows], ll)
