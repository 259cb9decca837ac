"""The likelihood profile of τ² and the profile-likelihood confidence interval, for ML and REML fits of
:func:`tpmeta.pool` and :func:`tpmeta.meta_regression` (metafor's ``profile.rma.uni`` and
``confint(res, type="PL")``).

At each fixed τ² the coefficients are profiled out in closed form, ``β̂(τ²) = (X'WX)⁻¹X'Wy`` with
``W = diag(1/(v_i + τ²))``, leaving metafor's log-likelihood (constants included)

* ML:   ``ℓ(τ²) = −½ k log 2π − ½ Σ log(v_i + τ²) − ½ Q(τ²)``,
* REML: ``ℓ(τ²) = −½ (k − p) log 2π + ½ log|X'X| − ½ Σ log(v_i + τ²) − ½ log|X'WX| − ½ Q(τ²)``,

``Q(τ²) = Σ w_i (y_i − x_i'β̂(τ²))²``; these are ``logLik(rma(yi, vi, mods=, tau2=t))``. The profile
interval at level 1 − α is ``{τ² ≥ 0 : 2 (ℓ(τ̂²) − ℓ(τ²)) ≤ χ²_{1, 1−α}}`` (Hardy & Thompson 1996,
doi:10.1002/(SICI)1097-0258(19960330)15:6<619::AID-SIM188>3.0.CO;2-A; Viechtbauer 2007,
doi:10.1002/sim.2514). Its bounds are the crossings of the cut-off ``ℓ(τ̂²) − χ²/2``: the likelihood is
scanned over ``[0, τ̂²]`` and ``[τ̂², U]`` (U doubled until the cut-off is crossed; ℓ falls like
``−(k − p)/2 · log τ²``), the outermost crossing on each side is refined by Brent's method, and the
lower bound is 0 when ``ℓ(0)`` is above the cut-off. metafor looks for one root between τ̂² and each
end; on a unimodal profile the two agree. When the set is not one interval (a multi-modal profile),
tpmeta reports its hull and ``ci_connected=False``.

The fitted τ̂² of ML and REML fits is the global maximum of ℓ (:mod:`tpmeta.models._tau2_global`);
:func:`profile_tau2` checks it once more on its own scan and warns if any τ² beats it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from .._results import ResultMixin, format_number
from ..errors import ConvergenceWarning
from ..options import Method
from ._fitted import _Fitted, check_level, fitted_view
from .metareg_engine import _at_tau2

__all__ = ["profile_tau2", "ProfileResult"]

#: Points of the scans that look for crossings of the cut-off and for local maxima (on each side of τ̂²).
SCAN_POINTS = 200
#: A grid value beats the fitted maximum only beyond this (relative to 1 + |ℓ|): rounding is far below.
BEATEN_TOL = 1e-9


@dataclass(frozen=True, repr=False)
class ProfileResult(ResultMixin):
    """The (restricted) log-likelihood of τ² with β profiled out, and the profile-likelihood interval.

    Attributes
    ----------
    tau2_grid, loglik : the grid of τ² and ℓ at each point (the fitted τ̂² and the interval bounds are
        points of the default grid, so a plot of the grid passes through them)
    coef : (len(tau2_grid), p) the coefficients β̂(τ²) refitted at each grid point; names their names
    tau2, loglik_max : the fitted τ̂² and ℓ(τ̂²)
    ci_low, ci_high, level : the profile-likelihood interval for τ²
    ci_connected : False when the set {2(ℓ_max − ℓ) ≤ χ²} is not one interval (ci_low/ci_high give its hull)
    cutoff : ``loglik_max − χ²_{1,level}/2``, the height at which the interval is read off
    local_maxima, local_maxima_loglik : τ² and ℓ of every local maximum found (0 included if ℓ
        decreases from 0); more than one means a multi-modal profile
    method : REML (restricted likelihood) or ML; k, p : studies and coefficients
    """

    tau2_grid: np.ndarray
    loglik: np.ndarray
    coef: np.ndarray
    names: tuple[str, ...]
    tau2: float
    loglik_max: float
    ci_low: float
    ci_high: float
    ci_connected: bool
    cutoff: float
    local_maxima: np.ndarray
    local_maxima_loglik: np.ndarray
    level: float
    method: Method
    k: int
    p: int

    _array_fields = ("tau2_grid", "loglik", "coef", "names", "local_maxima", "local_maxima_loglik")

    @property
    def boundary(self) -> bool:
        """The maximum is at the boundary τ² = 0."""
        return self.tau2 == 0.0

    @property
    def multimodal(self) -> bool:
        """More than one local maximum of the profile (boundary maximum at 0 included)."""
        return self.local_maxima.size > 1

    def grid_frame(self) -> pd.DataFrame:
        """One row per grid point: tau2, loglik and the profiled coefficients."""
        frame = pd.DataFrame({"tau2": self.tau2_grid, "loglik": self.loglik})
        for j, name in enumerate(self.names):
            frame[name] = self.coef[:, j]
        return frame

    def __repr__(self) -> str:
        pct = f"{self.level:.0%}"
        kind = "restricted log-likelihood" if self.method is Method.REML else "log-likelihood"
        lines = [f"ProfileResult({kind} of tau2, k={self.k}, p={self.p}, {self.tau2_grid.size} grid points)",
                 f"  tau2 {format_number(self.tau2)}  [{pct} profile CI {format_number(self.ci_low)}, "
                 f"{format_number(self.ci_high)}]  max {format_number(self.loglik_max)}"]  # fmt: skip
        if self.multimodal:
            lines.append("  local maxima at tau2 = " + ", ".join(format_number(t) for t in self.local_maxima))
        if not self.ci_connected:
            lines.append("  the likelihood region is not one interval: the bounds give its hull")
        return "\n".join(lines)


def _check_profilable(f: _Fitted) -> bool:
    """REML → True, ML → False; anything else raises (with the reason)."""
    if f.tau2_fixed:
        raise ValueError("tau^2 was fixed (tau2=), not estimated: there is no likelihood of tau^2 to profile")
    if f.method not in (Method.REML, Method.ML):
        raise ValueError(f"the likelihood profile needs a model fitted by method='REML' or 'ML' "
                         f"(got {f.method.value!r}); refit with one of them")  # fmt: skip
    if f.k <= f.p:
        raise ValueError(f"{f.k} studies for {f.p} coefficients: tau^2 is not identified")
    return f.method is Method.REML


def _scan_points(a: float, b: float) -> np.ndarray:
    """Points on [a, b], geometric near a (where ℓ can change fast on the scale of τ²) and linear."""
    if b <= a:
        return np.array([a])
    geo = a + (b - a) * np.geomspace(1e-8, 1.0, SCAN_POINTS // 2)
    return np.unique(np.concatenate([[a], geo, np.linspace(a, b, SCAN_POINTS // 2 + 1)]))


def _upper_end(f: _Fitted, reml: bool, ll_hat: float, crit: float) -> float:
    """A τ² above τ̂² whose ℓ is below the cut-off (doubling: ℓ → −∞ as τ² → ∞)."""
    u = max(2.0 * f.tau2, float(np.median(f.v)), np.finfo(float).tiny)
    for _ in range(2000):
        if 2.0 * (ll_hat - f.loglik([u], reml)[0]) > crit:
            return u
        u *= 2.0
    raise ArithmeticError("the likelihood does not fall below the cut-off")  # pragma: no cover


def _pl_interval(f: _Fitted, level: float, reml: bool) -> tuple[float, float, bool, float, np.ndarray, np.ndarray]:
    """Profile-likelihood bounds: ``(low, high, connected, ℓ(τ̂²), scan τ², scan ℓ)``."""
    crit = float(special.chdtri(1, 1.0 - level))
    t_hat = f.tau2
    ll_hat = float(f.loglik([t_hat], reml)[0])
    upper = _upper_end(f, reml, ll_hat, crit)
    pts = np.unique(np.concatenate([_scan_points(0.0, t_hat), _scan_points(t_hat, upper)]))
    ll = f.loglik(pts, reml)
    g = 2.0 * (ll_hat - ll) - crit  # ≤ 0 inside the interval

    def root(a: float, b: float) -> float:
        def fun(t: float) -> float:
            return 2.0 * (ll_hat - f.loglik([t], reml)[0]) - crit

        return optimize.brentq(fun, a, b, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)

    inside = g <= 0
    first, last = int(np.argmax(inside)), int(inside.size - 1 - np.argmax(inside[::-1]))
    low = 0.0 if first == 0 else root(pts[first - 1], pts[first])
    high = root(pts[last], pts[last + 1])
    connected = bool(inside[first:last + 1].all())
    return low, high, connected, ll_hat, pts, ll


def _local_maxima(f: _Fitted, reml: bool, pts: np.ndarray, ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """τ² of the local maxima of ℓ on the scan, each refined between its neighbours (0 if ℓ falls from 0).

    Two maxima count as one mode unless ℓ dips between them by more than rounding (:data:`BEATEN_TOL`),
    so that the flat top of a single peak is not reported as several.
    """
    tol = BEATEN_TOL * (1.0 + abs(float(np.max(ll))))
    modes: list[tuple[float, float]] = []
    for j in range(ll.size):
        left = ll[j - 1] if j > 0 else -np.inf
        right = ll[j + 1] if j + 1 < ll.size else -np.inf
        if not (ll[j] >= left and ll[j] >= right) or (j > 0 and j + 1 == ll.size):
            continue
        t, height = float(pts[j]), float(ll[j])
        if 0 < j:
            a, b = pts[j - 1], pts[j + 1]
            res = optimize.minimize_scalar(lambda x: -f.loglik([x], reml)[0], bounds=(a, b), method="bounded",
                                           options={"xatol": 1e-12 * b})  # fmt: skip
            if -res.fun > height:
                t, height = float(res.x), float(-res.fun)
        if modes:
            t0, h0 = modes[-1]
            between = ll[(pts >= t0) & (pts <= t)]
            dip = float(between.min()) if between.size else min(h0, height)
            if dip >= min(h0, height) - tol:  # no real valley: the same mode
                if height > h0:
                    modes[-1] = (t, height)
                continue
        modes.append((t, height))
    return np.array([t for t, _ in modes]), np.array([h for _, h in modes])


def profile_tau2(
    result: Any,
    tau2: Any = None,
    *,
    xlim: tuple[float, float] | None = None,
    steps: int = 201,
    level: float | None = None,
) -> ProfileResult:
    """Profile the (restricted) log-likelihood of τ² of an ML or REML fit, as ``profile(res)`` in metafor.

    ``ℓ(τ²)`` with β̂(τ²) = (X'WX)⁻¹X'Wy refitted at each τ² (formulas in :mod:`tpmeta.models.profile`),
    and the profile-likelihood interval ``{τ²: 2(ℓ(τ̂²) − ℓ(τ²)) ≤ χ²_{1,level}}`` (Hardy & Thompson 1996,
    doi:10.1002/(SICI)1097-0258(19960330)15:6<619::AID-SIM188>3.0.CO;2-A).

    Parameters
    ----------
    result : PoolResult or MetaRegResult
        A model fitted with ``method="REML"`` (restricted likelihood) or ``"ML"``, τ² estimated.
    tau2 : array_like, optional
        The grid of τ² ≥ 0, used as given. Default: ``steps`` equally spaced points over ``xlim``, with
        τ̂² and the interval bounds added.
    xlim : (float, float), optional
        Range of the default grid; default ``[0, max(1.5·ci_high, 2·τ̂²)]``, which shows the maximum, the
        boundary τ² = 0 and where the likelihood falls below the cut-off.
    steps : int
        Number of equally spaced grid points (≥ 2).
    level : float, optional
        Level of the profile interval (default: the model's level).

    Warns
    -----
    ConvergenceWarning
        A τ² on the grid or the scan has a higher likelihood than the fitted τ̂² (the fit is not the
        maximum; metafor warns likewise).

    Examples
    --------
    >>> import tpmeta
    >>> res = tpmeta.pool([0.1, 0.5, 0.9, 0.2, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03])
    >>> prof = profile_tau2(res)
    >>> round(prof.tau2, 4), round(prof.ci_low, 4), round(prof.ci_high, 4), prof.multimodal
    (0.0917, 0.0142, 0.6711, False)
    """
    f = fitted_view(result)
    reml = _check_profilable(f)
    level = check_level(level, f.level)
    if int(steps) < 2:
        raise ValueError(f"steps={steps!r} must be at least 2")
    low, high, connected, ll_hat, pts, ll_scan = _pl_interval(f, level, reml)
    if tau2 is not None:
        grid = np.sort(np.atleast_1d(np.asarray(tau2, dtype=float)))
        if grid.size == 0 or not np.all(np.isfinite(grid)) or grid[0] < 0:
            raise ValueError("tau2 must be a non-empty grid of finite values >= 0")
    else:
        if xlim is None:
            xlim = (0.0, max(1.5 * high, 2.0 * f.tau2))
        a, b = sorted(float(x) for x in xlim)
        if not (math.isfinite(a) and math.isfinite(b) and a >= 0 and b > a):
            raise ValueError(f"xlim={xlim!r} must be two finite values 0 <= a < b")
        grid = np.linspace(a, b, int(steps))
        extra = [x for x in (f.tau2, low, high) if a <= x <= b]
        grid = np.unique(np.concatenate([grid, extra]))
    at = _fitted_at(f, grid)
    loglik = at[0] if reml else at[1]
    best = max(float(np.max(loglik)), float(np.max(ll_scan)))
    if best > ll_hat + BEATEN_TOL * (1.0 + abs(ll_hat)):
        warnings.warn(f"a tau^2 on the profile has a higher {'restricted ' if reml else ''}log-likelihood "
                      f"({best:.10g}) than the fitted tau^2 = {f.tau2:.6g} ({ll_hat:.10g}): the fit is not "
                      "the maximum", ConvergenceWarning, stacklevel=2)  # fmt: skip
    maxima, maxima_ll = _local_maxima(f, reml, pts, ll_scan)
    if maxima.size:  # the mode of the fit is the fit itself (its refinement differs only by rounding)
        j = int(np.argmin(np.abs(maxima - f.tau2)))
        if abs(maxima_ll[j] - ll_hat) <= BEATEN_TOL * (1.0 + abs(ll_hat)):
            maxima[j], maxima_ll[j] = f.tau2, ll_hat
    for arr in (grid, loglik, at[2], maxima, maxima_ll):
        arr.setflags(write=False)
    crit = float(special.chdtri(1, 1.0 - level))
    return ProfileResult(tau2_grid=grid, loglik=loglik, coef=at[2], names=f.names, tau2=f.tau2,
                         loglik_max=ll_hat, ci_low=low, ci_high=high, ci_connected=connected,
                         cutoff=ll_hat - crit / 2.0, local_maxima=maxima,
                         local_maxima_loglik=maxima_ll, level=level, method=f.method,
                         k=f.k, p=f.p)  # fmt: skip


def _fitted_at(f: _Fitted, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    at = _at_tau2(f.y, f.v, f.X, f.icol, grid)
    return at.ll_reml.copy(), at.ll_ml.copy(), at.beta.copy()
