"""Three-level models (:func:`tpmeta.multilevel`) against metafor's ``rma.mv`` and against the likelihood
they maximise.

Reference values: tests/reference/metafor_multilevel.json, written by metafor_multilevel.R (the exact
calls, R and package versions are stored with every case). metafor's optimiser works on ℓ values, which
are flat at the maximum, so its σ² are accurate only to about 1e-7 (measured, per case, as
``reference_newton_step``: the Newton step from metafor's estimate to the stationary point, computed in R
with dense k×k matrices). The script therefore also polishes σ² with that dense Newton iteration and
has metafor compute everything given σ² at the polished values. Tolerances (relative to max(1, |x|)):

- POLISHED = 1e-9 for σ² and everything downstream (coefficients, SEs, tests, intervals, vcov, QE, QM,
  I², fit statistics) against the polished reference. Justified by the solvers, tighter than the 1e-6
  allowed for REML variance components: tpmeta's Newton iteration on the exact Hessian converges
  quadratically and stops at a relative step of 1e-10, so its σ² is the stationary point to rounding;
  the reference's dense Newton iteration runs to a step of 1e-15. Seen: ≤ 3e-11 (the worst is
  ``mods=~year`` with year ≈ 1990, where metafor's unscaled X'V⁻¹X has condition number ~1e13).
- METAFOR_VC = 1e-6 for σ² against metafor's own optimiser answer (nlm, gradtol 1e-10): the stored
  Newton steps are ≤ 1.2e-7, so this tolerance measures metafor's optimiser, not a difference in the model.
- PROFILE = 1e-9 for profile log-likelihoods and profile-likelihood bounds of σ² (metafor: uniroot with
  tol 1e-12; each profile point re-maximises the other component, whose error enters ℓ squared because
  ℓ is stationary there). Seen: ≤ 1e-11.
- OPTIMUM = 1e-10 (relative to 1 + |ℓ|): no point found by an independent search (dense k×k likelihood,
  a grid around the estimate and L-BFGS-B from several starts) may beat tpmeta's maximum by more.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import linalg, optimize

import tpmeta
import tpmeta.models.multilevel as multilevel_module
from tpmeta.errors import ConvergenceWarning, StudyDataError
from tpmeta.models.multilevel import (
    MultilevelResult,
    _model,
    _newton,
    multilevel,
    profile_sigma2,
)
from tpmeta.options import MultilevelTest

POLISHED = 1e-9
METAFOR_VC = 1e-6
PROFILE = 1e-9
OPTIMUM = 1e-10

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_multilevel.json").read_text())
CASES = {c["name"]: c for c in REF["multilevel"]}
FIELDS = ["coef", "se", "statistic", "pvalue", "ci_low", "ci_high", "vcov", "sigma2", "qe", "qe_pvalue", "qm",
          "qm_pvalue", "i2", "i2_total"]  # fmt: skip
FIT_STATS = ["loglik", "deviance", "aic", "bic", "aicc"]


def _close(got, expected, tol, name):
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, name
    err = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert np.all(err <= tol), f"{name}: max relative difference {err.max():.2e} > {tol:.0e}"


def _fit(case, **kw):
    d = REF["data"][case["dataset"]]
    mods = pd.DataFrame({c: d[c] for c in case["columns"]}) if case["columns"] else None
    sigma2 = tuple(case["sigma2"]) if case.get("sigma2") else None
    return multilevel(d["yi"], d["vi"], study=d["study"], mods=mods, method=case["method"], test=case["test"],
                      sigma2=sigma2, **kw)  # fmt: skip


def _dense_loglik(theta, res: MultilevelResult, reml: bool) -> float:
    """metafor's (restricted) log-likelihood with explicit k×k matrices (independent of the engine)."""
    y, v, X, s = (np.asarray(a) for a in (res.yi, res.vi, res.X, res.study))
    k, p = X.shape
    V = np.diag(v + theta[1]) + theta[0] * (s[:, None] == s[None, :])
    chol = linalg.cho_factor(V, lower=True)
    WX, Wy = linalg.cho_solve(chol, X), linalg.cho_solve(chol, y)
    xwx = X.T @ WX
    beta = np.linalg.solve(xwx, X.T @ Wy)
    r = y - X @ beta
    ll = -np.log(np.diag(chol[0])).sum() - 0.5 * r @ (Wy - WX @ beta)
    if reml:
        return ll - 0.5 * (k - p) * math.log(2 * math.pi) + 0.5 * np.linalg.slogdet(X.T @ X)[1] \
            - 0.5 * np.linalg.slogdet(xwx)[1]
    return ll - 0.5 * k * math.log(2 * math.pi)


# ---- metafor ---------------------------------------------------------------------------------------------


def test_reference_is_complete():
    assert REF["metafor_version"].startswith("3.8") and REF["r_version"].startswith("R version")
    assert {"clubsandwich_version", "robumeta_version", "metadat_version"} <= set(REF)
    assert set(CASES) == {"konst-REML", "konst-ML", "konst-REML-year-t", "assink-REML", "assink-ML",
                          "assink-REML-deltype-t", "assink-ML-year+deltype", "assink-REML-sigma2fixed",
                          "assinksub-REML-boundary"}  # fmt: skip
    assert all("rma.mv(" in c["call"] for c in REF["multilevel"])
    assert all("profile(" in c["call"] and "confint(" in c["call"] for c in REF["profiles"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_metafor(name):
    case = CASES[name]
    e = case["expected"]
    res = _fit(case)
    assert res.converged and res.n_iter > 0
    assert list(res.names) == e["names"]
    assert (res.k, res.p, res.parms, res.n_studies) == (e["k"], e["p"], e["parms"], e["n_studies"])
    assert (res.qe_df, res.qm_df) == (e["qe_df"], e["qm_df"])
    assert res.qm_df2 == (None if e["qm_df2"] is None else int(e["qm_df2"]))
    assert (res.between_fixed, res.within_fixed) == tuple(e["sigma2_fixed"])
    for name_ in FIELDS:
        _close(getattr(res, name_), e[name_], POLISHED, name_)
    stats = e["fit_reml"] if case["method"] == "REML" else e["fit_ml"]
    for name_ in FIT_STATS:
        _close(getattr(res, name_), stats[name_], POLISHED, name_)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sigma2_near_metafor_optimiser(name):
    e = CASES[name]["expected"]
    assert e["reference_newton_step"] < METAFOR_VC / 5  # the reference is good enough for this tolerance
    _close(_fit(CASES[name]).sigma2, e["sigma2_metafor"], METAFOR_VC, "sigma2")


def test_boundary_case():
    res = _fit(CASES["assinksub-REML-boundary"])
    assert res.sigma2_between == 0.0 and res.between_at_zero and not res.within_at_zero
    assert res.i2_between == 0.0
    # the boundary is a maximum: ℓ decreases into the interior (the one-sided derivative is negative)
    ll0 = _dense_loglik(res.sigma2, res, True)
    assert _dense_loglik(res.sigma2 + [1e-6, 0.0], res, True) < ll0


@pytest.mark.parametrize("case", REF["profiles"], ids=lambda c: f"{c['name']}-sigma2.{c['component']}")
def test_profiles_match_metafor(case):
    res = _fit(CASES[case["name"]])
    e = case["expected"]
    prof = profile_sigma2(res, case["component"], e["values"])
    assert prof.converged
    ref = np.array([np.nan if x is None else x for x in e["loglik"]], dtype=float)
    ok = ~np.isnan(ref)  # where metafor's refit failed, tpmeta's value must still be below the maximum
    _close(prof.loglik[ok], ref[ok], PROFILE, "profile loglik")
    assert np.all(prof.loglik[~ok] < prof.loglik_max)
    _close([prof.ci_low, prof.ci_high], [e["ci_low"], e["ci_high"]], PROFILE, "profile CI")


def test_profile_of_a_boundary_estimate():
    res = _fit(CASES["assinksub-REML-boundary"])
    prof = profile_sigma2(res, 1)
    assert prof.estimate == 0.0 and prof.ci_low == 0.0 and prof.ci_high > 0
    assert prof.values[-1] > prof.ci_high and np.all(np.diff(prof.loglik) < 0)  # ℓ falls from the boundary
    cut = prof.loglik_max - 0.5 * 3.841458820694124
    assert _dense_loglik(_refit_other(res, prof.ci_high), res, True) == pytest.approx(cut, abs=1e-8)


def _refit_other(res, between):
    """σ² with σ²₁ fixed and σ²₂ re-maximised (for the profile checks)."""
    d = REF["data"]["assink2016_sub"]
    fit = multilevel(d["yi"], d["vi"], study=d["study"], sigma2=(between, None))
    return np.array([between, fit.sigma2_within])


# ---- the likelihood it maximises (independent of metafor) ------------------------------------------------


@pytest.mark.parametrize("name", ["konst-REML", "konst-ML", "assink-REML-deltype-t", "assinksub-REML-boundary"])
def test_estimate_is_the_global_maximum(name):
    res = _fit(CASES[name])
    reml = res.method.value == "REML"
    best = _dense_loglik(res.sigma2, res, reml)
    assert best == pytest.approx(res.loglik, rel=1e-12)  # the reported ℓ is metafor's ℓ (constants included)
    tol = OPTIMUM * (1 + abs(best))
    # a grid around the estimate and out to 20 times it
    s1, s2 = np.meshgrid(np.r_[0, np.geomspace(1e-4, 20, 14)] * max(res.sigma2_between, 1e-3),
                         np.r_[0, np.geomspace(1e-4, 20, 14)] * max(res.sigma2_within, 1e-3))  # fmt: skip
    grid = max(_dense_loglik((a, b), res, reml) for a, b in zip(s1.ravel(), s2.ravel()))
    assert grid <= best + tol
    # a bounded quasi-Newton search from several starts
    for start in ([1e-3, 1e-3], [1.0, 1e-3], [1e-3, 1.0]):
        opt = optimize.minimize(lambda t: -_dense_loglik(t, res, reml), start, method="L-BFGS-B",
                                bounds=[(0, None), (0, None)], options={"ftol": 1e-15, "gtol": 1e-12})  # fmt: skip
        assert -opt.fun <= best + tol


def test_second_starts_reach_the_same_maximum():
    """Newton from starts far from the estimate (on the boundary, tiny, large) ends at the same σ²."""
    res = _fit(CASES["assink-REML"])
    m, _ = _model(*(np.asarray(a) for a in (res.yi, res.vi, res.X, res.study)), 0)
    est = np.array([True, True])
    for start in ([0.0, 0.0], [1e-6, 5.0], [5.0, 1e-6], [0.0, 1.0], [2.0, 0.0]):
        theta, conv, _ = _newton(m, True, est, np.array(start), 1e-10, 1000)
        assert conv
        _close(theta, res.sigma2, POLISHED, f"from {start}")


def test_the_scan_recovers_from_a_poor_local_solution(monkeypatch):
    """If Newton's first run stops at a poor point, the grid scan finds the maximum and restarts there."""
    calls = []
    real = multilevel_module._newton

    def stuck_first(m, reml, est, start, tol, max_iter):
        calls.append(start)
        if len(calls) == 1:
            return np.array(start, dtype=float), True, 1  # "converged" at the start value
        return real(m, reml, est, start, tol, max_iter)

    monkeypatch.setattr(multilevel_module, "_newton", stuck_first)
    case = CASES["assink-REML"]
    res = _fit(case)
    assert len(calls) == 2 and res.converged
    _close(res.sigma2, case["expected"]["sigma2"], POLISHED, "sigma2")


studies = st.integers(min_value=3, max_value=8).flatmap(
    lambda j: st.tuples(
        st.lists(st.integers(1, 4), min_size=j, max_size=j),  # effects per study
        st.integers(0, 2**32 - 1),
        st.sampled_from([0.0, 0.05, 0.5]),  # true sigma2 between
        st.sampled_from([0.0, 0.05, 0.5]),  # true sigma2 within
        st.sampled_from(["REML", "ML"]),
    )
)


@settings(max_examples=25, deadline=None)
@given(studies)
def test_estimate_satisfies_the_kkt_conditions(data):
    """On simulated data: the score (dense finite differences of ℓ) is 0 for an interior component and
    ≤ 0 on the boundary; and no corner or axis point of a coarse grid is higher."""
    sizes, seed, s1, s2, method = data
    assume(max(sizes) > 1)
    rng = np.random.default_rng(seed)
    study = np.repeat(np.arange(len(sizes)), sizes)
    v = rng.uniform(0.01, 0.2, study.size)
    y = rng.normal(0, np.sqrt(s1), len(sizes))[study] + rng.normal(0, np.sqrt(s2 + v))
    res = multilevel(y, v, study=study, method=method)
    reml = method == "REML"
    assert res.converged
    ll = _dense_loglik(res.sigma2, res, reml)
    for r in range(2):
        h = 1e-6 * max(1.0, res.sigma2[r])
        up = res.sigma2 + h * np.eye(2)[r]
        if res.sigma2[r] > 10 * h:
            slope = (_dense_loglik(up, res, reml) - _dense_loglik(res.sigma2 - h * np.eye(2)[r], res, reml)) / (2 * h)
            assert abs(slope) <= 1e-4 * (1 + abs(ll)), (r, slope)
        else:
            assert _dense_loglik(up, res, reml) <= ll + OPTIMUM * (1 + abs(ll))
    for point in ([0, 0], [0, 1], [1, 0], [0.1, 0.1], [1, 1]):
        assert _dense_loglik(np.array(point, float), res, reml) <= ll + OPTIMUM * (1 + abs(ll))


def test_sigma2_between_fixed_at_zero_is_the_random_effects_model():
    """With σ²₁ = 0 the model is rma.uni's: σ²₂ is the REML τ² of tpmeta.meta_regression."""
    d = REF["data"]["assink2016"]
    ml = multilevel(d["yi"], d["vi"], study=d["study"], mods=pd.DataFrame({"year": d["year"]}), sigma2=(0, None))
    reg = tpmeta.meta_regression(d["yi"], d["vi"], pd.DataFrame({"year": d["year"]}))
    assert ml.between_fixed and ml.parms == reg.parms
    _close(ml.sigma2_within, reg.tau2, 1e-8, "tau2")  # meta_regression's Fisher scoring stops at 1e-10
    for name in ("coef", "se", "qe", "qm", "loglik", "aic"):
        _close(getattr(ml, name), getattr(reg, name), 1e-8, name)


def test_row_order_does_not_matter():
    case = CASES["assink-ML-year+deltype"]
    d = REF["data"][case["dataset"]]
    perm = np.random.default_rng(3).permutation(len(d["yi"]))
    frame = pd.DataFrame({c: np.asarray(d[c])[perm] for c in ("yi", "vi", "study", "year", "deltype")})
    res = multilevel(frame["yi"], frame["vi"], study=frame["study"], mods=frame[["year", "deltype"]], method="ML")
    ref = _fit(case)
    for name in ("coef", "se", "sigma2", "loglik", "qe", "qm", "i2"):
        _close(getattr(res, name), getattr(ref, name), 1e-12, name)


# ---- convergence, options and input checks ---------------------------------------------------------------


def test_non_convergence_warns_and_is_flagged():
    d = REF["data"]["assink2016"]
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = multilevel(d["yi"], d["vi"], study=d["study"], max_iter=1)
    assert not res.converged and res.n_iter >= 1
    assert "NOT CONVERGED" in repr(res)


def test_options_are_exact_strings():
    d = REF["data"]["konstantopoulos2011"]
    with pytest.raises(ValueError, match="'REML', 'ML'"):
        multilevel(d["yi"], d["vi"], study=d["study"], method="DL")
    with pytest.raises(ValueError, match="'z', 't'"):
        multilevel(d["yi"], d["vi"], study=d["study"], test="knha")
    with pytest.raises(ValueError, match="choose one of"):
        multilevel(d["yi"], d["vi"], study=d["study"], method="reml")
    res = multilevel(d["yi"], d["vi"], study=d["study"], test=MultilevelTest.T)
    assert res.test is MultilevelTest.T and res.qm_df2 == res.k - res.p
    with pytest.raises(ValueError, match="pair"):
        multilevel(d["yi"], d["vi"], study=d["study"], sigma2=(None,))
    with pytest.raises(ValueError, match=">= 0"):
        multilevel(d["yi"], d["vi"], study=d["study"], sigma2=(-1.0, None))
    with pytest.raises(ValueError, match="level"):
        multilevel(d["yi"], d["vi"], study=d["study"], level=95)


def test_input_problems_name_row_column_and_fix():
    y, v = [0.1, 0.3, 0.2, 0.6], [0.02, 0.03, 0.02, 0.04]
    with pytest.raises(StudyDataError) as err:
        multilevel(y, v, study=["a", None, "b", "b"])
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (1, "study") and problem.fix
    with pytest.raises(StudyDataError, match="one study"):
        multilevel(y, v, study=["a"] * 4)
    with pytest.raises(StudyDataError, match="single effect size"):
        multilevel(y, v, study=["a", "b", "c", "d"])
    with pytest.raises(StudyDataError, match="3 values for 4"):
        multilevel(y, v, study=["a", "a", "b"])
    with pytest.raises(StudyDataError) as err:
        multilevel([0.1, np.nan, 0.2, 0.6], v, study=["a", "a", "b", "b"])
    assert err.value.problems[0].column == "yi"
    with pytest.raises(StudyDataError, match="too few"):
        multilevel(y[:3], v[:3], study=["a", "a", "b"], mods=[1.0, 2.0, 4.0])


def test_result_presentation():
    res = _fit(CASES["assink-REML-deltype-t"])
    assert isinstance(res, MultilevelResult) and isinstance(tpmeta.multilevel, type(multilevel))
    frame = res.to_frame()
    assert frame.shape[0] == 1
    assert {"sigma2_between", "sigma2_within", "i2_between", "i2_within", "converged", "n_iter", "level",
            "between_at_zero"} <= set(frame.columns)  # fmt: skip
    assert frame["test"].iloc[0] == "t" and frame["method"].iloc[0] == "REML"
    assert list(res.coef_frame().index) == ["intrcpt", "deltypegeneral", "deltypeovert"]
    assert res.ci_low.shape == res.ci_high.shape == (3,) and res.level == 0.95
    assert res.i2_total == pytest.approx(res.i2.sum())
    assert "sigma2 between" in repr(res) and "deltypeovert" in res._repr_html_()
    with pytest.raises(Exception):
        res.sigma2_between = 0.0  # frozen
    with pytest.raises(ValueError):
        res.coef[0] = 0.0  # read-only
    prof = profile_sigma2(res, 2, [0.05, 0.1])
    assert prof.to_frame().shape[0] == 1 and prof.ci_low < res.sigma2_within < prof.ci_high
    with pytest.raises(ValueError, match="component"):
        profile_sigma2(res, 3)
    fixed = _fit(CASES["assink-REML-sigma2fixed"])
    with pytest.raises(ValueError, match="fixed"):
        profile_sigma2(fixed, 2)
