"""Properties of pooling that must hold for any data (hypothesis), plus bad input and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tpmeta
from tpmeta import Method

# Reordering or rescaling changes floating-point summation order; results may differ by a few ulps
# times the condition of the estimator, and iterative solvers stop at tol=1e-10 relative.
NUMERIC = 1e-7

studies = st.integers(min_value=2, max_value=15).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.005, 2.0, allow_nan=False), min_size=k, max_size=k),
    )
)
methods = st.sampled_from(list(Method))
tests_ = st.sampled_from(list(tpmeta.Test))


@settings(max_examples=60, deadline=None)
@given(studies, methods, tests_, st.randoms(use_true_random=False))
def test_study_order_does_not_matter(data, method, test, rnd):
    y, v = map(np.array, data)
    perm = np.arange(len(y))
    rnd.shuffle(perm)
    a = tpmeta.pool(y, v, method=method, test=test)
    b = tpmeta.pool(y[perm], v[perm], method=method, test=test)
    for name in ("estimate", "se", "tau2", "q", "i2", "tau2_ci_high"):
        assert getattr(b, name) == pytest.approx(getattr(a, name), rel=NUMERIC, abs=NUMERIC, nan_ok=True)


@settings(max_examples=60, deadline=None)
@given(studies, methods, tests_)
def test_ci_and_pi_contain_estimate(data, method, test):
    res = tpmeta.pool(*data, method=method, test=test)
    assert res.ci_low <= res.estimate <= res.ci_high
    assert res.pi_low <= res.ci_low + 1e-12 and res.pi_high >= res.ci_high - 1e-12
    assert res.tau2 >= 0 and 0 <= res.i2 <= 100
    if method is not Method.FE:
        assert res.tau2_ci_low <= res.tau2_ci_high


@settings(max_examples=40, deadline=None)
@given(studies, methods, st.floats(0.1, 10.0))
def test_scaling_y_scales_estimate(data, method, c):
    y, v = map(np.array, data)
    a = tpmeta.pool(y, v, method=method)
    b = tpmeta.pool(c * y, c * c * v, method=method)
    assert b.estimate == pytest.approx(c * a.estimate, rel=1e-6, abs=1e-8)
    assert b.tau2 == pytest.approx(c * c * a.tau2, rel=1e-6, abs=1e-8)
    assert b.pvalue == pytest.approx(a.pvalue, rel=1e-6, abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(studies, methods, st.floats(-5, 5))
def test_shifting_y_shifts_estimate(data, method, c):
    y, v = map(np.array, data)
    a = tpmeta.pool(y, v, method=method)
    b = tpmeta.pool(y + c, v, method=method)
    assert b.estimate == pytest.approx(a.estimate + c, rel=NUMERIC, abs=1e-6)
    assert b.tau2 == pytest.approx(a.tau2, rel=1e-6, abs=1e-8)


@settings(max_examples=40, deadline=None)
@given(studies, methods)
def test_random_effects_equals_fixed_when_tau2_zero(data, method):
    y, v = map(np.array, data)
    res = tpmeta.pool(y, v, method=method)
    if res.tau2 == 0:
        fe = tpmeta.pool(y, v, method="FE")
        assert res.estimate == pytest.approx(fe.estimate, rel=1e-12, abs=1e-12)
        assert res.se == pytest.approx(fe.se, rel=1e-12)


def test_identical_effects_give_zero_tau2():
    res = tpmeta.pool([0.3] * 5, [0.1, 0.2, 0.05, 0.3, 0.1], method="REML")
    assert res.tau2 == 0 and res.truncated and res.q == pytest.approx(0, abs=1e-12)


def test_batch_shape_and_mask():
    rng = np.random.default_rng(7)
    v = rng.uniform(0.01, 0.2, size=(3, 4, 10))
    y = rng.normal(0, np.sqrt(v + 0.05))
    mask = rng.random((3, 4, 10)) > 0.3
    res = tpmeta.pool_batch(y, v, mask, method="PM")
    assert res.estimate.shape == (3, 4)
    one = tpmeta.pool(y[1, 2][mask[1, 2]], v[1, 2][mask[1, 2]], method="PM")
    assert res.estimate[1, 2] == pytest.approx(one.estimate, rel=1e-10)
    assert res.k[1, 2] == mask[1, 2].sum()
    # masked entries may hold NaN without affecting anything
    y2 = np.where(mask, y, np.nan)
    res2 = tpmeta.pool_batch(y2, v, mask, method="PM")
    np.testing.assert_allclose(res2.estimate, res.estimate)


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "y, v, column, value",
    [
        ([0.1, np.nan, 0.3], [0.1, 0.1, 0.1], "yi", "nan"),
        ([0.1, 0.2, 0.3], [0.1, 0.0, 0.1], "vi", "0.0"),
        ([0.1, 0.2, 0.3], [0.1, -0.2, 0.1], "vi", "-0.2"),
        ([0.1, 0.2, 0.3], [0.1, np.inf, 0.1], "vi", "inf"),
    ],
)
def test_bad_values_name_row_column_value(y, v, column, value):
    with pytest.raises(tpmeta.StudyDataError) as err:
        tpmeta.pool(y, v, labels=["a", "b", "c"])
    text = str(err.value)
    assert "row 1" in text and f"'{column}'" in text and value in text and "'b'" in text
    assert "Fix:" in text


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(tpmeta.StudyDataError) as err:
        tpmeta.pool([np.nan, 0.2, 0.3], [0.1, -1, 0.1])
    assert len(err.value.problems) == 2


def test_length_mismatch_and_empty():
    with pytest.raises(tpmeta.StudyDataError, match="equal length"):
        tpmeta.pool([0.1, 0.2], [0.1])
    with pytest.raises(tpmeta.StudyDataError, match="no studies"):
        tpmeta.pool([], [])


def test_options_are_validated_without_synonyms():
    with pytest.raises(ValueError, match="'REML'"):
        tpmeta.pool([0.1, 0.2], [0.1, 0.1], method="reml")
    with pytest.raises(ValueError, match="'knha'"):
        tpmeta.pool([0.1, 0.2], [0.1, 0.1], test="hksj")
    with pytest.raises(ValueError, match="proportion"):
        tpmeta.pool([0.1, 0.2], [0.1, 0.1], level=95)


def test_single_study_returns_its_estimate_with_warning():
    with pytest.warns(tpmeta.SingleStudyWarning, match="only one study"):
        res = tpmeta.pool([0.4], [0.04], method="REML")
    assert res.estimate == 0.4 and res.se == pytest.approx(0.2) and res.k == 1 and res.tau2 == 0
    with pytest.warns(tpmeta.SingleStudyWarning):
        knha = tpmeta.pool([0.4], [0.04], test="knha")
    assert knha.test is tpmeta.Test.Z and knha.ci_low == pytest.approx(0.4 - 1.959963984540054 * 0.2)


def test_non_convergence_is_flagged_and_warned():
    rng = np.random.default_rng(3)
    v = rng.uniform(0.01, 0.2, 12)
    y = rng.normal(0, 1, 12)
    with pytest.warns(tpmeta.ConvergenceWarning, match="did not converge"):
        res = tpmeta.pool(y, v, method="REML", max_iter=1)
    assert res.converged is False and res.n_iter == 1


def test_result_object_api():
    res = tpmeta.pool([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], labels=list("abcd"))
    frame = res.to_frame()
    assert list(frame.columns)[:6] == ["estimate", "se", "statistic", "pvalue", "ci_low", "ci_high"]
    assert frame.loc[0, "method"] == "REML" and frame.loc[0, "level"] == 0.95
    assert "<table>" in res._repr_html_() and "tau2" in res._repr_html_()
    assert res.weights.sum() == pytest.approx(100)
    assert list(res.study_frame()["label"]) == list("abcd")
    with pytest.raises(Exception):
        res.estimate = 1.0  # frozen
    assert "REML" in repr(res)


def test_reml_converges_where_plain_fisher_scoring_cycles():
    """metafor 3.8 stops with 'Fisher scoring algorithm did not converge' on these data (its iterates
    cycle between 0 and 0.208); the bracketed scoring converges to the REML maximum, checked here
    against a bounded scalar optimiser of the restricted log-likelihood."""
    from scipy.optimize import minimize_scalar

    y = np.array([0, 0, 0, 0, 0, 1.0])
    v = np.array([1, 1, 1, 1, 1, 0.125])

    def neg_reml(t):
        w = 1 / (v + t)
        mu = (w * y).sum() / w.sum()
        return 0.5 * (np.log(v + t).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())

    best = minimize_scalar(neg_reml, bounds=(0, 5), method="bounded", options={"xatol": 1e-12})
    res = tpmeta.pool(y, v, method="REML")
    assert res.converged
    assert res.tau2 == pytest.approx(best.x, rel=1e-6)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_batched_likelihood_fits_converge_to_the_maximum(method):
    """Across 3,000 simulated analyses every (RE)ML fit converges, and a sample agrees with a bounded
    scalar optimiser of the (restricted) log-likelihood, independent of the Fisher-scoring code."""
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(11)
    v = rng.uniform(0.01, 0.1, (3000, 12))
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    res = tpmeta.pool_batch(y, v, method=method, tau2_ci=False)
    assert res.converged.all()

    def nll(t, yy, vv):
        w = 1 / (vv + t)
        mu = (w * yy).sum() / w.sum()
        out = 0.5 * (np.log(vv + t).sum() + (w * (yy - mu) ** 2).sum())
        return out + (0.5 * np.log(w.sum()) if method == "REML" else 0.0)

    for i in rng.choice(3000, 25, replace=False):
        best = minimize_scalar(nll, bounds=(0, 2), args=(y[i], v[i]), method="bounded",
                               options={"xatol": 1e-12})
        assert nll(res.tau2[i], y[i], v[i]) <= nll(best.x, y[i], v[i]) + 1e-10
        assert res.tau2[i] == pytest.approx(best.x, abs=1e-6)
