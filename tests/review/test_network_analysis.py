"""The report's network of all comparisons and its every-time-point multilevel model
(:mod:`tpmeta.review.network_analysis`, :mod:`tpmeta.review.network_text`): how arms become nodes, that a
trial counts once (a multi-arm trial with all its arms), why trials are left out, and the sentences the
report prints per comparison. Synthetic trials test the rule; the curated dataset tests what the report
says today. Fast: no report is built."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.appraisal.rob2 import rob2_table
from tpmeta.models.conversions import combine_arms
from tpmeta.options import Measure
from tpmeta.review import network_text
from tpmeta.review.network_analysis import (
    NetworkSpec,
    network_specs,
    run_multilevel,
    run_network,
    run_networks,
)

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "mini_studies"

# ---- synthetic trials ----------------------------------------------------------------------------

TRIALS = [  # study_id, intervention_class, comparator_class, inclusion_status
    ("ic2001", "ischemic_compression", "sham", "included"),
    ("dn2002", "dry_needling", "sham", "included"),
    ("icdn2003", "ischemic_compression", "active", "included"),  # vs dry needling: named in arm_nodes
    ("ic2004", "ischemic_compression", "sham", "included"),  # two IC arms: combined
    ("sm2005", "self_massage", "sham", "included"),  # three arms: self-massage, stretching, sham
    ("ibu2006", "self_massage", "active", "included"),  # vs ibuprofen, not named: left out
    ("other2007", "other", "sham", "included"),  # 'other' not named: left out
    ("mass2008", "massage", "no_treatment", "included"),  # not linked to the rest
    ("dndn2009", "dry_needling", "active", "included"),  # control named 'dry needling': one node
    ("contrast2010", "ischemic_compression", "sham", "included"),  # only a between-group difference
    ("await2011", "ischemic_compression", "sham", "awaiting"),
]
ARMS = [  # study_id, arm, role, n, mean, sd (pain, lower is better)
    ("ic2001", "IC", "intervention", 20, 3.0, 1.2), ("ic2001", "sham", "control", 20, 4.1, 1.3),
    ("dn2002", "DN", "intervention", 25, 3.4, 1.1), ("dn2002", "sham", "control", 25, 4.0, 1.2),
    ("icdn2003", "IC", "intervention", 30, 3.2, 1.0), ("icdn2003", "DN", "control", 30, 3.5, 1.1),
    ("ic2004", "IC 30 s", "intervention", 15, 3.1, 1.2), ("ic2004", "IC 60 s", "intervention", 15, 2.7, 1.0),
    ("ic2004", "sham", "control", 30, 3.9, 1.3),
    ("sm2005", "self-massage", "intervention", 18, 3.3, 1.2), ("sm2005", "stretching", "intervention", 18, 3.6, 1.1),
    ("sm2005", "sham", "control", 18, 4.2, 1.0),
    ("ibu2006", "SM", "intervention", 30, 3.0, 1.0), ("ibu2006", "ibuprofen", "control", 30, 3.3, 1.0),
    ("other2007", "MFR", "intervention", 20, 3.0, 1.0), ("other2007", "sham", "control", 20, 3.6, 1.0),
    ("mass2008", "massage", "intervention", 22, 3.1, 1.0), ("mass2008", "wait-list", "control", 22, 3.9, 1.0),
    ("dndn2009", "DN deep", "intervention", 20, 3.0, 1.0), ("dndn2009", "DN superficial", "control", 20, 3.2, 1.0),
    ("await2011", "IC", "intervention", 20, 3.0, 1.0), ("await2011", "sham", "control", 20, 3.5, 1.0),
]  # fmt: skip
ARM_NODES = (("icdn2003", "control", "dry needling"), ("sm2005", "stretching", "stretching"),
             ("dndn2009", "control", "dry needling"))  # fmt: skip


def _spec(**kw) -> NetworkSpec:
    base = dict(analysis_id="net", title="Pain network", model="network", outcome="pain_intensity",
                measure=Measure.SMD, timepoint="first_post", intervention_classes=(), comparator_classes=(),
                nodes="class", arm_nodes=ARM_NODES, reference="sham", method="REML")  # fmt: skip
    base.update(kw)
    return NetworkSpec(**base)


@pytest.fixture(scope="module")
def mini():
    return tpmeta.load_studies(MINI, validate=False)


@pytest.fixture(scope="module")
def synthetic(mini):
    t0 = mini.trials.iloc[0]
    trials = pd.DataFrame([{**t0.to_dict(), "study_id": s, "authors": f"{s[:-4].capitalize()} A", "year": int(s[-4:]),
                            "intervention_class": ic, "comparator_class": cc, "inclusion_status": st,
                            "exclusion_reason": "full text needed" if st != "included" else pd.NA,
                            "comparator": "ibuprofen" if s == "ibu2006" else "comparator", "condition": f"condition of {s}",
                            "design": "parallel"} for s, ic, cc, st in TRIALS])  # fmt: skip
    o0 = mini.outcomes.iloc[0]
    outcomes = pd.DataFrame([{**o0.to_dict(), "study_id": s, "arm": a, "arm_role": r, "n": float(n), "mean": m,
                              "sd": sd, "timepoint": "post-treatment", "weeks": 4.0} for s, a, r, n, m, sd in ARMS])  # fmt: skip
    base = mini.outcomes.iloc[0:0]
    contrasts = pd.DataFrame([{"study_id": "contrast2010", "outcome": "pain_intensity", "instrument": "VAS",
                               "timepoint": "post", "measure": "MD", "estimate": -1.0, "ci_low": -2.0, "ci_high": 0.0}],
                             columns=mini.contrasts.columns)  # fmt: skip
    return dataclasses.replace(mini, trials=trials, outcomes=pd.concat([base, outcomes], ignore_index=True),
                               contrasts=contrasts, rob2=mini.rob2.iloc[0:0])  # fmt: skip


@pytest.fixture(scope="module")
def net(synthetic):
    return run_network(synthetic, _spec())


def test_nodes_follow_the_class_rule_and_named_arms(net):
    nodes = net.arms.groupby("study_id")["node"].apply(set).to_dict()
    assert nodes == {
        "ic2001": {"ischemic compression", "sham"}, "dn2002": {"dry needling", "sham"},
        "icdn2003": {"ischemic compression", "dry needling"},  # the active comparator named as the class node
        "ic2004": {"ischemic compression", "sham"}, "sm2005": {"self-massage", "stretching", "sham"},
    }  # fmt: skip
    assert net.result.treatments == ("sham", "dry needling", "ischemic compression", "self-massage", "stretching")


def test_each_trial_counts_once_and_a_multi_arm_trial_keeps_all_its_arms(net):
    res = net.result
    assert res.k == net.arms["study_id"].nunique() == 5
    per_trial = res.contrasts.groupby("study")["treatment"].count()
    assert per_trial["sm2005"] == 2 and (per_trial.drop("sm2005") == 1).all()  # three arms: two contrasts
    assert set(res.contrasts.loc[res.contrasts["study"] == "sm2005", "design"]) == {"sham:self-massage:stretching"}
    two = net.arms[(net.arms["study_id"] == "ic2004") & (net.arms["node"] == "ischemic compression")].iloc[0]
    n, m, s = combine_arms(15, 3.1, 1.2, 15, 2.7, 1.0)  # arms at one node combined (Handbook 23.3.4)
    assert (two["n"], two["mean"], two["sd"], two["arms_combined"]) == pytest.approx((float(n), float(m), float(s), 2))


def test_trials_left_out_say_why(net):
    why = net.excluded.set_index("study_id")["reason"]
    assert set(why.index) == {"ibu2006", "other2007", "mass2008", "dndn2009", "contrast2010", "await2011"}
    assert "active treatment (ibuprofen)" in why["ibu2006"] and "arm_nodes" in why["ibu2006"]
    assert "intervention class is 'other'" in why["other2007"]
    assert why["mass2008"] == ("not linked to the network: it compares trigger-point massage with no treatment, which no trial "
                               "of the network includes")  # fmt: skip
    assert "all its arms are at one node (dry needling)" in why["dndn2009"]
    assert "only a between-group difference" in why["contrast2010"]
    assert why["await2011"].startswith("not included in the review (awaiting")
    assert net.sub_networks[1] == (("no treatment", "trigger-point massage"), ("mass2008",))


def test_comparison_sentences_say_how_few_trials_inform_each_comparison(net):
    # every pair of the 5 nodes; the best-informed first, the indirect-only ones last; a loop inside one
    # (multi-arm) trial is no independent check, so its comparisons are "direct only"
    assert net.comparison_sentences() == [
        "Ischemic compression vs sham: 2 trials (n = 100), direct and indirect.",
        "Dry needling vs sham: 1 trial (n = 50), direct and indirect.",
        "Self-massage vs sham: 1 trial (n = 36), direct only.",
        "Stretching vs sham: 1 trial (n = 36), direct only.",
        "Ischemic compression vs dry needling: 1 trial (n = 60), direct and indirect.",
        "Stretching vs self-massage: 1 trial (n = 36), direct only.",
        "Self-massage vs dry needling: no trial; indirect only (through sham).",
        "Stretching vs dry needling: no trial; indirect only (through sham).",
        "Self-massage vs ischemic compression: no trial; indirect only (through sham).",
        "Stretching vs ischemic compression: no trial; indirect only (through sham).",
    ]
    assert network_text.bottom_line(net) == ("5 trials form the network; the best-informed pair rests on 2 trials; 4 of "
                                             "the 10 comparisons are indirect only.")  # fmt: skip
    summary = network_text.summary_sentence(net)
    assert summary.startswith("5 trials (264 participants) and 5 treatments enter the network")
    assert "Multi-arm trials (all arms, counted once): Sm 2005." in summary
    assert "1 trial with usable numbers compares treatments that no trial links to this network and is left out" in summary


def test_inconsistency_is_checked_where_a_loop_exists(net):
    res = net.result
    assert set(zip(res.node_split["treatment"], res.node_split["comparator"])) == {
        ("dry needling", "sham"), ("ischemic compression", "sham"), ("ischemic compression", "dry needling")}
    text = network_text.inconsistency_sentence(net)
    assert text.startswith(f"Design-by-treatment interaction: χ²(1) = {res.inconsistency_q:.2f}")
    assert "Node-splitting (3 comparisons with both direct and indirect evidence)" in text
    assert network_text.heterogeneity_sentence(net).startswith(f"Heterogeneity: τ² = {res.tau2:.3f}, Q(2)")
    assert "Ic 2004: IC 30 s and IC 60 s, in condition of ic2004" in network_text.transitivity_sentence(net)


def test_risk_of_bias_per_comparison_counts_trials(synthetic):
    rob = pd.DataFrame({"study_id": ["ic2001", "ic2004", "dn2002"], "outcome": "pain_intensity",
                        "overall": ["high", "low", "high"], "overall_assessable": [False, True, True]})  # fmt: skip
    na = run_network(synthetic, _spec(), rob)
    c = na.comparisons.set_index(["treatment", "comparator"])
    assert c.loc[("ischemic compression", "sham"), ["high", "high_abstract_gap", "not_assessed"]].tolist() == [1, 1, 0]
    assert c.loc[("dry needling", "sham"), ["high", "high_abstract_gap", "not_assessed"]].tolist() == [1, 0, 0]
    assert c.loc[("stretching", "sham"), "not_assessed"] == 1
    table = network_text.comparison_table(na).set_index("comparison")
    assert table.loc["ischemic compression vs sham", "trials at high risk of bias (RoB 2)"] == (
        "1 of 2 (50%); 1 only because the abstract is silent")  # fmt: skip
    assert table.loc["self-massage vs ischemic compression", "trials at high risk of bias (RoB 2)"] == "— (no direct trial)"


def test_declaration_typos_name_the_closest_choice(synthetic):
    with pytest.raises(tpmeta.StudyDataError, match="trial 'icdn2030'.*did you mean 'icdn2003'"):
        run_network(synthetic, _spec(arm_nodes=(("icdn2030", "control", "dry needling"),)))
    with pytest.raises(tpmeta.StudyDataError, match="no arm 'stretch'.*did you mean 'stretching'"):
        run_network(synthetic, _spec(arm_nodes=(("sm2005", "stretch", "stretching"),)))
    with pytest.raises(tpmeta.StudyDataError, match="reference 'shame'.*did you mean 'sham'"):
        run_network(synthetic, _spec(reference="shame"))


def test_no_network_when_no_two_trials_share_a_treatment(synthetic):
    na = run_network(synthetic, _spec(intervention_classes=("massage", "self_massage"), comparator_classes=("no_treatment", "active"),
                                      arm_nodes=(("ibu2006", "control", "ibuprofen"),)))  # fmt: skip
    assert na.result is None and na.k == 0 and na.arms.empty
    assert "no other trial shares a treatment" in na.excluded.set_index("study_id").loc["mass2008", "reason"]
    assert network_text.summary_sentence(na).startswith(
        "No network can be formed: no two trials with usable arm-level numbers share a treatment")  # fmt: skip
    assert network_text.bottom_line(na) == "No network: no two trials with usable numbers share a treatment."


def test_multilevel_uses_every_time_point(synthetic):
    o = synthetic.outcomes
    later = o[o["study_id"].isin(["ic2001", "dn2002"])].assign(timepoint="12 weeks", weeks=12.0,
                                                               mean=lambda f: f["mean"] - 0.2)  # fmt: skip
    base = o[o["study_id"] == "ic2001"].assign(timepoint="baseline", weeks=0.0, mean=5.0)
    no_n = o[o["study_id"] == "dn2002"].assign(timepoint="26 weeks", weeks=26.0, n=np.nan)
    data = dataclasses.replace(synthetic, outcomes=pd.concat([o, later, base, no_n], ignore_index=True))
    ml = run_multilevel(data, _spec(model="multilevel", timepoint="all", comparator_classes=("sham", "no_treatment", "usual_care")))
    counts = ml.effects.groupby("study_id")["timepoint"].apply(list).to_dict()
    assert counts["ic2001"] == ["post-treatment", "12 weeks"] and counts["dn2002"] == ["post-treatment", "12 weeks"]
    assert "await2011" not in counts and "ibu2006" not in counts  # not in the review; an active comparator
    assert ml.fit.k == len(ml.effects) and ml.fit.n_studies == ml.effects["study_id"].nunique() == ml.robust.n_clusters
    assert ml.sentence().startswith(f"{len(ml.effects)} effects (trial × time point) from {ml.fit.n_studies} trials")
    assert "CR2 cluster-robust 95% CI" in ml.sentence()


# ---- the curated dataset: what the report says today ---------------------------------------------


@pytest.fixture(scope="module")
def curated():
    data = tpmeta.load_studies(ROOT / "studies", validate=False)
    return run_networks(data, rob2_table(data.rob2, pedro=data.pedro))


def test_the_declared_analyses(curated):
    data = tpmeta.load_studies(ROOT / "studies", validate=False)
    specs = {s.analysis_id: s for s in network_specs(data)}
    assert set(specs) == set(curated) >= {"pain_network", "ppt_network", "pain_all_timepoints"}
    assert specs["pain_all_timepoints"].model == "multilevel" and specs["pain_network"].nodes == "class"


def test_pain_network_report_sentences(curated):
    na = curated["pain_network"]
    assert set(na.arms["study_id"]) == {"kocak2019", "ojala2006"} and na.result.k == 2
    assert na.comparison_sentences() == [
        "Trigger-point injection vs sham: 1 trial (n = 62), direct only.",
        "Trigger-point injection vs intravenous NSAID: 1 trial (n = 54), direct only.",
        "Intravenous NSAID vs sham: no trial; indirect only (through trigger-point injection).",
    ]
    why = na.excluded.set_index("study_id")["reason"]
    assert why["bron2011"].startswith("not linked to the network") and why["wamontree2015"].startswith("not linked")
    assert "between-group difference" in why["berggreen2012"]
    assert network_text.bottom_line(na) == ("2 trials form the network; every pair compared in a trial rests on that "
                                            "single trial; 1 of the 3 comparisons is indirect only; whether direct and "
                                            "indirect evidence agree cannot be checked.")  # fmt: skip
    assert network_text.inconsistency_sentence(na).startswith("Inconsistency cannot be checked. No comparison has both")
    assert "The node 'trigger-point injection' joins 2 trials" in network_text.transitivity_sentence(na)
    assert network_text.pscore_caution(na).endswith("; with 2 trials, no closed loop and every trial judged at high risk "
                                                    "of bias, this ranking is not a basis for choosing a treatment.")  # fmt: skip
    assert any("mixes change scores (Kocak 2019) and final values (Ojala 2006)" in n for n in na.notes)


def test_ppt_has_no_network_and_says_why(curated):
    na = curated["ppt_network"]
    assert na.result is None
    assert network_text.summary_sentence(na).startswith("No network can be formed")
    assert "Ojala 2006 (trigger-point injection vs sham)" in network_text.summary_sentence(na)


def test_multilevel_sentence_counts_effects_and_trials(curated):
    ml = curated["pain_all_timepoints"]
    assert ml.sentence().startswith("3 effects (trial × time point) from 2 trials (Bron 2011: 2 time points; "
                                    "Ojala 2006: 1 time point).")  # fmt: skip
    assert "below 4 it is unreliable" in ml.sentence()
