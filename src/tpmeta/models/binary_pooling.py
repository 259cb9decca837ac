"""Mantel–Haenszel and Peto pooling of 2×2 tables, as metafor 3.8's ``rma.mh`` and ``rma.peto``.

Study ``i`` gives a 2×2 table: ``a_i`` events of ``n1_i`` in group 1 (``b_i = n1_i − a_i``), ``c_i`` of
``n2_i`` in group 2 (``d_i = n2_i − c_i``), ``N_i = n1_i + n2_i``. Both methods fit a common-effect
model from the counts themselves; zero cells need no correction.

Mantel–Haenszel (Mantel & Haenszel 1959, doi:10.1093/jnci/22.4.719; Greenland & Robins 1985,
doi:10.2307/2530643):

* OR  ``ψ = R/S``, ``R = Σ a d/N``, ``S = Σ b c/N``; the estimate is ``ln ψ`` with the Robins–Breslow–
  Greenland variance (Robins, Breslow & Greenland 1986, doi:10.2307/2531052)
  ``½ [Σ P R_i / R² + Σ (P S_i + Q R_i)/(R S) + Σ Q S_i / S²]``, ``P = (a + d)/N``, ``Q = (b + c)/N``.
* RR  ``ψ = Σ a n2/N / Σ c n1/N``, ``Var(ln ψ) = Σ (n1 n2 (a + c)/N² − a c/N) / (R S)`` (Greenland &
  Robins 1985).
* RD  ``Σ (a n2 − c n1)/N / Σ n1 n2/N``, with the variance of Sato, Greenland & Robins (1989,
  *Biometrics* 45:1323, JSTOR 2531784) that metafor uses:
  ``[RD Σ (c n1²/N² − a n2²/N² + n1 n2 (n2 − n1)/(2N²)) + Σ (a (n2 − c) + c (n1 − a))/(2N)] / (Σ n1 n2/N)²``.
* For OR also the Cochran–Mantel–Haenszel test
  ``(|Σ (a − n1 x/N)| − ½·correct)² / Σ n1 n2 x y / (N² (N − 1))`` (x = a + c, y = b + d; χ²₁) and
  Tarone's test for heterogeneity (Tarone 1985, doi:10.1093/biomet/72.1.91): the Breslow–Day statistic
  ``Σ (a − Â)² (1/Â + 1/B̂ + 1/Ĉ + 1/D̂)`` with the cells ``Â …`` fitted under ψ, minus
  ``(Σ (a − Â))² / Σ (1/Â + …)⁻¹``, on (tables with x, y, Â > 0) − 1 df.

Peto (Yusuf et al. 1985, doi:10.1016/S0033-0620(85)80003-7): ``E = x n1/N``,
``V = x y n1 n2 / (N² (N − 1))``; ``ln OR = Σ (a − E) / Σ V``, ``SE = (Σ V)^(−½)`` and
``Q = Σ (a − E)²/V − (Σ (a − E))² / Σ V`` over tables with V > 0.

Heterogeneity as in metafor: for MH ``Q = Σ w_i (y_i − μ̂)²``, ``w_i = 1/v_i``, with the per-study
``y_i, v_i`` of ``escalc`` (the Peto Q is the one above); ``I² = max(0, 100 (Q − df)/Q)``,
``H² = Q/df``, ``df = k_yi − 1`` (studies with a finite ``y_i``).

Zero cells, as metafor: ``add``, ``to`` and ``drop00`` are pairs. The first element applies to the
per-study ``y_i, v_i`` only (used for Q, I², H², plots): ``add`` is added to every cell of the tables
chosen by ``to``, and tables with no events (or only events) in both groups are left out when
``drop00``. The second element applies to the tables the MH/Peto estimate is computed from; its default
``(0, "none", False)`` leaves the counts as they are. A single value sets the first element only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..errors import DataProblem, DataWarning, SingleStudyWarning, StudyDataError
from ..options import BinaryMethod, Measure, ZeroCells, parse_option

__all__ = ["pool_binary", "BinaryPoolResult"]

_MEASURES = (Measure.OR, Measure.RR, Measure.RD)
#: Largest count accepted: products of four counts stay finite.
_LARGEST = 1e60


@dataclass(frozen=True, repr=False)
class BinaryPoolResult(ResultMixin):
    """A Mantel–Haenszel or Peto meta-analysis of 2×2 tables (formulas in
    :mod:`tpmeta.models.binary_pooling`).

    Attributes
    ----------
    estimate, se : pooled log OR / log RR / RD and its standard error (NaN if the MH ratio is undefined)
    statistic, pvalue : z statistic of the test estimate = 0 and its two-sided p-value
    ci_low, ci_high : confidence interval at ``level`` (normal quantiles)
    estimate_exp, ci_low_exp, ci_high_exp : OR or RR and its interval (NaN for RD)
    q, q_pvalue, df, i2, h2 : heterogeneity (Cochran's Q on ``df = k_yi − 1``, or Peto's Q), I² in %, H²
    cmh, cmh_pvalue : Cochran–Mantel–Haenszel test (MH OR only, else NaN)
    tarone, tarone_pvalue, breslow_day, breslow_day_pvalue, tarone_df : Tarone's test for
        heterogeneity and the Breslow–Day statistic it corrects (MH OR only)
    k : tables pooled; k_yi : studies with a finite per-study effect (those in Q)
    measure, method, level, correct : the options used
    yi, vi : per-study effects and variances (``escalc`` with the first ``add``/``to``/``drop00``;
        NaN where left out), weights : percentage MH/Peto weights (NaN for tables left out), labels
    """

    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float
    estimate_exp: float
    ci_low_exp: float
    ci_high_exp: float
    q: float
    q_pvalue: float
    df: int
    i2: float
    h2: float
    cmh: float
    cmh_pvalue: float
    tarone: float
    tarone_pvalue: float
    breslow_day: float
    breslow_day_pvalue: float
    tarone_df: int
    k: int
    k_yi: int
    measure: Measure
    method: BinaryMethod
    level: float
    correct: bool
    yi: np.ndarray = field(default_factory=lambda: np.empty(0))
    vi: np.ndarray = field(default_factory=lambda: np.empty(0))
    weights: np.ndarray = field(default_factory=lambda: np.empty(0))
    labels: tuple[str, ...] = ()

    _array_fields = ("yi", "vi", "weights", "labels")

    @property
    def study_labels(self) -> list[str]:
        """The labels given, or "1" … "k"."""
        return list(self.labels) if self.labels else [str(i + 1) for i in range(len(self.yi))]

    def study_frame(self) -> pd.DataFrame:
        """One row per study: label, yi, vi, CI at ``level`` (normal quantile) and weight in percent."""
        z = special.ndtri(1.0 - (1.0 - self.level) / 2)
        se = np.sqrt(self.vi)
        return pd.DataFrame({"label": self.study_labels, "yi": self.yi, "vi": self.vi,
                             "ci_low": self.yi - z * se, "ci_high": self.yi + z * se,
                             "weight": self.weights})  # fmt: skip

    def __repr__(self) -> str:
        pct, m = f"{self.level:.0%}", self.measure.value
        if self.measure is Measure.RD:
            est = f"RD {format_number(self.estimate)}  [{pct} CI {format_number(self.ci_low)}, {format_number(self.ci_high)}]"
        else:
            est = (f"{m} {format_number(self.estimate_exp)}  [{pct} CI {format_number(self.ci_low_exp)}, "
                   f"{format_number(self.ci_high_exp)}]  (log {format_number(self.estimate)})")  # fmt: skip
        lines = [f"BinaryPoolResult(method={self.method.value}, measure={m}, k={self.k})",
                 f"  {est}  p = {format_number(self.pvalue)}",
                 f"  Q {format_number(self.q)} (df = {self.df}, p = {format_number(self.q_pvalue)})  "
                 f"I2 {format_number(self.i2, 1)}%"]  # fmt: skip
        if not np.isnan(self.cmh):
            lines.append(f"  CMH {format_number(self.cmh)} (p = {format_number(self.cmh_pvalue)})  "
                         f"Tarone {format_number(self.tarone)} (p = {format_number(self.tarone_pvalue)})")  # fmt: skip
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------


def _counts(values: Any, column: str, labels: list[str] | None, problems: list[DataProblem]) -> np.ndarray:
    """One column of counts as floats; every entry that is not a usable count becomes a problem."""
    raw = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    if raw.ndim != 1:
        raise StudyDataError(DataProblem(f"{column} must be one value per study (got shape {raw.shape})",
                                         column=column, fix="pass a 1-D sequence of counts"))  # fmt: skip
    try:
        fast = raw.astype(float)
    except (TypeError, ValueError):
        fast = None
    if fast is not None and np.all((fast >= 0) & (fast <= _LARGEST)):  # NaN fails both comparisons
        return fast
    out = np.full(len(raw), np.nan)
    for i, value in enumerate(raw):  # only for data with a problem: find and name every one
        label = labels[i] if labels is not None and i < len(labels) else str(i + 1)
        where = {"row": i, "column": column}
        try:
            x = float("nan") if value is None or value is pd.NA else float(value)
        except (TypeError, ValueError):
            problems.append(DataProblem(f"study '{label}': not a number", **where, value=value,
                                        fix="write a plain count"))  # fmt: skip
            continue
        if np.isnan(x):
            problems.append(DataProblem(f"study '{label}': value is missing", **where, value=None,
                                        fix="fill it in, or leave the study out of this analysis"))  # fmt: skip
        elif not np.isfinite(x) or abs(x) > _LARGEST:
            problems.append(DataProblem(f"study '{label}': not a finite number of a usable size", **where,
                                        value=value, fix=f"write the reported count (≤ {_LARGEST:.0e})"))  # fmt: skip
        elif x < 0:
            problems.append(DataProblem(f"study '{label}': counts cannot be negative", **where, value=x,
                                        fix="check the 2x2 table"))  # fmt: skip
        else:
            out[i] = x
    return out


def _read_tables(ai: Any, n1i: Any, ci: Any, n2i: Any, labels: list[str] | None) -> tuple[np.ndarray, ...]:
    problems: list[DataProblem] = []
    cols = {name: _counts(x, name, labels, problems) for name, x in
            (("ai", ai), ("n1i", n1i), ("ci", ci), ("n2i", n2i))}  # fmt: skip
    sizes = {name: x.size for name, x in cols.items()}
    if len(set(sizes.values())) != 1:
        raise StudyDataError(DataProblem(f"ai, n1i, ci and n2i must have one entry per study (got lengths {sizes})",
                                         fix="pass four columns of equal length"))  # fmt: skip
    k = sizes["ai"]
    if k == 0:
        raise StudyDataError(DataProblem("no studies to pool", fix="pass at least one 2x2 table"))
    if labels is not None and len(labels) != k:
        problems.append(DataProblem(f"{len(labels)} labels for {k} studies", column="labels",
                                    fix="give one label per study"))  # fmt: skip
    for ev, n in (("ai", "n1i"), ("ci", "n2i")):
        for i in np.flatnonzero(cols[n] < 1):
            label = labels[i] if labels is not None and i < len(labels) else str(i + 1)
            problems.append(DataProblem(f"study '{label}': group has no participants", row=int(i), column=n,
                                        value=float(cols[n][i]), fix="check the group size"))  # fmt: skip
        for i in np.flatnonzero(cols[ev] > cols[n]):
            label = labels[i] if labels is not None and i < len(labels) else str(i + 1)
            problems.append(DataProblem(f"study '{label}': more events than participants ({n} = {cols[n][i]:g})",
                                        row=int(i), column=ev, value=float(cols[ev][i]),
                                        fix=f"check the events ({ev}) and the group size ({n})"))  # fmt: skip
    if problems:
        raise StudyDataError(problems)
    a, n1, c, n2 = cols["ai"], cols["n1i"], cols["ci"], cols["n2i"]
    return a, n1 - a, c, n2 - c


def _pair(value: Any, second: Any, name: str) -> tuple[Any, Any]:
    """metafor's one-or-two-values arguments: a single value sets the first element only."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}={value!r}: give one value or a pair (per-study effects, pooled estimate)")
        return value[0], value[1]
    return value, second


def _parse_options(add: Any, to: Any, drop00: Any) -> tuple[tuple[float, float], tuple[ZeroCells, ZeroCells], tuple[bool, bool]]:
    adds = tuple(float(x) for x in _pair(add, 0.0, "add"))
    for x in adds:
        if not (np.isfinite(x) and x >= 0):
            raise ValueError(f"add={add!r}: each value must be a number ≥ 0 (metafor's default is 1/2)")
    tos = tuple(parse_option(ZeroCells, x, "to") for x in _pair(to, "none", "to"))
    drops = _pair(drop00, False, "drop00")
    if not all(isinstance(x, (bool, np.bool_)) for x in drops):
        raise ValueError(f"drop00={drop00!r} must be True/False or a pair of them")
    return adds, tos, (bool(drops[0]), bool(drops[1]))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# Computation
# --------------------------------------------------------------------------------------------------


def _increment(zero: np.ndarray, add: float, to: ZeroCells) -> np.ndarray:
    """What is added to each cell of each table: ``add`` where ``to`` selects the table."""
    if to is ZeroCells.ALL:
        chosen = np.ones_like(zero)
    elif to is ZeroCells.ONLY0:
        chosen = zero
    elif to is ZeroCells.IF0ALL:
        chosen = np.full_like(zero, zero.any())
    else:
        chosen = np.zeros_like(zero)
    return np.where(chosen, add, 0.0)


def _double_zero(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    return ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))


def _per_study(a, b, c, d, measure: Measure, peto: bool, add: float, to: ZeroCells, drop00: bool):
    """metafor's ``escalc`` (measure OR, RR, RD or PETO): yi, vi with NaN for tables left out
    (double zeros under ``drop00``) and, as escalc recodes them, for infinite values."""
    dropped = _double_zero(a, b, c, d) if drop00 else np.zeros(a.shape, bool)
    zero = ~dropped & ((a == 0) | (b == 0) | (c == 0) | (d == 0))
    inc = _increment(zero, add, to)
    a, b, c, d = a + inc, b + inc, c + inc, d + inc
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    if peto:
        x, y, n = a + c, b + d, n1 + n2
        e = x * n1 / n
        v = x * y * (n1 / n) * (n2 / n) / (n - 1)
        yi, vi = (a - e) / v, 1 / v
    elif measure is Measure.OR:
        yi, vi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2)), 1 / a + 1 / b + 1 / c + 1 / d
    elif measure is Measure.RR:
        yi, vi = np.log(p1) - np.log(p2), 1 / a - 1 / n1 + 1 / c - 1 / n2
    else:
        yi, vi = p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    left_out = dropped | ~np.isfinite(yi) | ~np.isfinite(vi)
    return np.where(left_out, np.nan, yi), np.where(left_out, np.nan, vi), left_out & ~dropped


def _mh(a, b, c, d, measure: Measure, correct: bool) -> dict[str, float]:
    """MH estimate and SE; for OR also the CMH and Tarone/Breslow–Day tests (metafor's rma.mh)."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    out = dict.fromkeys(("cmh", "cmh_pvalue", "tarone", "tarone_pvalue", "breslow_day", "breslow_day_pvalue"), np.nan)
    out["tarone_df"] = 0
    if measure is Measure.OR:
        p, q = a / n + d / n, b / n + c / n
        r_i, s_i = (a / n) * d, (b / n) * c
        r, s = r_i.sum(), s_i.sum()
        if r == 0 or s == 0:
            psi = est = se = np.nan
        else:
            psi = r / s
            est = np.log(psi)
            se = np.sqrt(0.5 * ((p * r_i).sum() / r**2 + (p * s_i + q * r_i).sum() / (r * s) + (q * s_i).sum() / s**2))
        x, y = a + c, b + d
        if x.sum() != 0 and y.sum() != 0:
            num = (abs((a - (n1 / n) * x).sum()) - (0.5 if correct else 0.0)) ** 2
            out["cmh"] = num / ((n1 / n) * (n2 / n) * (x * (y / (n - 1)))).sum()
            out["cmh_pvalue"] = float(special.chdtrc(1, out["cmh"]))
        if not np.isnan(psi):
            out.update(_tarone(a, n1, n2, n, x, y, psi))
    elif measure is Measure.RR:
        r, s = (a * (n2 / n)).sum(), (c * (n1 / n)).sum()
        if a.sum() == 0 or c.sum() == 0:
            est = se = np.nan
        else:
            est = np.log(r / s)
            se = np.sqrt(((n1 / n) * (n2 / n) * (a + c) - (a / n) * c).sum() / (r * s))
    else:
        den = (n1 * (n2 / n)).sum()
        est = (a * (n2 / n) - c * (n1 / n)).sum() / den
        se = np.sqrt((est * (c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2).sum()
                      + (a * (n2 - c) / n + c * (n1 - a) / n).sum() / 2) / den**2)  # fmt: skip
    out["estimate"], out["se"] = est, se
    return out


def _tarone(a, n1, n2, n, x, y, psi: float) -> dict[str, Any]:
    """Breslow–Day and Tarone's statistics at the MH odds ratio ψ (metafor's formulas)."""
    if psi == 1:
        n11 = (n1 / n) * x
    else:
        big_a = psi * (n1 + x) + (n2 - x)
        big_b = np.sqrt(big_a**2 - 4 * n1 * x * psi * (psi - 1))
        n11 = (big_a - big_b) / (2 * (psi - 1))
    pos = (n11 > 0) & (x > 0) & (y > 0)
    k_pos = int(pos.sum())
    n11, n1, x, n, a = n11[pos], n1[pos], x[pos], n[pos], a[pos]
    inv = 1 / n11 + 1 / (n1 - n11) + 1 / (x - n11) + 1 / (n11 - n1 - x + n)
    bd = float(np.maximum(0.0, ((a - n11) ** 2 / inv**-1).sum()))  # np.maximum keeps NaN, as R's max
    ta = float(np.maximum(0.0, bd - (a - n11).sum() ** 2 / (inv**-1).sum()))
    df = k_pos - 1
    p_bd = float(special.chdtrc(df, bd)) if df > 0 else np.nan
    p_ta = float(special.chdtrc(df, ta)) if df > 0 else np.nan
    return {"breslow_day": bd, "breslow_day_pvalue": p_bd, "tarone": ta, "tarone_pvalue": p_ta, "tarone_df": max(df, 0)}


def _peto(a, b, c, d) -> tuple[dict[str, float], np.ndarray, float, int]:
    """Peto's estimate and SE, its weights V and Q, and the number of tables with V > 0."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    x, y = a + c, b + d
    e = x * n1 / n
    v = x * y * (n1 / n) * (n2 / n) / (n - 1)
    sv = v.sum()
    if sv == 0:
        raise StudyDataError(DataProblem("no table has both outcomes (events and non-events): Peto's method "
                                         "cannot be used", column="ai",
                                         fix="check the counts, or pool these studies another way"))  # fmt: skip
    est = (a - e).sum() / sv
    pos = v > 0
    q = float(np.maximum(0.0, ((a - e)[pos] ** 2 / v[pos]).sum() - (a - e).sum() ** 2 / v[pos].sum()))
    return {"estimate": est, "se": np.sqrt(1 / sv)}, v, q, int(pos.sum())


def _heterogeneity(q: float, df: int, defined: bool) -> tuple[float, float, float, float]:
    """Q, its p-value, I² and H² as metafor reports them (p = 1, I² = 0, H² = 1 where undefined)."""
    if not defined or df < 1:
        return q, 1.0, 0.0, 1.0
    i2 = float(np.maximum(0.0, 100 * (q - df) / q))  # NaN stays NaN, as R's max(0, NaN)
    return q, float(special.chdtrc(df, q)), i2, q / df


def pool_binary(
    ai: Any,
    n1i: Any,
    ci: Any,
    n2i: Any,
    *,
    measure: Measure | str = "OR",
    method: BinaryMethod | str = "MH",
    level: float = 0.95,
    labels: Any = None,
    add: float | tuple[float, float] = 0.5,
    to: ZeroCells | str | tuple[ZeroCells | str, ZeroCells | str] = "only0",
    drop00: bool | tuple[bool, bool] = True,
    correct: bool = True,
) -> BinaryPoolResult:
    """Pool 2×2 tables by the Mantel–Haenszel or Peto method (formulas and references in
    :mod:`tpmeta.models.binary_pooling`). Numbers agree with metafor 3.8's
    ``rma.mh(ai=, n1i=, ci=, n2i=, measure=, add=, to=, drop00=, correct=)`` and ``rma.peto(...)``.

    Parameters
    ----------
    ai, n1i, ci, n2i : array_like
        Events and group sizes in group 1 (e.g. treatment) and group 2 (control), one entry per study.
    measure : {"OR", "RR", "RD"}
        Log odds ratio, log risk ratio or risk difference (``method="PETO"``: OR only).
    method : {"MH", "PETO"}
    level : float
        Confidence level as a proportion (default 0.95).
    labels : sequence of str, optional
        Study labels for messages, tables and plots; taken from a pandas index if not given.
    add, to, drop00 : one value, or a pair (per-study effects, pooled estimate)
        Zero-cell handling as metafor's (defaults ``(1/2, 0)``, ``("only0", "none")``,
        ``(True, False)``): a single value applies to the per-study ``yi, vi`` (and so to Q, I², H²)
        only, never to the MH/Peto estimate.
    correct : bool
        Continuity correction of the CMH test (MH OR).

    Returns
    -------
    BinaryPoolResult

    Raises
    ------
    StudyDataError
        Counts that are missing, not numbers, negative, larger than their group, or groups of size 0,
        each named by row and column; Peto's method when no table has both outcomes.

    Warns
    -----
    SingleStudyWarning
        One table only.
    DataWarning
        The MH ratio is undefined (no events in one group, or no non-events, in every table), or some
        per-study effects are infinite (``to="none"`` with zero cells) and are left out of Q.

    Examples
    --------
    The first three BCG trials (metafor: ``exp(rma.mh(measure="RR", ...)$beta)`` = 0.2590):

    >>> res = pool_binary([4, 6, 3], [123, 306, 231], [11, 29, 11], [139, 303, 220], measure="RR")
    >>> round(res.estimate_exp, 4), res.k
    (0.259, 3)
    """
    measure = parse_option(Measure, measure, "measure")
    if measure not in _MEASURES:
        raise ValueError(f"measure={measure.value!r} is not valid for pool_binary; choose one of 'OR', 'RR', 'RD'")
    method = parse_option(BinaryMethod, method, "method")
    peto = method is BinaryMethod.PETO
    if peto and measure is not Measure.OR:
        raise ValueError(f"method='PETO' pools log odds ratios: use measure='OR' (got {measure.value!r})")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    if not isinstance(correct, (bool, np.bool_)):
        raise ValueError(f"correct={correct!r} must be True or False")
    adds, tos, drops = _parse_options(add, to, drop00)
    if labels is None and isinstance(ai, pd.Series):
        labels = ai.index
    labels = None if labels is None else [str(x) for x in labels]
    a, b, c, d = _read_tables(ai, n1i, ci, n2i, labels)
    k_all = a.size
    name = lambda i: labels[i] if labels else str(i + 1)  # noqa: E731

    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi, infinite = _per_study(a, b, c, d, measure, peto, adds[0], tos[0], drops[0])
        keep = ~_double_zero(a, b, c, d) if drops[1] else np.ones(k_all, bool)
        k = int(keep.sum())
        if k == 0:
            raise StudyDataError(DataProblem("every table has no events (or only events) in both groups and "
                                             "drop00 leaves them all out: nothing to pool", column="ai",
                                             fix="use drop00=(True, False), metafor's default"))  # fmt: skip
        ta, tb, tc, td = (x[keep] for x in (a, b, c, d))
        inc = _increment((ta == 0) | (tb == 0) | (tc == 0) | (td == 0), adds[1], tos[1])
        ta, tb, tc, td = ta + inc, tb + inc, tc + inc, td + inc
        if peto:
            out, w, q_peto, k_pos = _peto(ta, tb, tc, td)
        else:
            out = _mh(ta, tb, tc, td, measure, bool(correct))
            n = ta + tb + tc + td
            w = {Measure.OR: (tb / n) * tc, Measure.RR: (tc / n) * (ta + tb),
                 Measure.RD: ((ta + tb) / n) * (tc + td)}[measure]  # fmt: skip
        used = ~np.isnan(yi)
        k_yi = int(used.sum())
        if peto:
            q, q_p, i2, h2 = _heterogeneity(q_peto, k_yi - 1, k_pos > 1)
        elif k_yi > 1:
            q_mh = float(np.maximum(0.0, ((yi[used] - out["estimate"]) ** 2 / vi[used]).sum()))
            q, q_p, i2, h2 = _heterogeneity(q_mh, k_yi - 1, True)
        else:
            q, q_p, i2, h2 = _heterogeneity(0.0, 0, False)
        weights = np.full(k_all, np.nan)
        weights[keep] = 100 * w / w.sum()
        est, se = np.float64(out["estimate"]), np.float64(out["se"])
        z = special.ndtri(1.0 - (1.0 - level) / 2)
        stat = float(est / se)
    pvalue = float(2 * special.ndtr(-abs(stat)))
    est, se = float(est), float(se)
    lo, hi = float(est - z * se), float(est + z * se)
    ratio = measure is not Measure.RD
    exp = (lambda x: float(np.exp(x))) if ratio else (lambda x: float("nan"))

    if k == 1:
        warnings.warn(f"only one table ('{name(int(np.flatnonzero(keep)[0]))}'): the pooled result is that "
                      "study's own estimate", SingleStudyWarning, stacklevel=2)  # fmt: skip
    if np.isnan(est):
        warnings.warn(f"the Mantel-Haenszel {measure.value} is undefined for these tables (no events, or no "
                      "non-events, in one group of every table); estimate, CI and Q are NaN", DataWarning,
                      stacklevel=2)  # fmt: skip
    if infinite.any():
        rows = ", ".join(f"'{name(i)}'" for i in np.flatnonzero(infinite))
        warnings.warn(f"studies {rows} have zero cells and no continuity correction for their own effect "
                      f"(to={tos[0].value!r}): their yi is infinite, so they are left out of Q, I2 and H2 (as "
                      "metafor does); the pooled estimate still uses them", DataWarning, stacklevel=2)  # fmt: skip
    for arr in (yi, vi, weights):
        arr.setflags(write=False)
    return BinaryPoolResult(
        estimate=est, se=se, statistic=stat, pvalue=pvalue, ci_low=lo, ci_high=hi, estimate_exp=exp(est),
        ci_low_exp=exp(lo), ci_high_exp=exp(hi), q=q, q_pvalue=q_p, df=max(k_yi - 1, 0), i2=i2, h2=h2,
        cmh=float(out.get("cmh", np.nan)), cmh_pvalue=float(out.get("cmh_pvalue", np.nan)),
        tarone=float(out.get("tarone", np.nan)), tarone_pvalue=float(out.get("tarone_pvalue", np.nan)),
        breslow_day=float(out.get("breslow_day", np.nan)),
        breslow_day_pvalue=float(out.get("breslow_day_pvalue", np.nan)), tarone_df=int(out.get("tarone_df", 0)),
        k=k, k_yi=k_yi, measure=measure, method=method, level=level, correct=bool(correct), yi=yi, vi=vi,
        weights=weights, labels=tuple(labels) if labels is not None else (),
    )  # fmt: skip
