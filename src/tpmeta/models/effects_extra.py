"""More effect measures of ``metafor::escalc`` (3.8): ratio of means, correlations, incidence rate
ratio, single proportions and the standardised mean change of pre-post designs, with metafor's
variance types (``vtype``). :func:`tpmeta.effect_sizes` dispatches here; this module reads the columns
through the reader that ``effect_sizes`` hands it and reports problems the same way (a
:class:`~tpmeta.errors.DataProblem` per row, column and value, raised together as
:class:`~tpmeta.errors.StudyDataError`).

Formulas (``wmean(x, w) = Σ w x / Σ w`` over the rows; ``J(m) = Γ(m/2)/(√(m/2) Γ((m−1)/2))``):

* ``ROM``  ``yi = ln(m₁/m₂)``; ``LS``: ``vi = sd₁²/(n₁m₁²) + sd₂²/(n₂m₂²)``; ``HO``: the same with the
  pooled SD ``s_p`` for both SDs; ``AV``: ``c₁²/n₁ + c₂²/n₂`` with ``c_j = wmean(sd_j/m_j, n_j)``;
  ``AVHO``: ``c²(1/n₁ + 1/n₂)`` with ``c`` the ``n``-weighted mean of all the coefficients of variation
  (Hedges, Gurevitch & Curtis 1999, doi:10.1890/0012-9658(1999)080[1150:TMAORR]2.0.CO;2).
* ``COR``  ``yi = r``; ``LS``: ``vi = (1 − r²)²/(n − 1)``; ``AV``: ``r`` replaced by ``wmean(r, n)``.
  ``ZCOR``  ``yi = ½ ln((1 + r)/(1 − r))``, ``vi = 1/(n − 3)``.
* ``IRR``  ``yi = ln((x₁/t₁)/(x₂/t₂))``, ``vi = 1/x₁ + 1/x₂``; ``add`` goes to both counts of a study
  selected by ``to`` (a study with a zero count for ``"only0"``).
* ``PR``  ``yi = p = x/n``; ``LS``: ``p(1 − p)/n``; ``UB``: ``p(1 − p)/(n − 1)``; ``AV``:
  ``p̄(1 − p̄)/n``, ``p̄ = wmean(p, n)``. ``PLO``  ``yi = ln(p/(1 − p))``; ``LS``: ``1/x + 1/(n − x)``;
  ``AV``: ``1/(p̄n) + 1/((1 − p̄)n)``. ``PAS``  ``yi = arcsin √p``, ``vi = 1/(4n)``. ``PFT``
  (Freeman-Tukey double arcsine) ``yi = ½(arcsin √(x/(n+1)) + arcsin √((x+1)/(n+1)))``,
  ``vi = 1/(4n + 2)``. ``add`` goes to events and non-events of the studies selected by ``to`` (a study
  with x = 0 or x = n for ``"only0"``); metafor's default ``add`` is ½, and 0 for PAS and PFT.
* ``SMCC``  change-score standardisation: ``d = (m₁ − m₂)/s_d``, ``s_d = √(sd₁² + sd₂² − 2r sd₁ sd₂)``;
  ``SMCR``  raw-score standardisation: ``d = (m₁ − m₂)/sd₁``; both ``yi = J(n − 1) d`` (Becker 1988,
  doi:10.1111/j.2044-8317.1988.tb00901.x; Morris 2008, doi:10.1177/1094428106291059). ``LS``:
  ``vi = 1/n + yi²/(2n)`` (SMCC), ``2(1 − r)/n + yi²/(2n)`` (SMCR); ``LS2``: ``J²`` times the same with
  ``d`` for ``yi``.

Variance types of the measures in :mod:`tpmeta.models.effects` are listed in :data:`VTYPES` too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from ..options import Measure, VarianceType, ZeroCells

__all__ = ["EXTRA_COLUMNS", "VTYPES", "EXTRA_MEASURES", "compute_extra", "continuity", "hedges_correction",
           "wmean"]  # fmt: skip

#: metafor's argument names, used as default column names, for the measures computed here.
EXTRA_COLUMNS: dict[Measure, tuple[str, ...]] = {
    Measure.ROM: ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    Measure.COR: ("ri", "ni"),
    Measure.ZCOR: ("ri", "ni"),
    Measure.IRR: ("x1i", "t1i", "x2i", "t2i"),
    Measure.PR: ("xi", "ni"),
    Measure.PLO: ("xi", "ni"),
    Measure.PAS: ("xi", "ni"),
    Measure.PFT: ("xi", "ni"),
    Measure.SMCC: ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    Measure.SMCR: ("m1i", "m2i", "sd1i", "ni", "ri"),
}
EXTRA_MEASURES = frozenset(EXTRA_COLUMNS)

#: Variance types (``vtype``) metafor 3.8 offers per measure; "LS" (large sample) is the default.
VTYPES: dict[Measure, tuple[VarianceType, ...]] = {
    Measure.MD: (VarianceType.LS, VarianceType.UB, VarianceType.HO),
    Measure.SMD: (VarianceType.LS, VarianceType.UB, VarianceType.LS2, VarianceType.AV),
    Measure.SMD_CHANGE: (VarianceType.LS, VarianceType.UB, VarianceType.LS2, VarianceType.AV),
    Measure.RD: (VarianceType.LS, VarianceType.UB, VarianceType.AV),
    Measure.ROM: (VarianceType.LS, VarianceType.HO, VarianceType.AV, VarianceType.AVHO),
    Measure.COR: (VarianceType.LS, VarianceType.AV),
    Measure.PR: (VarianceType.LS, VarianceType.UB, VarianceType.AV),
    Measure.PLO: (VarianceType.LS, VarianceType.AV),
    Measure.SMCC: (VarianceType.LS, VarianceType.LS2),
    Measure.SMCR: (VarianceType.LS, VarianceType.LS2),
}


def hedges_correction(m: Any) -> np.ndarray:
    """Exact small-sample correction ``J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2))`` (Hedges 1981,
    doi:10.3102/10769986006002107).

    >>> round(float(hedges_correction(18)), 6)
    0.957646
    """
    m = np.asarray(m, float)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def wmean(x: np.ndarray, w: np.ndarray) -> float:
    """``Σ w x / Σ w`` over the rows where both are numbers (metafor's ``.wmean(na.rm = TRUE)``)."""
    ok = ~(np.isnan(x) | np.isnan(w))
    return float((w[ok] * x[ok]).sum() / w[ok].sum())


def continuity(zero: np.ndarray, to: ZeroCells, add: float, present: np.ndarray | None = None) -> np.ndarray:
    """The amount added to the counts of each study: ``add`` where ``to`` selects the study (``zero``
    flags studies with a zero count; ``present`` the rows not dropped, which alone decide ``if0all``)."""
    zero = zero & (True if present is None else present)
    if to is ZeroCells.ONLY0:
        chosen = zero
    elif to is ZeroCells.ALL:
        chosen = np.ones_like(zero)
    elif to is ZeroCells.IF0ALL:
        chosen = np.full_like(zero, zero.any())
    else:
        chosen = np.zeros_like(zero)
    return np.where(chosen, add, 0.0)


def _arrays(*cols: Any) -> list[np.ndarray]:
    return [np.asarray(c, float) for c in cols]


def _positive(r: Any, values: Any, key: str, what: str, fix: str) -> None:
    if values is not None:
        r.check(values, key, values <= 0, f"{what} must be positive", fix)


def _correlation(r: Any, ri: Any) -> None:
    if ri is not None:
        r.check(ri, "ri", (ri <= -1) | (ri >= 1), "correlation must lie strictly between -1 and 1",
                "give the correlation coefficient (not r², not a percentage)")  # fmt: skip


def _rom(r: Any, vtype: VarianceType) -> tuple[np.ndarray, np.ndarray, None]:
    m1, sd1, n1, m2, sd2, n2 = (r.column(k) for k in EXTRA_COLUMNS[Measure.ROM])
    for key, m in (("m1i", m1), ("m2i", m2)):
        _positive(r, m, key, "a mean for the ratio of means",
                  "ROM needs means on a ratio scale (> 0); use MD or SMD otherwise")  # fmt: skip
    for key, s in (("sd1i", sd1), ("sd2i", sd2)):
        if s is not None:
            r.check(s, key, s < 0, "SD cannot be negative", "check the SD (a SE or variance by mistake?)")
    for key, n in (("n1i", n1), ("n2i", n2)):
        if n is not None:
            r.check(n, key, n < 2, "group size must be at least 2", "check the number analysed in this arm")
    r.raise_if_any()
    m1, sd1, n1, m2, sd2, n2 = _arrays(m1, sd1, n1, m2, sd2, n2)
    yi = np.log(m1 / m2)
    cv1, cv2 = sd1 / m1, sd2 / m2
    if vtype is VarianceType.HO:
        sp2 = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2)
        vi = sp2 / (n1 * m1**2) + sp2 / (n2 * m2**2)
    elif vtype is VarianceType.AV:
        vi = wmean(cv1, n1) ** 2 / n1 + wmean(cv2, n2) ** 2 / n2
    elif vtype is VarianceType.AVHO:
        c = ((n1 * cv1).sum() + (n2 * cv2).sum()) / (n1 + n2).sum()
        vi = c**2 * (1 / n1 + 1 / n2)
    else:
        vi = sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2)
    return yi, vi, None


def _cor(r: Any, measure: Measure, vtype: VarianceType) -> tuple[np.ndarray, np.ndarray, None]:
    ri, ni = r.column("ri"), r.column("ni")
    _correlation(r, ri)
    low = 4 if measure is Measure.ZCOR else 2
    if ni is not None:
        r.check(ni, "ni", ni < low, f"sample size must be at least {low} for {measure.value}",
                "check the number of participants the correlation is based on")  # fmt: skip
    r.raise_if_any()
    ri, ni = _arrays(ri, ni)
    if measure is Measure.ZCOR:
        return 0.5 * np.log((1 + ri) / (1 - ri)), 1 / (ni - 3), None
    rbar = wmean(ri, ni) if vtype is VarianceType.AV else ri
    return ri.copy(), (1 - rbar**2) ** 2 / (ni - 1), None


def _irr(r: Any, add: float, to: ZeroCells, drop00: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x1, t1, x2, t2 = (r.column(k) for k in EXTRA_COLUMNS[Measure.IRR])
    for key, x in (("x1i", x1), ("x2i", x2)):
        if x is not None:
            r.check(x, key, x < 0, "event count cannot be negative", "check the number of events")
    for key, t in (("t1i", t1), ("t2i", t2)):
        _positive(r, t, key, "person-time", "give the person-time at risk of this group (> 0)")
    r.raise_if_any()
    x1, t1, x2, t2 = _arrays(x1, t1, x2, t2)
    dropped = (x1 == 0) & (x2 == 0) if drop00 else np.zeros(x1.size, bool)
    inc = continuity((x1 == 0) | (x2 == 0), to, add, ~dropped)
    x1, x2 = x1 + inc, x2 + inc
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = np.log(x1 / t1) - np.log(x2 / t2), 1 / x1 + 1 / x2
    yi[dropped], vi[dropped] = np.nan, np.nan
    return yi, vi, inc != 0


def _proportion(r: Any, measure: Measure, add: float, to: ZeroCells, vtype: VarianceType
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    xi, ni = r.column("xi"), r.column("ni")
    if xi is not None:
        r.check(xi, "xi", xi < 0, "event count cannot be negative", "check the number of events")
    if ni is not None:
        low = 2 if vtype is VarianceType.UB else 1
        r.check(ni, "ni", ni < low, f"sample size must be at least {low}", "check the number of participants")
    if xi is not None and ni is not None:
        r.check(xi, "xi", xi > ni, f"more events than participants ({r.names.get('ni', 'ni')})",
                "check events and sample size")  # fmt: skip
    r.raise_if_any()
    xi, ni = _arrays(xi, ni)
    mi = ni - xi
    inc = continuity((xi == 0) | (mi == 0), to, add)
    xi, mi = xi + inc, mi + inc
    ni = xi + mi
    p = xi / ni
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure is Measure.PR:
            pbar = wmean(p, ni) if vtype is VarianceType.AV else p
            yi, vi = p, pbar * (1 - pbar) / (ni - 1 if vtype is VarianceType.UB else ni)
        elif measure is Measure.PLO:
            yi = np.log(p / (1 - p))
            if vtype is VarianceType.AV:
                pbar = wmean(p, ni)
                vi = 1 / (pbar * ni) + 1 / ((1 - pbar) * ni)
            else:
                vi = 1 / xi + 1 / mi
        elif measure is Measure.PAS:
            yi, vi = np.arcsin(np.sqrt(p)), 1 / (4 * ni)
        else:
            yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
            vi = 1 / (4 * ni + 2)
    return yi, vi, inc != 0


def _smc(r: Any, measure: Measure, vtype: VarianceType) -> tuple[np.ndarray, np.ndarray, None]:
    keys = EXTRA_COLUMNS[measure]
    cols = {k: r.column(k) for k in keys}
    for key in ("sd1i", "sd2i"):
        if key in cols and cols[key] is not None:
            r.check(cols[key], key, cols[key] <= 0, "SD must be positive", "check the SD (a SE or variance by mistake?)")
    _correlation(r, cols["ri"])
    if cols["ni"] is not None:
        r.check(cols["ni"], "ni", cols["ni"] < 3, "sample size must be at least 3",
                "the bias correction J(n − 1) needs n ≥ 3; check the number analysed")  # fmt: skip
    r.raise_if_any()
    m1, m2, sd1, ni, ri = _arrays(*(cols[k] for k in ("m1i", "m2i", "sd1i", "ni", "ri")))
    cm = hedges_correction(ni - 1)
    if measure is Measure.SMCC:
        sd2 = np.asarray(cols["sd2i"], float)
        di = (m1 - m2) / np.sqrt(sd1**2 + sd2**2 - 2 * ri * sd1 * sd2)
        base = 1 / ni
    else:
        di = (m1 - m2) / sd1
        base = 2 * (1 - ri) / ni
    yi = cm * di
    vi = cm**2 * (base + di**2 / (2 * ni)) if vtype is VarianceType.LS2 else base + yi**2 / (2 * ni)
    return yi, vi, None


def compute_extra(r: Any, measure: Measure, *, add: float, to: ZeroCells, drop00: bool, vtype: VarianceType
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    """``(yi, vi, corrected)`` for a measure of :data:`EXTRA_MEASURES`; ``corrected`` flags the studies
    that got ``add`` (None for measures without a continuity correction). ``r`` is the column reader of
    :func:`tpmeta.effect_sizes`."""
    if measure is Measure.ROM:
        return _rom(r, vtype)
    if measure in (Measure.COR, Measure.ZCOR):
        return _cor(r, measure, vtype)
    if measure is Measure.IRR:
        return _irr(r, add, to, drop00)
    if measure in (Measure.SMCC, Measure.SMCR):
        return _smc(r, measure, vtype)
    return _proportion(r, measure, add, to, vtype)
