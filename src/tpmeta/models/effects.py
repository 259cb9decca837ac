"""Effect sizes and their sampling variances (``yi``, ``vi``), matching ``metafor::escalc``.

Formulas (metafor 3.8 defaults, Viechtbauer 2010, doi:10.18637/jss.v036.i03):

* ``MD``   ``yi = m₁ − m₂``, ``vi = sd₁²/n₁ + sd₂²/n₂``.
* ``SMD``  Hedges' g: ``d = (m₁ − m₂)/s_p``, ``s_p² = ((n₁−1)sd₁² + (n₂−1)sd₂²)/(n₁+n₂−2)``,
  ``yi = J(m) d`` with the exact correction ``J(m) = Γ(m/2)/(√(m/2) Γ((m−1)/2))``, ``m = n₁+n₂−2``
  (Hedges 1981, doi:10.3102/10769986006002107); ``vi = 1/n₁ + 1/n₂ + yi²/(2(n₁+n₂))``.
* ``SMD_CHANGE``  SMD of change scores: each arm's change SD is
  ``√(sd_pre² + sd_post² − 2 r sd_pre sd_post)`` (Cochrane Handbook 6.5.2.8), then as ``SMD`` on the
  mean changes.
* ``RR``   ``yi = ln(p₁/p₂)``, ``vi = 1/a − 1/n₁ + 1/c − 1/n₂``.
* ``OR``   ``yi = ln(ad/(bc))``, ``vi = 1/a + 1/b + 1/c + 1/d``.
* ``RD``   ``yi = p₁ − p₂``, ``vi = p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂``.
* ``PETO`` Peto's log odds ratio (Yusuf et al. 1985, doi:10.1016/s0033-0620(85)80003-7):
  ``yi = (a − E)/V``, ``vi = 1/V``, ``E = (a+c) n₁/N``, ``V = (a+c)(b+d) n₁ n₂ / (N²(N−1))``.
  For the binary measures ``add`` (default ½) is added to every cell of the tables selected by
  ``to`` (default: tables with a zero cell), as metafor does (for PETO too); ``drop00=True`` leaves out
  (``yi = vi = NaN``) the tables with no events or no non-events in both groups before that.
* Variance types (``vtype``, metafor's names): ``MD``: ``"HO"`` assumes equal variances,
  ``s_p²(1/n₁ + 1/n₂)`` (``"UB"`` = ``"LS"``); ``SMD``: ``"UB"`` unbiased,
  ``1/n₁ + 1/n₂ + (1 − (m−2)/(m J²)) yi²``, ``"LS2"`` ``J²(1/n₁ + 1/n₂ + d²/(2(n₁+n₂)))``, ``"AV"``
  with the ``(n₁+n₂)``-weighted mean of ``yi`` for ``yi``; ``RD``: ``"UB"`` divides by ``n − 1``,
  ``"AV"`` uses each arm's ``n``-weighted mean risk.
* ``GENERIC``  a reported estimate with its CI or SE: ``vi = SE²``, ``SE = (upper − lower)/(2 z)``;
  ratio estimates (``ratio=True``) are analysed on the log scale.

ROM, COR, ZCOR, IRR, PR, PLO, PAS, PFT, SMCC and SMCR are computed in
:mod:`tpmeta.models.effects_extra`, which gives their formulas.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import special

from ..errors import DataProblem, DataWarning, StudyDataError
from ..options import Measure, VarianceType, ZeroCells, parse_option
from .conversions import sd_of_change
from .effects_extra import (
    EXTRA_COLUMNS,
    EXTRA_MEASURES,
    VTYPES,
    compute_extra,
    continuity,
    hedges_correction,
    wmean,
)

__all__ = ["effect_sizes", "hedges_correction", "DEFAULT_COLUMNS"]

#: metafor's argument names, used as default column names; each can be overridden by keyword.
DEFAULT_COLUMNS: dict[Measure, tuple[str, ...]] = {
    Measure.MD: ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    Measure.SMD: ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    Measure.SMD_CHANGE: (
        "m1i", "sd1i_pre", "sd1i_post", "n1i", "m2i", "sd2i_pre", "sd2i_post", "n2i", "ri",
    ),
    Measure.RR: ("ai", "bi", "ci", "di"),
    Measure.OR: ("ai", "bi", "ci", "di"),
    Measure.RD: ("ai", "bi", "ci", "di"),
    Measure.PETO: ("ai", "bi", "ci", "di"),
    Measure.GENERIC: ("estimate", "ci_low", "ci_high", "sei"),
    **EXTRA_COLUMNS,
}  # fmt: skip

_BINARY = (Measure.RR, Measure.OR, Measure.RD, Measure.PETO)


#: Largest magnitude accepted for an input number: squares and sums of squares stay finite.
_LARGEST = 1e100


class _Reader:
    """Reads numeric columns from a frame and collects problems with their row and column."""

    def __init__(self, data: pd.DataFrame, names: dict[str, str], source: str | None) -> None:
        self.data, self.names, self.source = data, names, source
        self.problems: list[DataProblem] = []

    def column(self, key: str, required: bool = True) -> pd.Series | None:
        col = self.names.get(key, key)
        if col not in self.data.columns:
            if required:
                self.problems.append(DataProblem(
                    f"column '{col}' is missing", file=self.source, column=col,
                    fix=f"add the column, or name the column that holds it: {key}='your_column'"))  # fmt: skip
            return None
        raw = self.data[col]
        if isinstance(raw, pd.DataFrame):  # the column name appears twice
            self.problems.append(DataProblem(f"column '{col}' appears more than once", file=self.source,
                                             column=col, fix="keep one column of that name"))  # fmt: skip
            return None
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        for idx in values.index[values.isna() & raw.notna()]:
            self.problems.append(DataProblem("not a number", file=self.source, row=idx, column=col,
                                             value=raw[idx], fix="write a plain number"))  # fmt: skip
        for idx in values.index[np.isinf(values) | (values.abs() > _LARGEST)]:
            self.problems.append(DataProblem("not a finite number of a usable size", file=self.source, row=idx,
                                             column=col, value=raw[idx],
                                             fix=f"write the reported number (|x| ≤ {_LARGEST:.0e})"))  # fmt: skip
            values[idx] = np.nan
        if required:
            for idx in values.index[raw.isna()]:
                self.problems.append(DataProblem("value is missing", file=self.source, row=idx,
                                                 column=col, value=None,
                                                 fix="fill it in, or leave the row out of this analysis"))  # fmt: skip
        return values

    def check(self, values: pd.Series | None, key: str, bad: pd.Series | None, message: str, fix: str) -> None:
        if values is None or bad is None:
            return
        col = self.names.get(key, key)
        for idx in values.index[bad.fillna(False).astype(bool)]:
            self.problems.append(DataProblem(message, file=self.source, row=idx, column=col,
                                             value=float(values[idx]), fix=fix))  # fmt: skip

    def raise_if_any(self) -> None:
        if self.problems:
            raise StudyDataError(self.problems)


def _check_group(r: _Reader, n: pd.Series | None, key: str) -> None:
    if n is not None:
        r.check(n, key, n < 2, "group size must be at least 2", "check the number analysed in this arm")


def _continuous(r: _Reader, measure: Measure, vtype: VarianceType) -> tuple[np.ndarray, np.ndarray]:
    m1, n1, m2, n2 = (r.column(k) for k in ("m1i", "n1i", "m2i", "n2i"))
    if measure is Measure.SMD_CHANGE:
        pre1, post1, pre2, post2, ri = (
            r.column(k) for k in ("sd1i_pre", "sd1i_post", "sd2i_pre", "sd2i_post", "ri")
        )
        for key, s in (("sd1i_pre", pre1), ("sd1i_post", post1), ("sd2i_pre", pre2), ("sd2i_post", post2)):
            if s is None:
                continue
            r.check(s, key, s <= 0, "SD must be positive", "check the SD (a SE or variance by mistake?)")
        r.check(ri, "ri", None if ri is None else (ri <= -1) | (ri >= 1), "correlation must lie strictly between -1 and 1",
                "give the pre-post correlation, e.g. from another trial or the review protocol")  # fmt: skip
        r.raise_if_any()
        s1 = sd_of_change(pre1, post1, ri)
        s2 = sd_of_change(pre2, post2, ri)
    else:
        sd1, sd2 = r.column("sd1i"), r.column("sd2i")
        for key, s in (("sd1i", sd1), ("sd2i", sd2)):
            if s is None:  # missing column: already reported
                continue
            bad = s <= 0 if measure is not Measure.MD else s < 0
            r.check(s, key, bad, "SD must be positive" if measure is not Measure.MD else
                    "SD cannot be negative", "check the SD (a SE or variance by mistake?)")  # fmt: skip
        s1, s2 = sd1, sd2
    _check_group(r, n1, "n1i")
    _check_group(r, n2, "n2i")
    r.raise_if_any()
    m1, m2, n1, n2, s1, s2 = (np.asarray(x, float) for x in (m1, m2, n1, n2, s1, s2))
    sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    if measure is Measure.MD:
        return m1 - m2, sp**2 * (1 / n1 + 1 / n2) if vtype is VarianceType.HO else s1**2 / n1 + s2**2 / n2
    m, n = n1 + n2 - 2, n1 + n2
    cm = hedges_correction(m)
    d = (m1 - m2) / sp
    yi = cm * d
    if vtype is VarianceType.UB:
        return yi, 1 / n1 + 1 / n2 + (1 - (m - 2) / (m * cm**2)) * yi**2
    if vtype is VarianceType.LS2:
        return yi, cm**2 * (1 / n1 + 1 / n2 + d**2 / (2 * n))
    ybar = wmean(yi, n) if vtype is VarianceType.AV else yi
    return yi, 1 / n1 + 1 / n2 + ybar**2 / (2 * n)


def _binary(
    r: _Reader, measure: Measure, add: float, to: ZeroCells, drop00: bool, vtype: VarianceType
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a, c = r.column("ai"), r.column("ci")
    have_b = r.names.get("bi", "bi") in r.data.columns
    have_d = r.names.get("di", "di") in r.data.columns
    if have_b and have_d:
        b, d = r.column("bi"), r.column("di")
        n1, n2 = (None if a is None or b is None else a + b), (None if c is None or d is None else c + d)
    else:
        n1, n2 = r.column("n1i"), r.column("n2i")
        b = None if n1 is None or a is None else n1 - a
        d = None if n2 is None or c is None else n2 - c
        for key, ev, n in (("ai", a, n1), ("ci", c, n2)):
            if ev is not None and n is not None:
                r.check(ev, key, ev > n, f"more events than participants ({r.names.get(key[0] + '1i', 'n')})",
                        "check events and group size")  # fmt: skip
    for key, x in (("ai", a), ("bi", b), ("ci", c), ("di", d)):
        if x is not None and key in ("ai", "ci") or (have_b and have_d):
            r.check(x, key, x < 0, "counts cannot be negative", "check the 2x2 table")
    r.check(n1, "n1i", n1 < 1, "group has no participants", "check the 2x2 table")
    r.check(n2, "n2i", n2 < 1, "group has no participants", "check the 2x2 table")
    r.raise_if_any()
    a, b, c, d = (np.asarray(x, float) for x in (a, b, c, d))
    dropped = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0)) if drop00 else np.zeros(a.size, bool)
    inc = continuity((a == 0) | (b == 0) | (c == 0) | (d == 0), to, add, ~dropped)
    a, b, c, d = a + inc, b + inc, c + inc, d + inc
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure is Measure.RR:
            yi, vi = np.log(p1 / p2), 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure is Measure.OR:
            yi, vi = np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
        elif measure is Measure.PETO:
            n = n1 + n2
            v = (a + c) * (b + d) * (n1 / n) * (n2 / n) / (n - 1)
            yi, vi = (a - (a + c) * n1 / n) / v, 1 / v
        else:
            yi = p1 - p2
            if vtype is VarianceType.AV:
                ok = ~dropped
                q1, q2 = wmean(p1[ok], n1[ok]), wmean(p2[ok], n2[ok])
                vi = q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2
            else:
                k = 1 if vtype is VarianceType.UB else 0
                vi = p1 * (1 - p1) / (n1 - k) + p2 * (1 - p2) / (n2 - k)
    yi[dropped], vi[dropped] = np.nan, np.nan
    return yi, vi, (inc != 0) & ~dropped, dropped


def _generic(r: _Reader, ratio: bool, level: float) -> tuple[np.ndarray, np.ndarray]:
    est = r.column("estimate")
    lo, hi, se = r.column("ci_low", False), r.column("ci_high", False), r.column("sei", False)
    if lo is None and se is None:
        r.problems.append(DataProblem("neither a CI (ci_low, ci_high) nor a standard error (sei) is given",
                                      file=r.source, fix="add the CI columns or an 'sei' column"))  # fmt: skip
    r.raise_if_any()
    lo = lo if lo is not None else pd.Series(np.nan, index=est.index)
    hi = hi if hi is not None else pd.Series(np.nan, index=est.index)
    se = se if se is not None else pd.Series(np.nan, index=est.index)
    missing = se.isna() & (lo.isna() | hi.isna())
    r.check(est, "estimate", missing, "no CI or SE for this estimate", "give ci_low and ci_high, or sei")
    r.check(lo, "ci_low", lo > hi, "lower CI limit above the upper", "swap or correct the limits")
    r.check(se, "sei", se <= 0, "standard error must be positive", "check the SE")
    if ratio:
        for key, x in (("estimate", est), ("ci_low", lo), ("ci_high", hi)):
            r.check(x, key, x <= 0, "a ratio must be positive", "give the ratio, not its logarithm")
    else:
        r.check(est, "estimate", (est < lo) | (est > hi), "estimate lies outside its CI",
                "check the estimate and its limits")  # fmt: skip
    r.raise_if_any()
    z = special.ndtri(1 - (1 - level) / 2)
    e, lo_, hi_ = (np.asarray(x, float) for x in (est, lo, hi))
    if ratio:
        with np.errstate(divide="ignore", invalid="ignore"):
            e, lo_, hi_ = np.log(e), np.log(lo_), np.log(hi_)
    se_ci = (hi_ - lo_) / (2 * z)
    se_all = np.where(np.isfinite(np.asarray(se, float)), np.asarray(se, float), se_ci)
    return e, se_all**2


def effect_sizes(
    data: pd.DataFrame,
    measure: Measure | str,
    *,
    add: float | None = None,
    to: ZeroCells | str = "only0",
    drop00: bool = False,
    vtype: VarianceType | str = "LS",
    ratio: bool = False,
    level: float = 0.95,
    source: str | None = None,
    **columns: str,
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` for every row of ``data``, as
    ``metafor::escalc`` (3.8).

    Parameters
    ----------
    data : DataFrame
        One row per study (or comparison).
    measure : str or Measure
        ``"SMD"``, ``"MD"``, ``"SMD_CHANGE"``, ``"ROM"`` (two groups, continuous); ``"RR"``, ``"OR"``,
        ``"RD"``, ``"PETO"`` (2×2 tables); ``"IRR"`` (events and person-time); ``"COR"``, ``"ZCOR"``
        (correlations); ``"PR"``, ``"PLO"``, ``"PAS"``, ``"PFT"`` (single proportions); ``"SMCC"``,
        ``"SMCR"`` (pre-post designs); ``"GENERIC"``. See the module docstrings (this one and
        :mod:`tpmeta.models.effects_extra`) for the formulas. Ratio measures are on the log scale.
    add, to : float, {"only0", "all", "if0all", "none"}
        Continuity correction for counts (binary measures, IRR, proportions): ``add`` is added to the
        counts of the studies ``to`` selects. ``add=None`` is metafor's default: ½, but 0 for PAS and PFT.
    drop00 : bool
        Binary measures and IRR: studies with no events (or, for 2×2 tables, no non-events) in both
        groups get ``yi = vi = NaN`` (metafor's NA), before the continuity correction.
    vtype : str
        Variance type, metafor's names: ``"LS"`` (default) for all; MD ``"UB"``, ``"HO"``; SMD and
        SMD_CHANGE ``"UB"``, ``"LS2"``, ``"AV"``; RD ``"UB"``, ``"AV"``; ROM ``"HO"``, ``"AV"``,
        ``"AVHO"``; COR ``"AV"``; PR ``"UB"``, ``"AV"``; PLO ``"AV"``; SMCC and SMCR ``"LS2"``. ``"AV"``
        types use a mean over all rows, so they depend on which rows ``data`` holds.
    ratio : bool
        ``GENERIC`` only: the estimate and CI are ratios, analysed as logs.
    level : float
        ``GENERIC`` only: confidence level of the reported CI.
    source : str, optional
        File name used in error messages.
    **columns
        Column names, overriding metafor's defaults, e.g. ``ai="tpos"``. Binary data may give
        ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``.

    Returns
    -------
    DataFrame
        A copy of ``data`` with ``yi`` and ``vi``; measures with a continuity correction also
        ``zero_cell_corrected``, and with ``drop00=True`` a column ``dropped00``.

    Raises
    ------
    StudyDataError
        Naming the row, column and value of every problem (missing column or value, SD ≤ 0,
        n < 2, events > n, a correlation outside (−1, 1), a non-positive mean for ROM, ...).
    ValueError
        An unknown measure, ``to``, ``vtype`` or column option, or ``drop00`` for a measure without
        counts in two groups.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"m1i": [2.0], "sd1i": [1.0], "n1i": [20], "m2i": [3.0], "sd2i": [1.2], "n2i": [20]})
    >>> round(float(effect_sizes(df, "SMD")["yi"].iloc[0]), 4)
    -0.8874
    >>> round(float(effect_sizes(pd.DataFrame({"ri": [0.3], "ni": [50]}), "ZCOR")["vi"].iloc[0]), 6)
    0.021277
    """
    measure = parse_option(Measure, measure, "measure")
    to = parse_option(ZeroCells, to, "to")
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    allowed = set(DEFAULT_COLUMNS[measure]) | ({"n1i", "n2i"} if measure in _BINARY else set())
    unknown = set(columns) - allowed
    if unknown:
        raise ValueError(
            f"unknown column option(s) {sorted(unknown)} for measure {measure.value}; "
            f"valid: {sorted(allowed)}"
        )
    if add is None:
        add = 0.0 if measure in (Measure.PAS, Measure.PFT) else 0.5
    add = float(add)
    if not (np.isfinite(add) and add >= 0):
        raise ValueError(f"add={add!r} must be a number ≥ 0 (metafor's default is 0.5)")
    vtype = parse_option(VarianceType, vtype, "vtype")
    vtypes = VTYPES.get(measure, (VarianceType.LS,))
    if vtype not in vtypes:
        raise ValueError(f"vtype={vtype.value!r} is not available for measure {measure.value}; "
                         f"choose one of {', '.join(repr(v.value) for v in vtypes)}")  # fmt: skip
    drop00 = bool(drop00)
    if drop00 and measure not in (*_BINARY, Measure.IRR):
        raise ValueError(f"drop00 applies to 2x2 tables and IRR, not to measure {measure.value}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    reader = _Reader(data, dict(columns), source)
    out = data.copy()
    corrected = dropped = None
    if measure in (Measure.MD, Measure.SMD, Measure.SMD_CHANGE):
        yi, vi = _continuous(reader, measure, vtype)
    elif measure is Measure.GENERIC:
        yi, vi = _generic(reader, ratio, level)
    elif measure in EXTRA_MEASURES:
        yi, vi, corrected = compute_extra(reader, measure, add=add, to=to, drop00=drop00, vtype=vtype)
        if measure is Measure.IRR and drop00:
            dropped = np.isnan(yi)
    else:
        yi, vi, corrected, dropped = _binary(reader, measure, add, to, drop00, vtype)
    if corrected is not None:
        out["zero_cell_corrected"] = corrected & (add != 0)
        infinite = ~(np.isfinite(yi) & np.isfinite(vi)) & (True if dropped is None else ~dropped)
        if infinite.any():
            rows = [str(i) for i in np.asarray(data.index)[infinite]]
            warnings.warn(f"{measure.value}: rows {', '.join(rows)} have zero counts and no continuity correction "
                          f"(to={to.value!r}), so their yi or vi is infinite; use to='only0' (metafor's default) "
                          "or leave these rows out", DataWarning, stacklevel=2)  # fmt: skip
    if drop00:
        out["dropped00"] = dropped if dropped is not None else np.zeros(len(data), bool)
    out["yi"], out["vi"] = yi, vi
    return out
