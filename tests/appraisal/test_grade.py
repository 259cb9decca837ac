"""GRADE suggestions: every rule at and around its thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tpmeta.appraisal.grade import (
    THRESHOLDS,
    apply_overrides,
    suggest_grade,
    summary_of_findings,
)
from tpmeta.models.pooling import PoolResult
from tpmeta.options import Method, Test


def fake(yi=(0.5, 0.6, 0.4), weights=None, ci=(0.3, 0.9), i2=0.0, pi=(0.2, 1.0), k=None):
    yi = np.asarray(yi, float)
    k = k or yi.size
    weights = np.full(yi.size, 100.0 / yi.size) if weights is None else np.asarray(weights, float)
    nan = float("nan")
    return PoolResult(
        estimate=float(np.mean(ci)), se=0.1, statistic=nan, pvalue=nan, ci_low=ci[0], ci_high=ci[1], tau2=0.0,
        tau2_ci_low=nan, tau2_ci_high=nan, i2=i2, i2_ci_low=nan, i2_ci_high=nan, h2=nan, q=nan, q_pvalue=nan,
        pi_low=pi[0], pi_high=pi[1], k=k, df=k - 1, method=Method.REML, test=Test.Z, level=0.95, converged=True,
        n_iter=1, truncated=False, yi=yi, vi=np.full(yi.size, 0.04), weights=weights,
    )


def rob_down(weights, judgements):
    res = fake(yi=np.full(len(weights), 0.5), weights=weights)
    return suggest_grade("a", res, judgements, participants=1000).domain("risk_of_bias").suggested


@pytest.mark.parametrize(
    "weights, judgements, expected",
    [
        ([50, 50], ["high", "low"], 2),  # exactly 50% high -> -2
        ([49, 51], ["high", "low"], 1),  # just below -> -1 (>= 25% high)
        ([25, 75], ["high", "low"], 1),  # exactly 25% high -> -1
        ([24, 76], ["high", "low"], 0),  # just below, and < 50% high-or-concerns
        ([24, 26, 50], ["high", "some concerns", "low"], 1),  # 50% high-or-concerns -> -1
        ([24, 25, 51], ["high", "some concerns", "low"], 0),  # 49% -> none
        ([100], ["low"], 0),
        ([60, 40], [None, "low"], 1),  # unassessed counts as some concerns
    ],
)
def test_risk_of_bias_thresholds(weights, judgements, expected):
    assert rob_down(weights, judgements) == expected


@pytest.mark.parametrize(
    "yi, i2, pi, expected",
    [
        ((0.5, 0.6), 39.9, (0.1, 1.0), 0),
        ((0.5, 0.6), 40.0, (0.1, 1.0), 0),  # 40-75, one direction, PI excludes 0
        ((0.5, 0.6), 40.0, (-0.1, 1.0), 1),  # PI includes 0
        ((-0.5, 0.6), 60.0, (0.1, 1.0), 1),  # both sides
        ((0.5, 0.6), 74.9, (-0.1, 1.0), 1),
        ((0.5, 0.6), 75.0, (0.1, 1.0), 1),  # considerable, one direction
        ((-0.5, 0.6), 75.0, (-1.0, 1.0), 2),  # considerable, both sides
    ],
)
def test_inconsistency_thresholds(yi, i2, pi, expected):
    res = fake(yi=yi, i2=i2, pi=pi)
    assert suggest_grade("a", res, ["low"] * len(yi), participants=1000).domain("inconsistency").suggested == expected


def test_inconsistency_single_trial():
    res = fake(yi=(0.5,), i2=0.0, k=1)
    d = suggest_grade("a", res, ["low"], participants=1000).domain("inconsistency")
    assert d.suggested == 0 and "one trial" in d.reason


@pytest.mark.parametrize(
    "ci, n, expected",
    [
        ((0.6, 0.9), 400, 0),  # excludes 0 and MID 0.5, OIS met
        ((0.6, 0.9), 399, 1),  # OIS not met
        ((0.6, 0.9), 99, 2),  # far below
        ((0.6, 0.9), 100, 1),
        ((-0.1, 0.9), 1000, 1),  # includes no effect
        ((0.2, 0.7), 1000, 1),  # crosses the MID
        ((-0.5, 0.5), 1000, 2),  # includes benefit and harm of MID size (at threshold)
        ((-0.49, 0.5), 1000, 1),
    ],
)
def test_imprecision_thresholds(ci, n, expected):
    res = fake(ci=ci)
    assert suggest_grade("a", res, ["low"] * 3, participants=n).domain("imprecision").suggested == expected


def test_imprecision_custom_mid():
    res = fake(ci=(0.2, 0.7))
    assert suggest_grade("a", res, ["low"] * 3, participants=1000, mid=0.1).domain("imprecision").suggested == 0


def test_publication_bias_only_with_ten_trials():
    rng = np.random.default_rng(2)
    res = fake(yi=rng.normal(0.5, 0.1, 9))
    d = suggest_grade("a", res, ["low"] * 9, participants=1000).domain("publication_bias")
    assert d.suggested == 0 and "not testable" in d.reason
    assert THRESHOLDS["min_k_tests"] == 10
    # ten trials with a strong small-study effect: effects grow with SE
    v = np.linspace(0.01, 0.2, 10)
    y = 0.1 + 3 * np.sqrt(v)
    res10 = PoolResult(**{**fake(yi=y).__dict__, "yi": y, "vi": v, "k": 10, "df": 9})
    d10 = suggest_grade("a", res10, ["low"] * 10, participants=1000).domain("publication_bias")
    assert d10.suggested == 1 and "Egger" in d10.reason


def test_certainty_floor_and_overrides():
    res = fake(yi=(-0.5, 0.6), ci=(-0.6, 0.7), i2=80, pi=(-2, 2))
    g = suggest_grade("a", res, ["high", "high"], participants=50)
    assert g.suggested_certainty == "Very low" and g.total_downgrade > 3
    over = pd.DataFrame([{"analysis_id": "a", "domain": "indirectness", "downgrade": 1, "rationale": "latent TrPs"}])
    g2 = apply_overrides(g, over)
    assert g2.domain("indirectness").downgrade == 1 and g2.domain("indirectness").rationale == "latent TrPs"
    assert g2.domain("indirectness").suggested == 0


def test_summary_of_findings_footnotes():
    res = fake(ci=(-0.1, 0.9))
    g = suggest_grade("a", res, ["high", "low", "low"], participants=200)
    table, notes = summary_of_findings([{"outcome": "Pain (VAS), post", "effect": "0.40 [-0.10, 0.90]",
                                         "participants": 200, "studies": 3, "assessment": g}])
    assert list(table.columns) == ["Outcome", "Anticipated effect with comparator", "Effect with intervention (95% CI)",
                                   "Participants (studies)", "Certainty", "Comments"]
    assert len(notes) == sum(d.downgrade > 0 for d in g.domains)
    assert table.loc[0, "Certainty"].endswith("[" + ",".join(str(i) for i in range(1, len(notes) + 1)) + "]")


def test_ratio_imprecision_uses_relative_mid_and_unknown_participants():
    import math

    res = fake(ci=(math.log(0.9), math.log(1.6)))
    d = suggest_grade("a", res, ["low"] * 3, participants=1000, ratio=True).domain("imprecision")
    assert d.suggested == 1 and "0.90 to 1.60" in d.reason
    d0 = suggest_grade("a", fake(ci=(0.6, 0.9)), ["low"] * 3, participants=0).domain("imprecision")
    assert d0.suggested == 1 and "not reported" in d0.reason
