"""The whole review in one object: every declared analysis, the risk-of-bias judgements that go with
it (with what each rests on: PEDro-informed answers fill what abstracts leave out), RoB-restricted
sensitivity results, and the suggested/final GRADE ratings.

Used by the report notebook and by ``tpmeta add-study`` (:func:`add_study` compares the reviews before
and after the new trial).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..appraisal.grade import GradeAssessment, apply_overrides, suggest_grade
from ..appraisal.rob2 import rob2_table
from ..dataset.journal import commit_study
from ..dataset.studies import StudyData
from ..diagnostics.sensitivity import restrict
from ..models.pooling import PoolResult
from .analyses import AnalysisResult, run_all

__all__ = ["Review", "add_study", "build_review", "compare_reviews", "ASSESSED_BEYOND_ABSTRACT"]


#: Label of the sensitivity analysis restricted to trials assessed from more than an abstract.
ASSESSED_BEYOND_ABSTRACT = "trials assessed beyond the abstract (full text, PEDro or registry)"



@dataclass(frozen=True)
class Review:
    data: StudyData
    analyses: dict[str, AnalysisResult]
    rob: pd.DataFrame
    grade: dict[str, GradeAssessment]

    def overall_rob(self, analysis_id: str, domain: str = "overall") -> list[str | None]:
        """Each pooled study's RoB 2 judgement (``domain``: ``overall`` or ``d1`` … ``d5``) for the
        analysis's outcome, in pooled order (None: not assessed)."""
        if domain not in ("overall", "d1", "d2", "d3", "d4", "d5"):
            raise ValueError(f"domain={domain!r} is not valid; choose overall or d1 … d5")
        res = self.analyses[analysis_id]
        if not len(res.studies) or not len(self.rob):
            return [None] * len(res.studies)
        table = self.rob[self.rob["outcome"] == res.spec.outcome].set_index("study_id")[domain]
        return [table.get(s) for s in res.studies["study_id"]]

    def _rob_column(self, analysis_id: str, column: str) -> list[Any]:
        res = self.analyses[analysis_id]
        if not len(res.studies) or not len(self.rob) or column not in self.rob:
            return [None] * len(res.studies)
        table = self.rob[self.rob["outcome"] == res.spec.outcome].set_index("study_id")[column]
        return [table.get(s) for s in res.studies["study_id"]]

    def rob_floor(self, analysis_id: str, domain: str = "overall") -> list[str | None]:
        """Each pooled study's *floor* for ``domain``: the judgement its reported information supports,
        with what the abstract leaves out answered favourably (None: not assessed); pooled order."""
        if domain not in ("overall", "d1", "d2", "d3", "d4", "d5"):
            raise ValueError(f"domain={domain!r} is not valid; choose overall or d1 … d5")
        return self._rob_column(analysis_id, f"{domain}_floor")

    def rob_beyond_abstract(self, analysis_id: str) -> list[bool]:
        """Whether each pooled study's assessment rests on more than an abstract (full text, PEDro
        record or registry for at least one answer); pooled order, False when not assessed."""
        return [bool(v) if v is not None and not pd.isna(v) else False
                for v in self._rob_column(analysis_id, "beyond_abstract")]  # fmt: skip

    def forest_arguments(self, analysis_id: str) -> dict[str, Any]:
        """Everything a forest plot of this analysis needs besides the result, decided in one place so
        that the report and ``tpmeta forest`` draw the same figure: arm columns, RoB 2 judgements, the
        "Favours …" labels (the side that favours trigger-point therapy depends on the outcome's
        direction), the effect label and the ratio scale."""
        res = self.analyses[analysis_id]
        spec = res.spec
        ratio = spec.measure.is_ratio
        favours = (("Favours trigger-point therapy", "Favours control") if spec.lower_favours
                   else ("Favours control", "Favours trigger-point therapy"))  # fmt: skip
        study_data = res.studies.drop(columns=["study_id"]).dropna(axis=1, how="all")
        if ratio:
            study_data = study_data.rename(columns={"ai": "events1", "n1": "total1", "ci": "events2", "n2": "total2"})
        rob = self.rob_rows(analysis_id).set_index("study")
        return {"study_data": study_data, "rob": rob if rob.notna().any().any() else None, "favours": favours,
                "effect_label": spec.measure.value, "ratio": ratio}  # fmt: skip

    def rob_rows(self, analysis_id: str) -> pd.DataFrame:
        """Domain judgements of the pooled studies (label, d1…d5, overall), in forest-plot order, with
        ``{domain}_assessable`` (False: the judgement rests only on what the abstract leaves out)."""
        res = self.analyses[analysis_id]
        cols = ["d1", "d2", "d3", "d4", "d5", "overall"]
        if not len(res.studies):
            return pd.DataFrame(columns=["study", *cols])
        table = self.rob[self.rob["outcome"] == res.spec.outcome].set_index("study_id") if len(self.rob) else None
        rows = []
        for sid, label in zip(res.studies["study_id"], res.studies["label"]):
            rec = {"study": label}
            found = table is not None and sid in table.index
            for c in cols:
                rec[c] = table.loc[sid, c] if found else None
                if found and f"{c}_assessable" in table.columns:
                    rec[f"{c}_assessable"] = bool(table.loc[sid, f"{c}_assessable"])
            rows.append(rec)
        return pd.DataFrame(rows)

    def rob_restricted(self, analysis_id: str, domain: str = "overall") -> dict[str, PoolResult | None]:
        """The analysis restricted to trials at low risk, to trials not at high risk (for the overall
        judgement or one domain, ``d1`` … ``d5``), and to trials whose assessment rests on more than an
        abstract (full text, PEDro record or registry)."""
        res = self.analyses[analysis_id]
        if res.pooled is None:
            return {"low risk only": None, "excluding high risk": None, ASSESSED_BEYOND_ABSTRACT: None}
        overall = self.overall_rob(analysis_id, domain)
        return {
            "low risk only": restrict(res.pooled, [o == "low" for o in overall]),
            "excluding high risk": restrict(res.pooled, [o in ("low", "some concerns") for o in overall]),
            ASSESSED_BEYOND_ABSTRACT: restrict(res.pooled, self.rob_beyond_abstract(analysis_id)),
        }

    def summary(self) -> pd.DataFrame:
        """One row per analysis: k, participants, pooled estimate, CI, τ², I², PI, certainty, RoB mix."""
        rows = []
        for aid, res in self.analyses.items():
            row: dict[str, Any] = {"analysis_id": aid, "k": res.k}
            p = res.pooled
            if p is not None:
                row.update(estimate=p.estimate, ci_low=p.ci_low, ci_high=p.ci_high, tau2=p.tau2, i2=p.i2,
                           pi_low=p.pi_low, pi_high=p.pi_high, method=p.method.value, test=p.test.value)  # fmt: skip
                row["participants"] = int(np.nansum(res.studies["n1"]) + np.nansum(res.studies["n2"]))
            mix = pd.Series([o or "not assessed" for o in self.overall_rob(aid)]).value_counts()
            row["rob_mix"] = ", ".join(f"{k}: {v}" for k, v in sorted(mix.items()))
            g = self.grade.get(aid)
            row["certainty"] = g.certainty if g else ""
            rows.append(row)
        return pd.DataFrame(rows)


def build_review(data: StudyData) -> Review:
    """Run every analysis in ``data.analyses`` and attach risk of bias and GRADE."""
    analyses = run_all(data)
    rob = rob2_table(data.rob2, pedro=data.pedro) if len(data.rob2) else pd.DataFrame(
        columns=["study_id", "outcome", "d1", "d2", "d3", "d4", "d5", "overall"])  # fmt: skip
    review = Review(data=data, analyses=analyses, rob=rob, grade={})
    overrides = data.grade
    grades = {}
    for aid, res in analyses.items():
        if res.pooled is None:
            continue
        participants = float(np.nansum(res.studies["n1"]) + np.nansum(res.studies["n2"]))
        g = suggest_grade(aid, res.pooled, review.overall_rob(aid), participants, res.spec.mid,
                          ratio=res.spec.measure.is_ratio, rob_floor=review.rob_floor(aid))
        grades[aid] = apply_overrides(g, overrides) if len(overrides) else g
    return Review(data=data, analyses=analyses, rob=rob, grade=grades)


def compare_reviews(before: Review, after: Review) -> pd.DataFrame:
    """What changed in each analysis: estimate, CI, τ², PI, k and the risk-of-bias mix."""
    a, b = before.summary().set_index("analysis_id"), after.summary().set_index("analysis_id")
    rows = []
    for aid in sorted(set(a.index) | set(b.index)):
        ra = a.loc[aid] if aid in a.index else pd.Series(dtype=object)
        rb = b.loc[aid] if aid in b.index else pd.Series(dtype=object)
        changed = any(str(ra.get(c)) != str(rb.get(c)) for c in ("k", "estimate", "ci_low", "ci_high", "tau2", "rob_mix"))
        if not changed:
            continue
        rows.append({
            "analysis_id": aid,
            "k": f"{_fmt(ra.get('k'), 0)} → {_fmt(rb.get('k'), 0)}",
            "estimate [CI]": f"{_ci(ra)} → {_ci(rb)}",
            "tau2": f"{_fmt(ra.get('tau2'))} → {_fmt(rb.get('tau2'))}",
            "prediction interval": f"{_pi(ra)} → {_pi(rb)}",
            "risk of bias": f"{ra.get('rob_mix', '') or '—'} → {rb.get('rob_mix', '') or '—'}",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["analysis_id", "k", "estimate [CI]", "tau2", "prediction interval", "risk of bias"])


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "—"
    return f"{float(x):.{digits}f}"


def _ci(r: pd.Series) -> str:
    return "—" if pd.isna(r.get("estimate", np.nan)) else f"{_fmt(r['estimate'], 2)} [{_fmt(r['ci_low'], 2)}, {_fmt(r['ci_high'], 2)}]"


def _pi(r: pd.Series) -> str:
    return "—" if pd.isna(r.get("pi_low", np.nan)) else f"[{_fmt(r['pi_low'], 2)}, {_fmt(r['pi_high'], 2)}]"


def add_study(file: str | Path, studies: str | Path = "studies", *, dry_run: bool = False) -> pd.DataFrame:
    """Add the trial described in ``file`` to ``studies``; return what changed in each analysis.

    The write itself (validate in a scratch copy, journaled atomic replace) is
    :func:`tpmeta.dataset.journal.commit_study`; this adds the before/after comparison of every analysis.

    Raises
    ------
    StudyDataError
        The file is unreadable, the trial exists already, or the resulting dataset does not validate
        (every problem listed; nothing is written).
    """

    def changes(before: StudyData, after: StudyData) -> pd.DataFrame:
        return compare_reviews(build_review(before), build_review(after))

    return cast(pd.DataFrame, commit_study(file, studies, dry_run=dry_run, compare=changes))
