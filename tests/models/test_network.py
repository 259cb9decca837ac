"""tpmeta.network_meta against metafor's rma.mv and against the restricted likelihood it maximises.

Reference: tests/reference/metafor_network.json, written by tests/reference/metafor_network.R
(metafor 3.8.1, the exact call stored per fit): dat.senn2013 (MD, SMD), dat.hasselblad1998 (OR, RD),
dat.dong2013 (OR, RR; zero cells), dat.woods2010 (OR; a four-arm trial) and a simulated network of
10 treatments and 40 trials (OR).

Tolerances (absolute and relative):

* ``CLOSED_FORM = 1e-8`` for FE and DL: given the data everything is closed form (the DL τ² too); the
  differences seen are ~1e-13, from summation order and matrix factorisations.
* ``REML_METAFOR = 1e-5`` for REML against rma.mv: rma.mv maximises over log τ² with nlminb at its
  default controls and stops up to ~5e-7 from the maximum in τ² (hasselblad1998_OR: 4.8e-7 from the
  score root); that error carries into the estimates, SEs, prediction intervals and into the
  node-splitting and design-by-treatment models, each fitted with its own REML τ².
* ``REML_EXACT = 1e-8`` for REML against the root of the REML score that the R script computes with
  explicit N×N matrices (uniroot, tol 1e-15, after a 4000-point scan): tpmeta stops at a relative
  change of τ² of 1e-10 and everything else is closed form given τ². The REML τ² is also checked
  against an independent dense implementation of the restricted log-likelihood here: its value, that
  no τ² on a fine grid beats it, and a zero derivative.
"""

from __future__ import annotations

import dataclasses
import json
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import block_diag

import tpmeta
from tpmeta import ConvergenceWarning, StudyDataError, network_meta
from tpmeta.models._network_data import arm_contrasts

CLOSED_FORM = 1e-8
REML_METAFOR = 1e-5
REML_EXACT = 1e-8
REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_network.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
FITS = [(c["name"], f["method"]) for c in REF["cases"] for f in c["fits"]]
COLS = {"study": "study", "treatment": "treatment", "events": "events", "n": "n", "mean": "mean", "sd": "sd"}


@lru_cache(maxsize=None)
def _fit(name: str, method: str, small_values: str = "desirable"):
    case = CASES[name]
    return network_meta(pd.DataFrame(case["arms"]), measure=case["measure"], reference=case["reference"],
                        method=method, small_values=small_values)  # fmt: skip


def _ref(name: str, method: str) -> dict:
    return next(f for f in CASES[name]["fits"] if f["method"] == method)


def _close(actual, expected, tol, what):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=tol, atol=tol,
                               err_msg=what)  # fmt: skip


def test_reference_provenance():
    assert REF["metafor_version"] == "3.8.1" and REF["r_version"].startswith("R version")
    for case in REF["cases"]:
        for fit in case["fits"]:
            assert fit["call"].startswith("rma.mv(yi, V, mods = ~ ") and "- 1" in fit["call"]
            if fit["method"] != "FE":
                assert "random = ~ comp | study, rho = 1/2" in fit["call"]


@pytest.mark.parametrize("name", list(CASES))
def test_contrasts_and_covariances_match_escalc(name):
    case = CASES[name]
    con = arm_contrasts(pd.DataFrame(case["arms"]), tpmeta.Measure(case["measure"]), case["reference"], COLS, None)
    exp = case["contrasts"]
    assert list(con.frame["study"]) == exp["study"] and list(con.frame["treatment"]) == exp["treatment"]
    assert list(con.frame["comparator"]) == exp["comparator"] and list(con.frame["design"]) == exp["design"]
    _close(con.frame["yi"], exp["yi"], 1e-12, "yi")
    _close(con.frame["vi"], exp["vi"], 1e-12, "vi")
    _close(block_diag(*con.blocks), case["V"], 1e-12, "V")
    assert con.treatments == tuple(case["treatments"])


@pytest.mark.parametrize(("name", "method"), FITS)
def test_consistency_model_matches_metafor(name, method):
    res, ref = _fit(name, method), _ref(name, method)
    tol = REML_METAFOR if method == "REML" else CLOSED_FORM
    for key in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        _close(getattr(res, key)[1:], ref[key], tol, key)
    assert res.estimate[0] == 0.0 and np.isnan(res.se[0])
    _close(res.vcov, ref["vcov"], tol, "vcov")
    _close([res.tau2, res.q, res.q_pvalue], [ref["tau2"], ref["qe"], ref["qe_pvalue"]], tol, "tau2, Q")
    assert res.q_df == ref["qe_df"] and res.method.value == method and res.converged
    lg = pd.DataFrame(ref["league"]).merge(res.league, on=["treatment", "comparator"], suffixes=("_r", ""))
    assert len(lg) == len(res.treatments) * (len(res.treatments) - 1) // 2
    for key in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        _close(lg[key], lg[f"{key}_r"], tol, f"league {key}")
    flipped = res.league.set_index(["comparator", "treatment"]).loc[list(zip(lg["treatment"], lg["comparator"]))]
    _close(flipped["estimate"], -lg["estimate_r"], tol, "league, other direction")
    _close(res.pscore, ref["pscore_small_good"], tol, "P-scores")
    if method == "REML":
        _close(res.loglik, ref["loglik_reml"], tol, "restricted log-likelihood")


@pytest.mark.parametrize("name", [n for n, m in FITS if m == "FE"])
def test_pscores_when_large_values_are_desirable(name):
    res = network_meta(pd.DataFrame(CASES[name]["arms"]), measure=CASES[name]["measure"],
                       reference=CASES[name]["reference"], method="FE", small_values="undesirable")  # fmt: skip
    _close(res.pscore, _ref(name, "FE")["pscore_large_good"], CLOSED_FORM, "P-scores")
    assert res.small_values is tpmeta.SmallValues.UNDESIRABLE


@pytest.mark.parametrize(("name", "method"), FITS)
def test_design_by_treatment_and_node_splitting_match_metafor(name, method):
    res, ref = _fit(name, method), _ref(name, method)
    tol = REML_METAFOR if method == "REML" else CLOSED_FORM
    dbt = ref["dbt"]
    assert res.inconsistency_df == dbt["df"] and res.q_within_designs_df == dbt["q_within_df"]
    _close([res.inconsistency_q, res.inconsistency_pvalue, res.inconsistency_tau2],
           [dbt["qm"], dbt["pvalue"], dbt["tau2"]], tol, "design-by-treatment")  # fmt: skip
    _close([res.q_within_designs, res.q_between_designs], [dbt["q_within"], dbt["q_between"]], CLOSED_FORM, "Q split")
    ns = pd.DataFrame(ref["node_split"])
    assert sorted(zip(res.node_split["treatment"], res.node_split["comparator"])) == sorted(
        zip(ns["treatment"], ns["comparator"]))
    m = ns.merge(res.node_split, on=["treatment", "comparator"], suffixes=("_r", ""))
    assert list(m["n_studies"]) == list(m["n_studies_r"])
    for key in ("direct", "direct_se", "indirect", "indirect_se", "difference", "difference_se", "pvalue", "tau2"):
        _close(m[key], m[f"{key}_r"], tol, f"node split {key}")
    _close(m["direct"] - m["indirect"], m["difference"], 1e-12, "difference = direct - indirect")


@pytest.mark.parametrize("name", [n for n, m in FITS if m == "REML"])
def test_reml_matches_score_root(name):
    res, exact = _fit(name, "REML"), _ref(name, "REML")["exact"]
    _close([res.tau2, res.loglik], [exact["tau2"], exact["loglik_reml"]], REML_EXACT, "tau2, loglik")
    _close(res.estimate[1:], exact["estimate"], REML_EXACT, "estimate")
    _close(res.se[1:], exact["se"], REML_EXACT, "se")
    assert res.converged and res.n_iter > 0


@pytest.mark.parametrize("name", [n for n, m in FITS if m == "DL" and CASES[n]["measure"] != "SMD"])
def test_dl_is_netmeta_estimator(name):
    """The trace formula tr(P₀R) gives netmeta's generalised DL (all pairwise contrasts, multi-arm weights
    d_j d_k/Σd, Rücker 2012), implemented independently in the R script (not for SMD, whose variances are
    not arm-additive)."""
    _close(_fit(name, "DL").tau2, _ref(name, "DL")["tau2_dl_netmeta_formula"], 1e-10, "DL tau2")


def _dense_reml(y, X, V, R):
    """ℓ_R(τ²) with dense matrices, metafor's constants; written from the formula, not from tpmeta."""
    N, p = X.shape

    def ll(t):
        S = V + t * R
        Si = np.linalg.inv(S)
        A = X.T @ Si @ X
        b = np.linalg.solve(A, X.T @ Si @ y)
        r = y - X @ b
        return (-0.5 * (N - p) * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(X.T @ X)[1]
                - 0.5 * np.linalg.slogdet(S)[1] - 0.5 * np.linalg.slogdet(A)[1] - 0.5 * r @ Si @ r)  # fmt: skip

    return ll


def _dense_parts(name):
    case = CASES[name]
    c = pd.DataFrame(case["contrasts"])
    lv = case["treatments"]
    X = np.column_stack([(c["treatment"] == t).to_numpy(float) - (c["comparator"] == t).to_numpy(float) for t in lv[1:]])
    same = (c["study"].to_numpy()[:, None] == c["study"].to_numpy()[None, :])
    R = 0.5 * same + 0.5 * np.eye(len(c))
    return c, X, np.asarray(case["V"], float), R


@pytest.mark.parametrize("name", ["hasselblad1998_OR", "senn2013_SMD", "dong2013_OR"])
def test_reml_is_the_global_maximum_of_the_restricted_likelihood(name):
    res = _fit(name, "REML")
    c, X, V, R = _dense_parts(name)
    y = c["yi"].to_numpy(float)
    ll = _dense_reml(y, X, V, R)
    top = ll(res.tau2)
    assert top == pytest.approx(res.loglik, rel=1e-10, abs=1e-10)
    grid = np.concatenate([[0.0], np.geomspace(1e-6, 20 * max(res.tau2, np.var(y)), 600)])
    assert max(ll(t) for t in grid) <= top + 1e-10
    if res.tau2 > 0:
        h = 1e-4 * res.tau2
        assert abs(ll(res.tau2 + h) - ll(res.tau2 - h)) / (2 * h) < 1e-5
    # the design-by-treatment model's τ² maximises that model's restricted likelihood too
    keys = list(dict.fromkeys(zip(c["design"], c["treatment"])))
    full = np.column_stack([((c["design"] == d) & (c["treatment"] == t)).to_numpy(float) for d, t in keys])
    ll_inc = _dense_reml(y, full, V, R)  # the same column space as [X, Z]
    t_inc = res.inconsistency_tau2
    assert max(ll_inc(t) for t in grid) <= ll_inc(t_inc) + 1e-10


def test_senn2013_printed_decomposition():
    """netmeta's printed decomp.design for Senn2013 (the same data; fixed effect): Q total 96.99 on 18 df,
    within designs 74.46 on 11, between designs 22.53 on 7 (netmeta output reproduced in
    https://cttir.github.io/courses/course3_design_causal/labs/lab_week4_session3_slides.html).
    netmeta's Senn2013 holds the standard errors rounded to 4 decimals (0.1414 for √0.019998), so the
    printed values are matched to 0.02, not to their last digit."""
    res = _fit("senn2013_MD", "FE")
    assert res.q == pytest.approx(96.99, abs=0.02) and res.q_df == 18
    assert res.q_within_designs == pytest.approx(74.46, abs=0.02) and res.q_within_designs_df == 11
    assert res.q_between_designs == pytest.approx(22.53, abs=0.02) and res.inconsistency_df == 7
    assert res.inconsistency_q == pytest.approx(res.q_between_designs, rel=1e-10)  # FE: Wald = ΔQ


@pytest.mark.parametrize(("name", "method"), [("senn2013_MD", "FE"), ("hasselblad1998_OR", "FE"),
                                              ("dong2013_OR", "REML")])  # fmt: skip
def test_contrast_level_input_matches_metafor(name, method):
    case, ref = CASES[name], _ref(name, method)
    c = pd.DataFrame(case["contrasts"]).drop(columns="design")
    c = c.iloc[::-1].rename(columns={"comparator": "versus", "cov": "covariance"})  # any row order
    res = network_meta(c, measure=case["measure"], reference=case["reference"], method=method, comparator="versus",
                       cov="covariance")  # fmt: skip
    tol = REML_METAFOR if method == "REML" else CLOSED_FORM
    _close(res.estimate[1:], ref["estimate"], tol, "estimate")
    _close(res.se[1:], ref["se"], tol, "se")
    _close([res.tau2, res.q, res.inconsistency_q], [ref["tau2"], ref["qe"], ref["dbt"]["qm"]], tol, "tau2, Q")
    assert np.isnan(res.participants).all()


def test_contrasts_against_any_comparator_are_re_expressed():
    """A multi-arm trial given against an arm that is not its baseline (Willms 1999: acarbose and
    placebo vs metformin) is re-expressed against its baseline exactly (y' = Ty, V' = TVT'), so every
    result equals metafor's fit of the baseline contrasts."""
    case, ref = CASES["senn2013_MD"], _ref("senn2013_MD", "FE")
    c = pd.DataFrame(case["contrasts"]).drop(columns="design")
    w = c.index[c["study"] == "Willms (1999)"]
    acar, metf = (c.loc[w][c.loc[w, "treatment"] == t].iloc[0] for t in ("acarbose", "metformin"))
    comp_metf = metf["vi"] - metf["cov"]  # metformin arm's variance component
    c.loc[acar.name, ["treatment", "comparator", "yi", "vi"]] = ["acarbose", "metformin", acar["yi"] - metf["yi"],
                                                                acar["vi"] - acar["cov"] + comp_metf]  # fmt: skip
    c.loc[metf.name, ["treatment", "comparator", "yi", "vi"]] = ["placebo", "metformin", -metf["yi"], metf["vi"]]
    c.loc[w, "cov"] = comp_metf
    res = network_meta(c, measure="MD", reference="placebo", method="FE", comparator="comparator")
    _close(res.estimate[1:], ref["estimate"], CLOSED_FORM, "estimate")
    _close([res.q, res.inconsistency_q], [ref["qe"], ref["dbt"]["qm"]], CLOSED_FORM, "Q")
    ns = pd.DataFrame(ref["node_split"]).merge(res.node_split, on=["treatment", "comparator"], suffixes=("_r", ""))
    assert len(ns) == len(res.node_split) == len(ref["node_split"])
    _close(ns["difference"], ns["difference_r"], CLOSED_FORM, "node split")


def test_zero_cells_get_a_half_in_every_cell_of_the_trial():
    arms = pd.DataFrame(CASES["dong2013_OR"]["arms"])
    res = _fit("dong2013_OR", "FE")
    zero_cell = (arms["events"] == 0) | (arms["events"] == arms["n"])
    assert set(res.zero_corrected) == set(arms.loc[zero_cell, "study"])
    assert len(res.zero_corrected) == 12 and np.all(np.isfinite(res.contrasts["yi"]))


def test_changing_the_reference_is_consistent():
    a = _fit("senn2013_MD", "REML")
    b = network_meta(pd.DataFrame(CASES["senn2013_MD"]["arms"]), measure="MD", reference="metformin", method="REML")
    lg = a.league.set_index(["treatment", "comparator"])
    for t, est in zip(b.treatments[1:], b.estimate[1:]):
        assert est == pytest.approx(lg.loc[(t, "metformin"), "estimate"], abs=1e-9)
    assert b.tau2 == pytest.approx(a.tau2, abs=1e-10) and b.q == pytest.approx(a.q, rel=1e-12)
    pa = dict(zip(a.treatments, a.pscore))
    assert np.allclose([pa[t] for t in b.treatments], b.pscore, atol=1e-9)


def test_result_object():
    res = _fit("hasselblad1998_OR", "REML")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.tau2 = 0.0  # type: ignore[misc]
    eff = res.effects
    assert eff.index.name == "treatment" and list(eff.index) == list(res.treatments)
    assert list(eff.columns) == ["estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"]
    frame = res.to_frame()
    assert list(frame.columns)[-1] == "pscore" and len(frame) == 4
    assert res.level == 0.95 and res.reference == "no_contact" and res.k == 24 and res.n_contrasts == 26
    d = res.to_dict()
    assert d["method"] == "REML" and d["measure"] == "OR" and "league" not in d and "estimate" not in d
    html = res._repr_html_()
    assert "NetworkResult" in html and "grp_counseling" in html
    assert "design-by-treatment" in repr(res)
    assert set(res.edges.columns) == {"treatment1", "treatment2", "n_studies"}
    assert res.edges["n_studies"].sum() == 22 + 2 * 3  # 22 two-arm trials, 2 three-arm trials
    assert 0.0 <= res.i2 <= 100.0 and np.all((res.pscore >= 0) & (res.pscore <= 1))


def test_convergence_is_reported():
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        res = network_meta(pd.DataFrame(CASES["senn2013_MD"]["arms"]), measure="MD", reference="placebo",
                           method="REML", max_iter=1)  # fmt: skip
    assert not res.converged and res.n_iter == 1


def _arms():
    return pd.DataFrame({"study": ["s1", "s1", "s2", "s2", "s3", "s3"], "treatment": ["A", "B", "A", "C", "B", "C"],
                         "events": [5, 8, 6, 9, 7, 4], "n": [50, 50, 60, 60, 40, 40]})  # fmt: skip


def test_options_are_checked():
    arms = _arms()
    with pytest.raises(ValueError, match="'FE', 'DL', 'REML'"):
        network_meta(arms, measure="OR", reference="A", method="PM")
    with pytest.raises(ValueError, match="method='reml' is not valid"):
        network_meta(arms, measure="OR", reference="A", method="reml")
    with pytest.raises(ValueError, match="'OR', 'RR', 'RD', 'MD', 'SMD'"):
        network_meta(arms, measure="PETO", reference="A")
    with pytest.raises(ValueError, match="'desirable', 'undesirable'"):
        network_meta(arms, measure="OR", reference="A", small_values="good")
    with pytest.raises(ValueError, match="level"):
        network_meta(arms, measure="OR", reference="A", level=95)


def test_bad_arm_data_name_row_column_value_and_fix():
    arms = _arms()
    with pytest.raises(StudyDataError, match="column 'events' is missing"):
        network_meta(arms.drop(columns="events"), measure="OR", reference="A")
    bad = arms.copy()
    bad.loc[3, "events"] = 70
    with pytest.raises(StudyDataError) as err:
        network_meta(bad, measure="OR", reference="A", source="arms.csv")
    (p,) = err.value.problems
    assert (p.file, p.row, p.column, p.value) == ("arms.csv", 3, "events", 70.0) and "more events" in p.message and p.fix
    dup = arms.copy()
    dup.loc[1, "treatment"] = "A"
    with pytest.raises(StudyDataError, match="treatment 'A' appears twice in study 's1'.*combine_arms"):
        network_meta(dup, measure="OR", reference="A")
    with pytest.raises(StudyDataError, match="study 's4' has a single arm"):
        network_meta(pd.concat([arms, pd.DataFrame({"study": ["s4"], "treatment": ["A"], "events": [1], "n": [9]})],
                               ignore_index=True), measure="OR", reference="A")  # fmt: skip
    with pytest.raises(StudyDataError, match="reference treatment 'Z' is not in the data.*'A', 'B', 'C'"):
        network_meta(arms, measure="OR", reference="Z")
    cont = arms.rename(columns={"events": "mean"}).assign(sd=[1.0, 0.0, 1, 1, 1, 1])
    with pytest.raises(StudyDataError, match="row 1, column 'sd': SD must be positive"):
        network_meta(cont, measure="SMD", reference="A")


def test_disconnected_network_names_the_sub_networks():
    arms = pd.DataFrame({"study": ["s1", "s1", "s2", "s2", "s3", "s3"], "treatment": ["A", "B", "A", "B", "C", "D"],
                         "mean": [1.0, 2, 1, 2, 3, 4], "sd": [1.0] * 6, "n": [20] * 6})  # fmt: skip
    with pytest.raises(StudyDataError) as err:
        network_meta(arms, measure="MD", reference="A")
    text = str(err.value)
    assert "disconnected" in text and "['A', 'B']" in text and "['C', 'D']" in text and "['s3']" in text
    assert len(err.value.problems) == 2


def test_bad_contrast_data():
    c = pd.DataFrame({"study": ["s1", "s1", "s2"], "treatment": ["B", "C", "C"], "comparator": ["A", "A", "B"],
                      "yi": [0.1, 0.2, 0.1], "vi": [0.04, 0.05, 0.03], "cov": [0.02, 0.02, np.nan]})  # fmt: skip
    ok = network_meta(c, measure="MD", reference="A", method="FE", comparator="comparator")
    assert ok.k == 2 and ok.q_df == 1 and ok.q == pytest.approx(0.0, abs=1e-12)  # B−A, C−A, C−B consistent
    with pytest.raises(StudyDataError, match="different comparators"):
        network_meta(c.assign(comparator=["A", "B", "B"]), measure="MD", reference="A", comparator="comparator")
    with pytest.raises(StudyDataError, match="column 'cov' is missing"):
        network_meta(c.drop(columns="cov"), measure="MD", reference="A", comparator="comparator")
    with pytest.raises(StudyDataError, match=r"must lie in \[0, smallest vi\)"):
        network_meta(c.assign(cov=[0.05, 0.05, np.nan]), measure="MD", reference="A", comparator="comparator")
    with pytest.raises(StudyDataError, match="compared with itself"):
        network_meta(c.assign(comparator=["B", "A", "B"]).iloc[[0, 2]], measure="MD", reference="A",
                     comparator="comparator")  # fmt: skip


def test_a_ten_treatment_forty_trial_network_is_fast():
    arms = pd.DataFrame(CASES["sim40_OR"]["arms"])
    for method in ("FE", "REML"):
        start = time.perf_counter()
        res = network_meta(arms, measure="OR", reference="A", method=method)
        assert time.perf_counter() - start < 3.0 and len(res.treatments) == 10 and res.k == 40


def test_consistency_model_alone_matches_the_full_fit():
    """``inconsistency=False`` skips the design-by-treatment and node-splitting models, nothing else."""
    arms = pd.DataFrame(CASES["sim40_OR"]["arms"])
    full = network_meta(arms, measure="OR", reference="A", method="REML")
    alone = network_meta(arms, measure="OR", reference="A", method="REML", inconsistency=False)
    assert np.array_equal(alone.estimate, full.estimate) and alone.tau2 == full.tau2 and alone.q == full.q
    assert np.array_equal(alone.pscore, full.pscore) and alone.league.equals(full.league)
    assert alone.node_split.empty and list(alone.node_split.columns) == list(full.node_split.columns)
    assert alone.inconsistency_df == 0 and np.isnan(alone.inconsistency_q) and not full.node_split.empty
