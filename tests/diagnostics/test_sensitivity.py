"""Leave-one-out and cumulative meta-analysis against metafor's leave1out() and cumul()."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import REFERENCE

import tpmeta
from tpmeta.diagnostics.sensitivity import cumulative, leave_one_out, restrict

# closed-form (DL) and iterative (REML) fits as in test_pooling_metafor
TOL = {"DL": 1e-9, "REML": 1e-7}


def _cases():
    return json.loads(REFERENCE.read_text())["sequential"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['dataset']}-{c['method']}-{c['test']}")
def test_leave_one_out_and_cumulative_match_metafor(case):
    res = tpmeta.pool(case["yi"], case["vi"], method=case["method"], test=case["test"])
    tol = TOL[case["method"]]
    loo = leave_one_out(res)
    assert len(loo) == res.k and loo["converged"].all()
    for name, expected in case["leave1out"].items():
        np.testing.assert_allclose(loo[name], np.asarray(expected, float), rtol=tol, atol=tol, err_msg=name)
    with warnings.catch_warnings():
        cum = cumulative(res)
    for name, expected in case["cumulative"].items():
        exp = np.array([np.nan if x is None else x for x in expected], float)
        np.testing.assert_allclose(cum[name], exp, rtol=tol, atol=tol, err_msg=name)


def test_reference_has_sequential_grid(metafor_reference):
    seen = {(c["dataset"], c["method"], c["test"]) for c in metafor_reference["sequential"]}
    assert {t for *_, t in seen} == {t.value for t in tpmeta.Test}  # z, knha and knha_adhoc
    assert len(seen) == 3 * 2 * len(tpmeta.Test)  # three datasets, DL and REML


def test_restrict():
    res = tpmeta.pool([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], labels=list("abcd"))
    sub = restrict(res, [True, False, True, True])
    assert sub.k == 3 and sub.labels == ("a", "c", "d")
    assert restrict(res, [False] * 4) is None
    one = restrict(res, [True, False, False, False])
    assert one.estimate == pytest.approx(0.2)


@pytest.mark.parametrize("case", json.loads(REFERENCE.read_text())["fixed_tau2_sequential"],
                         ids=lambda c: f"{c['dataset']}-tau2={c['tau2']}-{c['test']}")
def test_a_fixed_tau2_stays_fixed_in_leave_one_out_and_influence(case):
    """metafor's leave1out() and influence() refit with the user's τ²; so does tpmeta (closed form)."""
    from tpmeta.diagnostics.influence import influence_diagnostics

    res = tpmeta.pool(case["yi"], case["vi"], tau2=case["tau2"], test=case["test"])
    loo = leave_one_out(res)
    for name, expected in case["leave1out"].items():
        np.testing.assert_allclose(loo[name], expected, rtol=1e-9, atol=1e-9, err_msg=name)
    infl = influence_diagnostics(res)
    for name, expected in case["influence"].items():
        np.testing.assert_allclose(infl[name], expected, rtol=1e-9, atol=1e-9, err_msg=name)
