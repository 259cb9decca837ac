"""From the dataset to pooled analyses: select trials and time points, derive effect sizes, pool.

An analysis is declared as one row of ``studies/analyses.csv`` (outcome, measure, time point rule,
intervention and comparator classes, τ² method, test). :func:`run_analysis` applies it:

1. trials whose ``inclusion_status`` is ``included`` and whose classes match;
2. per trial, one instrument (the one with the most arms reported) and one time point: the first after
   baseline (``first_post``) or the last reported (``last``); final values are preferred to change
   scores and the two are never mixed within a trial;
3. arms completed with :func:`tpmeta.conversions.fill_mean_sd`; several intervention (or control) arms
   of one trial are combined (Cochrane Handbook 23.3.4) so that each trial counts once;
4. effect sizes by :func:`tpmeta.effect_sizes` (intervention − control); instruments scored in the
   opposite direction to the outcome's usual one are negated so that signs agree;
5. trials reporting only a between-group difference enter MD analyses when their unit matches;
6. pooling by :func:`tpmeta.pool`. Trials that could not enter are listed with the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._results import ResultMixin
from ..dataset.provenance import study_groups
from ..dataset.studies import StudyData, trial_label
from ..errors import DataProblem, SingleStudyWarning, StudyDataError
from ..models.conversions import combine_arms, fill_mean_sd
from ..models.effects import effect_sizes
from ..models.pooling import PoolResult, pool
from ..options import Measure, Method, Test, parse_option

__all__ = ["AnalysisSpec", "AnalysisResult", "run_analysis", "run_all", "analysis_specs"]

BASELINE_WORDS = ("baseline", "pre-treatment", "pretreatment", "before")


#: Outcomes on which a lower value is better (a negative SMD or MD favours the intervention).
LOWER_IS_BETTER = ("pain_intensity", "disability", "headache_frequency")


@dataclass(frozen=True)
class AnalysisSpec(ResultMixin):
    """One declared analysis (a row of ``analyses.csv``)."""

    analysis_id: str
    title: str
    outcome: str
    measure: Measure
    timepoint: str = "first_post"
    intervention_classes: tuple[str, ...] = ()
    comparator_classes: tuple[str, ...] = ()
    method: Method = Method.REML
    test: Test = Test.KNHA
    mid: float = float("nan")

    @property
    def lower_favours(self) -> bool:
        """Whether effects below the null favour trigger-point therapy: differences on an outcome where
        lower is better; a ratio (responders, improvement) favours it above 1."""
        return self.outcome in LOWER_IS_BETTER and not self.measure.is_ratio

    @classmethod
    def from_row(cls, row: pd.Series) -> "AnalysisSpec":
        def words(value: Any) -> tuple[str, ...]:
            return tuple(str(value).split()) if pd.notna(value) and str(value).strip() else ()

        return cls(
            analysis_id=str(row["analysis_id"]),
            title=str(row["title"]),
            outcome=str(row["outcome"]),
            measure=parse_option(Measure, str(row["measure"]), "measure"),
            timepoint=str(row["timepoint"]),
            intervention_classes=words(row.get("intervention_classes")),
            comparator_classes=words(row.get("comparator_classes")),
            method=parse_option(Method, str(row["method"]), "method"),
            test=parse_option(Test, str(row["test"]), "test"),
            mid=float(row["mid"]) if pd.notna(row.get("mid")) else float("nan"),
        )


@dataclass(frozen=True)
class AnalysisResult:
    """The outcome of one analysis: the per-trial effect sizes, the pooled result and the trials left
    out with reasons. ``pooled`` is None when fewer than one trial could be included."""

    spec: AnalysisSpec
    studies: pd.DataFrame
    excluded: pd.DataFrame
    pooled: PoolResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def k(self) -> int:
        return 0 if self.pooled is None else self.pooled.k

    def summary_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"analysis_id": self.spec.analysis_id, "title": self.spec.title,
                               "outcome": self.spec.outcome, "measure": self.spec.measure.value}  # fmt: skip
        if self.pooled is None:
            row.update(k=len(self.studies))
            return row
        row.update(self.pooled.to_dict())
        row["participants"] = int(np.nansum(self.studies["n1"]) + np.nansum(self.studies["n2"]))
        return row


def analysis_specs(data: StudyData) -> list[AnalysisSpec]:
    """Every analysis declared in ``analyses.csv``."""
    return [AnalysisSpec.from_row(r) for _, r in data.analyses.iterrows()]


def _is_baseline(label: str) -> bool:
    low = str(label).lower()
    return any(low.startswith(w) for w in BASELINE_WORDS)


def _choose_rows(rows: pd.DataFrame, rule: str, binary: bool = False) -> tuple[pd.DataFrame, str]:
    """Rows of one trial for one instrument and one time point, and a note on the choice."""
    rows = rows[rows["events"].notna()] if binary else rows[rows["events"].isna()]
    if rows.empty:
        return rows, "no event counts reported" if binary else "only event counts reported"
    post = rows[~rows["timepoint"].map(_is_baseline)]
    if post.empty:
        return post, "only baseline values reported"
    final = post[post["value_type"] == "final"]
    post = final if not final.empty else post
    counts = post.groupby("instrument")["arm_role"].nunique()
    both = counts[counts == 2].index
    if len(both) == 0:
        return post.iloc[0:0], "intervention and control arms are not both reported"
    instrument = sorted(both)[0]
    post = post[post["instrument"] == instrument]
    order = post.assign(_w=post["weeks"].fillna(np.inf), _pos=range(len(post)))
    order = order.sort_values(["_w", "_pos"])
    timepoints = list(dict.fromkeys(order["timepoint"]))
    chosen = timepoints[0] if rule == "first_post" else timepoints[-1]
    pick = post[post["timepoint"] == chosen]
    if pick.groupby("arm_role").size().size < 2:
        return pick.iloc[0:0], f"time point '{chosen}' lacks one of the arms"
    return pick, f"{instrument}, {chosen}"


def _combine(arms: pd.DataFrame) -> tuple[float, float, float, int]:
    """Combine the arms of one role into one group: (n, mean, sd, number combined)."""
    n, m, s = float(arms.iloc[0]["n"]), float(arms.iloc[0]["mean"]), float(arms.iloc[0]["sd"])
    for _, r in arms.iloc[1:].iterrows():
        n, m, s = (float(x) for x in combine_arms(n, m, s, r["n"], r["mean"], r["sd"]))
    return n, m, s, len(arms)


def _arm_effects(data: StudyData, spec: AnalysisSpec, trial_ids: list[str]) -> tuple[list[dict], list[dict]]:
    rows, skipped = [], []
    binary = spec.measure in (Measure.RR, Measure.OR, Measure.RD)
    out = data.outcomes
    out = out[(out["outcome"] == spec.outcome) & out["study_id"].isin(trial_ids)]
    majority = out["direction"].mode().iat[0] if len(out) else "lower_better"
    for sid, group in out.groupby("study_id", sort=True):
        pick, note = _choose_rows(group, spec.timepoint, binary)
        if pick.empty:
            skipped.append({"study_id": sid, "reason": note})
            continue
        tx = pick[pick["arm_role"] == "intervention"]
        ct = pick[pick["arm_role"] == "control"]
        base = {"study_id": sid, "source": "arms", "instrument": pick["instrument"].iat[0],
                "timepoint": pick["timepoint"].iat[0], "value_type": pick["value_type"].iat[0]}  # fmt: skip
        if binary:
            if tx["n"].isna().any() or ct["n"].isna().any():
                skipped.append({"study_id": sid, "reason": f"{note}: n not available"})
                continue
            # arms of the same role are combined by adding events and participants (Handbook 23.3.4)
            rows.append({**base, "ai": float(tx["events"].sum()), "n1": float(tx["n"].sum()),
                         "ci": float(ct["events"].sum()), "n2": float(ct["n"].sum()),
                         "arms_combined": len(tx) > 1 or len(ct) > 1, "sign": 1.0, "derivation": "reported"})  # fmt: skip
            continue
        filled = fill_mean_sd(pick)
        if filled[["n", "mean", "sd"]].isna().any().any():
            missing = ", ".join(c for c in ("n", "mean", "sd") if filled[c].isna().any())
            skipped.append({"study_id": sid, "reason": f"{note}: {missing} not available"})
            continue
        tx = filled[filled["arm_role"] == "intervention"]
        ct = filled[filled["arm_role"] == "control"]
        n1, m1, s1, a1 = _combine(tx)
        n2, m2, s2, a2 = _combine(ct)
        sign = 1.0 if pick["direction"].iat[0] == majority else -1.0
        derivations = sorted(set(filled["derivation"]) - {"reported"})
        rows.append({
            **base, "unit": pick["unit"].iat[0],
            "n1": n1, "mean1": m1, "sd1": s1, "n2": n2, "mean2": m2, "sd2": s2,
            "arms_combined": (a1 > 1) or (a2 > 1), "sign": sign,
            "derivation": "; ".join(derivations) if derivations else "reported",
        })  # fmt: skip
    return rows, skipped


def _scale(row: dict) -> tuple[str, str]:
    """The scale of a raw difference: its unit, plus the instrument when the unit alone does not fix
    the scale ("points" of one questionnaire are not points of another)."""
    unit = str(row.get("unit", "")).strip()
    return (unit, "") if unit in ("mm", "cm", "kg/cm2", "N/cm2", "kPa", "degrees") else (unit, str(row["instrument"]))


def _one_scale(arm_rows: list[dict], con_rows: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """Raw mean differences pool only on one scale: keep the commonest scale, list the rest."""
    scales = pd.Series([_scale(r) for r in arm_rows + con_rows])
    if scales.empty:
        return arm_rows, con_rows, []
    keep = scales.mode().iat[0]
    skipped = [{"study_id": r["study_id"], "reason": f"different scale ({r['instrument']}, {r['unit']}) from the analysis ({keep[0]})"}
               for r in arm_rows + con_rows if _scale(r) != keep]  # fmt: skip
    return [r for r in arm_rows if _scale(r) == keep], [r for r in con_rows if _scale(r) == keep], skipped


def _contrast_effects(data: StudyData, spec: AnalysisSpec, trial_ids: list[str], done: set[str]) -> tuple[list[dict], list[dict]]:
    rows, skipped = [], []
    con = data.contrasts
    con = con[(con["outcome"] == spec.outcome) & con["study_id"].isin(trial_ids) & ~con["study_id"].isin(done)]
    for sid, group in con.groupby("study_id", sort=True):
        usable = group[group["ci_low"].notna() | group["se"].notna()]
        usable = usable[usable["measure"] == spec.measure.value]
        if not usable.empty and (usable["orientation"] == "not_stated").all():
            skipped.append({"study_id": sid, "reason": "the report does not say which way the difference runs"})
            continue
        usable = usable[usable["orientation"] != "not_stated"]
        if usable.empty:
            skipped.append({"study_id": sid, "reason": f"reports only a between-group difference, not as {spec.measure.value} with CI/SE"})
            continue
        for _, r in usable.iterrows():  # every usable difference; one per trial is kept later
            sign = -1.0 if r["orientation"] == "control_minus_intervention" else 1.0
            rows.append({
                "study_id": sid, "source": "contrast", "instrument": r["instrument"], "timepoint": r["timepoint"],
                "value_type": "difference", "estimate": sign * float(r["estimate"]),
                "ci_low": sign * float(r["ci_high"] if sign < 0 else r["ci_low"]),
                "ci_high": sign * float(r["ci_low"] if sign < 0 else r["ci_high"]), "se": float(r["se"]),
                "n1": float(r["n1"]) if pd.notna(r["n1"]) else np.nan, "n2": float(r["n2"]) if pd.notna(r["n2"]) else np.nan,
                "unit": r["unit"], "sign": 1.0, "derivation": "between-group difference as reported",
            })  # fmt: skip
    return rows, skipped


def trials_of_question(data: StudyData, intervention_classes: Any, comparator_classes: Any,
                       statuses: tuple[str, ...] = ("included",)) -> pd.DataFrame:  # fmt: skip
    """The trials (rows of trials.csv) with these inclusion statuses whose intervention and comparator
    classes are those declared (an empty declaration accepts any class)."""
    t = data.trials
    keep = t["inclusion_status"].isin(statuses)
    if intervention_classes:
        keep &= t["intervention_class"].isin(intervention_classes)
    if comparator_classes:
        keep &= t["comparator_class"].isin(comparator_classes)
    return t[keep]


def trials_reporting(data: StudyData, outcome: str) -> set[str]:
    """study_ids with any arm-level or between-group row for ``outcome``."""
    return set(data.outcomes.loc[data.outcomes["outcome"] == outcome, "study_id"]) | set(
        data.contrasts.loc[data.contrasts["outcome"] == outcome, "study_id"])  # fmt: skip


def run_analysis(data: StudyData, spec: AnalysisSpec) -> AnalysisResult:
    """Run one declared analysis on the dataset."""
    trials = data.trials
    ids = trials_of_question(data, spec.intervention_classes, spec.comparator_classes)["study_id"].tolist()
    arm_rows, skipped = _arm_effects(data, spec, ids)
    con_rows, skipped_c = _contrast_effects(data, spec, ids, {r["study_id"] for r in arm_rows})
    skipped += skipped_c
    if spec.measure is Measure.MD:
        arm_rows, con_rows, skipped_s = _one_scale(arm_rows, con_rows)
        kept = {r["study_id"] for r in arm_rows + con_rows}
        skipped += [x for x in skipped_s if x["study_id"] not in kept]
    first: dict[str, dict] = {}
    for r in con_rows:  # one difference per trial: the first in file order on the analysis scale
        first.setdefault(r["study_id"], r)
    con_rows = list(first.values())
    frames = []
    if arm_rows and spec.measure in (Measure.RR, Measure.OR, Measure.RD):
        arms = pd.DataFrame(arm_rows)
        es = effect_sizes(arms.rename(columns={"n1": "n1i", "n2": "n2i"}), spec.measure)
        arms["yi"], arms["vi"] = es["yi"].to_numpy(), es["vi"].to_numpy()
        frames.append(arms)
    elif arm_rows:
        arms = pd.DataFrame(arm_rows)
        es = effect_sizes(arms.rename(columns={"n1": "n1i", "mean1": "m1i", "sd1": "sd1i", "n2": "n2i",
                                               "mean2": "m2i", "sd2": "sd2i"}), spec.measure)  # fmt: skip
        arms["yi"] = es["yi"].to_numpy() * arms["sign"]
        arms["vi"] = es["vi"].to_numpy()
        frames.append(arms)
    if con_rows:
        con = pd.DataFrame(con_rows)
        es = effect_sizes(con, Measure.GENERIC)
        con["yi"], con["vi"] = es["yi"].to_numpy(), es["vi"].to_numpy()
        frames.append(con)
    studies = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["study_id", "yi", "vi", "n1", "n2"])  # fmt: skip
    meta = trials.set_index("study_id")
    if len(studies):
        studies["label"] = [_label(meta.loc[s]) for s in studies["study_id"]]
        for col in ("year", "intervention_class", "comparator_class", "population"):
            studies[col] = [meta.loc[s, col] for s in studies["study_id"]]
    for sid in sorted(trials_reporting(data, spec.outcome) - set(ids)):
        # trials of this question (matching classes) that are not in the review; other classes are
        # simply other questions and are not listed
        if sid in meta.index:
            r = meta.loc[sid]
            fits = (not spec.intervention_classes or r["intervention_class"] in spec.intervention_classes) and (
                not spec.comparator_classes or r["comparator_class"] in spec.comparator_classes)  # fmt: skip
            if fits and r["inclusion_status"] != "included":
                reason = r["exclusion_reason"] if pd.notna(r["exclusion_reason"]) else ""
                skipped.append({"study_id": sid, "reason": f"not included in the review ({r['inclusion_status']}: {reason})"})
    excluded = pd.DataFrame(skipped, columns=["study_id", "reason"]).sort_values("study_id", ignore_index=True)
    _refuse_repeated_studies(data, spec, list(studies["study_id"]) if len(studies) else [])
    pooled = None
    if len(studies):
        studies = studies.sort_values(["year", "study_id"], ignore_index=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingleStudyWarning)
            pooled = pool(studies["yi"], studies["vi"], method=spec.method, test=spec.test,
                          labels=studies["label"].tolist())  # fmt: skip
    return AnalysisResult(spec=spec, studies=studies, excluded=excluded, pooled=pooled)


def run_all(data: StudyData) -> dict[str, AnalysisResult]:
    """Every declared analysis, keyed by ``analysis_id``."""
    return {spec.analysis_id: run_analysis(data, spec) for spec in analysis_specs(data)}


def _refuse_repeated_studies(data: StudyData, spec: AnalysisSpec, entering: list[str]) -> None:
    """One study counts once: two trials.csv rows that are reports of one study (reports.csv links one to
    the other, or they share a registration) must not both enter an analysis. Validation refuses such
    data; this guards data loaded without validation or built in code."""
    groups = study_groups(data.trials, data.reports, data.registrations)
    first: dict[str, str] = {}
    problems = []
    for sid in entering:
        study = groups.get(sid, sid)
        if study in first and first[study] != sid:
            problems.append(DataProblem(
                f"analysis {spec.analysis_id!r}: trial {sid!r} is a report of the same study as {first[study]!r} "
                f"(study {study!r}); the study would enter the analysis twice", file=f"{data.path.name}/trials.csv",
                column="study_id", value=sid, fix="keep one study_id for the study in trials.csv and list the other "
                "publication in reports.csv, with its results rows pointing at the surviving study_id"))  # fmt: skip
        first.setdefault(study, sid)
    if problems:
        raise StudyDataError(problems)


def _label(row: pd.Series) -> str:
    return trial_label(str(row.name), row.get("authors"), row.get("year"))
