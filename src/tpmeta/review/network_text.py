"""The report's text for a network of all comparisons (:mod:`tpmeta.review.network_analysis`): what
entered and what did not, the trials a shared node links (transitivity), heterogeneity, inconsistency
checks, a caution on P-scores, and the comparison table with its evidence and risk of bias. Display
only: every number comes from the analysis. Plain text (names come from the dataset): the report escapes
it before it becomes Markdown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..options import SmallValues
from .network_analysis import NetworkAnalysis

__all__ = ["bottom_line", "summary_sentence", "transitivity_sentence", "heterogeneity_sentence", "inconsistency_sentence",
           "pscore_caution", "comparison_table"]


def bottom_line(na: NetworkAnalysis) -> str:
    """One sentence a clinician can stop at: how much the network rests on."""
    res = na.result
    if res is None:
        return "No network: no two trials with usable numbers share a treatment."
    c = na.comparisons
    direct, indirect = c[c["trials"] > 0], c[c["trials"] == 0]
    most = int(direct["trials"].max()) if len(direct) else 0
    text = f"{res.k} trials form the network; "
    text += ("every pair compared in a trial rests on that single trial" if most == 1 else
             f"the best-informed pair rests on {most} trials")  # fmt: skip
    if len(indirect):
        verb = "is" if len(indirect) == 1 else "are"
        text += f"; {len(indirect)} of the {len(c)} comparisons {verb} indirect only"
    if res.node_split.empty and res.inconsistency_df == 0:
        text += "; whether direct and indirect evidence agree cannot be checked"
    return text + "."


def _pairs(frame: pd.DataFrame) -> str:
    return "; ".join(f"{t} ({' vs '.join(g['node'])})" for t, g in frame.groupby("trial", sort=False))


def summary_sentence(na: NetworkAnalysis) -> str:
    """What entered, what did not, and the parts of the evidence that no trial links."""
    out_n = len(na.excluded)
    left = (f"in all, {out_n} trial{'s' if out_n != 1 else ''} reporting the outcome {'is' if out_n == 1 else 'are'} "
            "not in the network (listed below with the reason)")  # fmt: skip
    if na.result is None:
        if not len(na.unlinked):
            return f"No trial has usable arm-level numbers for a network; {left}."
        return (f"No network can be formed: no two trials with usable arm-level numbers share a treatment "
                f"({_pairs(na.unlinked)}). Each comparison rests on one trial; {left}.")  # fmt: skip
    res = na.result
    n = int(round(na.arms["n"].sum()))
    multi = [t for t, g in na.arms.groupby("trial", sort=False) if len(g) > 2]
    text = (f"{res.k} trials ({n} participants) and {len(res.treatments)} treatments enter the network: "
            f"{', '.join(res.treatments)}. ")  # fmt: skip
    text += (f"Multi-arm trials (all arms, counted once): {', '.join(multi)}. " if multi else
             "Every trial in it has two arms. ")  # fmt: skip
    if len(na.unlinked):
        k = na.unlinked["study_id"].nunique()
        text += (f"{k} trial{'s' if k != 1 else ''} with usable numbers compare{'s' if k == 1 else ''} treatments that no "
                 f"trial links to this network and {'is' if k == 1 else 'are'} left out: {_pairs(na.unlinked)}. ")  # fmt: skip
    return text + left[0].upper() + left[1:] + "."


def transitivity_sentence(na: NetworkAnalysis) -> str:
    """The trials that a shared node links, so a reader can judge whether they are alike."""
    if na.result is None:
        return ""
    parts = []
    for node, g in na.arms.groupby("node", sort=False):
        if g["study_id"].nunique() < 2:
            continue
        who = "; ".join(f"{r.trial}: {r.arms.replace('; ', ' and ')}, in {r.condition}" + (f" ({r.design} trial)" if r.design != "parallel" else "")
                        for r in g.itertuples())  # fmt: skip
        through = [f"{r.treatment} vs {r.comparator}" for r in na.comparisons.itertuples()
                   if r.trials == 0 and node in r.evidence]  # fmt: skip
        text = f"The node '{node}' joins {g['study_id'].nunique()} trials (arms as reported): {who}."
        if through:
            text += f" The indirect estimate{'s' if len(through) > 1 else ''} {', '.join(through)} pass{'' if len(through) > 1 else 'es'} through it."
        parts.append(text)
    if not parts:
        return ""
    return ("Indirect comparisons are only as good as the likeness of the trials they join (transitivity). "
            + " ".join(parts) + " Judge whether these trials are alike enough for the indirect estimates to mean "
            "anything.")  # fmt: skip


def heterogeneity_sentence(na: NetworkAnalysis) -> str:
    res = na.result
    if res is None:
        return ""
    if res.q_df == 0:
        return ("Between-trial heterogeneity (τ²) cannot be estimated: the trials give no more contrasts than there "
                "are treatment effects to estimate (no comparison has a second trial and no loop closes), so the model "
                "has no degrees of freedom for it, and its intervals assume that the trials share one effect.")  # fmt: skip
    return (f"Heterogeneity: τ² = {res.tau2:.3f}, Q({res.q_df}) = {res.q:.2f} (p = {res.q_pvalue:.3f}), "
            f"I² = {res.i2:.0f}%.")  # fmt: skip


def inconsistency_sentence(na: NetworkAnalysis) -> str:
    """Design-by-treatment test and node-splitting, or plainly why neither can be done."""
    res = na.result
    if res is None:
        return ""
    ns = res.node_split
    if res.inconsistency_df == 0 and ns.empty:
        return ("Inconsistency cannot be checked. No comparison has both direct and indirect evidence (no closed "
                "loop of trials), so neither node-splitting nor the design-by-treatment test is possible; the "
                "indirect estimates rest on transitivity alone.")  # fmt: skip
    parts = []
    if res.inconsistency_df > 0:
        parts.append(f"Design-by-treatment interaction: χ²({res.inconsistency_df}) = {res.inconsistency_q:.2f}, "
                     f"p = {res.inconsistency_pvalue:.3f}.")  # fmt: skip
    if ns.empty:
        parts.append("No comparison has both direct and indirect evidence, so node-splitting is not possible.")
    else:
        splits = "; ".join(f"{r.treatment} vs {r.comparator}: direct {r.direct:.2f}, indirect {r.indirect:.2f}, "
                           f"p = {r.pvalue:.3f}" for r in ns.itertuples())  # fmt: skip
        parts.append(f"Node-splitting ({len(ns)} comparison{'s' if len(ns) != 1 else ''} with both direct and "
                     f"indirect evidence): {splits}.")  # fmt: skip
    return " ".join(parts)


def pscore_caution(na: NetworkAnalysis) -> str:
    res = na.result
    if res is None:
        return ""
    best = res.treatments[int(np.argmax(res.pscore))]
    text = ("P-scores rank the treatments by how surely each is better than the others on average "
            f"(1 = best; here {best} ranks first). They ignore how large the differences are and how trustworthy "
            "the evidence is")  # fmt: skip
    reasons = []
    if res.k < 10:
        reasons.append(f"{res.k} trials")
    if res.node_split.empty:
        reasons.append("no closed loop")
    direct = na.comparisons[na.comparisons["trials"] > 0]
    if len(direct) and (direct["high"] == direct["trials"]).all():
        reasons.append("every trial judged at high risk of bias")
    if reasons:
        listed = ", ".join(reasons[:-1]) + " and " + reasons[-1] if len(reasons) > 1 else reasons[0]
        text += f"; with {listed}, this ranking is not a basis for choosing a treatment"
    return text + "."


def comparison_table(na: NetworkAnalysis) -> pd.DataFrame:
    """The comparisons as the report shows them: evidence, network SMD and risk of bias."""
    res = na.result
    if res is None:
        return pd.DataFrame()
    side = "below" if res.small_values is SmallValues.DESIRABLE else "above"
    rows = []
    for r in na.comparisons.itertuples(index=False):
        if r.trials:
            rob = f"{r.high} of {r.trials} ({100 * r.high / r.trials:.0f}%)"
            if r.high_abstract_gap:
                rob += f"; {r.high_abstract_gap} only because the abstract is silent"
            if r.not_assessed:
                rob += f"; {r.not_assessed} not assessed"
        else:
            rob = "— (no direct trial)"
        rows.append({"comparison": f"{r.treatment} vs {r.comparator}",
                     "trials": f"{r.trials} ({r.trial_labels})" if r.trials else "0",
                     "participants": r.participants if r.trials else "", "evidence": r.evidence,
                     f"SMD [95% CI] ({side} 0 favours the first)": f"{r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]",
                     "trials at high risk of bias (RoB 2)": rob})  # fmt: skip
    return pd.DataFrame(rows)
