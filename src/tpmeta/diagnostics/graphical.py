"""The numbers behind three diagnostic plots, as metafor computes them (the figures, in
:mod:`tpmeta.plots`, draw these results and compute nothing):

* :func:`radial_data`, Galbraith's radial plot (Galbraith 1988, doi:10.1080/01621459.1988.10478693),
  as ``metafor::radial()``: ``x_i = 1/√(v_i + τ̂²)``, ``z_i = y_i/√(v_i + τ̂²)`` (τ̂² = 0 for FE); the
  pooled estimate is the slope of the line through the origin, and ``±z_crit`` around it is the band
  within which ``1 − α`` of the studies should fall if the model holds.
* :func:`labbe_data`, L'Abbé's plot (L'Abbé, Detsky & O'Rourke 1987,
  doi:10.7326/0003-4819-107-2-224), as ``metafor::labbe()``: each arm's outcome on the scale of the
  measure (log risk for RR, log odds for OR, risk for RD; each arm corrected by ``add`` as
  ``escalc(measure="PLN"/"PLO"/"PR", xi, mi, add, to)`` would, i.e. per arm), point sizes from
  ``w_i = 1/√(v_t + v_c)`` scaled linearly to [0.5, 3.5] (metafor's ``plim``), and the line of the
  pooled effect ``y = x + μ̂``.
* :func:`qq_residuals`, the normal QQ plot of standardised residuals, as ``metafor::qqnorm.rma.uni()``
  for models without moderators: ``z_i = (y_i − μ̂)/√(v_i + τ̂² − 1/Σw)`` (``rstandard()``, with
  ``w = 1/(v + τ̂²)``) against ``Φ⁻¹(ppoints(k))`` (R's ``qqnorm``: ``(i − a)/(k + 1 − 2a)``, ``a = 3/8``
  for k ≤ 10, else ½). The optional envelope is metafor's simulation: ``reps`` vectors of
  ``(I − H) ε`` with ``ε ~ N(0, I)``, each sorted, and the ``α/2`` and ``1 − α/2`` quantiles at every
  rank (Bonferroni: ``α/(2k)``). It is random (NumPy's generator with ``seed``, not R's) and not
  smoothed: metafor smooths the two lines with ``supsmu``, tpmeta draws the quantiles as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin
from ..models.pooling import PoolResult
from ..options import Measure, Method, ZeroCells, parse_option
from .regtest import _table

__all__ = ["RadialResult", "LabbeResult", "QQResult", "radial_data", "labbe_data", "qq_residuals"]


def _crit(level: float) -> float:
    return float(special.ndtri(1.0 - (1.0 - level) / 2.0))


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


@dataclass(frozen=True, repr=False)
class RadialResult(ResultMixin):
    """Radial (Galbraith) plot data: per study ``x`` (precision) and ``z`` (standardised effect),
    ``labels``; the pooled ``estimate`` (slope) with its CI, ``tau2``, ``zcrit`` and ``level``;
    ``random`` is False for a common-effect (FE) model."""

    x: np.ndarray
    z: np.ndarray
    yi: np.ndarray
    labels: tuple[str, ...]
    estimate: float
    ci_low: float
    ci_high: float
    tau2: float
    zcrit: float
    level: float
    random: bool

    _array_fields = ("x", "z", "yi", "labels")


def radial_data(result: PoolResult) -> RadialResult:
    """Radial plot coordinates of ``result`` (metafor ``radial()``'s returned ``x`` and ``y``).

    >>> from tpmeta import pool
    >>> r = radial_data(pool([0.2, 0.5, 0.1], [0.04, 0.01, 0.09], method="FE"))
    >>> r.x.round(3).tolist(), r.z.round(3).tolist()
    ([5.0, 10.0, 3.333], [1.0, 5.0, 0.333])
    """
    y, v = np.asarray(result.yi, float), np.asarray(result.vi, float)
    s = np.sqrt(v + result.tau2)
    x, z = 1.0 / s, y / s
    _readonly(x, z, y)
    return RadialResult(x=x, z=z, yi=y, labels=tuple(result.study_labels), estimate=result.estimate,
                        ci_low=result.ci_low, ci_high=result.ci_high, tau2=result.tau2,
                        zcrit=_crit(result.level), level=result.level, random=result.method is not Method.FE)  # fmt: skip


@dataclass(frozen=True, repr=False)
class LabbeResult(ResultMixin):
    """L'Abbé plot data: per study the outcome of group 2 (``x``, control) and group 1 (``y``,
    treatment) on the ``scale`` of the measure, the point ``size`` (metafor's ``cex``) and ``labels``;
    the pooled-effect line ``line_x``, ``line_y``; ``measure`` and the pooled ``estimate``."""

    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    labels: tuple[str, ...]
    line_x: np.ndarray
    line_y: np.ndarray
    measure: str
    scale: str
    estimate: float

    _array_fields = ("x", "y", "size", "labels", "line_x", "line_y")


_ARM_SCALE = {Measure.OR: "Log odds", Measure.RR: "Log risk", Measure.RD: "Risk"}


def _arm(x: np.ndarray, m: np.ndarray, measure: Measure, add: float, to: ZeroCells):
    """One arm as ``escalc(measure = PLO | PLN | PR, xi = x, mi = m, add, to)``."""
    zero = (x == 0) | (m == 0)
    chosen = {ZeroCells.ONLY0: zero, ZeroCells.ALL: np.ones_like(zero),
              ZeroCells.IF0ALL: np.full_like(zero, zero.any()), ZeroCells.NONE: np.zeros_like(zero)}[to]  # fmt: skip
    x, m = x + np.where(chosen, add, 0.0), m + np.where(chosen, add, 0.0)
    n = x + m
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure is Measure.OR:
            return np.log(p / (1 - p)), 1 / x + 1 / m
        if measure is Measure.RR:
            return np.log(p), 1 / x - 1 / n
        return p, p * (1 - p) / n


def labbe_data(
    result: PoolResult, data: Any, measure: Measure | str, *, add: float = 0.5, to: ZeroCells | str = "only0",
    **columns: str,
) -> LabbeResult:  # fmt: skip
    """L'Abbé plot data for a meta-analysis of 2×2 tables, as ``metafor::labbe()``.

    ``result`` is the pooled model of ``measure`` ("OR", "RR" or "RD") fitted to these studies;
    ``data`` holds their counts (``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``; other names by keyword);
    ``add`` and ``to`` are the continuity correction of each arm (metafor's defaults). Studies whose arm
    outcomes are not finite (e.g. ``to="none"`` with a zero count) are left out, as metafor does.
    """
    measure = parse_option(Measure, measure, "measure")
    if measure not in _ARM_SCALE:
        raise ValueError(f"labbe_data needs measure 'OR', 'RR' or 'RD' (got {measure.value!r})")
    to = parse_option(ZeroCells, to, "to")
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    a, b, c, d = _table(data, columns, "labbe_data")
    if a.size != result.k:
        raise ValueError(f"data has {a.size} rows but the model {result.k} studies; pass the counts of the model's studies")
    yt, vt = _arm(a, b, measure, add, to)
    yc, vc = _arm(c, d, measure, add, to)
    ok = np.isfinite(yt) & np.isfinite(yc) & np.isfinite(vt) & np.isfinite(vc)
    yt, vt, yc, vc = yt[ok], vt[ok], yc[ok], vc[ok]
    w = np.sqrt(1 / (vt + vc))
    rng = w.max() - w.min() if w.size else 0.0
    size = np.ones_like(w) if rng <= np.sqrt(np.finfo(float).eps) else (w - w.min()) / rng * 3.0 + 0.5
    b0 = result.estimate
    lo, hi = min(yt.min(), yc.min()), max(yt.max(), yc.max())
    span = hi - lo
    if measure is Measure.OR:
        cx = np.linspace(lo - span, hi + span, 1000)
    elif measure is Measure.RR:
        cx = np.linspace(lo - span, -b0 if b0 > 0 else 0.0, 1000)
    else:
        cx = np.linspace(0.0 if b0 > 0 else -b0, 1 - b0 if b0 > 0 else 1.0, 1000)
    cy = b0 + cx
    labels = tuple(lab for lab, keep in zip(result.study_labels, ok) if keep)
    _readonly(yc, yt, size, cx, cy)
    return LabbeResult(x=yc, y=yt, size=size, labels=labels, line_x=cx, line_y=cy, measure=measure.value,
                       scale=_ARM_SCALE[measure], estimate=float(b0))  # fmt: skip


@dataclass(frozen=True, repr=False)
class QQResult(ResultMixin):
    """Normal QQ plot data: per study (in the model's order) the standardised residual ``sample`` and
    its normal quantile ``theoretical``, ``labels``; the envelope ``envelope_x`` (sorted normal
    quantiles) with ``envelope_low``, ``envelope_high`` (empty without an envelope), ``reps``, ``seed``,
    ``level`` and ``bonferroni``."""

    theoretical: np.ndarray
    sample: np.ndarray
    labels: tuple[str, ...]
    envelope_x: np.ndarray
    envelope_low: np.ndarray
    envelope_high: np.ndarray
    reps: int
    seed: int | None
    level: float
    bonferroni: bool

    _array_fields = ("theoretical", "sample", "labels", "envelope_x", "envelope_low", "envelope_high")


def _ppoints(k: int) -> np.ndarray:
    a = 3 / 8 if k <= 10 else 0.5
    return (np.arange(1, k + 1) - a) / (k + 1 - 2 * a)


def qq_residuals(
    result: PoolResult, *, envelope: bool = True, reps: int = 1000, seed: int | None = None,
    level: float | None = None, bonferroni: bool = False,
) -> QQResult:  # fmt: skip
    """Standardised residuals of ``result`` against normal quantiles, as ``qqnorm(res)`` in metafor
    (``type="rstandard"``); the envelope is optional and random (``seed``).

    >>> from tpmeta import pool
    >>> qq = qq_residuals(pool([0.2, 0.5, 0.1, 0.4], [0.04, 0.01, 0.09, 0.02], method="FE"), envelope=False)
    >>> qq.sample.round(3).tolist()
    [-1.123, 1.338, -1.062, -0.074]
    """
    y, v = np.asarray(result.yi, float), np.asarray(result.vi, float)
    k = y.size
    if k < 2:
        raise ValueError(f"a QQ plot of residuals needs at least 2 studies (k = {k})")
    level = result.level if level is None else float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    w = 1.0 / (v + result.tau2)
    z = (y - result.estimate) / np.sqrt(v + result.tau2 - 1.0 / w.sum())
    q = special.ndtri(_ppoints(k))
    theoretical = np.empty(k)
    theoretical[np.argsort(z, kind="stable")] = q
    ex = lo = hi = np.empty(0)
    if envelope:
        if int(reps) < 2:
            raise ValueError(f"reps={reps!r} must be at least 2")
        rng = np.random.default_rng(seed)
        H = np.outer(np.ones(k), w / w.sum())
        e = np.sort((np.eye(k) - H) @ rng.standard_normal((k, int(reps))), axis=0)
        alpha = (1.0 - level) / (k if bonferroni else 1)
        lo, hi = np.quantile(e, alpha / 2, axis=1), np.quantile(e, 1 - alpha / 2, axis=1)
        ex = q.copy()
    _readonly(theoretical, z, ex, lo, hi)
    return QQResult(theoretical=theoretical, sample=z, labels=tuple(result.study_labels), envelope_x=ex,
                    envelope_low=lo, envelope_high=hi, reps=int(reps) if envelope else 0, seed=seed,
                    level=level, bonferroni=bool(bonferroni))  # fmt: skip
