"""pool(test="knha_adhoc") and pool(tau2=<fixed>) against metafor 3.8.1's rma(test="adhoc") and
rma(tau2=).

Reference: tests/reference/metafor_binary.R -> metafor_binary.json ("adhoc" and "fixed_tau2" cases on
dat.bcg, dat.normand1999, dat.li2007 and constructed edge cases; the ad hoc floor max(1, s²) is active in
some cases and not in others, which the JSON records as knha_s2).

Tolerances (relative to max(1, |expected|)), as in test_pooling_metafor:
- CLOSED_FORM = 1e-9: every fixed-τ² quantity and the FE/DL/SJ ad hoc fits are closed form; the only
  error is rounding and the 15 significant digits of the JSON, amplified by the t/normal quantiles.
- ITERATIVE = 1e-7: REML/PM τ² and the Q-profile bounds are roots solved to 1e-10 by tpmeta and 1e-12 by
  metafor (tightened controls in the JSON); 1e-7 leaves room for the conditioning of those equations.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import tpmeta
from tpmeta import SingleStudyWarning, Test

CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
REF = json.loads((Path(__file__).parents[1] / "reference" / "metafor_binary.json").read_text())
FIELDS = [
    "estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "tau2", "tau2_ci_low", "tau2_ci_high",
    "i2", "i2_ci_low", "i2_ci_high", "h2", "q", "q_pvalue", "pi_low", "pi_high",
]  # fmt: skip


def _compare(res, case, iterative: bool) -> None:
    e = case["expected"]
    assert res.k == e["k"] and res.tau2_fixed == e["tau2_fixed"]
    for name in FIELDS:
        want, got = e[name], getattr(res, name)
        if want is None:
            assert math.isnan(got), f"{name}: metafor gives no value, tpmeta {got}"
            continue
        tol = ITERATIVE if (iterative or "_ci_" in name) else CLOSED_FORM
        assert got == pytest.approx(want, rel=tol, abs=tol), name


@pytest.mark.parametrize("case", REF["adhoc"], ids=lambda c: f"{c['dataset']}-{c['method']}")
def test_knha_adhoc_matches_metafor_adhoc(case):
    assert case["call"].startswith('rma(yi, vi, method="') and 'test="adhoc"' in case["call"]
    res = tpmeta.pool(case["yi"], case["vi"], method=case["method"], test="knha_adhoc")
    assert res.converged and res.test is Test.KNHA_ADHOC
    _compare(res, case, case["method"] in ("REML", "PM"))


def test_adhoc_is_knha_with_the_factor_floored_at_one():
    floored = [c for c in REF["adhoc"] if c["knha_s2"] < 1 - 1e-6]
    assert floored and any(c["knha_s2"] > 1 + 1e-6 for c in REF["adhoc"])
    for case in REF["adhoc"]:
        z = tpmeta.pool(case["yi"], case["vi"], method=case["method"], test="z", tau2_ci=False)
        knha = tpmeta.pool(case["yi"], case["vi"], method=case["method"], test="knha", tau2_ci=False)
        adhoc = tpmeta.pool(case["yi"], case["vi"], method=case["method"], test="knha_adhoc", tau2_ci=False)
        assert adhoc.se == pytest.approx(max(knha.se, z.se), rel=1e-12)
        assert adhoc.ci_high - adhoc.ci_low >= knha.ci_high - knha.ci_low - 1e-12


def test_knha_adhoc_in_batch_and_single_study():
    case = REF["adhoc"][1]
    y, v = np.array(case["yi"]), np.array(case["vi"])
    batch = tpmeta.pool_batch(np.stack([y, y]), np.stack([v, v]), method=case["method"], test="knha_adhoc")
    np.testing.assert_allclose(batch.se, case["expected"]["se"], rtol=CLOSED_FORM)
    with pytest.warns(SingleStudyWarning):
        one = tpmeta.pool([0.3], [0.04], test="knha_adhoc")
    assert one.test is Test.Z and one.se == pytest.approx(0.2)  # metafor: test="z" since k = 1


@pytest.mark.parametrize("case", REF["subgroups"], ids=lambda c: f"{c['tau2']}-{c['method']}")
def test_knha_adhoc_subgroups_match_metafor(case):
    """Separate τ²: each subgroup is rma(subset=, test="adhoc") and Q_between the FE Q of their estimates;
    common τ²: the omnibus F test and cell means of rma(mods=~factor(alloc), test="adhoc")."""
    res = tpmeta.subgroup_analysis(case["yi"], case["vi"], case["groups"], method=case["method"],
                                   test="knha_adhoc", tau2=case["tau2"])  # fmt: skip
    e = case["expected"]
    tol = ITERATIVE if case["method"] == "REML" else CLOSED_FORM
    assert [name for name, _ in res.subgroups] == e["levels"] and res.test is Test.KNHA_ADHOC
    assert (res.df_between, res.df2_between) == (e["df_between"], e["df2_between"])
    for name in ("q_between", "pvalue_between"):
        assert getattr(res, name) == pytest.approx(e[name], rel=tol, abs=tol), name
    for field in ("estimate", "se", "ci_low", "ci_high"):
        got = [getattr(sub, field) for _, sub in res.subgroups]
        np.testing.assert_allclose(got, e[field], rtol=tol, atol=tol, err_msg=field)


@pytest.mark.parametrize("case", REF["fixed_tau2"], ids=lambda c: f"{c['dataset']}-{c['tau2']}-{c['method']}-{c['test']}")
def test_fixed_tau2_matches_metafor(case):
    assert f"tau2={case['tau2']:g}" in case["call"] or case["dataset"] == "edge.k1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleStudyWarning)
        res = tpmeta.pool(case["yi"], case["vi"], method=case["method"], test=case["test"], tau2=case["tau2"])
    assert res.tau2 == case["tau2"] and res.converged and res.n_iter == 0 and not res.truncated
    _compare(res, case, iterative=False)


def test_fixed_tau2_method_plays_no_part_and_batch_agrees():
    case = REF["fixed_tau2"][0]
    fits = [tpmeta.pool(case["yi"], case["vi"], method=m, tau2=0.1) for m in ("REML", "DL", "PM", "EB")]
    assert len({(f.estimate, f.se, f.i2, f.pi_low) for f in fits}) == 1
    assert "(fixed)" in repr(fits[0]) and fits[0].to_frame()["tau2_fixed"].iloc[0]
    y, v = np.array(case["yi"]), np.array(case["vi"])
    tau2 = np.array([0.0, 0.1, 0.5])
    batch = tpmeta.pool_batch(np.tile(y, (3, 1)), np.tile(v, (3, 1)), tau2=tau2, test="knha")
    assert batch.tau2_fixed and np.isnan(batch.tau2_ci_low).all()
    for i, t in enumerate(tau2):
        single = tpmeta.pool(y, v, test="knha", tau2=t)
        for name in ("estimate", "se", "ci_low", "i2", "h2", "pi_high"):
            assert getattr(batch, name)[i] == pytest.approx(getattr(single, name), rel=1e-12), name
    assert len(batch.to_frame()) == 3


def test_fixed_tau2_is_checked():
    for bad, message in [(-0.1, "≥ 0"), (float("nan"), "finite"), ("x", "number"), ([0.1, 0.2], "number")]:
        with pytest.raises(ValueError, match=message):
            tpmeta.pool([0.1, 0.3], [0.01, 0.02], tau2=bad)
    with pytest.raises(ValueError, match="FE"):
        tpmeta.pool([0.1, 0.3], [0.01, 0.02], method="FE", tau2=0.1)
    with pytest.raises(ValueError, match="batch shape"):
        tpmeta.pool_batch(np.zeros((2, 3)), np.ones((2, 3)), tau2=[0.1, 0.2, 0.3])
