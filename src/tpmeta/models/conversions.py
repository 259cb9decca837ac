"""Conversions of reported summary statistics to the mean and SD needed for effect sizes.

Each function is vectorised (NumPy broadcasting) and documented with its formula and source. The
high-level :func:`fill_mean_sd` applies them to arm-level rows in order of preference (reported SD,
then SE, then CI, then median-based) and records on every row what was derived, so that a reader sees
which numbers were reported and which were computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "sd_from_se",
    "sd_from_ci",
    "mean_sd_from_median",
    "sd_of_change",
    "combine_arms",
    "split_shared_control",
    "fill_mean_sd",
    "T_QUANTILE_BELOW_N",
]

#: Below this group size a 95% CI of a mean is taken to use the t distribution (Cochrane Handbook
#: 6.5.2.2: "if the sample size is small (say less than 60 participants in each group)").
T_QUANTILE_BELOW_N = 60


def sd_from_se(se: Any, n: Any) -> np.ndarray:
    """SD = SE·√n (Cochrane Handbook 6.5.2.2).

    >>> float(sd_from_se(2.0, 25))
    10.0
    """
    return np.asarray(se, float) * np.sqrt(np.asarray(n, float))


def sd_from_ci(ci_low: Any, ci_high: Any, n: Any, level: float = 0.95) -> np.ndarray:
    """SD from the CI of a single group's mean: ``SD = √n (upper − lower) / (2 c)``.

    ``c`` is the t quantile with n − 1 df when n < 60 and the normal quantile otherwise (1.96 for a 95%
    CI, hence the Handbook's 3.92), Cochrane Handbook 6.5.2.2
    (https://training.cochrane.org/handbook/current/chapter-06#section-6-5-2-2).

    >>> round(float(sd_from_ci(8.0, 12.0, 100)), 4)
    10.2043
    """
    n = np.asarray(n, float)
    p = 1.0 - (1.0 - level) / 2
    crit = np.where(n < T_QUANTILE_BELOW_N, special.stdtrit(np.maximum(n - 1, 1), p), special.ndtri(p))
    return np.sqrt(n) * (np.asarray(ci_high, float) - np.asarray(ci_low, float)) / (2 * crit)


def _xi(n: np.ndarray) -> np.ndarray:
    """Wan et al. (2014) ξ(n) = 2 Φ⁻¹((n − 0.375)/(n + 0.25)), the expected range of n N(0,1) draws."""
    return 2 * special.ndtri((n - 0.375) / (n + 0.25))


def _eta(n: np.ndarray) -> np.ndarray:
    """Wan et al. (2014) η(n) = 2 Φ⁻¹((0.75n − 0.125)/(n + 0.25)), the expected IQR of n N(0,1) draws."""
    return 2 * special.ndtri((0.75 * n - 0.125) / (n + 0.25))


def mean_sd_from_median(
    n: Any,
    median: Any,
    q1: Any = None,
    q3: Any = None,
    minimum: Any = None,
    maximum: Any = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Estimate mean and SD from the median with the IQR and/or the range.

    Scenarios (Wan et al. 2014, doi:10.1186/1471-2288-14-135; Luo et al. 2018,
    doi:10.1177/0962280216669183), with a = min, b = max, m = median:

    * S1 {a, m, b}: mean = w(a + b)/2 + (1 − w)m, w = 4/(4 + n^0.75); SD = (b − a)/ξ(n).
    * S2 {q1, m, q3}: mean = (0.7 + 0.39/n)(q1 + q3)/2 + (0.3 − 0.39/n)m; SD = (q3 − q1)/η(n).
    * S3 {a, q1, m, q3, b}: mean = w₁(a + b)/2 + w₂(q1 + q3)/2 + (1 − w₁ − w₂)m with
      w₁ = 2.2/(2.2 + n^0.75), w₂ = 0.7 − 0.72/n^0.55; SD = (b − a)/(2ξ(n)) + (q3 − q1)/(2η(n)).

    ξ and η use Wan's closed-form approximation for all n (Wan's Table 2 tabulates exact values for
    small n; the approximation differs from them by < 1% for n ≥ 10). All assume roughly normal data.

    Returns ``(mean, sd, method)`` where ``method`` names the scenario and sources.

    >>> m, s, how = mean_sd_from_median(40, 5.0, q1=3.0, q3=8.0)
    >>> how
    'Luo 2018 / Wan 2014, S2 (median, IQR)'
    """
    n = np.asarray(n, float)
    m = np.asarray(median, float)
    has_iqr = q1 is not None and q3 is not None
    has_range = minimum is not None and maximum is not None
    if has_iqr and has_range:
        a, b = np.asarray(minimum, float), np.asarray(maximum, float)
        lo, hi = np.asarray(q1, float), np.asarray(q3, float)
        w1 = 2.2 / (2.2 + n**0.75)
        w2 = 0.7 - 0.72 / n**0.55
        mean = w1 * (a + b) / 2 + w2 * (lo + hi) / 2 + (1 - w1 - w2) * m
        sd = (b - a) / (2 * _xi(n)) + (hi - lo) / (2 * _eta(n))
        return mean, sd, "Luo 2018 / Wan 2014, S3 (median, IQR, range)"
    if has_iqr:
        lo, hi = np.asarray(q1, float), np.asarray(q3, float)
        mean = (0.7 + 0.39 / n) * (lo + hi) / 2 + (0.3 - 0.39 / n) * m
        return mean, (hi - lo) / _eta(n), "Luo 2018 / Wan 2014, S2 (median, IQR)"
    if has_range:
        a, b = np.asarray(minimum, float), np.asarray(maximum, float)
        w = 4 / (4 + n**0.75)
        return w * (a + b) / 2 + (1 - w) * m, (b - a) / _xi(n), "Luo 2018 / Wan 2014, S1 (median, range)"
    raise ValueError("mean_sd_from_median needs q1 and q3, or minimum and maximum (or both)")


def sd_of_change(sd_pre: Any, sd_post: Any, r: Any) -> np.ndarray:
    """SD of change scores: √(SD_pre² + SD_post² − 2 r SD_pre SD_post) (Cochrane Handbook 6.5.2.8).

    >>> float(sd_of_change(10.0, 10.0, 0.5))
    10.0
    """
    a, b, r = np.asarray(sd_pre, float), np.asarray(sd_post, float), np.asarray(r, float)
    return np.sqrt(a * a + b * b - 2 * r * a * b)


def combine_arms(
    n1: Any, m1: Any, sd1: Any, n2: Any, m2: Any, sd2: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine two arms into one (Cochrane Handbook Table 6.5.a).

    ``N = n₁ + n₂``, ``M = (n₁m₁ + n₂m₂)/N``,
    ``SD = √(((n₁−1)s₁² + (n₂−1)s₂² + n₁n₂/N (m₁ − m₂)²)/(N − 1))``.

    >>> n, m, s = combine_arms(10, 5.0, 2.0, 10, 7.0, 2.0)
    >>> float(n), float(m), round(float(s), 4)
    (20.0, 6.0, 2.2005)
    """
    n1, m1, s1 = (np.asarray(x, float) for x in (n1, m1, sd1))
    n2, m2, s2 = (np.asarray(x, float) for x in (n2, m2, sd2))
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n
    var = ((n1 - 1) * s1**2 + (n2 - 1) * s2**2 + n1 * n2 / n * (m1 - m2) ** 2) / (n - 1)
    return n, mean, np.sqrt(var)


def split_shared_control(n: Any, events: Any = None, parts: int = 2) -> tuple[np.ndarray, Any]:
    """Split a control arm shared by ``parts`` comparisons (Cochrane Handbook 23.3.4): the sample size
    (and the events, for binary outcomes) are divided equally; means and SDs are unchanged.

    >>> n, e = split_shared_control(30, 9, parts=3)
    >>> float(n), float(e)
    (10.0, 3.0)
    """
    if parts < 2:
        raise ValueError(f"parts={parts!r}: a shared control is split into at least 2 parts")
    n_split = np.asarray(n, float) / parts
    return n_split, (None if events is None else np.asarray(events, float) / parts)


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[col], errors="coerce")


def fill_mean_sd(frame: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Fill ``mean`` and ``sd`` of arm-level rows from what each row reports.

    Columns used (any may be absent): ``n, mean, sd, se, ci_low, ci_high, median, q1, q3, min, max``.
    Order of preference: reported SD; SD from SE; SD from the CI of the mean; mean and SD from the
    median with IQR and/or range. Returns a copy with ``mean``, ``sd`` and a ``derivation`` column
    ("reported", or the conversion used); rows that cannot be completed keep NaN and say so.
    """
    out = frame.copy()
    n = _num(out, "n")
    mean, sd = _num(out, "mean").copy(), _num(out, "sd").copy()
    derivation = pd.Series("reported", index=out.index, dtype=object)

    need = sd.isna() & mean.notna()
    se = _num(out, "se")
    use = need & se.notna() & n.notna()
    sd[use] = sd_from_se(se[use], n[use])
    derivation[use] = "sd from se (SD = SE·√n)"

    need = sd.isna() & mean.notna()
    lo, hi = _num(out, "ci_low"), _num(out, "ci_high")
    use = need & lo.notna() & hi.notna() & n.notna()
    sd[use] = sd_from_ci(lo[use], hi[use], n[use], level)
    derivation[use] = "sd from CI of the mean (Handbook 6.5.2.2)"

    med, q1, q3 = _num(out, "median"), _num(out, "q1"), _num(out, "q3")
    mn, mx = _num(out, "min"), _num(out, "max")
    base = mean.isna() & med.notna() & n.notna()
    iqr, rng = q1.notna() & q3.notna(), mn.notna() & mx.notna()
    for mask, kwargs in (
        (base & iqr & rng, dict(q1=q1, q3=q3, minimum=mn, maximum=mx)),
        (base & iqr & ~rng, dict(q1=q1, q3=q3)),
        (base & ~iqr & rng, dict(minimum=mn, maximum=mx)),
    ):
        if mask.any():
            args = {k: v[mask] for k, v in kwargs.items()}
            m_est, s_est, how = mean_sd_from_median(n[mask], med[mask], **args)
            mean[mask] = m_est
            sd[mask] = np.where(sd[mask].isna(), s_est, sd[mask])
            derivation[mask] = f"mean and sd from median ({how})"

    incomplete = mean.isna() | sd.isna()
    derivation[incomplete] = "not enough statistics for mean and SD"
    out["mean"], out["sd"], out["derivation"] = mean, sd, derivation
    return out
