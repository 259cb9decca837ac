"""The analysis layer: trial selection, time points, multi-arm combination, contrasts, binary and raw
mean-difference analyses, and the reasons given for trials that cannot enter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.models.conversions import combine_arms
from tpmeta.options import Measure
from tpmeta.review.analyses import AnalysisSpec, run_analysis

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_studies"


@pytest.fixture()
def data():
    return tpmeta.load_studies(MINI)


def spec(**kw):
    base = dict(analysis_id="a", title="t", outcome="pain_intensity", measure=Measure.SMD, timepoint="first_post",
                intervention_classes=("ischemic_compression",), comparator_classes=("sham",))
    base.update(kw)
    return AnalysisSpec(**base)


def _row(o, **kw):
    r = o.iloc[0].copy()
    for k, v in kw.items():
        r[k] = v
    return r


def test_matches_direct_effect_sizes_and_pool(data):
    res = run_analysis(data, spec())
    o = data.outcomes
    tx, ct = o[o.arm_role == "intervention"].reset_index(), o[o.arm_role == "control"].reset_index()
    es = tpmeta.effect_sizes(pd.DataFrame({"m1i": tx["mean"], "sd1i": tx.sd, "n1i": tx.n, "m2i": ct["mean"],
                                           "sd2i": ct.sd, "n2i": ct.n}), "SMD")
    direct = tpmeta.pool(es.yi, es.vi, method="REML", test="knha")
    assert res.pooled.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert res.k == 3 and res.excluded.empty


def test_two_intervention_arms_are_combined(data):
    o = data.outcomes
    extra = _row(o, arm="IC long", mean=2.5, sd=1.1, n=20, source_quote="IC long: n = 20, 2.5 (1.1)")
    data2 = dataclasses.replace(data, outcomes=pd.concat([o, extra.to_frame().T], ignore_index=True))
    res = run_analysis(data2, spec())
    first = res.studies.set_index("study_id").loc["fixture2001"]
    n, m, s = combine_arms(20, 3.1, 1.2, 20, 2.5, 1.1)
    assert (first.n1, first.mean1, first.sd1) == pytest.approx((float(n), float(m), float(s)))
    assert bool(first.arms_combined)


def test_timepoint_rules(data):
    o = data.outcomes
    later = o[o.study_id == "fixture2001"].copy()
    later["timepoint"], later["weeks"] = "follow-up", 12.0
    later.loc[later.arm_role == "intervention", "mean"] = 1.0
    data2 = dataclasses.replace(data, outcomes=pd.concat([o, later], ignore_index=True))
    first = run_analysis(data2, spec()).studies.set_index("study_id").loc["fixture2001"]
    last = run_analysis(data2, spec(timepoint="last")).studies.set_index("study_id").loc["fixture2001"]
    assert first.timepoint == "post-treatment" and last.timepoint == "follow-up" and last.mean1 == 1.0


def test_missing_spread_is_reported_not_pooled(data):
    o = data.outcomes.copy()
    o.loc[(o.study_id == "fixture2003") & (o.arm_role == "control"), "sd"] = np.nan
    res = run_analysis(dataclasses.replace(data, outcomes=o), spec())
    assert res.k == 2
    reason = res.excluded.set_index("study_id").loc["fixture2003", "reason"]
    assert "sd not available" in reason


def test_binary_risk_ratio(data):
    o = data.outcomes
    rows = []
    for sid, (a, c) in {"fixture2001": (12, 5), "fixture2002": (15, 9)}.items():
        for role, ev in (("intervention", a), ("control", c)):
            r = o[(o.study_id == sid) & (o.arm_role == role)].iloc[0].copy()
            r["events"], r["instrument"], r["direction"] = ev, "responders", "higher_better"
            r["mean"] = r["sd"] = np.nan
            rows.append(r)
    data2 = dataclasses.replace(data, outcomes=pd.concat([o, pd.DataFrame(rows)], ignore_index=True))
    res = run_analysis(data2, spec(measure=Measure.RR))
    es = tpmeta.effect_sizes(pd.DataFrame({"ai": [12, 15], "n1i": [20, 25], "ci": [5, 9], "n2i": [20, 25]}), "RR")
    np.testing.assert_allclose(res.studies.sort_values("study_id").yi, es.yi)


def test_raw_mean_differences_keep_one_scale(data):
    o = data.outcomes.copy()
    o.loc[o.study_id == "fixture2003", "unit"] = "mm"
    o.loc[o.study_id == "fixture2003", "instrument"] = "VAS_0_100"
    res = run_analysis(dataclasses.replace(data, outcomes=o), spec(measure=Measure.MD))
    assert res.k == 2
    assert "different scale" in res.excluded.set_index("study_id").loc["fixture2003", "reason"]


def test_contrast_orientation(data):
    c = pd.DataFrame([{
        "study_id": "fixture2001", "outcome": "disability", "instrument": "NDI", "unit": "points", "timepoint": "6 weeks",
        "weeks": 6.0, "comparison": "IC vs sham", "measure": "MD", "orientation": "control_minus_intervention",
        "estimate": 5.0, "ci_low": 1.0, "ci_high": 9.0, "se": np.nan, "pvalue": pd.NA, "n1": pd.NA, "n2": pd.NA,
        "direction": "lower_better", "source_url": "https://example.org", "source_location": "Abstract",
        "source_quote": "difference 5.0 (1.0 to 9.0)", "extraction_note": pd.NA}])
    res = run_analysis(dataclasses.replace(data, contrasts=c), spec(outcome="disability", measure=Measure.MD))
    row = res.studies.iloc[0]
    assert (row.estimate, row.ci_low, row.ci_high) == (-5.0, -9.0, -1.0)  # intervention minus control
    assert res.pooled.estimate == pytest.approx(-5.0)
