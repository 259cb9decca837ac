"""Inference on fitted models against metafor 3.8: fit statistics and fixed τ², predict(), blup(),
likelihood-ratio tests (anova of two fits), Wald tests of coefficients and contrasts, and the Q-profile
interval for τ² (the profile-likelihood interval and profile(): test_profile.py).

Reference values: tests/reference/metafor_inference.json, written by metafor_inference.R (the exact call
is stored with every case); the tolerances CLOSED_FORM = 1e-9 and ITERATIVE = 1e-7 and why they are what
they are: ``inference_reference.py``. The Q-profile bounds are also checked against the equation they
solve, Q(τ²) = χ² quantile, with explicit k × k matrices.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from inference_reference import (  # noqa: E402
    CLOSED_FORM,
    ITERATIVE,
    REF,
    case_id,
    close,
    data,
    design,
    fit,
    ll,
    tol,
)
from scipy import stats

import tpmeta
from tpmeta.models.comparison import LRTResult, anova
from tpmeta.models.inference import (
    BlupResult,
    PredictResult,
    Tau2Interval,
    WaldResult,
    blup,
    confint_tau2,
    predict,
    wald_test,
)


def test_reference_metadata():
    assert REF["metafor_version"] == "3.8.1" and REF["r_version"].startswith("R version 4.2")
    for key in ("fits", "predict", "blup", "lrt", "wald", "contrasts", "confint", "profile"):
        assert REF[key] and all("call" in c for c in REF[key]), key
    assert "REML comparisons not meaningful" in REF["reml_different_fixed_effects"]["metafor_warning"]


# ---- fit statistics and fixed τ² -------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["fits"], ids=case_id)
def test_fit_statistics_and_fixed_tau2(case):
    m, e = case["model"], case["expected"]
    res = fit(m, pooled=False)
    t = tol(m)
    assert list(res.names) == list(e["names"]) and res.parms == e["parms"]
    assert res.tau2_fixed == (m["tau2"] is not None)
    if res.tau2_fixed:
        assert res.tau2 == m["tau2"] and math.isnan(res.tau2_se) and res.converged and res.n_iter == 0
    for name in ("coef", "se", "statistic", "pvalue", "ci_low", "ci_high", "tau2", "qm", "qm_pvalue", "qe",
                 "qe_pvalue", "i2", "h2", "r2"):  # fmt: skip
        close(getattr(res, name), e[name], t, name)
    close(res.loglik, e["logLik"], t, "logLik")
    stats_ = e["reml" if m["method"] == "REML" else "ml"]
    for name, key in (("deviance", "dev"), ("aic", "aic"), ("bic", "bic"), ("aicc", "aicc")):
        close(getattr(res, name), stats_[key], t, name)


def test_fixed_tau2_input():
    d = data("bcg")
    with pytest.raises(ValueError, match="method='FE' already has tau"):
        tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat"]], method="FE", tau2=0.1)
    with pytest.raises(ValueError, match="finite number >= 0"):
        tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat"]], tau2=-0.1)
    # k = p + 1 is enough when τ² is fixed (no τ² to estimate), as in metafor
    res = tpmeta.meta_regression(d["yi"][:3], d["vi"][:3], d[["ablat"]][:3], tau2=0.1)
    assert res.parms == 2 and "(fixed)" in repr(res)


# ---- predict ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["predict"], ids=case_id)
def test_predict_matches_metafor(case):
    m, e = case["model"], case["expected"]
    res = fit(m)
    level = case["level"] if case["level"] is not None else None
    pr = predict(res, case["newmods"], level=level)
    assert isinstance(pr, PredictResult) and pr.level == (level or m["level"])
    for name in ("pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        if name.startswith("pi") and m["method"] == "FE" and not e[name]:
            # metafor prints no prediction interval for a FE model; with τ² = 0 it is the CI
            np.testing.assert_array_equal(getattr(pr, name), getattr(pr, name.replace("pi", "ci")))
            continue
        close(getattr(pr, name), e[name], tol(m), name)


def test_predict_forms_of_newmods():
    d = data("bcg")
    res = tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat", "year"]])
    a = predict(res, [[30, 1960], [45, 1975]])
    b = predict(res, pd.DataFrame({"year": [1960, 1975], "ablat": [30, 45]}, index=["x", "y"]))
    c = predict(res, {"ablat": [30, 45], "year": [1960, 1975]})
    np.testing.assert_allclose(a.pred, b.pred, rtol=1e-14)
    np.testing.assert_allclose(a.pred, c.pred, rtol=1e-14)
    assert b.labels == ("x", "y") and list(b.to_frame().columns[:2]) == ["ablat", "year"]
    one = predict(res, [30, 1960])  # a 1-D array with several moderators is one row
    assert one.pred.shape == (1,) and one.pred[0] == pytest.approx(a.pred[0], rel=1e-14)
    # intercept=False drops the intercept from x (metafor's intercept=FALSE)
    no_int = predict(res, [[30, 1960]], intercept=False)
    assert no_int.pred[0] == pytest.approx(a.pred[0] - res.coef[0], rel=1e-12)
    # fitted values: X β̂ with study labels
    fitted = predict(res)
    np.testing.assert_allclose(fitted.pred, res.X @ res.coef, rtol=1e-13)
    assert fitted.labels == tuple(str(i) for i in range(13))  # the index of yi


def test_predict_of_a_pooled_model_is_its_estimate():
    d = data("normand")
    for test in ("z", "knha"):
        res = tpmeta.pool(d["yi"], d["vi"], test=test)
        pr = predict(res)
        for a, b in (("pred", "estimate"), ("se", "se"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                     ("pi_low", "pi_low"), ("pi_high", "pi_high")):  # fmt: skip
            assert float(getattr(pr, a)[0]) == pytest.approx(getattr(res, b), rel=1e-12), a
        with pytest.raises(ValueError, match="no moderators"):
            predict(res, [1.0])


def test_predict_bad_newmods():
    d = data("bcg")
    res = tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat", "alloc"]])
    with pytest.raises(ValueError, match=r"missing \['allocsystematic'\], unknown \['alloc'\]"):
        predict(res, pd.DataFrame({"ablat": [30], "allocrandom": [1], "alloc": [0]}))
    with pytest.raises(ValueError, match="2 column"):
        predict(res, [[30, 1]])
    with pytest.raises(ValueError, match="numeric"):
        predict(res, [["a", "b", "c"]])
    with pytest.raises(ValueError, match="level"):
        predict(res, [[30, 1, 0]], level=95)


# ---- blup ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["blup"], ids=case_id)
def test_blup_matches_metafor(case):
    m, e = case["model"], case["expected"]
    b = blup(fit(m), level=case["level"])
    assert isinstance(b, BlupResult)
    for name in ("pred", "se", "pi_low", "pi_high"):
        close(getattr(b, name), e[name], tol(m), name)


def test_blup_shrinks_between_study_and_prediction():
    d = data("bcg")
    res = tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat"]])
    b = blup(res)
    fitted = res.X @ res.coef
    lam = res.tau2 / (res.tau2 + res.vi)
    np.testing.assert_allclose(b.shrinkage, lam, rtol=1e-14)
    assert np.all((b.pred - fitted) * (res.yi - fitted) >= 0)  # on the study's side of the line
    assert np.all(np.abs(b.pred - fitted) <= np.abs(res.yi - fitted))
    frame = b.to_frame()
    assert list(frame.columns) == ["pred", "se", "pi_low", "pi_high", "shrinkage"] and len(frame) == 13


# ---- likelihood-ratio tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["lrt"], ids=case_id)
def test_lrt_matches_metafor(case):
    e = case["expected"]
    full, reduced = fit(case["full"]), fit(case["reduced"])
    t = tol(case["full"], case["reduced"])
    for a, b in ((full, reduced), (reduced, full)):  # either order, as metafor
        res = anova(a, b, refit=case["refit"])
        assert isinstance(res, LRTResult) and res.refit == case["refit"]
        assert (res.parms_full, res.parms_reduced, res.df) == (e["parms_full"], e["parms_reduced"],
                                                               e["parms_full"] - e["parms_reduced"])  # fmt: skip
        for which in ("full", "reduced"):
            for name, key in (("loglik", "ll"), ("deviance", "dev"), ("aic", "aic"), ("bic", "bic"), ("aicc", "aicc")):
                close(getattr(res, f"{name}_{which}"), e[which][key], t, f"{name}_{which}")
        for name in ("lrt", "pvalue", "qe_full", "qe_reduced", "tau2_full", "tau2_reduced", "r2"):
            close(getattr(res, name), e[name], t, name)


def test_lrt_refuses_what_is_not_a_likelihood_ratio_test():
    d = data("bcg")
    y, v = d["yi"], d["vi"]

    def mr(cols, **kw):
        return tpmeta.meta_regression(y, v, d[cols] if cols else None, **kw)

    with pytest.raises(ValueError, match="REML likelihoods of models with different fixed effects.*refit=True"):
        anova(mr(["ablat", "year"]), mr(["ablat"]))  # metafor 3.8 only warns (REF: metafor_warning)
    with pytest.raises(ValueError, match="both models have 3 parameters"):
        anova(mr(["ablat"]), mr(["year"]))
    with pytest.raises(ValueError, match="not nested"):
        anova(mr(["alloc"], method="ML"), mr(["ablat"], method="ML"))
    with pytest.raises(ValueError, match="method='ML' or 'REML'"):
        anova(mr(["ablat"], method="DL"), mr(None, method="DL"))
    with pytest.raises(ValueError, match="use the same likelihood"):
        anova(mr(["ablat"], method="ML"), mr(None, method="REML"))
    with pytest.raises(ValueError, match="FE model and the reduced one a random-effects"):
        anova(mr(["ablat", "year"], method="FE"), mr(None, method="ML"))
    with pytest.raises(ValueError, match="same yi and vi"):
        anova(mr(["ablat"], method="ML"), tpmeta.pool(y[:12], v[:12], method="ML"))
    with pytest.raises(TypeError, match="PoolResult"):
        anova(mr(["ablat"]), "model")


def test_lrt_is_twice_the_loglik_difference():
    """Independent check: 2 (ℓ_full − ℓ_reduced) with explicit k × k likelihoods at the fitted τ²."""
    case = REF["lrt"][0]
    full, reduced = fit(case["full"]), fit(case["reduced"])
    res = anova(full, reduced)
    want = 2 * (ll(full.yi, full.vi, full.X, full.tau2, False) - ll(reduced.yi, reduced.vi, reduced.X, reduced.tau2, False))
    assert res.lrt == pytest.approx(want, rel=CLOSED_FORM)
    assert res.pvalue == pytest.approx(stats.chi2.sf(want, res.df), rel=CLOSED_FORM)


# ---- Wald tests and contrasts ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["wald"], ids=case_id)
def test_wald_btt_matches_metafor(case):
    m, e = case["model"], case["expected"]
    btt = [b - 1 for b in case["btt"]]  # metafor counts from 1, tpmeta from 0
    w = wald_test(fit(m), btt, rhs=case["rhs"] if case["rhs"] is not None else 0.0)
    assert isinstance(w, WaldResult) and w.qm_df == e["qm_df"]
    assert w.qm_df2 == (None if e["qm_df2"] is None else int(e["qm_df2"]))
    close(w.qm, e["qm"], tol(m), "qm")
    close(w.qm_pvalue, e["qm_pvalue"], tol(m), "qm_pvalue")


@pytest.mark.parametrize("case", REF["contrasts"], ids=case_id)
def test_contrasts_match_metafor(case):
    m, e = case["model"], case["expected"]
    w = wald_test(fit(m), L=case["X"], rhs=case["rhs"] if case["rhs"] is not None else 0.0)
    for name in ("estimate", "se", "statistic", "pvalue", "qm", "qm_pvalue"):
        close(getattr(w, name), e[name], tol(m), name)
    if e["qm_df"] is None:  # rank-deficient contrasts: no omnibus test, as metafor
        assert math.isnan(w.qm)
    else:
        assert w.qm_df == e["qm_df"] and w.qm_df2 == (None if e["qm_df2"] is None else int(e["qm_df2"]))


def test_wald_forms_of_btt_and_the_model_qm():
    d = data("bcg")
    res = tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat", "alloc"]], test="knha")
    default = wald_test(res)
    assert default.qm == pytest.approx(res.qm, rel=1e-10) and default.qm_pvalue == pytest.approx(res.qm_pvalue, rel=1e-10)
    by_regex = wald_test(res, "alloc")  # a regular expression over the names, as metafor's grep
    by_names = wald_test(res, ["allocrandom", "allocsystematic"])
    by_pos = wald_test(res, [3, 2])
    by_l = wald_test(res, L=np.eye(4)[[2, 3]])
    for other in (by_names, by_pos, by_l):
        assert other.qm == by_regex.qm
    assert by_regex.hypotheses == ("allocrandom = 0", "allocsystematic = 0")
    np.testing.assert_allclose(by_regex.statistic, res.statistic[2:], rtol=1e-12)
    np.testing.assert_allclose(by_regex.ci_low, res.ci_low[2:], rtol=1e-12)
    diff = wald_test(res, L=[[0, 0, 1, -1], [0, 2, 0, 0]], rhs=[0, -0.05])
    assert diff.hypotheses == ("allocrandom - allocsystematic = 0", "2*ablat = -0.05")
    for bad, msg in ((7, "0-based"), ("nothing", "matches no coefficient"), (["ablat", "x"], "no coefficient named 'x'"),
                     ([], "empty")):  # fmt: skip
        with pytest.raises(ValueError, match=msg):
            wald_test(res, bad)
    with pytest.raises(ValueError, match="not both"):
        wald_test(res, 1, L=[[0, 1, 0, 0]])
    with pytest.raises(ValueError, match="one column per coefficient"):
        wald_test(res, L=[[1, 0]])
    with pytest.raises(ValueError, match="rhs"):
        wald_test(res, [1, 2], rhs=[0, 0, 0])
    table = diff.table()
    assert list(table.index) == list(diff.hypotheses) and "qm" in diff.to_frame().columns


# ---- Q-profile interval for τ² -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in REF["confint"] if c["type"] == "QP"], ids=case_id)
def test_qprofile_interval_matches_metafor(case):
    m, e = case["model"], case["expected"]
    ci = confint_tau2(fit(m), level=case["level"], type="QP")
    assert isinstance(ci, Tau2Interval) and ci.converged and ci.type.value == "QP"
    # bounds are roots (ITERATIVE), whatever the method; the estimate follows the method
    close(ci.tau2, e["tau2"][0], tol(m), "tau2")
    close([ci.ci_low, ci.ci_high], e["tau2"][1:], ITERATIVE, "tau2 bounds")
    # τ = √τ²: compared through τ², because the square root turns metafor's boundary estimate for
    # raud/weeks_c (Fisher scoring stops at τ² = 3.07e-14; tpmeta: 0, where the REML score is negative,
    # test_profile.py) into 1.75e-7
    assert (ci.tau, ci.tau_ci_low, ci.tau_ci_high) == tuple(math.sqrt(t) for t in (ci.tau2, ci.ci_low, ci.ci_high))
    close(np.square(e["tau"]), e["tau2"], 1e-12, "metafor's tau is the square root of its tau2")
    close([ci.i2, ci.i2_ci_low, ci.i2_ci_high], e["i2"], ITERATIVE, "I2")
    close([ci.h2, ci.h2_ci_low, ci.h2_ci_high], e["h2"], ITERATIVE, "H2")


@pytest.mark.parametrize("case", [c for c in REF["confint"] if c["type"] == "QP" and "alloc" not in c["model"]["columns"]],
                         ids=case_id)  # fmt: skip
def test_qprofile_bounds_solve_their_equation(case):
    """Q(bound) = χ²_{k−p} quantile (or bound 0 with Q(0) below it), Q with explicit k × k matrices."""
    m = case["model"]
    res = fit(m)
    d = data(m["data"])
    y, v, X = d["yi"].to_numpy(), d["vi"].to_numpy(), design(m)
    level = case["level"] or m["level"]
    ci = confint_tau2(res, level=level)
    k, p = X.shape

    def q(t):
        W = np.diag(1 / (v + t))
        P = W - W @ X @ np.linalg.solve(X.T @ W @ X, X.T @ W)
        return y @ P @ y

    for bound, quantile in ((ci.ci_low, (1 - level) / 2), (ci.ci_high, 1 - (1 - level) / 2)):
        target = stats.chi2.isf(quantile, k - p)
        if bound == 0:
            assert q(0.0) <= target
        else:
            assert q(bound) == pytest.approx(target, rel=1e-10)


def test_confint_refuses_and_presents():
    d = data("bcg")
    y, v = d["yi"], d["vi"]
    with pytest.raises(ValueError, match="fixed-effect model"):
        confint_tau2(tpmeta.pool(y, v, method="FE"))
    with pytest.raises(ValueError, match="was fixed"):
        confint_tau2(tpmeta.meta_regression(y, v, d[["ablat"]], tau2=0.1))
    with pytest.raises(ValueError, match="type='Q-profile' is not valid; choose one of 'QP', 'PL'"):
        confint_tau2(tpmeta.pool(y, v), type="Q-profile")
    with pytest.raises(ValueError, match="'REML' or 'ML'"):
        confint_tau2(tpmeta.pool(y, v, method="DL"), type="PL")
    pooled = tpmeta.pool(y, v)
    ci = confint_tau2(pooled)
    # the pooled model's own Q-profile interval (pooling.py's solver) is the same interval
    assert (ci.ci_low, ci.ci_high) == pytest.approx((pooled.tau2_ci_low, pooled.tau2_ci_high), rel=1e-8)
    assert (ci.i2_ci_low, ci.i2_ci_high) == pytest.approx((pooled.i2_ci_low, pooled.i2_ci_high), rel=1e-8)
    table = ci.table()
    assert list(table.index) == ["tau^2", "tau", "I^2(%)", "H^2"] and table.loc["tau", "ci_low"] == math.sqrt(ci.ci_low)
    frame = ci.to_frame()
    assert frame.loc[0, "type"] == "QP" and {"ci_low", "ci_high", "level", "i2_ci_high"} <= set(frame.columns)
    assert "Tau2Interval" in repr(ci) and "<table>" in ci._repr_html_()
    with pytest.raises(Exception):
        ci.tau2 = 0.0  # frozen


def test_results_present_as_tables():
    d = data("bcg")
    res = tpmeta.meta_regression(d["yi"], d["vi"], d[["ablat"]], method="ML")
    pr = predict(res, [10, 50])
    assert list(pr.to_frame().columns) == ["ablat", "pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"]
    assert "PredictResult" in repr(pr) and "<table" in pr._repr_html_()
    lrt = anova(res, tpmeta.pool(d["yi"], d["vi"], method="ML"))
    assert list(lrt.table().index) == ["Full", "Reduced"] and lrt.to_frame().shape[0] == 1
    assert "LRT" in repr(lrt) and "<table" in lrt._repr_html_()
    assert "BlupResult" in repr(blup(res)) and "<table" in blup(res)._repr_html_()
    with pytest.raises(ValueError):
        pr.pred[0] = 0.0  # read-only
