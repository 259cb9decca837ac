"""Cluster-robust inference (:func:`tpmeta.robust`, against clubSandwich) and correlated-effects RVE
(:func:`tpmeta.rve`, against robumeta).

Reference values: tests/reference/metafor_multilevel.json, written by metafor_multilevel.R (exact calls
and package versions stored). Tolerances (relative to max(1, |x|)):

- CLUB = 1e-9: given the model fit, the CR2/CR0 sandwich and its Satterthwaite df are closed-form. The
  clubSandwich reference is computed on metafor's fit at the polished σ² (see test_multilevel.py), so
  the only differences are rounding and tpmeta's σ², itself the stationary point to rounding. Seen:
  ≤ 4e-11 (year ≈ 1990 without centring; metafor's X'V⁻¹X has condition number ~1e13).
- ROBU = 1e-9: robumeta's CORR model is closed-form throughout (moment τ², weights, CR2-type SEs,
  Bell-McCaffrey df). Seen: ≤ 3e-11 (the same uncentred year).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.errors import StudyDataError
from tpmeta.models.robust import RobustResult, RveResult, robust, rve

CLUB = 1e-9
ROBU = 1e-9

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_multilevel.json").read_text())
ML_CASES = {c["name"]: c for c in REF["multilevel"]}
FIELDS = ["coef", "se", "statistic", "df", "pvalue", "ci_low", "ci_high", "vcov"]


def _close(got, expected, tol, name):
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, name
    err = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert np.all(err <= tol), f"{name}: max relative difference {err.max():.2e} > {tol:.0e}"


def _mods(d, columns):
    return pd.DataFrame({c: d[c] for c in columns}) if columns else None


def _model_fit(case):
    if case["model"] == "rma.uni":
        d = REF["data"][case["dataset"]]
        return tpmeta.meta_regression(d["yi"], d["vi"], _mods(d, case["columns"])), d
    mc = ML_CASES[case["fit"]]
    d = REF["data"][mc["dataset"]]
    return tpmeta.multilevel(d["yi"], d["vi"], study=d["study"], mods=_mods(d, mc["columns"]),
                             method=mc["method"], test=mc["test"]), d  # fmt: skip


def _club_id(c):
    return f"{c['fit']}-{c['type']}" + ("-pairs" if c.get("cluster") == "study %/% 2" else "")


def _robu_id(c):
    return f"{c['dataset']}-{c['formula']}-rho{c['rho']}-{'small' if c['small'] else 'large'}"


def test_reference_is_complete():
    assert REF["clubsandwich_version"].startswith("0.5") and REF["robumeta_version"].startswith("2.")
    assert all("coef_test(" in c["call"] and "Satterthwaite" in c["call"] for c in REF["clubsandwich"])
    assert all('robu(' in c["call"] and 'modelweights="CORR"' in c["call"] for c in REF["robumeta"])
    assert {c["type"] for c in REF["clubsandwich"]} == {"CR2", "CR0"}
    assert {c["small"] for c in REF["robumeta"]} == {True, False}


@pytest.mark.parametrize("case", REF["clubsandwich"], ids=_club_id)
def test_robust_matches_clubsandwich(case):
    fit, d = _model_fit(case)
    if case["model"] == "rma.uni":
        cluster = d["study"]
    elif case["cluster"] == "study %/% 2":  # R's integer division: groups of whole studies
        cluster = [int(s) // 2 for s in d["study"]]
    else:
        cluster = None  # the default: the fit's studies (district for konstantopoulos2011)
    res = robust(fit, cluster, adjust=case["type"] == "CR2")
    e = case["expected"]
    assert isinstance(res, RobustResult) and res.type == case["type"]
    assert res.n_clusters == e["n_clusters"] and res.names == fit.names
    for name in FIELDS:
        _close(getattr(res, name), e[name], CLUB, name)


def test_cluster_defaults_to_study_and_may_group_whole_studies():
    fit, d = _model_fit(REF["clubsandwich"][2])  # assink2016, REML
    default = robust(fit)
    explicit = robust(fit, [f"s{s}" for s in d["study"]])
    for name in FIELDS:
        _close(getattr(explicit, name), getattr(default, name), 1e-13, name)
    pairs = robust(fit, [int(s) // 2 for s in d["study"]])  # studies 1..17 in 9 groups
    assert pairs.n_clusters == 9 and np.all(np.isfinite(pairs.se)) and np.all(pairs.df > 0)
    assert robust(fit, level=0.9).ci_high[0] < default.ci_high[0]


def test_robust_input_checks():
    fit, d = _model_fit(REF["clubsandwich"][2])
    with pytest.raises(StudyDataError, match="not nested"):
        robust(fit, np.arange(len(d["yi"])) % 2)  # splits studies
    with pytest.raises(StudyDataError, match="single cluster"):
        robust(fit, ["all"] * len(d["yi"]))
    with pytest.raises(StudyDataError) as err:
        robust(fit, [None] + list(d["study"][1:]))
    assert (err.value.problems[0].row, err.value.problems[0].column) == (0, "cluster")
    uni, _ = _model_fit(REF["clubsandwich"][-1])
    with pytest.raises(ValueError, match="cluster= is required"):
        robust(uni)
    with pytest.raises(TypeError, match="MultilevelResult or MetaRegResult"):
        robust(tpmeta.pool(d["yi"], d["vi"]))
    with pytest.raises(StudyDataError, match="values for"):
        robust(uni, d["study"][:5])


@pytest.mark.parametrize("case", REF["robumeta"], ids=_robu_id)
def test_rve_matches_robumeta(case):
    d = REF["data"][case["dataset"]]
    res = rve(d["yi"], d["vi"], study=d["study"], mods=_mods(d, case["columns"]), rho=case["rho"],
              small=case["small"])  # fmt: skip
    e = case["expected"]
    assert isinstance(res, RveResult)
    assert (res.k, res.n_studies) == (e["k"], e["n_studies"])
    for name in FIELDS + ["tau2", "i2", "weights"]:
        _close(getattr(res, name), e[name], ROBU, name)


def test_rve_options_and_input_checks():
    d = REF["data"]["assink2016"]
    large = rve(d["yi"], d["vi"], study=d["study"], small=False)
    assert np.all(large.df == large.n_studies - large.p)
    with pytest.raises(ValueError, match="rho"):
        rve(d["yi"], d["vi"], study=d["study"], rho=1.5)
    with pytest.raises(StudyDataError, match="more studies than coefficients"):
        rve(d["yi"][:9], d["vi"][:9], study=d["study"][:9], mods=pd.DataFrame({"year": d["year"][:9]}))  # 2 studies
    with pytest.raises(StudyDataError) as err:
        rve(d["yi"], d["vi"], study=[None] + list(d["study"][1:]))
    assert err.value.problems[0].row == 0 and err.value.problems[0].column == "study"


def test_presentation():
    d = REF["data"]["assink2016"]
    res = rve(d["yi"], d["vi"], study=d["study"], mods=pd.DataFrame({"year": d["year"]}))
    frame = res.to_frame()
    assert frame.shape[0] == 1 and {"tau2", "i2", "rho", "small", "level"} <= set(frame.columns)
    assert list(res.coef_frame().columns) == ["estimate", "se", "statistic", "df", "pvalue", "ci_low", "ci_high"]
    assert "year" in repr(res) and "year" in res._repr_html_()
    with pytest.raises(ValueError):
        res.weights[0] = 1.0
    fit, _ = _model_fit(REF["clubsandwich"][2])
    rob = robust(fit)
    assert rob.to_frame()["type"].iloc[0] == "CR2" and "RobustResult" in repr(rob)
