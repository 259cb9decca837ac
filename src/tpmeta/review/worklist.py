"""The full-text worklist: which papers to extract first, ranked by how much they could change the review.

For every trial that could enter a declared analysis but lacks usable numbers (``data_status =
full_text_needed``, or a trial of the analysis' question that the analysis had to leave out because its
abstract gives too little), tpmeta asks two questions of its sample size and the analysis' current
precision:

* **Expected CI shrinkage.** A trial of ``n`` participants would have a sampling variance of about
  ``v = c / n``, with ``c`` the median of ``vᵢ·nᵢ`` over the trials already pooled (for SMD with no
  trial pooled yet, ``c = 4``: equal arms, ``v ≈ 4/n``). With the current τ̂² held fixed, its weight is
  ``w = 1/(v + τ̂²)`` and the standard error of the pooled effect becomes ``(Σwᵢ + w)^(−1/2)``;
  the shrinkage is ``1 − SE_new/SE_now`` (100 % for an analysis that has no trial yet). This is the
  information the trial adds, comparable across analyses.
* **Chance the conclusion flips.** The trial's result is unknown; under the random-effects model it
  would be drawn from the predictive distribution ``N(μ̂, τ̂² + SE² + v)``. Its 99 quantiles (a
  deterministic quadrature, no random numbers, so the worklist is the same on every run) are each added
  to the analysis and the analysis is refitted with its own method and test in one batched call; the
  chance is the share of refits whose confidence interval excludes no effect when the current one
  includes it, or the reverse.

Rows are ranked by shrinkage, then by the chance of a flip. This is a planning aid, with stated
assumptions. Which outcomes a trial measured is often not in its abstract: a trial counts for an
analysis when its abstract shows the outcome (``outcome_known``), or when the outcome is pain intensity
as a score (``ASSUMED_OUTCOME``, SMD or MD; not responder counts), which almost every trial here measures (the share among trials whose
outcomes are known is :func:`pain_share`). Effects of the trial's risk of bias are not modelled.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from ..dataset.studies import StudyData, trial_label
from ..models.pooling import pool_batch
from ..options import Measure
from .analyses import AnalysisResult, trials_of_question, trials_reporting

__all__ = ["full_text_worklist", "pain_share", "WORKLIST_COLUMNS", "ASSUMED_OUTCOME"]

#: the outcome a trial is assumed to report when its abstract does not list its outcomes
ASSUMED_OUTCOME = "pain_intensity"

WORKLIST_COLUMNS = ["rank", "study_id", "trial", "doi", "pmid", "n", "analysis_id", "k_now", "outcome_known",
                    "why", "ci_shrinkage", "p_flip", "analyses"]  # fmt: skip
_QUANTILES = stats.norm.ppf((np.arange(99) + 0.5) / 99)  # deterministic draws of the unknown result


def _candidates(data: StudyData, res: AnalysisResult) -> pd.DataFrame:
    """Trials that could enter ``res`` with their full text, and why they are not in it yet."""
    spec = res.spec
    pooled = set(res.studies.get("study_id", pd.Series(dtype=str)))
    question = trials_of_question(data, spec.intervention_classes, spec.comparator_classes, ("included", "awaiting"))
    reported = trials_reporting(data, spec.outcome)
    left_out = res.excluded.drop_duplicates("study_id").set_index("study_id")["reason"]
    rows = []
    for r in question[~question["study_id"].isin(pooled)].itertuples():
        if r.data_status == "full_text_needed":
            why = "abstract gives no usable numbers" + ("" if r.inclusion_status == "included"
                                                        else "; eligibility also needs the full text")  # fmt: skip
        elif r.study_id in left_out.index and not str(left_out[r.study_id]).startswith("not included"):
            why = str(left_out[r.study_id])
        else:
            continue
        known = r.study_id in reported
        if known or (spec.outcome == ASSUMED_OUTCOME and not spec.measure.is_ratio):  # pain as a score
            rows.append({"study_id": r.study_id, "n": r.n_randomised, "why": why, "outcome_known": known})
    return pd.DataFrame(rows, columns=["study_id", "n", "why", "outcome_known"])


def _variance_scale(res: AnalysisResult) -> float:
    """``c`` in ``v ≈ c/n``: from the pooled trials, or 4 for SMD when none has both n and v."""
    s = res.studies
    if len(s) and {"n1", "n2", "vi"} <= set(s.columns):
        n = pd.to_numeric(s["n1"], errors="coerce") + pd.to_numeric(s["n2"], errors="coerce")
        c = (s["vi"] * n)[n.notna()]
        if len(c):
            return float(c.median())
    return 4.0 if res.spec.measure is Measure.SMD else float("nan")


def _score(res: AnalysisResult, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected CI shrinkage and chance of a flip for trials of sizes ``n`` added to ``res``."""
    p = res.pooled
    if p is None:  # the trial would create the analysis
        return np.ones(len(n)), np.full(len(n), np.nan)
    v_new = _variance_scale(res) / n
    w = 1.0 / (p.vi + p.tau2)
    se_now = 1.0 / np.sqrt(w.sum())
    se_new = 1.0 / np.sqrt(w.sum() + 1.0 / (v_new + p.tau2))
    shrink = 1.0 - se_new / se_now
    # refit with each of 99 predictive quantiles of the new trial's result, all candidates at once
    sd = np.sqrt(p.tau2 + p.se**2 + v_new)
    y_new = p.estimate + sd[:, None] * _QUANTILES[None, :]
    shape = (len(n), len(_QUANTILES))
    yi = np.concatenate([np.broadcast_to(p.yi, (*shape, p.k)), y_new[..., None]], axis=-1)
    vi = np.concatenate([np.broadcast_to(p.vi, (*shape, p.k)), np.broadcast_to(v_new[:, None, None], (*shape, 1))], axis=-1)
    ok = np.isfinite(v_new)
    fit = pool_batch(np.where(ok[:, None, None], yi, 0.0), np.where(ok[:, None, None], vi, 1.0),
                     method=p.method, test=p.test, level=p.level, tau2_ci=False)  # fmt: skip
    excludes_now = (p.ci_low > 0) or (p.ci_high < 0)
    excludes_new = (fit.ci_low > 0) | (fit.ci_high < 0)
    flip = (excludes_new != excludes_now).mean(axis=1)
    return np.where(ok, shrink, np.nan), np.where(ok, flip, np.nan)


def pain_share(data: StudyData) -> tuple[int, int]:
    """(trials reporting pain intensity, trials with any extracted outcome): the basis of the assumption."""
    known = set(data.outcomes["study_id"]) | set(data.contrasts["study_id"])
    pain = trials_reporting(data, ASSUMED_OUTCOME)
    return len(pain & known), len(known)


def full_text_worklist(data: StudyData, results: Mapping[str, AnalysisResult]) -> pd.DataFrame:
    """Rank the trials whose full text could change an analysis (see the module docstring).

    Returns one row per trial (its most affected analysis; ``analyses`` lists every analysis it could
    enter), ranked by expected CI shrinkage and then by the chance of a flip. ``ci_shrinkage`` and
    ``p_flip`` are proportions; NaN where the trial's size is not recorded.
    """
    rows = []
    for aid, res in results.items():
        cand = _candidates(data, res)
        if cand.empty:
            continue
        n = pd.to_numeric(cand["n"], errors="coerce").to_numpy(float)
        shrink, flip = _score(res, np.where(np.isfinite(n) & (n > 0), n, np.nan))
        rows.append(cand.assign(analysis_id=aid, k_now=0 if res.pooled is None else res.pooled.k,
                                ci_shrinkage=shrink, p_flip=flip))  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=WORKLIST_COLUMNS)
    every = pd.concat(rows, ignore_index=True)
    every = every.sort_values(["ci_shrinkage", "p_flip", "n"], ascending=False, na_position="last", kind="stable")
    analyses = every.groupby("study_id", sort=False)["analysis_id"].agg(lambda s: " ".join(sorted(s)))
    best = every.drop_duplicates("study_id").reset_index(drop=True)
    meta = data.trials.set_index("study_id")
    best["trial"] = [trial_label(s, meta.loc[s, "authors"], meta.loc[s, "year"]) for s in best["study_id"]]
    best["doi"] = [meta.loc[s, "doi"] if pd.notna(meta.loc[s, "doi"]) else "" for s in best["study_id"]]
    best["pmid"] = [str(meta.loc[s, "pmid"]) if pd.notna(meta.loc[s, "pmid"]) else "" for s in best["study_id"]]
    best["analyses"] = best["study_id"].map(analyses)
    best["rank"] = np.arange(1, len(best) + 1)
    best["n"] = pd.to_numeric(best["n"], errors="coerce").astype("Int64")
    return best[WORKLIST_COLUMNS]
