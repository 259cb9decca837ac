"""The likelihood profile of τ² and the profile-likelihood interval against metafor 3.8
(``profile(res)``, ``confint(res, type="PL")``) and against the objective itself.

Reference values: tests/reference/metafor_inference.json (metafor_inference.R); tolerances as named in
``inference_reference.py``: the log-likelihood at a fixed τ² is closed-form (CLOSED_FORM = 1e-9; the
profiled coefficients too), the interval bounds are roots (ITERATIVE = 1e-7). Independently of metafor,
the bounds must satisfy 2(ℓ(τ̂²) − ℓ(bound)) = χ²₁ quantile with ℓ from explicit k × k matrices, τ̂²
must be the maximum of ℓ (no grid point higher, zero score when interior, negative score at a boundary
maximum), and a multi-modal profile must report every local maximum of an independent dense grid.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from inference_reference import (  # noqa: E402
    CLOSED_FORM,
    ITERATIVE,
    REF,
    case_id,
    close,
    design,
    fit,
    ll,
    tol,
)
from scipy import stats

import tpmeta
from tpmeta.errors import ConvergenceWarning
from tpmeta.models.inference import confint_tau2
from tpmeta.models.profile import ProfileResult, profile_tau2

#: Two clusters of studies (three very precise, four imprecise): a REML profile with two local maxima,
#: whose 50% region {2(ℓ_max − ℓ) ≤ χ²₁(0.5)} is two intervals.
BIMODAL = ([-0.35, -0.18, 2.57, -0.44, 0.7, -0.08, -2.6], [0.002, 0.0016, 1.2565, 0.0011, 2.0657, 1.9122, 0.5358])


@pytest.mark.parametrize("case", REF["profile"], ids=case_id)
def test_profile_matches_metafor(case):
    m, e = case["model"], case["expected"]
    res = fit(m)
    prof = profile_tau2(res, e["tau2_grid"])
    assert isinstance(prof, ProfileResult)
    np.testing.assert_array_equal(prof.tau2_grid, e["tau2_grid"])  # the grid is used as given
    close(prof.loglik, e["loglik"], CLOSED_FORM, "loglik")  # ℓ at a fixed τ²: closed form
    close(prof.coef, e["coef"], CLOSED_FORM, "profiled coefficients")
    close(prof.tau2, e["tau2_hat"], tol(m), "tau2")
    close(prof.loglik_max, e["loglik_max"], tol(m), "loglik_max")


@pytest.mark.parametrize("case", [c for c in REF["confint"] if c["type"] == "PL"], ids=case_id)
def test_profile_interval_matches_metafor(case):
    m, e = case["model"], case["expected"]
    res = fit(m)
    level = case["level"] or m["level"]
    prof = profile_tau2(res, level=case["level"])
    ci = confint_tau2(res, level=case["level"], type="PL")
    assert prof.level == level and ci.ci_connected and prof.ci_connected
    close([prof.ci_low, prof.ci_high], e["tau2"][1:], ITERATIVE, "PL bounds")
    assert (ci.ci_low, ci.ci_high) == (prof.ci_low, prof.ci_high)
    close([ci.i2, ci.i2_ci_low, ci.i2_ci_high], e["i2"], ITERATIVE, "I2")
    close([ci.h2, ci.h2_ci_low, ci.h2_ci_high], e["h2"], ITERATIVE, "H2")
    # the bounds solve 2 (ℓ(τ̂²) − ℓ(b)) = χ²₁ quantile (or are 0 with ℓ(0) above the cut-off)
    if m["columns"] != ["alloc"]:
        y, v, X = res.yi, res.vi, design(m)
        reml = m["method"] == "REML"
        top = ll(y, v, X, res.tau2, reml)
        crit = stats.chi2.ppf(level, 1)
        for bound in (prof.ci_low, prof.ci_high):
            if bound == 0:
                assert 2 * (top - ll(y, v, X, 0.0, reml)) <= crit
            else:
                assert 2 * (top - ll(y, v, X, bound, reml)) == pytest.approx(crit, rel=1e-10)
        assert prof.cutoff == pytest.approx(top - crit / 2, rel=1e-12)


def test_profile_interval_against_uniroot_on_refits():
    """metafor's logLik of rma(..., tau2=x) solved by uniroot (no confint() code) gives the same bounds."""
    case = REF["pl_uniroot"]
    prof = profile_tau2(fit(case["model"]))
    close(prof.tau2, case["expected"]["tau2_hat"], ITERATIVE, "tau2")
    close([prof.ci_low, prof.ci_high], [case["expected"]["ci_low"], case["expected"]["ci_high"]], ITERATIVE, "bounds")


@pytest.mark.parametrize("case", REF["profile"], ids=case_id)
def test_the_fit_is_the_maximum_of_the_profile(case):
    m = case["model"]
    res = fit(m)
    reml = m["method"] == "REML"
    prof = profile_tau2(res)
    assert prof.tau2 in prof.tau2_grid and prof.ci_high in prof.tau2_grid  # default grid passes through them
    assert np.all(prof.loglik <= prof.loglik_max + 1e-9 * (1 + abs(prof.loglik_max)))
    X = design(m)

    def score(t, h):
        return (ll(res.yi, res.vi, X, t + h, reml) - ll(res.yi, res.vi, X, max(t - h, 0.0), reml)) / (t + h - max(t - h, 0))

    h = 1e-6 * max(res.tau2, 1e-3)
    if res.tau2 > 0:
        assert abs(score(res.tau2, h)) < 1e-5 * (1 + abs(prof.loglik_max))
        assert prof.local_maxima == pytest.approx([res.tau2], rel=1e-6)
    else:  # a boundary maximum: the likelihood falls from τ² = 0
        assert score(0.0, h) < 0 and prof.boundary and list(prof.local_maxima) == [0.0] and prof.ci_low == 0.0


def test_multimodal_profile_reports_every_maximum():
    y, v = BIMODAL
    res = tpmeta.pool(y, v)
    prof = profile_tau2(res, level=0.5)
    X = np.ones((len(y), 1))
    grid = np.concatenate([np.geomspace(1e-6, 10, 4000), np.linspace(0, 10, 4001)])
    grid.sort()
    dense = np.array([ll(y, v, X, t, True) for t in grid])
    peaks = grid[1:-1][(dense[1:-1] > dense[:-2]) & (dense[1:-1] > dense[2:])]
    assert prof.multimodal and prof.local_maxima.size == peaks.size == 2
    np.testing.assert_allclose(prof.local_maxima, peaks, rtol=2e-3)  # the dense grid's resolution
    assert prof.tau2 == pytest.approx(peaks[np.argmax([ll(y, v, X, t, True) for t in peaks])], rel=2e-3)
    # the 50% region is two intervals: ci_low/ci_high give the hull
    assert not prof.ci_connected and not confint_tau2(res, level=0.5, type="PL").ci_connected
    inside = 2 * (prof.loglik_max - dense) <= stats.chi2.ppf(0.5, 1)
    assert grid[inside].min() == pytest.approx(prof.ci_low, rel=2e-3)
    assert grid[inside].max() == pytest.approx(prof.ci_high, rel=2e-3)
    assert "local maxima" in repr(prof) and "not one interval" in repr(prof)
    assert profile_tau2(res).ci_connected  # at 95% the region is one interval


def test_profile_warns_when_the_fit_is_not_the_maximum():
    """As metafor's profile(): a grid value above the fit's likelihood means τ̂² is not the maximum (a
    model altered by hand here: tpmeta's own fits are the global maximum, even unconverged ones)."""
    res = dataclasses.replace(fit(REF["profile"][0]["model"]), tau2=0.3)
    with pytest.warns(ConvergenceWarning, match="higher restricted log-likelihood"):
        profile_tau2(res)


def test_profile_input_and_presentation():
    case = REF["profile"][0]
    res = fit(case["model"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prof = profile_tau2(res, xlim=(0.0, 0.5), steps=11)
    assert prof.tau2_grid[0] == 0.0 and prof.tau2_grid[-1] == 0.5 and prof.tau2_grid.size == 14  # + τ̂², bounds
    assert prof.coef.shape == (14, 2) and list(prof.grid_frame().columns) == ["tau2", "loglik", "intrcpt", "ablat"]
    frame = prof.to_frame()
    assert frame.shape[0] == 1 and {"tau2", "ci_low", "ci_high", "level", "loglik_max", "method"} <= set(frame.columns)
    assert frame.loc[0, "method"] == "REML" and "<table>" in prof._repr_html_()
    with pytest.raises(ValueError):
        prof.loglik[0] = 0.0
    d = REF["data"]["bcg"]
    for bad, msg in ((tpmeta.pool(d["yi"], d["vi"], method="DL"), "'REML' or 'ML'"),
                     (tpmeta.meta_regression(d["yi"], d["vi"], tau2=0.2), "was fixed"),
                     (tpmeta.pool(d["yi"], d["vi"], method="FE"), "'REML' or 'ML'")):  # fmt: skip
        with pytest.raises(ValueError, match=msg):
            profile_tau2(bad)
    with pytest.raises(ValueError, match="steps"):
        profile_tau2(res, steps=1)
    with pytest.raises(ValueError, match="xlim"):
        profile_tau2(res, xlim=(0.3, 0.3))
    with pytest.raises(ValueError, match="finite values >= 0"):
        profile_tau2(res, [-0.1, 0.2])
    ml = profile_tau2(fit(REF["profile"][2]["model"]))
    assert ml.method.value == "ML" and not math.isnan(ml.loglik_max)
