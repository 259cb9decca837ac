"""Case-deletion influence diagnostics and the Baujat plot data, as metafor's ``influence()`` and
``baujat()`` for a model without moderators.

All k leave-one-out refits are done in one :func:`tpmeta.pool_batch` call (mask ``~eye(k)``), with the
model's method, test and level. Notation: ``μ̂``, ``τ̂²``, ``w_i = 1/(v_i + τ̂²)`` and
``Var(μ̂) = s²/Σw`` from the full model (``s² = 1`` under the z test, the Knapp-Hartung factor
``Σ w_i (y_i − μ̂)²/(k − 1)`` under ``test="knha"``); ``μ̂₍₋ᵢ₎``, ``τ̂²₍₋ᵢ₎``, ``s²₍₋ᵢ₎``,
``Var(μ̂₍₋ᵢ₎)`` and ``Q₍₋ᵢ₎`` from the fit without study i. Following Viechtbauer & Cheung (2010),
doi:10.1002/jrsm.11, as implemented in metafor 3.8 (Viechtbauer 2010, doi:10.18637/jss.v036.i03):

* ``hat_i = w_i / Σw`` (the diagonal of the hat matrix); ``weight_i = 100 · hat_i`` (percent).
* ``rstudent_i = (y_i − μ̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎ (v_i + τ̂²₍₋ᵢ₎) + Var(μ̂₍₋ᵢ₎))``, the externally standardised
  (deleted) residual.
* ``dffits_i = (μ̂ − μ̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎ · hat_i · (v_i + τ̂²₍₋ᵢ₎))``.
* ``cook_d_i = (μ̂ − μ̂₍₋ᵢ₎)² / Var(μ̂)``.
* ``cov_r_i = Var(μ̂₍₋ᵢ₎) / Var(μ̂)`` (the covariance ratio; < 1: deleting i improves precision).
* ``dfbetas_i = (μ̂ − μ̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎ / Σ_j 1/(v_j + τ̂²₍₋ᵢ₎))`` (the sum over all k studies).
* ``tau2_del_i = τ̂²₍₋ᵢ₎`` and ``qe_del_i = Q₍₋ᵢ₎`` (Cochran's Q without study i).
* ``inf`` marks an influential study by metafor's rules (with p = 1 coefficient):
  ``|dffits| > 3√(p/(k − p))``, or ``pchisq(cook_d, p) > 0.5``, or ``hat > 3p/k``, or ``|dfbetas| > 1``.

Baujat et al. (2002), doi:10.1002/sim.1221: ``x_i = (y_i − μ̂)² / (v_i + τ̂²)``, the study's contribution
to Cochran's Q (FE) or its squared Pearson residual (random effects), against
``y_i = (μ̂₍₋ᵢ₎ − μ̂)² / Var(μ̂₍₋ᵢ₎)``, its influence on the pooled estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ..models.pooling import BatchPoolResult, PoolResult, pool_batch
from ..options import Method, Test

__all__ = ["influence_diagnostics", "baujat", "INFLUENCE_COLUMNS"]

#: Columns of :func:`influence_diagnostics` after ``study`` (metafor's names with ``.`` → ``_``).
INFLUENCE_COLUMNS = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight",
                     "dfbetas", "inf")  # fmt: skip

_EPS = np.finfo(float).eps
_MIN_STUDIES = 3


def _check(result: PoolResult, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    y = np.asarray(result.yi, dtype=float)
    v = np.asarray(result.vi, dtype=float)
    k = y.size
    if k < _MIN_STUDIES:
        raise ValueError(
            f"{what} needs at least {_MIN_STUDIES} studies (k = {k}): with fewer, each leave-one-out "
            "fit has at most one study"
        )
    return y, v, k


def _leave_one_out(result: PoolResult, y: np.ndarray, v: np.ndarray, k: int) -> BatchPoolResult:
    """The k leave-one-out fits of ``result``'s model in one batched call."""
    mask = ~np.eye(k, dtype=bool)
    return pool_batch(np.broadcast_to(y, (k, k)), np.broadcast_to(v, (k, k)), mask, method=result.method,
                      test=result.test, level=result.level, tau2_ci=False,
                      tau2=result.tau2 if result.tau2_fixed else None)  # a fixed τ² stays fixed, as metafor's refits  # fmt: skip


def influence_diagnostics(result: PoolResult) -> pd.DataFrame:
    """Case-deletion diagnostics of each study, as ``metafor::influence(rma(...))``.

    Formulas in :mod:`tpmeta.diagnostics.influence` (Viechtbauer & Cheung 2010, doi:10.1002/jrsm.11). The k
    leave-one-out refits use the model's method, test and level and are done in one
    :func:`tpmeta.pool_batch` call; a refit whose τ² solver did not converge gives a row of NaN (metafor
    gives NA when a refit fails).

    Parameters
    ----------
    result : PoolResult
        A fitted model with at least 3 studies.

    Returns
    -------
    pandas.DataFrame
        One row per study, in the model's order: ``study`` (label), ``rstudent``, ``dffits``,
        ``cook_d``, ``cov_r``, ``tau2_del``, ``qe_del``, ``hat``, ``weight`` (percent), ``dfbetas`` and
        ``inf`` (bool, metafor's influential-case flag).

    Raises
    ------
    ValueError
        Fewer than 3 studies.

    Example
    -------
    >>> from tpmeta import pool
    >>> res = pool([0.2, 0.5, 0.1, 0.8, 0.3], [0.04, 0.03, 0.05, 0.02, 0.04], method="DL")
    >>> inf = influence_diagnostics(res)
    >>> inf[["study", "cook_d", "inf"]].round(4).values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['1', 0.1208, False], ['2', 0.0634, False], ['3', 0.2396, False], ['4', 0.6216, True],
     ['5', 0.0207, False]]
    """
    y, v, k = _check(result, "influence_diagnostics")
    fits = _leave_one_out(result, y, v, k)
    mu, vb = result.estimate, result.se**2
    mu_del, vb_del = fits.estimate, fits.se**2
    tau2_del, qe_del = fits.tau2, fits.q
    with np.errstate(divide="ignore", invalid="ignore"):
        w = 1.0 / (v + result.tau2)
        hat = w / w.sum()
        hat[hat > 1.0 - 10.0 * _EPS] = 1.0
        wall = 1.0 / (v[None, :] + tau2_del[:, None])  # all k studies at each τ̂²₍₋ᵢ₎
        if result.test.knapp_hartung:
            wdel = wall * ~np.eye(k, dtype=bool)
            rss = (wdel * (y[None, :] - mu_del[:, None]) ** 2).sum(axis=1)
            s2w = np.where(rss <= _EPS, 0.0, rss / (k - 2))
            if result.test is Test.KNHA_ADHOC:  # as each refit of metafor's influence(): s² floored at 1
                s2w = np.maximum(s2w, 1.0)
        else:
            s2w = np.ones(k)
        diff = mu - mu_del
        dffits = diff / np.sqrt(s2w * hat * (tau2_del + v))
        dfbetas = diff / np.sqrt(s2w / wall.sum(axis=1))
        cook_d = diff * diff / vb
        cov_r = vb_del / vb
        resid = y - mu_del
        resid[np.abs(resid) < 100.0 * _EPS] = 0.0
        rstudent = resid / np.sqrt(v * s2w + vb_del + tau2_del * s2w)
    out = {"rstudent": rstudent, "dffits": dffits, "cook_d": cook_d, "cov_r": cov_r,
           "tau2_del": tau2_del, "qe_del": qe_del}  # fmt: skip
    bad = ~np.asarray(fits.converged, dtype=bool)
    if bad.any():
        for arr in out.values():
            arr[bad] = np.nan
        dfbetas[bad] = np.nan
    p = 1  # coefficients in the model (intercept only)
    inf = (
        (np.abs(out["dffits"]) > 3.0 * np.sqrt(p / (k - p)))
        | (special.chdtr(p, out["cook_d"]) > 0.5)
        | (hat > 3.0 * p / k)
        | (np.abs(dfbetas) > 1.0)
    )  # NaN compares False, as metafor's `is.infl & !is.na(is.infl)`
    frame = pd.DataFrame({"study": result.study_labels, **out, "hat": hat,
                          "weight": 100.0 * hat, "dfbetas": dfbetas, "inf": inf})  # fmt: skip
    return frame


def baujat(result: PoolResult) -> pd.DataFrame:
    """Coordinates of the Baujat plot, as ``metafor::baujat(rma(...))`` (Baujat et al. 2002,
    doi:10.1002/sim.1221).

    ``x_i = (y_i − μ̂)² / (v_i + τ̂²)`` (contribution to Cochran's Q under FE; squared Pearson residual
    otherwise) and ``y_i = (μ̂₍₋ᵢ₎ − μ̂)² / Var(μ̂₍₋ᵢ₎)`` (influence on the pooled estimate), the
    leave-one-out fits done in one :func:`tpmeta.pool_batch` call with the model's method and test.

    Returns
    -------
    pandas.DataFrame
        Columns ``study``, ``x``, ``y``; ``frame.attrs`` holds metafor's axis titles (``xlabel``,
        ``ylabel``) for :func:`tpmeta.plots.baujat.baujat_plot`.

    Raises
    ------
    ValueError
        Fewer than 3 studies.

    Example
    -------
    >>> from tpmeta import pool
    >>> res = pool([0.2, 0.5, 0.1, 0.8, 0.3], [0.04, 0.03, 0.05, 0.02, 0.04], method="FE")
    >>> b = baujat(res)
    >>> round(float(b["x"].sum()), 10) == round(res.q, 10)   # under FE the x values add up to Q
    True
    >>> b.round(3).values.tolist()
    [['1', 1.744, 0.34], ['2', 0.043, 0.012], ['3', 2.652, 0.398], ['4', 5.64, 2.729], ['5', 0.673, 0.131]]
    """
    y, v, k = _check(result, "baujat")
    fits = _leave_one_out(result, y, v, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_val = (y - result.estimate) ** 2 / (v + result.tau2)
        y_val = (fits.estimate - result.estimate) ** 2 / fits.se**2
    y_val = np.where(np.asarray(fits.converged, dtype=bool), y_val, np.nan)
    frame = pd.DataFrame({"study": result.study_labels, "x": x_val, "y": y_val})
    fixed = result.method is Method.FE
    frame.attrs["xlabel"] = "Contribution to Overall Heterogeneity" if fixed else "Squared Pearson Residual"
    frame.attrs["ylabel"] = "Influence on Overall Result"
    return frame
