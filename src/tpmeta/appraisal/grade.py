"""Certainty of evidence (GRADE) suggested from the analysis, with reviewer overrides, and the
Summary of Findings table.

A body of randomised trials starts at High and is rated down one or two levels per domain, to a floor
of Very low (GRADE guidelines 4–8, Guyatt et al., J Clin Epidemiol 2011;64, doi:10.1016/j.jclinepi.2010.07.017
and companions; Cochrane Handbook ch. 14). tpmeta only *suggests*: each suggestion carries its reason,
and ``studies/grade.csv`` records the reviewer's final call with a rationale. The operational rules
(``../shared/reference/appraisal-rules.md``), each a named threshold below:

* **Risk of bias** — by the share of weight from trials at high risk (≥ 50 % → −2; ≥ 25 % → −1) or at
  high risk or some concerns (≥ 50 % → −1). Trials without an assessment count as some concerns.
  Given each trial's *floor* (the judgement its reported information supports, with what an abstract
  leaves out answered favourably; :mod:`tpmeta.appraisal.rob2_basis`), the shares count the floors, so
  a trial judged high only because its abstract is silent adds nothing to "high"; the reason then says
  how much of the weight could not be assessed, and a reviewer decides in ``studies/grade.csv``.
* **Inconsistency** — not assessable with one trial. I² < 40 %: none. 40–75 %: −1 if the point
  estimates fall on both sides of no effect or the prediction interval includes no effect. ≥ 75 %:
  −1, or −2 if the point estimates fall on both sides of no effect.
* **Imprecision** — −2 if the CI includes both a benefit and a harm of at least the minimal important
  difference (MID; SMD 0.5, or a relative risk change of 25 % — RR 1.25 or 0.80 — when none is known);
  −1 if the CI includes no effect or one MID. Then the optimal information size: fewer than 400
  participants → at least −1; fewer than 100 → −2; not reported → at least −1.
* **Publication bias** — Egger's test only with ≥ 10 trials (p < 0.10, a convention of tools, not a
  GRADE rule) → −1; otherwise no automatic downgrade, with a note.
* **Indirectness** — reviewer input only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from .._results import ResultMixin
from ..diagnostics.smallstudy import MIN_STUDIES_FOR_TESTS, egger_test
from ..models.pooling import PoolResult

__all__ = [
    "LEVELS",
    "DOMAINS",
    "DomainRating",
    "GradeAssessment",
    "suggest_grade",
    "apply_overrides",
    "summary_of_findings",
    "THRESHOLDS",
]

LEVELS = ("High", "Moderate", "Low", "Very low")
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")

#: The operational thresholds (see module docstring); changing one is a documented choice.
THRESHOLDS = {
    "rob_high_2": 0.50, "rob_high_1": 0.25, "rob_concerns_1": 0.50,
    "i2_low": 40.0, "i2_high": 75.0,
    "ois": 400, "ois_far": 100, "default_mid_smd": 0.5, "default_mid_rr": 1.25,
    "egger_p": 0.10, "min_k_tests": MIN_STUDIES_FOR_TESTS,
}  # fmt: skip


@dataclass(frozen=True)
class DomainRating(ResultMixin):
    """One GRADE domain: the suggested downgrade and why, and the reviewer's final call."""

    domain: str
    suggested: int
    reason: str
    final: int | None = None
    rationale: str | None = None

    @property
    def downgrade(self) -> int:
        return self.suggested if self.final is None else self.final


@dataclass(frozen=True)
class GradeAssessment:
    """Certainty for one outcome (analysis)."""

    analysis_id: str
    domains: tuple[DomainRating, ...] = field(default_factory=tuple)

    @property
    def total_downgrade(self) -> int:
        return sum(d.downgrade for d in self.domains)

    @property
    def suggested_certainty(self) -> str:
        return LEVELS[min(3, sum(d.suggested for d in self.domains))]

    @property
    def certainty(self) -> str:
        return LEVELS[min(3, self.total_downgrade)]

    def domain(self, name: str) -> DomainRating:
        return next(d for d in self.domains if d.domain == name)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"analysis_id": self.analysis_id, **d.to_dict(), "downgrade": d.downgrade}
                             for d in self.domains])  # fmt: skip


_RISK = ("low", "some concerns", "high")


def _rob_rating(result: PoolResult, overall_rob: list[str | None], rob_floor: list[str | None] | None = None) -> DomainRating:
    w = np.asarray(result.weights, float) / 100.0
    judg = [j if j in _RISK else "some concerns" for j in overall_rob]
    missing = sum(j not in _RISK for j in overall_rob)
    floors = judg if rob_floor is None else [f if f in _RISK else j for f, j in zip(rob_floor, judg)]
    unassessed = float(sum(wi for wi, j, f in zip(w, judg, floors) if j != f))
    high = float(sum(wi for wi, f in zip(w, floors) if f == "high"))
    concerns = float(sum(wi for wi, f in zip(w, floors) if f in ("high", "some concerns")))
    t = THRESHOLDS
    note = f" ({missing} trial(s) without an assessment counted as some concerns)" if missing else ""
    reported = "" if rob_floor is None else " (flaw reported)"
    if unassessed > 0:
        note += (f"; the judgement of {unassessed:.0%} of the weight is worse only because abstracts leave out how "
                 "the trials were run (not counted; a reviewer may decide otherwise in studies/grade.csv)")
    if high >= t["rob_high_2"]:
        return DomainRating("risk_of_bias", 2, f"{high:.0%} of the weight from trials at high risk{reported}{note}")
    if high >= t["rob_high_1"]:
        return DomainRating("risk_of_bias", 1, f"{high:.0%} of the weight from trials at high risk{reported}{note}")
    if concerns >= t["rob_concerns_1"]:
        what = "" if rob_floor is None else " on what their reports state"
        level = "with some concerns" if rob_floor is not None and high == 0 else "at high risk or with some concerns"
        return DomainRating("risk_of_bias", 1, f"{concerns:.0%} of the weight from trials {level}{what}{note}")
    if rob_floor is not None and unassessed > 0:
        return DomainRating("risk_of_bias", 0, f"no reported flaw or concern in {1 - concerns:.0%} of the weight{note}")
    return DomainRating("risk_of_bias", 0, f"{1 - concerns:.0%} of the weight from trials at low risk{note}")


def _inconsistency(result: PoolResult) -> DomainRating:
    if result.k < 2:
        return DomainRating("inconsistency", 0, "not assessable with one trial")
    y = np.asarray(result.yi)
    both_sides = bool((y > 0).any() and (y < 0).any())
    pi_null = result.pi_low <= 0 <= result.pi_high
    t = THRESHOLDS
    i2 = result.i2
    if i2 < t["i2_low"]:
        return DomainRating("inconsistency", 0, f"I² = {i2:.0f}%: heterogeneity might not be important")
    if i2 < t["i2_high"]:
        if both_sides or pi_null:
            why = "estimates on both sides of no effect" if both_sides else "prediction interval includes no effect"
            return DomainRating("inconsistency", 1, f"I² = {i2:.0f}% and {why}")
        return DomainRating("inconsistency", 0, f"I² = {i2:.0f}% but all estimates in one direction")
    if both_sides:
        return DomainRating("inconsistency", 2, f"I² = {i2:.0f}% with estimates on both sides of no effect")
    return DomainRating("inconsistency", 1, f"I² = {i2:.0f}%: considerable heterogeneity")


def _imprecision(result: PoolResult, participants: float, mid: float, ratio: bool = False) -> DomainRating:
    t = THRESHOLDS
    if mid is None or np.isnan(mid):
        mid = float(np.log(t["default_mid_rr"])) if ratio else t["default_mid_smd"]
    lo, hi = result.ci_low, result.ci_high
    show = (lambda x: f"{np.exp(x):.2f}") if ratio else (lambda x: f"{x:.2f}")  # noqa: E731
    ci_text = f"the CI ({show(lo)} to {show(hi)})"
    mid_text = f"RR {np.exp(mid):.2f} or {np.exp(-mid):.2f}" if ratio else f"{mid:g}"
    level = 0
    reasons = []
    if lo <= -mid and hi >= mid:
        level = 2
        reasons.append(f"{ci_text} includes important benefit and important harm (MID {mid_text})")
    elif lo <= 0 <= hi:
        level = 1
        reasons.append(f"{ci_text} includes no effect")
    elif (lo < mid <= hi) or (lo <= -mid < hi):
        level = 1
        reasons.append(f"{ci_text} crosses the MID ({mid_text})")
    if not participants or np.isnan(participants):
        level = max(level, 1)
        reasons.append("number of participants not reported, so the information size cannot be checked")
    elif participants < t["ois_far"]:
        level = 2
        reasons.append(f"{participants:.0f} participants, far below an optimal information size of {t['ois']}")
    elif participants < t["ois"]:
        level = max(level, 1)
        reasons.append(f"{participants:.0f} participants, below an optimal information size of {t['ois']}")
    return DomainRating("imprecision", level, "; ".join(reasons) or "CI excludes no effect and the MID; information size met")


def _publication_bias(result: PoolResult) -> DomainRating:
    t = THRESHOLDS
    if result.k < t["min_k_tests"]:
        return DomainRating("publication_bias", 0,
                            f"not testable with {result.k} trials (< {t['min_k_tests']}); small trials only — judge by eye")  # fmt: skip
    eg = egger_test(result)
    if eg.pvalue < t["egger_p"]:
        return DomainRating("publication_bias", 1, f"Egger's test p = {eg.pvalue:.3f} (< {t['egger_p']})")
    return DomainRating("publication_bias", 0, f"Egger's test p = {eg.pvalue:.3f}")


def suggest_grade(
    analysis_id: str,
    result: PoolResult,
    overall_rob: list[str | None],
    participants: float,
    mid: float = float("nan"),
    ratio: bool = False,
    rob_floor: list[str | None] | None = None,
) -> GradeAssessment:
    """Suggested GRADE rating of one pooled outcome.

    Parameters
    ----------
    result : the pooled analysis (weights are used for risk of bias)
    overall_rob : each study's overall RoB 2 judgement, in the order of ``result.labels`` (None if not
        assessed)
    participants : total participants in the analysis
    mid : minimal important difference on the analysis scale (SMD 0.5, or log 1.25 for ratios, if NaN)
    ratio : the result is a log ratio (RR/OR): reasons are shown as ratios
    rob_floor : each study's overall floor (the judgement its reported information supports; see
        :mod:`tpmeta.appraisal.rob2_basis`), same order; when given, the risk-of-bias shares count the
        floors and the reason says how much weight rests only on what abstracts leave out

    >>> from tpmeta import pool
    >>> res = pool([0.4, 0.6, 0.5], [0.04, 0.05, 0.03])
    >>> g = suggest_grade("x", res, ["low", "low", "high"], participants=250)
    >>> g.suggested_certainty, [d.suggested for d in g.domains]
    ('Low', [1, 0, 0, 1, 0])
    >>> g = suggest_grade("x", res, ["high", "high", "high"], participants=250, rob_floor=["low", "some concerns", "low"])
    >>> g.domain("risk_of_bias").suggested  # the high judgements rest on what abstracts leave out
    0
    """
    domains = (
        _rob_rating(result, list(overall_rob), None if rob_floor is None else list(rob_floor)),
        _inconsistency(result),
        DomainRating("indirectness", 0, "reviewer input (none recorded)"),
        _imprecision(result, participants, mid, ratio),
        _publication_bias(result),
    )
    return GradeAssessment(analysis_id, domains)


def apply_overrides(assessment: GradeAssessment, overrides: pd.DataFrame) -> GradeAssessment:
    """Apply reviewer decisions (rows of ``grade.csv``: analysis_id, domain, downgrade, rationale)."""
    rows = overrides[overrides["analysis_id"] == assessment.analysis_id] if len(overrides) else overrides
    by_domain = {r["domain"]: r for _, r in rows.iterrows()} if len(rows) else {}
    new = []
    for d in assessment.domains:
        r = by_domain.get(d.domain)
        if r is None:
            new.append(d)
        else:
            new.append(DomainRating(d.domain, d.suggested, d.reason, int(r["downgrade"]), str(r["rationale"])))
    return GradeAssessment(assessment.analysis_id, tuple(new))


def summary_of_findings(rows: list[Mapping]) -> tuple[pd.DataFrame, list[str]]:
    """The Summary of Findings table and its footnotes.

    Each input row: ``outcome`` (with measure and follow-up), ``effect`` (text of the pooled effect
    with CI), ``participants``, ``studies``, ``assessment`` (GradeAssessment), ``comment``. Returns the
    table with the standard columns and the footnotes (one per downgrade), numbered as referenced.
    """
    footnotes: list[str] = []
    table = []
    symbols = {"High": "⊕⊕⊕⊕ High", "Moderate": "⊕⊕⊕◯ Moderate", "Low": "⊕⊕◯◯ Low", "Very low": "⊕◯◯◯ Very low"}
    for row in rows:
        a: GradeAssessment = row["assessment"]
        marks = []
        for d in a.domains:
            if d.downgrade > 0:
                text = f"{d.domain.replace('_', ' ').capitalize()} (−{d.downgrade}): {d.rationale or d.reason}"
                footnotes.append(text)
                marks.append(str(len(footnotes)))
        table.append({
            "Outcome": row["outcome"],
            "Anticipated effect with comparator": row.get("comparator_effect", "—"),
            "Effect with intervention (95% CI)": row["effect"],
            "Participants (studies)": f"{row['participants']} ({row['studies']})",
            "Certainty": symbols[a.certainty] + (f" [{','.join(marks)}]" if marks else ""),
            "Comments": row.get("comment", ""),
        })  # fmt: skip
    return pd.DataFrame(table), footnotes
