"""Egger's test in metafor's two forms (regtest model="rma" and model="lm", all six predictors),
Begg's test exactly as ranktest() for every k, Peters' and Harbord's tests.

Reference: tests/reference/metafor_regtest.json, written by tests/reference/metafor_regtest.R (R 4.2,
metafor 3.8.1; the exact call is stored with every case). Tolerances (relative, same absolute floor):

* CLOSED_FORM = 1e-9: the lm forms, Peters and Harbord (weighted least squares), Kendall's τ and its
  p-values, and the rma form with FE or DL (closed-form τ²): only rounding and the JSON's 15
  significant digits separate tpmeta from R.
* ITERATIVE = 1e-7: the rma form with REML, ML or PM τ² (tpmeta stops at a relative change of 1e-10,
  the reference at 1e-12).
* Where metafor gives no p-value (ranktest with k ≥ 171 and no ties: R's exact distribution divides
  by k! and overflows, so metafor reports NaN), τ is compared at CLOSED_FORM and tpmeta's exact
  p-value with the normal approximation at 5e-3 (the two converge as k grows; that is a plausibility
  check, not a reference).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta import pool
from tpmeta.diagnostics.regtest import (
    PREDICTORS,
    EggerResult,
    begg_test,
    egger_test,
    harbord_test,
    peters_test,
)
from tpmeta.errors import FewStudiesWarning

pytestmark = pytest.mark.filterwarnings("ignore::tpmeta.errors.FewStudiesWarning")

CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_regtest.json").read_text())
DATA = {d["dataset"]: d for d in REF["datasets"]}


def _close(got, expected, tol, name=""):
    if expected is None:
        assert np.isnan(got), name
    else:
        assert got == pytest.approx(expected, rel=tol, abs=tol), name


def _fit(case, dataset=None):
    d = DATA[dataset or case["dataset"]]
    return pool(d["yi"], d["vi"], method=case["method"], test=case["test"]), d.get("ni")


def test_reference_grid():
    assert REF["metafor_version"] == "3.8.1" and REF["r_version"].startswith("R version 4.2")
    seen = {(c["model"], c["predictor"]) for c in REF["regtest"]}
    assert seen == {(m, p) for m in ("rma", "lm") for p in PREDICTORS}
    assert {c["test"] for c in REF["regtest"]} == {"z", "knha"}
    assert max(c["k"] for c in REF["ranktest"] if not c["ties"]) >= 50
    assert all(c["call"].startswith("regtest(rma(") for c in REF["regtest"])


@pytest.mark.parametrize("case", REF["regtest"],
                         ids=lambda c: f"{c['dataset']}-{c['method']}-{c['test']}-{c['model']}-{c['predictor']}")
def test_egger_matches_regtest(case):
    res, ni = _fit(case)
    eg = egger_test(res, model=case["model"], predictor=case["predictor"], ni=ni)
    assert isinstance(eg, EggerResult) and eg.model == case["model"] and eg.predictor == case["predictor"]
    tol = ITERATIVE if case["model"] == "rma" and case["method"] in ("REML", "ML", "PM") else CLOSED_FORM
    for name, expected in case["expected"].items():
        _close(getattr(eg, name), expected, tol, name)


def test_rma_and_lm_can_disagree():
    # dat.curtis1998 (log ratio of means, k = 102): metafor's default flags asymmetry, the lm form not
    rows = {c["model"]: c["expected"]["pvalue"] for c in REF["regtest"]
            if c["dataset"] == "dat.curtis1998" and c["predictor"] == "sei"}  # fmt: skip
    assert rows["rma"] < 0.01 < 0.05 < rows["lm"]
    d = DATA["dat.curtis1998"]
    res = pool(d["yi"], d["vi"])
    assert egger_test(res).pvalue == pytest.approx(rows["lm"], rel=CLOSED_FORM)  # the default is lm
    assert egger_test(res, model="rma").pvalue == pytest.approx(rows["rma"], rel=ITERATIVE)


def test_rma_with_zero_tau2_and_unit_dispersion_is_lm_with_fixed_dispersion():
    d = DATA["dat.bcg"]
    fe = egger_test(pool(d["yi"], d["vi"], method="FE"), model="rma")
    lm = egger_test(pool(d["yi"], d["vi"], method="FE"))
    assert fe.slope == pytest.approx(lm.slope, rel=1e-12) and np.isnan(fe.df) and lm.df == len(d["yi"]) - 2
    assert fe.tau2 == 0.0 and np.isnan(lm.tau2)


def test_egger_level_defaults_to_the_model():
    d = DATA["dat.bcg"]
    res90 = pool(d["yi"], d["vi"], level=0.90)
    assert egger_test(res90).level == 0.90 and egger_test(res90, level=0.95).level == 0.95
    wide, narrow = egger_test(res90, level=0.99), egger_test(res90)
    assert wide.limit_ci_low < narrow.limit_ci_low < narrow.limit_estimate < narrow.limit_ci_high < wide.limit_ci_high


def test_egger_bad_options():
    d = DATA["dat.bcg"]
    res = pool(d["yi"], d["vi"])
    with pytest.raises(ValueError, match="model='glm'"):
        egger_test(res, model="glm")
    with pytest.raises(ValueError, match="predictor='se'"):
        egger_test(res, predictor="se")
    with pytest.raises(ValueError, match="needs the sample sizes: pass ni="):
        egger_test(res, predictor="ninv")
    with pytest.raises(ValueError, match="13 positive sample sizes"):
        egger_test(res, predictor="ni", ni=[10] * 12)
    with pytest.raises(ValueError, match="same ni"):
        egger_test(res, predictor="ni", ni=[50] * 13)
    assert np.isnan(egger_test(res, predictor="ni", ni=DATA["dat.bcg"]["ni"]).limit_estimate)


# ------------------------------------------------------------------------------------ Begg


@pytest.mark.parametrize("case", [c for c in REF["ranktest"] if c["expected"]["pvalue"] is not None],
                         ids=lambda c: f"{c['dataset']}-k{c['k']}")
def test_begg_matches_ranktest(case):
    bg = begg_test(pool(case["yi"], case["vi"]))
    assert bg.k == case["k"] and bg.exact == (not case["ties"])
    _close(bg.tau, case["expected"]["tau"], CLOSED_FORM, "tau")
    _close(bg.pvalue, case["expected"]["pvalue"], CLOSED_FORM, "pvalue")
    if case["ties"]:  # with ties metafor's exact=TRUE falls back to the normal approximation
        assert case["expected"]["pvalue"] == case["expected"]["pvalue_normal"]


def test_begg_exact_at_k_50_and_above():
    # dat.curtis1998: k = 102 without ties; the exact p differs from the normal approximation
    case = next(c for c in REF["ranktest"] if c["dataset"] == "dat.curtis1998")
    assert case["k"] >= 50 and not case["ties"]
    assert abs(case["expected"]["pvalue"] - case["expected"]["pvalue_normal"]) > 1e-6
    d = DATA["dat.curtis1998"]
    assert begg_test(pool(d["yi"], d["vi"])).pvalue == pytest.approx(case["expected"]["pvalue"], rel=CLOSED_FORM)


def test_begg_beyond_metafor():
    # k = 200 without ties: metafor reports p = NaN (R's exact distribution overflows); tpmeta gives the
    # exact p-value, which for k this large is close to the normal approximation
    case = next(c for c in REF["ranktest"] if c["dataset"] == "constructed.k200")
    assert case["k"] == 200 and not case["ties"] and case["expected"]["pvalue"] is None
    bg = begg_test(pool(case["yi"], case["vi"]))
    assert bg.exact and bg.tau == pytest.approx(case["expected"]["tau"], rel=CLOSED_FORM)
    assert bg.pvalue == pytest.approx(case["expected"]["pvalue_normal"], abs=5e-3)
    assert bg.pvalue != pytest.approx(case["expected"]["pvalue_normal"], abs=1e-6)


# ------------------------------------------------------------------------------------ Peters, Harbord


def _counts(case):
    return pd.DataFrame(case["counts"])


@pytest.mark.parametrize("case", [c for c in REF["binary"] if c["test"] == "Peters"],
                         ids=lambda c: f"{c['dataset']}-{c['measure']}")
def test_peters_matches_lm(case):
    res = pool(case["yi"], case["vi"])
    pt = peters_test(res, _counts(case))
    exp = case["expected"]
    assert pt.df == exp["df"] and pt.k == exp["df"] + 2
    for name in ("slope", "slope_se", "statistic", "pvalue", "intercept"):
        _close(getattr(pt, name), exp[name], CLOSED_FORM, name)


@pytest.mark.parametrize("case", [c for c in REF["binary"] if c["test"] == "Harbord"], ids=lambda c: c["dataset"])
def test_harbord_matches_lm_and_regtest_on_peto(case):
    hb = harbord_test(_counts(case))
    exp = case["expected"]
    assert hb.df == exp["df"] and list(hb.excluded) == [str(i) for i in exp["excluded"]]
    for name in ("bias", "bias_se", "statistic", "pvalue", "slope"):
        _close(getattr(hb, name), exp[name], CLOSED_FORM, name)
    # the same test, as metafor's regtest(model="lm") on Peto log odds ratios
    _close(hb.statistic, exp["regtest_statistic"], CLOSED_FORM)
    _close(hb.slope, exp["regtest_limit"], CLOSED_FORM)


def test_peters_excludes_zero_weight_studies_and_checks_input():
    case = next(c for c in REF["binary"] if c["test"] == "Peters" and c["dataset"].startswith("dat.yusuf"))
    counts = _counts(case)
    res = pool(case["yi"], case["vi"])
    pt = peters_test(res, counts)
    none = ((counts.ai + counts.ci) == 0) | ((counts.bi + counts.di) == 0)
    assert list(pt.excluded) == [str(i) for i in counts.index[none]] and pt.k == len(counts) - none.sum()
    renamed = counts.rename(columns={"ai": "events_tx"})
    assert peters_test(res, renamed, ai="events_tx").slope == pt.slope
    with pytest.raises(ValueError, match="rows but the model"):
        peters_test(res, counts.iloc[:-1])
    bad = counts.copy()
    bad.loc[bad.index[2], "bi"] = -3
    with pytest.raises(tpmeta.StudyDataError, match=r"row 2, column 'bi': counts cannot be negative"):
        peters_test(res, bad)
    with pytest.raises(ValueError, match="unknown column option"):
        harbord_test(counts, tpos="ai")


def test_binary_tests_warn_with_few_studies():
    tab = pd.DataFrame({"ai": [3, 12, 5, 30, 9], "n1i": [25, 100, 40, 300, 60],
                        "ci": [6, 15, 9, 38, 13], "n2i": [25, 100, 40, 300, 60]})  # fmt: skip
    es = tpmeta.effect_sizes(tab, "OR")
    with pytest.warns(FewStudiesWarning, match="Peters' test with 5 studies"):
        peters_test(pool(es["yi"], es["vi"]), es)
    with pytest.warns(FewStudiesWarning, match="Harbord's test with 5 studies"):
        harbord_test(tab)
    with pytest.raises(ValueError, match="at least 3 tables"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            harbord_test(tab.iloc[:2])
