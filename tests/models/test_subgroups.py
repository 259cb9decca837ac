"""Subgroup analysis (test for subgroup differences) against metafor 3.8; tolerances in metareg_reference."""

from __future__ import annotations

import pytest
from metareg_reference import (
    BCG,
    CLOSED_FORM,
    ITERATIVE,
    ITERATIVE_METHODS,
    REF,
    _close,
)

import tpmeta
from tpmeta.errors import SingleStudyWarning, StudyDataError
from tpmeta.models.metareg import meta_regression
from tpmeta.models.subgroups import subgroup_analysis


@pytest.mark.parametrize("case", REF["subgroups"], ids=lambda c: f"{c['method']}-{c['test']}-{c['tau2']}")
def test_subgroups_match_metafor(case):
    e = case["expected"]
    res = subgroup_analysis(BCG["yi"], BCG["vi"], BCG["alloc"], method=case["method"], test=case["test"],
                            tau2=case["tau2"])  # fmt: skip
    table = res.table()
    assert list(table["subgroup"]) == e["levels"]
    assert list(table["k"]) == e["k"]
    tol = ITERATIVE if case["method"] in ITERATIVE_METHODS else CLOSED_FORM
    for name in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2"):
        if name in e:
            _close(table[name].to_numpy(), e[name], tol, name)
    _close(res.q_between, e["q_between"], tol, "q_between")
    _close(res.pvalue_between, e["pvalue_between"], tol, "pvalue_between")
    assert res.df_between == e["df_between"]
    assert res.df2_between == (None if e["df2_between"] is None else int(e["df2_between"]))
    for name, pooled in res.subgroups:
        assert isinstance(pooled, tpmeta.PoolResult) and pooled.weights.sum() == pytest.approx(100)
    # Q_within = QE of the model on the group dummies (inverse-variance weights)
    qe = meta_regression(BCG["yi"], BCG["vi"], BCG[["alloc"]], method="FE").qe
    assert res.q_within == pytest.approx(qe, rel=CLOSED_FORM) and res.df_within == 10
    assert res.test_text.startswith("Test for subgroup differences")


def test_subgroup_single_study_and_bad_groups():
    y, v = [0.1, 0.2, 0.15, 0.6], [0.02, 0.03, 0.02, 0.04]
    with pytest.warns(SingleStudyWarning, match="'b'"):
        res = subgroup_analysis(y, v, ["a", "a", "a", "b"], method="DL")
    assert dict(res.subgroups)["b"].estimate == pytest.approx(0.6)
    with pytest.raises(StudyDataError, match="row 1"):
        subgroup_analysis(y, v, ["a", None, "a", "b"])
    with pytest.raises(StudyDataError, match="two subgroups"):
        subgroup_analysis(y, v, ["a"] * 4)
    with pytest.raises(StudyDataError, match="3 entries"):
        subgroup_analysis(y, v, ["a", "b", "a"])
    with pytest.raises(ValueError, match="tau2"):
        subgroup_analysis(y, v, ["a", "a", "b", "b"], tau2="pooled")
