"""Egger's and Begg's tests against metafor's regtest(model="lm") and ranktest() (CLOSED_FORM: weighted
least squares and Kendall's tau are closed-form; the REML fit only provides yi and vi); trim and fill and PET-PEESE against metafor's trimfill() and R's lm(), their properties and bad input.

Reference values: tests/reference/metafor_bias.json, written by tests/reference/metafor_bias.R with
tightened controls passed to every internal rma.uni() call. Tolerances (relative, same absolute floor):

* EXACT: the side, k0 and the filled-in study count are integers and must be equal.
* CLOSED_FORM = 1e-9: se(k0) and p(k0) (functions of ranks), PET/PEESE (weighted least squares), and
  everything downstream of FE, DL, HE, SJ, HS fits.
* ITERATIVE = 1e-7: quantities downstream of REML, ML, PM or EB τ² (tpmeta stops at a relative change
  of 1e-10, metafor at 1e-12).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE

import tpmeta
from tpmeta import pool
from tpmeta.diagnostics.smallstudy import (
    PetPeeseResult,
    TrimFillResult,
    _metareg,
    begg_test,
    egger_test,
    pet_peese,
    trim_and_fill,
)
from tpmeta.options import Method

# The reference datasets and property tests use k < 10 on purpose (metafor computes these there too);
# the warning that says so is tested once, in test_few_studies_warn.
pytestmark = pytest.mark.filterwarnings("ignore::tpmeta.errors.FewStudiesWarning")

BIAS_REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "metafor_bias.json"
CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
ITERATIVE_METHODS = {"REML", "ML", "PM", "EB"}

REF = json.loads(BIAS_REFERENCE.read_text())
DATA = {d["dataset"]: d for d in REF["datasets"]}


def _tol(method: str) -> float:
    return ITERATIVE if method in ITERATIVE_METHODS else CLOSED_FORM


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    return np.array(DATA[name]["yi"]), np.array(DATA[name]["vi"])


def _tf_id(case):
    side = case["side_argument"] or "auto"
    return f"{case['dataset']}-{case['method']}-{case['estimator']}-{side}"


# ------------------------------------------------------------------------------------ grids


def test_grids_are_complete():
    grid = REF["grid"]
    tf = grid["trimfill"]
    cases = REF["trimfill"]
    auto = {(c["dataset"], c["method"], c["estimator"]) for c in cases if c["side_argument"] is None}
    assert auto == set(itertools.product(tf["datasets"], tf["methods"], tf["estimators"]))
    forced = {(c["dataset"], c["side_argument"], c["estimator"]) for c in cases if c["side_argument"]}
    assert forced == {(f["dataset"], f["side"], e) for f in tf["forced_side"] for e in tf["estimators"]}
    assert len(REF["trimfill"]) == len(auto) + len(forced)
    side = {(c["dataset"], c["method"]) for c in REF["side_regression"]}
    sg = grid["side_regression"]
    assert side == set(itertools.product(sg["datasets"], sg["methods"]))
    assert set(grid["side_regression"]["methods"]) == {m.value for m in Method}
    assert [c["dataset"] for c in REF["pet_peese"]] == grid["pet_peese"]["datasets"]
    # the datasets the brief asks for, filling on both sides, and a case that fills nothing
    assert {"dat.bcg", "dat.hackshaw1998"} <= set(tf["datasets"])
    sides = {c["expected"]["side"] for c in REF["trimfill"] if c["expected"]["k0"] > 0}
    assert sides == {"left", "right"}
    assert any(c["expected"]["k0"] == 0 for c in REF["trimfill"])


def test_reference_calls_are_recorded():
    for case in REF["trimfill"]:
        assert case["call"].startswith("trimfill(rma(yi, vi, ") and REF["rma_control"] in case["call"]
        assert f'estimator="{case["estimator"]}"' in case["call"]
    for case in REF["pet_peese"]:
        assert case["call"]["pet"] == "lm(yi ~ sei, weights = 1/vi)"
        assert case["call"]["peese"] == "lm(yi ~ vi, weights = 1/vi)"


# ------------------------------------------------------------------------------------ trim and fill


@pytest.mark.parametrize("case", REF["trimfill"], ids=_tf_id)
def test_trim_and_fill_matches_metafor(case):
    y, v = _data(case["dataset"])
    res = pool(y, v, method=case["method"])
    tf = trim_and_fill(res, estimator=case["estimator"], side=case["side_argument"])
    exp = case["expected"]
    assert isinstance(tf, TrimFillResult)
    assert tf.side == exp["side"] and tf.k0 == exp["k0"] and tf.filled.k == exp["k"]
    assert tf.se_k0 == pytest.approx(exp["se_k0"], rel=CLOSED_FORM)
    if exp["p_k0"] is None:
        assert np.isnan(tf.p_k0)
    else:
        assert tf.p_k0 == pytest.approx(exp["p_k0"], rel=CLOSED_FORM)
    tol = _tol(case["method"])
    np.testing.assert_allclose(tf.imputed_yi, exp["imputed_yi"], rtol=tol, atol=tol)
    np.testing.assert_allclose(tf.imputed_vi, exp["imputed_vi"], rtol=CLOSED_FORM)
    for name in ("estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "tau2", "q"):
        assert getattr(tf.filled, name) == pytest.approx(exp[name], rel=tol, abs=tol), name
    assert tf.estimate == tf.filled.estimate and tf.original_estimate == res.estimate
    assert tf.fill.sum() == tf.k0
    assert tf.filled.study_labels[res.k:] == [f"Filled {i + 1}" for i in range(tf.k0)]
    if tf.k0 == 0:
        assert tf.filled is res
    if case["side_argument"] is None:
        assert (tf.side_slope < 0) == (tf.side == "right")
    else:
        assert np.isnan(tf.side_slope)


@pytest.mark.parametrize("case", REF["side_regression"], ids=lambda c: f"{c['dataset']}-{c['method']}")
def test_side_selection_regression_matches_metafor(case):
    y, v = _data(case["dataset"])
    beta, tau2 = _metareg(y, v, np.sqrt(v), Method(case["method"]))
    tol = _tol(case["method"])
    exp = case["expected"]
    assert beta[0] == pytest.approx(exp["intercept"], rel=tol, abs=tol)
    assert beta[1] == pytest.approx(exp["slope"], rel=tol, abs=tol)
    assert tau2 == pytest.approx(exp["tau2"], rel=tol, abs=tol)


def _symmetric_funnel(mu=0.3, m=6):
    """Pairs of studies with equal variance on either side of mu; in alternate pairs the study above
    mu lies a little further out, so that neither side has the larger ranks."""
    v = 0.01 * (np.arange(m) + 1.0) ** 2
    d = 1.3 * np.sqrt(v)
    shift = 0.02 * np.where(np.arange(m) % 2 == 0, -1.0, 1.0)  # the last (widest) pair: lower one further
    shift[-1] = -abs(shift[-1])
    y = np.concatenate([mu + d + shift, mu - d + shift])
    return y, np.concatenate([v, v])


@pytest.mark.parametrize("method", ["FE", "DL", "REML", "PM"])
@pytest.mark.parametrize("estimator", ["L0", "R0"])
@pytest.mark.parametrize("side", [None, "left", "right"])
def test_symmetric_funnel_fills_nothing(method, estimator, side):
    y, v = _symmetric_funnel()
    res = pool(y, v, method=method)
    tf = trim_and_fill(res, estimator=estimator, side=side)
    assert tf.k0 == 0 and tf.filled is res and tf.imputed_yi.size == 0
    assert tf.estimate == res.estimate and len(tf.imputed) == 0


def test_identical_effects_fill_nothing():
    res = pool([0.4] * 5, [0.01, 0.02, 0.03, 0.04, 0.05], method="DL")
    for estimator in ("L0", "R0"):
        assert trim_and_fill(res, estimator).k0 == 0


@pytest.mark.parametrize("estimator", ["L0", "R0"])
def test_mirrored_data_fill_the_other_side(estimator):
    y, v = _data("dat.hackshaw1998")
    a = trim_and_fill(pool(y, v, method="DL"), estimator)
    b = trim_and_fill(pool(-y, v, method="DL"), estimator)
    assert (a.side, b.side) == ("left", "right") and a.k0 == b.k0 > 0
    np.testing.assert_allclose(b.imputed_yi, -a.imputed_yi, rtol=1e-12)
    assert b.estimate == pytest.approx(-a.estimate, rel=1e-12)


def test_filled_model_keeps_test_and_level():
    # metafor's trimfill() refits with test="z", level=95 whatever the model used; tpmeta keeps them.
    # The pooled estimate and tau2 do not depend on the test, so they still match the z-test reference.
    y, v = _data("dat.hackshaw1998")
    ref = next(c for c in REF["trimfill"] if c["dataset"] == "dat.hackshaw1998" and c["method"] == "REML"
               and c["estimator"] == "L0" and c["side_argument"] is None)  # fmt: skip
    tf = trim_and_fill(pool(y, v, method="REML", test="knha", level=0.9))
    assert tf.filled.test.value == "knha" and tf.filled.level == 0.9
    assert tf.estimate == pytest.approx(ref["expected"]["estimate"], rel=ITERATIVE)
    assert tf.tau2 == pytest.approx(ref["expected"]["tau2"], rel=ITERATIVE)


def test_result_summary_and_imputed_frame():
    y, v = _data("dat.hackshaw1998")
    tf = trim_and_fill(pool(y, v, labels=DATA["dat.hackshaw1998"]["labels"]), "R0")
    row = tf.to_frame()
    assert row.loc[0, "k0"] == tf.k0 and row.loc[0, "side"] == "left" and "filled" not in row
    assert row.loc[0, "p_k0"] == pytest.approx(0.5 ** (tf.k0 + 1))
    imp = tf.imputed
    assert list(imp.columns) == ["study", "yi", "vi"] and len(imp) == tf.k0
    assert imp["study"].tolist()[0] == "Filled 1"
    assert tf.filled.study_labels[: len(y)] == DATA["dat.hackshaw1998"]["labels"]
    with pytest.raises(ValueError):
        tf.imputed_yi[0] = 1.0  # read-only
    assert "k0=" in repr(tf)


def test_trim_and_fill_bad_input():
    with pytest.raises(ValueError, match="at least 3 studies"):
        trim_and_fill(pool([0.1, 0.2], [0.1, 0.1]))
    res = pool([0.1, 0.2, 0.5], [0.1, 0.1, 0.2])
    with pytest.raises(ValueError, match="estimator"):
        trim_and_fill(res, estimator="Q0")
    with pytest.raises(ValueError, match="side"):
        trim_and_fill(res, side="up")
    equal = pool([0.1, 0.5, 0.2, 0.9], [0.04] * 4)
    with pytest.raises(ValueError, match="same variance"):
        trim_and_fill(equal)
    assert trim_and_fill(equal, side="left").side == "left"
    with pytest.raises(RuntimeError, match="did not converge"):
        y, v = _data("dat.hackshaw1998")
        trim_and_fill(pool(y, v), max_iter=1)


# ------------------------------------------------------------------------------------ PET-PEESE


@pytest.mark.parametrize("case", REF["pet_peese"], ids=lambda c: c["dataset"])
def test_pet_peese_match_lm(case):
    y, v = _data(case["dataset"])
    pp = pet_peese(pool(y, v))
    assert isinstance(pp, PetPeeseResult) and pp.df == case["pet"]["df"] == len(y) - 2
    for model in ("pet", "peese"):
        for key, expected in case[model].items():
            if key == "df":
                continue
            got = getattr(pp, f"{model}_{key}")
            assert got == pytest.approx(expected, rel=CLOSED_FORM, abs=CLOSED_FORM), f"{model}_{key}"


@pytest.mark.parametrize("case", REF["pet_peese"], ids=lambda c: c["dataset"])
def test_lm_and_fixed_effect_rma_differ_only_in_dispersion(case):
    # documents the choice: rma(method="FE") has lm's coefficients and SEs divided by lm's sigma
    for model in ("pet", "peese"):
        lm, rma = case[model], case[f"{model}_rma"]
        np.testing.assert_allclose(rma["coef"], [lm["intercept"], lm["slope"]], rtol=CLOSED_FORM)
        np.testing.assert_allclose(rma["se"], np.array([lm["intercept_se"], lm["slope_se"]]) / lm["sigma"],
                                   rtol=CLOSED_FORM)  # fmt: skip


def test_conditional_rule():
    # dat.egger2001: pooled log OR < 0 but PET's intercept is > 0 (two-sided p ≈ 0.010)
    y, v = _data("dat.egger2001")
    res = pool(y, v)
    assert res.estimate < 0
    auto = pet_peese(res)
    assert auto.pet_intercept > 0 and auto.pet_intercept_p < 0.05
    # PET's effect is not in the pooled direction: PET is kept
    assert auto.selected == "PET" and auto.estimate == auto.pet_intercept
    assert auto.rule_pvalue == pytest.approx(1 - auto.pet_intercept_p / 2, rel=1e-12)
    two = pet_peese(res, alternative="two-sided")
    assert two.selected == "PEESE" and two.estimate == two.peese_intercept
    assert two.rule_pvalue == two.pet_intercept_p
    greater = pet_peese(res, alternative="greater")
    assert greater.selected == "PEESE"
    assert greater.rule_pvalue == pytest.approx(auto.pet_intercept_p / 2, rel=1e-12)
    assert pet_peese(res, alternative="less").selected == "PET"
    # CI of the selected intercept: t quantile on k - 2 df
    from scipy import stats

    crit = stats.t.ppf(0.975, two.df)
    assert two.ci_low == pytest.approx(two.peese_intercept - crit * two.peese_intercept_se, rel=1e-12)
    assert two.ci_high == pytest.approx(two.peese_intercept + crit * two.peese_intercept_se, rel=1e-12)


def test_one_sided_rule_in_the_pooled_direction_is_two_sided_at_twice_alpha():
    rng = np.random.default_rng(7)
    for _ in range(20):
        v = rng.uniform(0.01, 0.2, 15)
        y = rng.normal(0.25, np.sqrt(v)) + 0.8 * np.sqrt(v) * rng.uniform(0, 1)
        res = pool(y, v, method="DL")
        auto = pet_peese(res)
        same_sign = np.sign(auto.pet_intercept) == np.sign(res.estimate)
        if same_sign:
            assert auto.selected == pet_peese(res, alpha=0.10, alternative="two-sided").selected


def test_pet_peese_bad_input():
    with pytest.raises(ValueError, match="at least 3 studies"):
        pet_peese(pool([0.1, 0.2], [0.1, 0.1]))
    res = pool([0.1, 0.2, 0.5, 0.4], [0.1, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="different precision"):
        pet_peese(pool([0.1, 0.5, 0.2, 0.9], [0.04] * 4))
    with pytest.raises(ValueError, match="alpha"):
        pet_peese(res, alpha=1.5)
    with pytest.raises(ValueError, match="alternative"):
        pet_peese(res, alternative="one-sided")
    with pytest.raises(ValueError, match="level"):
        pet_peese(res, level=95)
    row = pet_peese(res).to_frame()
    assert row.loc[0, "selected"] in ("PET", "PEESE") and row.loc[0, "df"] == 2


# ---- Egger and Begg --------------------------------------------------------------------------------



def _cases():
    return json.loads(REFERENCE.read_text())["small_study"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["dataset"])
def test_egger_and_begg_match_metafor(case):
    res = tpmeta.pool(case["yi"], case["vi"], method="REML")
    eg = egger_test(res)
    for name, expected in case["egger"].items():
        assert getattr(eg, name) == pytest.approx(expected, rel=CLOSED_FORM, abs=CLOSED_FORM), name
    bg = begg_test(res)
    assert bg.tau == pytest.approx(case["begg"]["tau"], rel=CLOSED_FORM)
    assert bg.pvalue == pytest.approx(case["begg"]["pvalue"], rel=1e-6)


def test_too_few_studies():
    res = tpmeta.pool([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="at least 3"):
        egger_test(res)
    with pytest.raises(ValueError, match="at least 3"):
        begg_test(res)


@pytest.mark.parametrize("fn", [egger_test, begg_test, trim_and_fill, pet_peese])
def test_few_studies_warn(fn):
    import warnings

    from tpmeta.errors import FewStudiesWarning

    rng = np.random.default_rng(5)
    v = rng.uniform(0.01, 0.1, 12)
    y = rng.normal(0.2, np.sqrt(v + 0.02))
    with pytest.warns(FewStudiesWarning, match="at least 10"):
        fn(pool(y[:9], v[:9]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(pool(y, v))  # k = 12: no warning
