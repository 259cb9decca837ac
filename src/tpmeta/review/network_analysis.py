"""Analyses of several comparisons or time points at once, declared in ``studies/networks.csv``: network
meta-analyses (every treatment compared in the trials, :func:`tpmeta.network_meta`) and multilevel
models (every reported time point of every trial, :func:`tpmeta.multilevel` with CR2 inference).

**Network rows** (``model = network``). Trials: ``included`` trials of the declared classes (empty: all)
reporting the outcome with arm-level numbers. Per trial, one instrument and one time point exactly as
the pairwise analyses choose them (:mod:`tpmeta.review.analyses`: first after treatment, final values
before change scores, the instrument that has both arms); arms completed by
:func:`tpmeta.conversions.fill_mean_sd`. Trials that report only a between-group difference, or lack n,
mean or SD, are left out with the reason.

Nodes, rule ``class``:

* an intervention arm is its trial's ``intervention_class`` (a trigger-point technique: ischemic
  compression, pressure release, massage, self-massage, instrument-assisted compression, dry needling,
  trigger-point injection);
* a control arm is its trial's ``comparator_class`` when that is an inactive control: sham, no treatment
  or usual care (each one node: they are what the pairwise analyses pool as "inactive");
* ``other`` (a catch-all, not one technique) and ``active`` (another treatment: ibuprofen is not an
  intravenous NSAID) are not nodes. The reviewer names such an arm's treatment in ``arm_nodes``
  (``study_id:intervention=name``, ``study_id:control=name`` or ``study_id:<arm>=name``); otherwise the
  trial is left out with the reason. Different active treatments are never lumped into one node;
* arms of one trial at the same node are combined (Cochrane Handbook 23.3.4), so every trial enters
  once, with one arm per node (a multi-arm trial with all its arms); a trial whose arms all fall on one
  node compares nothing and is left out;
* the network is the connected set of nodes with the most trials (then participants); trials in other,
  unlinked sub-networks are left out with the sub-network named.

**Multilevel rows** (``model = multilevel``, ``timepoint = all``): per trial the same instrument and
value type as the pairwise rule, and every time point after baseline at which both arms have n, mean and
SD; one SMD (intervention − control, arms of a role combined) per trial × time point; the three-level
model with trials as clusters and CR2 cluster-robust inference (Satterthwaite df).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..dataset.studies import StudyData, trial_label
from ..errors import DataProblem, StudyDataError
from ..models.conversions import fill_mean_sd
from ..models.effects import effect_sizes
from ..models.multilevel import MultilevelResult, multilevel
from ..models.network import NetworkResult, network_meta
from ..models.robust import RobustResult, robust
from ..options import Measure
from .analyses import (
    _choose_rows,
    _combine,
    _is_baseline,
    trials_of_question,
    trials_reporting,
)

__all__ = ["NetworkSpec", "NetworkAnalysis", "MultilevelAnalysis", "network_specs", "run_network",
           "run_multilevel", "run_networks", "CLASS_NODES"]  # fmt: skip

FILE = "networks.csv"

#: Node names of the classes that are one treatment (rule ``class``); ``other`` and ``active`` are not.
CLASS_NODES = {
    "ischemic_compression": "ischemic compression", "pressure_release": "pressure release",
    "massage": "trigger-point massage", "self_massage": "self-massage",
    "instrument_assisted": "instrument-assisted compression", "dry_needling": "dry needling",
    "injection": "trigger-point injection", "sham": "sham", "no_treatment": "no treatment",
    "usual_care": "usual care",
}  # fmt: skip
INACTIVE = ("sham", "no_treatment", "usual_care")
ROLES = ("intervention", "control")


def _did_you_mean(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    if not close:
        low = {c.lower(): c for c in choices}
        close = [low[value.lower()]] if value.lower() in low else []
    return f"did you mean {close[0]!r}? " if close else ""


@dataclass(frozen=True)
class NetworkSpec:
    """One row of ``networks.csv``."""

    analysis_id: str
    title: str
    model: str
    outcome: str
    measure: Measure
    timepoint: str
    intervention_classes: tuple[str, ...]
    comparator_classes: tuple[str, ...]
    nodes: str
    arm_nodes: tuple[tuple[str, str, str], ...]  # (study_id, role or arm, node)
    reference: str
    method: str
    row: int | None = None

    @classmethod
    def from_row(cls, row: pd.Series, line: int | None = None) -> "NetworkSpec":
        def text(key: str) -> str:
            value = row.get(key)
            return "" if value is None or pd.isna(value) else str(value).strip()

        entries = []
        for part in filter(None, (p.strip() for p in text("arm_nodes").split(";"))):
            key, sep, node = part.rpartition("=")
            study, colon, which = key.partition(":")
            if not (sep and colon and study.strip() and which.strip() and node.strip()):
                raise StudyDataError(DataProblem(f"arm_nodes entry {part!r} is not study_id:arm=node", file=FILE,
                                                 row=line, column="arm_nodes", value=part,
                                                 fix="write e.g. kocak2019:control=intravenous NSAID"))  # fmt: skip
            entries.append((study.strip(), which.strip(), node.strip()))
        measure = text("measure")
        if measure != Measure.SMD.value:
            raise StudyDataError(DataProblem("only SMD analyses of arm-level numbers are declared here", file=FILE,
                                             row=line, column="measure", value=measure, fix="write SMD"))  # fmt: skip
        return cls(analysis_id=text("analysis_id"), title=text("title"), model=text("model"), outcome=text("outcome"),
                   measure=Measure.SMD, timepoint=text("timepoint"),
                   intervention_classes=tuple(text("intervention_classes").split()),
                   comparator_classes=tuple(text("comparator_classes").split()), nodes=text("nodes") or "class",
                   arm_nodes=tuple(entries), reference=text("reference"), method=text("method") or "REML", row=line)  # fmt: skip


def network_specs(data: StudyData) -> list[NetworkSpec]:
    """Every analysis declared in ``networks.csv`` next to the data (none when the file is absent)."""
    path = data.path / FILE
    if not path.is_file():
        return []
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return [NetworkSpec.from_row(r, line=i + 2) for i, r in frame.iterrows()]


# ---- selection -----------------------------------------------------------------------------------


def _trials(data: StudyData, spec: NetworkSpec) -> pd.DataFrame:
    return trials_of_question(data, spec.intervention_classes, spec.comparator_classes)


def _labels(data: StudyData) -> dict[str, str]:
    t = data.trials.set_index("study_id")
    return {s: trial_label(s, t.loc[s, "authors"], t.loc[s, "year"]) for s in t.index}


def _check_arm_nodes(data: StudyData, spec: NetworkSpec) -> None:
    """Every named arm must exist: a typo names the closest study or arm."""
    problems = []
    ids = list(data.trials["study_id"])
    out = data.outcomes[data.outcomes["outcome"] == spec.outcome]
    for study, which, node in spec.arm_nodes:
        entry = f"{study}:{which}={node}"
        if study not in ids:
            problems.append(DataProblem(f"arm_nodes of {spec.analysis_id!r} names trial {study!r}, which is not in "
                                        "trials.csv", file=FILE, row=spec.row, column="arm_nodes", value=entry,
                                        fix=_did_you_mean(study, ids) + "use a study_id of trials.csv"))  # fmt: skip
            continue
        arms = sorted(set(out.loc[out["study_id"] == study, "arm"].dropna()))
        if which not in ROLES and which not in arms:
            problems.append(DataProblem(f"arm_nodes of {spec.analysis_id!r}: trial {study!r} has no arm {which!r} for "
                                        f"{spec.outcome}", file=FILE, row=spec.row, column="arm_nodes", value=entry,
                                        fix=_did_you_mean(which, [*ROLES, *arms]) + "write intervention, control or an "
                                        f"arm as in outcomes.csv: {[*ROLES, *arms]}"))  # fmt: skip
    if problems:
        raise StudyDataError(problems)


def _node(spec: NetworkSpec, trial: pd.Series, arm: str, role: str) -> tuple[str | None, str]:
    """The node of one arm, or None and the reason it has none."""
    named = {(s, w): n for s, w, n in spec.arm_nodes}
    sid = str(trial["study_id"])
    if (sid, arm) in named:
        return named[(sid, arm)], ""
    if (sid, role) in named:
        return named[(sid, role)], ""
    cls = str(trial["intervention_class" if role == "intervention" else "comparator_class"])
    if role == "control" and cls not in INACTIVE:
        return None, (f"its control arm is an active treatment ({trial['comparator']}), not one node: name it in "
                      f"{FILE} arm_nodes to enter the network")  # fmt: skip
    if cls not in CLASS_NODES:
        return None, (f"its intervention class is '{cls}' (not one technique): name the treatment in {FILE} "
                      "arm_nodes to enter the network")  # fmt: skip
    return CLASS_NODES[cls], ""


def _direction(data: StudyData, outcome: str) -> str:
    d = data.outcomes.loc[data.outcomes["outcome"] == outcome, "direction"].dropna()
    return str(d.mode().iat[0]) if len(d) else "lower_better"


def _not_in_review(data: StudyData, spec: NetworkSpec, entering: set[str]) -> list[dict]:
    """Trials reporting the outcome that are not in the review (awaiting or excluded), with the reason."""
    has = trials_reporting(data, spec.outcome)
    meta = data.trials.set_index("study_id")
    rows = []
    for sid in sorted(has - entering - set(_trials(data, spec)["study_id"])):
        r = meta.loc[sid]
        fits = (not spec.intervention_classes or r["intervention_class"] in spec.intervention_classes) and (
            not spec.comparator_classes or r["comparator_class"] in spec.comparator_classes)  # fmt: skip
        if fits and r["inclusion_status"] != "included":
            why = r["exclusion_reason"] if pd.notna(r["exclusion_reason"]) else ""
            rows.append({"study_id": sid, "reason": f"not included in the review ({r['inclusion_status']}: {why})"})
    return rows


def _network_arms(data: StudyData, spec: NetworkSpec) -> tuple[pd.DataFrame, list[dict]]:
    """One row per trial × node (arms at one node combined) and the trials left out with reasons."""
    trials = _trials(data, spec).set_index("study_id", drop=False)
    out = data.outcomes[(data.outcomes["outcome"] == spec.outcome) & data.outcomes["study_id"].isin(trials.index)]
    majority = _direction(data, spec.outcome)
    rows, skipped = [], []
    for sid, group in out.groupby("study_id", sort=True):
        trial = trials.loc[sid]
        pick, note = _choose_rows(group, spec.timepoint)
        if pick.empty:
            skipped.append({"study_id": sid, "reason": note})
            continue
        filled = fill_mean_sd(pick)
        if filled[["n", "mean", "sd"]].isna().any().any():
            missing = ", ".join(c for c in ("n", "mean", "sd") if filled[c].isna().any())
            skipped.append({"study_id": sid, "reason": f"{note}: {missing} not available"})
            continue
        nodes, reasons = [], []
        for arm, role in zip(filled["arm"], filled["arm_role"]):
            node, why = _node(spec, trial, str(arm), str(role))
            nodes.append(node)
            if why:
                reasons.append(why)
        if reasons:
            skipped.append({"study_id": sid, "reason": "; ".join(dict.fromkeys(reasons))})
            continue
        filled = filled.assign(node=nodes)
        if filled["node"].nunique() < 2:
            skipped.append({"study_id": sid, "reason": f"all its arms are at one node ({nodes[0]}): it compares "
                            "nothing in this network"})  # fmt: skip
            continue
        sign = 1.0 if pick["direction"].iat[0] == majority else -1.0
        filled = filled.assign(_role=filled["arm_role"].map({"intervention": 0, "control": 1})).sort_values("_role", kind="stable")
        for node, arms in filled.groupby("node", sort=False):
            n, m, s, k = _combine(arms)
            rows.append({"study_id": sid, "node": node, "n": n, "mean": sign * m, "sd": s, "arms_combined": k,
                         "arms": "; ".join(map(str, arms["arm"])), "role": arms["arm_role"].iat[0],
                         "instrument": pick["instrument"].iat[0], "timepoint": pick["timepoint"].iat[0],
                         "value_type": pick["value_type"].iat[0], "condition": trial["condition"], "design": trial["design"],
                         "derivation": "; ".join(sorted(set(arms["derivation"]) - {"reported"})) or "reported"})  # fmt: skip
    done = {r["study_id"] for r in rows} | {r["study_id"] for r in skipped}
    con = data.contrasts[(data.contrasts["outcome"] == spec.outcome) & data.contrasts["study_id"].isin(trials.index)]
    for sid in sorted(set(con["study_id"]) - {r["study_id"] for r in rows}):
        why = "reports only a between-group difference, not arm-level numbers"
        if sid in done:
            for r in skipped:
                if r["study_id"] == sid:
                    r["reason"] = f"{r['reason']}; {why}"
        else:
            skipped.append({"study_id": sid, "reason": why})
    return pd.DataFrame(rows), skipped


def _components(arms: pd.DataFrame) -> list[tuple[set[str], list[str]]]:
    """Connected sets of nodes and their trials, largest first (trials, then participants, then name)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, g in arms.groupby("study_id"):
        first = find(g["node"].iat[0])
        for node in g["node"].iloc[1:]:
            parent[find(node)] = first
    comps: dict[str, tuple[set[str], list[str]]] = {}
    for sid, g in arms.groupby("study_id", sort=True):
        nodes, studies = comps.setdefault(find(g["node"].iat[0]), (set(), []))
        nodes.update(g["node"])
        studies.append(sid)
    n_of = arms.groupby("study_id")["n"].sum()
    return sorted(comps.values(), key=lambda c: (-len(c[1]), -float(n_of[c[1]].sum()), sorted(c[0])))


# ---- network -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkAnalysis:
    """A declared network: the arms that entered (one row per trial × node), the trials left out with
    reasons, the fit (None when no two trials connect), one row per pair of nodes (``comparisons``) and
    the unlinked sub-networks."""

    spec: NetworkSpec
    arms: pd.DataFrame
    excluded: pd.DataFrame
    result: NetworkResult | None
    comparisons: pd.DataFrame
    sub_networks: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (nodes, trials) of every part
    unlinked: pd.DataFrame  # arms of the usable trials outside the network (other sub-networks)
    notes: tuple[str, ...] = ()

    @property
    def k(self) -> int:
        return 0 if self.result is None else self.result.k

    def comparison_sentences(self) -> list[str]:
        """One plain sentence per pair of nodes: how many trials inform it and how."""
        out = []
        for r in self.comparisons.itertuples(index=False):
            pair = f"{r.treatment[:1].upper()}{r.treatment[1:]} vs {r.comparator}"
            if r.trials:
                plural = "trial" if r.trials == 1 else "trials"
                out.append(f"{pair}: {r.trials} {plural} (n = {r.participants}), {r.evidence}.")
            else:
                out.append(f"{pair}: no trial; {r.evidence}.")
        return out


def _participants(arms: pd.DataFrame, studies: list[str], a: str, b: str) -> int:
    sel = arms[arms["study_id"].isin(studies) & arms["node"].isin([a, b])]
    return int(round(sel["n"].sum()))


def _path(edges: list[tuple[str, str]], a: str, b: str) -> list[str]:
    """Nodes strictly between a and b on a shortest path (breadth-first)."""
    nbr: dict[str, set[str]] = {}
    for x, y in edges:
        nbr.setdefault(x, set()).add(y)
        nbr.setdefault(y, set()).add(x)
    prev, queue = {a: None}, [a]
    while queue:
        x = queue.pop(0)
        for y in sorted(nbr.get(x, ())):
            if y not in prev:
                prev[y] = x
                queue.append(y)
    if b not in prev:
        return []
    path, x = [], prev[b]
    while x is not None and x != a:
        path.append(x)
        x = prev[x]
    return path[::-1]


def _rob_counts(rob: pd.DataFrame | None, outcome: str, studies: list[str]) -> dict[str, Any]:
    """Trials at high risk (overall RoB 2), of which only because an abstract is silent, and not assessed."""
    if rob is None or not len(rob):
        return {"high": 0, "high_abstract_gap": 0, "not_assessed": len(studies)}
    table = rob[rob["outcome"] == outcome].set_index("study_id")
    high = gap = missing = 0
    for s in studies:
        if s not in table.index:
            missing += 1
            continue
        r = table.loc[s]
        if r["overall"] == "high":
            high += 1
            if "overall_assessable" in table.columns and not bool(r["overall_assessable"]):
                gap += 1
    return {"high": high, "high_abstract_gap": gap, "not_assessed": missing}


def _comparisons(res: NetworkResult, arms: pd.DataFrame, rob: pd.DataFrame | None, outcome: str) -> pd.DataFrame:
    order = list(res.treatments)
    by_study = arms.groupby("study_id")["node"].apply(set)
    split = {(r.treatment, r.comparator) for r in res.node_split.itertuples()} if len(res.node_split) else set()
    split |= {(b, a) for a, b in split}
    edges = [(a, b) for a, b in zip(res.edges["treatment1"], res.edges["treatment2"])]
    league = res.league.set_index(["treatment", "comparator"])
    rows = []
    for i, comp in enumerate(order):
        for treat in order[i + 1:]:  # the later node vs the earlier one (the reference is always a comparator)
            studies = sorted(s for s, nodes in by_study.items() if {comp, treat} <= nodes)
            if studies and (treat, comp) in split:
                evidence = "direct and indirect"
            elif studies:
                evidence = "direct only"
            else:
                evidence = f"indirect only (through {', '.join(_path(edges, treat, comp))})"
            lg = league.loc[(treat, comp)]
            row = {"treatment": treat, "comparator": comp, "trials": len(studies),
                   "participants": _participants(arms, studies, comp, treat), "evidence": evidence,
                   "study_ids": " ".join(studies), "estimate": float(lg["estimate"]), "ci_low": float(lg["ci_low"]),
                   "ci_high": float(lg["ci_high"])}  # fmt: skip
            row.update(_rob_counts(rob, outcome, studies))
            rows.append(row)
    frame = pd.DataFrame(rows)  # direct evidence first, most trials first; then the indirect comparisons
    return frame.sort_values("trials", ascending=False, kind="stable", ignore_index=True)


def run_network(data: StudyData, spec: NetworkSpec, rob: pd.DataFrame | None = None) -> NetworkAnalysis:
    """Select, place and fit one declared network (see the module docstring for the rules)."""
    if spec.model != "network":
        raise ValueError(f"{spec.analysis_id!r} is a {spec.model!r} analysis; run it with run_multilevel")
    if spec.nodes != "class":
        raise StudyDataError(DataProblem(f"unknown node rule {spec.nodes!r}", file=FILE, row=spec.row, column="nodes",
                                         value=spec.nodes, fix=_did_you_mean(spec.nodes, ["class"]) + "write class"))  # fmt: skip
    _check_arm_nodes(data, spec)
    arms, skipped = _network_arms(data, spec)
    labels = _labels(data)
    known = sorted({*CLASS_NODES.values(), *(n for _, _, n in spec.arm_nodes)})
    if spec.reference and spec.reference not in known:
        raise StudyDataError(DataProblem(f"the reference {spec.reference!r} of {spec.analysis_id!r} is not a node of "
                                         "the rule", file=FILE, row=spec.row, column="reference", value=spec.reference,
                                         fix=_did_you_mean(spec.reference, known) + f"choose one of {known}"))  # fmt: skip
    parts = _components(arms) if len(arms) else []
    notes = []
    result, comparisons = None, pd.DataFrame()
    if parts and len(parts[0][1]) >= 2:
        nodes, studies = parts[0]
        for _, other_studies in parts[1:]:
            for s in other_studies:
                skipped.append({"study_id": s, "reason": f"not linked to the network: it compares "
                                f"{' with '.join(arms.loc[arms['study_id'] == s, 'node'])}, which no trial of the "
                                "network includes"})  # fmt: skip
        main = arms[arms["study_id"].isin(studies)].reset_index(drop=True)
        reference = spec.reference if spec.reference in nodes else sorted(nodes)[0]
        if reference != spec.reference:
            notes.append(f"The declared reference ({spec.reference}) is not in the network; estimates are against "
                         f"{reference}.")  # fmt: skip
        small = "desirable" if _direction(data, spec.outcome) == "lower_better" else "undesirable"
        result = network_meta(main.rename(columns={"study_id": "study", "node": "treatment"}), measure=spec.measure,
                              reference=reference, method=spec.method, small_values=small, source=FILE)  # fmt: skip
        if not result.converged:
            notes.append("The REML iteration did not converge: treat the estimates with caution.")
        kinds = main.drop_duplicates("study_id").groupby("value_type")["study_id"].apply(list)
        if len(kinds) > 1:
            notes.append("The network mixes " + " and ".join(
                f"{'change scores' if v == 'change' else 'final values'} ({', '.join(labels[s] for s in ids)})"
                for v, ids in kinds.items()) + "; SMDs of changes and of final values are not strictly comparable "
                "(Cochrane Handbook 10.5.2).")  # fmt: skip
        comparisons = _comparisons(result, main, rob, spec.outcome)
        comparisons["trial_labels"] = [", ".join(labels[s] for s in ids.split()) for ids in comparisons["study_ids"]]
        unlinked = arms[~arms["study_id"].isin(studies)].assign(trial=lambda f: [labels[s] for s in f["study_id"]])
        arms = main
    else:
        for _, s in parts:
            for sid in s:
                skipped.append({"study_id": sid, "reason": f"compares {' with '.join(arms.loc[arms['study_id'] == sid, 'node'])}; "
                                "no other trial shares a treatment with it: no network"})  # fmt: skip
        unlinked = arms.assign(trial=[labels[s] for s in arms["study_id"]]) if len(arms) else arms
        arms = arms.iloc[0:0] if len(arms) else arms
    skipped += _not_in_review(data, spec, set(arms["study_id"]) if len(arms) else set())
    excluded = pd.DataFrame(skipped, columns=["study_id", "reason"]).groupby("study_id", sort=True)["reason"].agg(
        lambda r: "; ".join(dict.fromkeys(r))).reset_index()  # fmt: skip
    excluded.insert(1, "trial", [labels.get(s, s) for s in excluded["study_id"]])
    if len(arms):
        arms = arms.assign(trial=[labels[s] for s in arms["study_id"]])
    subs = tuple((tuple(sorted(n)), tuple(s)) for n, s in parts)
    return NetworkAnalysis(spec=spec, arms=arms, excluded=excluded, result=result, comparisons=comparisons,
                           sub_networks=subs, unlinked=unlinked, notes=tuple(notes))  # fmt: skip


# ---- multilevel ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultilevelAnalysis:
    """Every time point of every trial: the effects (one row per trial × time point), the trials left
    out, the three-level fit and its CR2 cluster-robust inference (None when fewer than 2 trials)."""

    spec: NetworkSpec
    effects: pd.DataFrame
    excluded: pd.DataFrame
    fit: MultilevelResult | None
    robust: RobustResult | None
    direction: str = "lower_better"  # the outcome's: which sign favours trigger-point therapy

    def sentence(self) -> str:
        """What the model used and found, in one paragraph of plain text."""
        k, m = len(self.effects), self.effects["study_id"].nunique() if len(self.effects) else 0
        what = f"{k} effect{'s' if k != 1 else ''} (trial × time point) from {m} trial{'s' if m != 1 else ''}"
        if self.fit is None or self.robust is None:
            return f"{what}: a multilevel model needs at least 2 trials, so none is fitted."
        per = self.effects.groupby("label", sort=False).size()
        detail = "; ".join(f"{lab}: {c} time point{'s' if c != 1 else ''}" for lab, c in per.items())
        r, f = self.robust, self.fit
        df = float(r.df[0])
        side = "below" if self.direction == "lower_better" else "above"
        text = (f"{what} ({detail}). Pooled SMD ({side} 0 favours trigger-point therapy) {r.coef[0]:.2f}, CR2 cluster-robust 95% CI {r.ci_low[0]:.2f} to "
                f"{r.ci_high[0]:.2f} (Satterthwaite df {df:.1f}); model-based 95% CI {f.ci_low[0]:.2f} to "
                f"{f.ci_high[0]:.2f}. Variance between trials σ²₁ = {f.sigma2_between:.3f}, between time points "
                f"within a trial σ²₂ = {f.sigma2_within:.3f}.")  # fmt: skip
        if df < 4:
            text += (f" With {m} trials the robust interval rests on {df:.1f} degrees of freedom; below 4 it is "
                     "unreliable (Tipton 2015, doi:10.1037/met0000011), so this model adds little beyond the "
                     "trials themselves.")  # fmt: skip
        return text


def _all_timepoints(data: StudyData, spec: NetworkSpec) -> tuple[pd.DataFrame, list[dict]]:
    trials = _trials(data, spec)
    out = data.outcomes[(data.outcomes["outcome"] == spec.outcome) & data.outcomes["study_id"].isin(trials["study_id"])]
    majority = _direction(data, spec.outcome)
    rows, skipped = [], []
    for sid, group in out.groupby("study_id", sort=True):
        pick, note = _choose_rows(group, "first_post")
        if pick.empty:
            skipped.append({"study_id": sid, "reason": note})
            continue
        inst, vt = pick["instrument"].iat[0], pick["value_type"].iat[0]
        use = group[(group["instrument"] == inst) & (group["value_type"] == vt) & group["events"].isna()
                    & ~group["timepoint"].map(_is_baseline)]  # fmt: skip
        order = use.assign(_w=use["weeks"].fillna(np.inf), _pos=range(len(use))).sort_values(["_w", "_pos"])
        reasons = []
        for tp in dict.fromkeys(order["timepoint"]):
            filled = fill_mean_sd(use[use["timepoint"] == tp])
            tx, ct = (filled[filled["arm_role"] == r] for r in ROLES)
            if tx.empty or ct.empty:
                reasons.append(f"{tp}: one arm not reported")
                continue
            if filled[["n", "mean", "sd"]].isna().any().any():
                missing = ", ".join(c for c in ("n", "mean", "sd") if filled[c].isna().any())
                reasons.append(f"{tp}: {missing} not available")
                continue
            n1, m1, s1, _ = _combine(tx)
            n2, m2, s2, _ = _combine(ct)
            sign = 1.0 if filled["direction"].iat[0] == majority else -1.0
            rows.append({"study_id": sid, "instrument": inst, "timepoint": tp, "weeks": filled["weeks"].iat[0],
                         "value_type": vt, "n1i": n1, "m1i": sign * m1, "sd1i": s1, "n2i": n2, "m2i": sign * m2,
                         "sd2i": s2})  # fmt: skip
        if not any(r["study_id"] == sid for r in rows):
            skipped.append({"study_id": sid, "reason": "; ".join(reasons) or note})
    con = data.contrasts[(data.contrasts["outcome"] == spec.outcome) & data.contrasts["study_id"].isin(trials["study_id"])]
    for sid in sorted(set(con["study_id"]) - {r["study_id"] for r in rows} - {r["study_id"] for r in skipped}):
        skipped.append({"study_id": sid, "reason": "reports only a between-group difference, not arm-level numbers"})
    return pd.DataFrame(rows), skipped


def run_multilevel(data: StudyData, spec: NetworkSpec) -> MultilevelAnalysis:
    """Every reported time point of every trial of the declared classes, in one three-level model."""
    if spec.model != "multilevel":
        raise ValueError(f"{spec.analysis_id!r} is a {spec.model!r} analysis; run it with run_network")
    effects, skipped = _all_timepoints(data, spec)
    labels = _labels(data)
    skipped += _not_in_review(data, spec, set(effects["study_id"]) if len(effects) else set())
    excluded = pd.DataFrame(skipped, columns=["study_id", "reason"]).sort_values("study_id", ignore_index=True)
    excluded.insert(1, "trial", [labels.get(s, s) for s in excluded["study_id"]])
    fit = rob = None
    if len(effects):
        es = effect_sizes(effects, Measure.SMD)
        effects = effects.assign(yi=es["yi"].to_numpy(), vi=es["vi"].to_numpy(),
                                 label=[labels[s] for s in effects["study_id"]])  # fmt: skip
        if effects["study_id"].nunique() >= 2:
            fit = multilevel(effects["yi"], effects["vi"], study=effects["study_id"], method=spec.method)
            rob = robust(fit)
    return MultilevelAnalysis(spec=spec, effects=effects, excluded=excluded, fit=fit, robust=rob,
                              direction=_direction(data, spec.outcome))  # fmt: skip


def run_networks(data: StudyData, rob: pd.DataFrame | None = None) -> dict[str, NetworkAnalysis | MultilevelAnalysis]:
    """Every analysis of ``networks.csv``, keyed by ``analysis_id``."""
    return {s.analysis_id: run_network(data, s, rob) if s.model == "network" else run_multilevel(data, s)
            for s in network_specs(data)}  # fmt: skip
