"""The full-text worklist: who is on it, how it is ranked, and its two numbers checked independently."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.cli import main
from tpmeta.review.worklist import (
    ASSUMED_OUTCOME,
    WORKLIST_COLUMNS,
    full_text_worklist,
    pain_share,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped():
    data = tpmeta.load_studies(ROOT / "studies")
    results = tpmeta.run_all(data)
    return data, results, full_text_worklist(data, results)


def test_candidates_are_trials_whose_full_text_could_add_numbers(shipped):
    data, results, work = shipped
    assert list(work.columns) == WORKLIST_COLUMNS and work["study_id"].is_unique
    assert work["rank"].tolist() == list(range(1, len(work) + 1))
    trials = data.trials.set_index("study_id")
    for row in work.itertuples():
        t = trials.loc[row.study_id]
        assert t["inclusion_status"] in ("included", "awaiting")
        res = results[row.analysis_id]
        assert row.study_id not in set(res.studies.get("study_id", []))  # not already pooled
        if t["data_status"] != "full_text_needed":  # left out for want of numbers the full text has
            assert row.study_id in set(res.excluded["study_id"]) and row.outcome_known
        if not row.outcome_known:  # an unknown outcome is assumed to be pain, as a score
            assert res.spec.outcome == ASSUMED_OUTCOME and not res.spec.measure.is_ratio
    n_pain, n_known = pain_share(data)
    assert 0 < n_pain <= n_known


def test_ranked_by_shrinkage_then_chance_of_a_flip(shipped):
    _, results, work = shipped
    key = list(zip(work["ci_shrinkage"].fillna(-1), work["p_flip"].fillna(-1)))
    assert key == sorted(key, reverse=True)
    empty = [a for a, r in results.items() if r.pooled is None]
    first = work[work["analysis_id"].isin(empty)]
    assert (first["ci_shrinkage"] == 1.0).all() and first["rank"].max() == len(first)  # they come first
    assert work["p_flip"].dropna().between(0, 1).all()


def test_shrinkage_matches_refitting_with_the_trial_added(shipped):
    """Independent check: append a trial of variance c/n and refit with τ² fixed at the current value."""
    _, results, work = shipped
    checked = 0
    for row in work.dropna(subset=["ci_shrinkage"]).itertuples():
        p = results[row.analysis_id].pooled
        if p is None:
            continue
        s = results[row.analysis_id].studies
        n_i = pd.to_numeric(s["n1"], errors="coerce") + pd.to_numeric(s["n2"], errors="coerce")
        c = float((s["vi"] * n_i)[n_i.notna()].median()) if n_i.notna().any() else 4.0
        v_new = c / float(row.n)
        with warnings.catch_warnings():  # an analysis of one trial warns that it is one trial
            warnings.simplefilter("ignore", tpmeta.SingleStudyWarning)
            now = tpmeta.pool(p.yi, p.vi, tau2=p.tau2).se
        new = tpmeta.pool(np.append(p.yi, p.estimate), np.append(p.vi, v_new), tau2=p.tau2).se
        assert row.ci_shrinkage == pytest.approx(1 - new / now, rel=1e-12)
        checked += 1
    assert checked >= 10


def test_worklist_is_deterministic(shipped):
    data, results, work = shipped
    pd.testing.assert_frame_equal(work, full_text_worklist(data, results))


def test_cli_worklist(capsys):
    assert main(["worklist", "--studies", str(ROOT / "studies"), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= 4 and "ci_shrinkage" in out and "Traceback" not in out
    assert main(["worklist", "--studies", str(ROOT / "studies"), "--csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == ",".join(WORKLIST_COLUMNS)
