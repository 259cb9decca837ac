# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
# Parameters (replaced by `tpmeta report`)
STUDIES_DIR = "../studies"
OUT_DIR = "../reports"
VALIDATION_FILE = ""  # `tpmeta report` passes the validation it has just run, so it is not repeated

# %%
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display

import tpmeta
from tpmeta import plots
from tpmeta.review.report import output_paths, write_table
from tpmeta.review.build import build_review
from tpmeta.dataset.studies import trial_label
from tpmeta.appraisal.rob2 import study_weights
from tpmeta.review.tables import (
    characteristics_table,
    claims_table,
    flow_counts,
    format_effect,
    markdown_table,
    md_text,
    key_findings,
    link_identifiers,
    register_counts,
    register_sentence,
    reviews_table,
    rob_sentence,
)

warnings.simplefilter("ignore", tpmeta.SingleStudyWarning)
paths = output_paths(OUT_DIR)
if VALIDATION_FILE:
    validation = pickle.loads(Path(VALIDATION_FILE).read_bytes())  # written by tpmeta report just now
else:
    validation = tpmeta.validate_studies(STUDIES_DIR)
if not validation.ok:
    raise tpmeta.StudyDataError(list(validation.errors))
data = tpmeta.load_studies(STUDIES_DIR, validate=False)  # validated above: once per build
review = build_review(data)


def show_table(frame: pd.DataFrame, collapsed: str | None = None) -> None:
    """An HTML table; long tables fold away under a one-line summary (``collapsed``)."""
    table = link_identifiers(frame.to_html(index=False, escape=True, na_rep=""))  # DOIs, PMIDs, NCT: links
    if collapsed:
        table = f"<details><summary>{collapsed}</summary>{table}</details>"
    display(HTML(table))


FIGURE_NUMBER = [0]


def show_figure(fig, name: str, caption: str) -> None:
    """Save in every format for papers and embed the PNG in the report as a numbered figure whose
    caption is also its alt text (dataset text escaped)."""
    import base64
    import html as html_lib

    written = plots.save_figure(fig, paths.figures / name, formats=("pdf", "svg", "png"), dpi=200)
    FIGURE_NUMBER[0] += 1
    data = base64.b64encode(written[-1].read_bytes()).decode("ascii")
    text = html_lib.escape(f"Figure {FIGURE_NUMBER[0]}. {caption}")
    # on a phone a figure keeps ~90 % of its print size and scrolls sideways in its own box (report CSS)
    min_px = round(fig.get_size_inches()[0] * 86)
    display(HTML(f'<figure><div class="figure-scroll"><img src="data:image/png;base64,{data}" alt="{text}" '
                 f'style="--print-width:{min_px}px"></div>'
                 f"<figcaption>{text} <small>(PDF, SVG and PNG: figures/{name}.*)</small></figcaption></figure>"))


# %% [markdown]
# # Trigger-point therapy: what the randomised trials show
#
# A popular web article on trigger-point massage claims that it relieves pain and headaches, improves
# circulation and sleep, and even helps with arthritis, fibromyalgia, cancer and Parkinson's disease;
# it also says that "there are only 12 studies that are worth examining" and that the research is thin
# and biased. This report checks those claims against the randomised trials we could identify and
# extract, using the curated dataset in `studies/` (every number traceable to a published source).
# It is rebuilt from the data with one command (`make report`).

# %%
summary = review.summary()
counts = register_counts(data, review.analyses)  # the same counts as the claims table (one source)
n_trials, n_included, n_numbers = counts["trials"], counts["included"], counts["with_results"]
display(Markdown(
    f"**In short.** The register holds **{n_trials} trials**; **{n_included}** meet the inclusion criteria, "
    f"but the results of only **{n_numbers}** could be verified from accessible text (abstracts and "
    f"open table pages) — the others need their full text. **{counts['pooled']}** trials entered at least one "
    "pooled analysis. With so few trials, every pooled result below is uncertain; where a claim has no "
    "trials at all, the claims table says so."
))
certainty = {aid: g.certainty for aid, g in review.grade.items()}
display(Markdown("## Key findings\n\nFor each claim of the article: what the trials we could check show, how "
                 "certain that is (GRADE), and how many trials it rests on. Details in the numbered sections."))
show_table(key_findings(data, review.analyses, certainty, review.rob))
display(Markdown(
    "**Contents.** [1. Methods](#1.-Methods) · [2. Flow of trials](#2.-Flow-of-trials) · "
    "[3. Characteristics](#3.-Characteristics-of-the-included-trials) · [4. Risk of bias](#4.-Risk-of-bias-(RoB-2)) · "
    "[5. Pooled analyses](#5.-Pooled-analyses) · [6. Certainty](#6.-Certainty-of-the-evidence-(GRADE)-%E2%80%94-Summary-of-Findings) · "
    "[7. Published reviews](#7.-What-published-systematic-reviews-found) · "
    "[8. The article's claims](#8.-The-article's-claims-against-the-evidence) · [9. Data quality](#9.-Data-quality) · "
    "[10. Full texts to extract first](#10.-Full-texts-to-extract-first)"))

# %% [markdown]
# ## 1. Methods
# Effect sizes: Hedges' g with metafor's exact small-sample correction and variance; SDs derived from
# SE, CI or medians (Wan 2014, Luo 2018) are recorded per row. Multi-arm trials: arms of the same role
# combined (Cochrane Handbook 23.3.4). Pooling: REML τ² with the Hartung-Knapp-Sidik-Jonkman
# adjustment; Q-profile CI for τ²; prediction interval from the t distribution with k − 1 degrees of freedom. Every estimator is validated
# against metafor 3.8 (`tests/reference/`). Risk of bias: RoB 2 algorithm from the signalling answers.
# Certainty: GRADE suggestions with stated thresholds (`tpmeta.appraisal.grade`). Provenance of this build:
# `reports/provenance.json`.

# %% [markdown]
# ## 2. Flow of trials

# %%
flow = flow_counts(data, review.analyses)
write_table(flow, paths.tables / "flow.csv")
show_figure(plots.flow_diagram(flow), "flow", "PRISMA 2020 flow of trials: records identified (by route), screened and excluded with reasons, reports sought and not retrieved (awaiting classification), studies included, and studies with results in a pooled analysis. A report is the trial's accessible publication record: most eligibility decisions rest on abstracts, and the included box says how many trials' results still need the full text. The original curation's searches are recorded by route only, without hit counts; every search run since is logged with its query and hits in studies/searches.csv (PRISMA-S), and its records that were already in the register or were not trial reports are the ones removed before screening.")
show_table(flow.drop(columns="kind"), collapsed="Show the counts behind the diagram")

# %% [markdown]
# ## 3. Characteristics of the included trials
# Results are "full text needed" when the accessible abstract reports only p-values.

# %%
chars = characteristics_table(data)
write_table(chars, paths.tables / "characteristics.csv")
show_table(chars, collapsed=f"Show the {len(chars)} included trials (also in tables/characteristics.csv)")

# %% [markdown]
# ## 4. Risk of bias (RoB 2)
# Judgements are computed from the signalling answers in `studies/rob2.csv` with the published RoB 2
# algorithm (`tpmeta.appraisal.rob2`). Every answer records its source: the abstract, the full text, a
# trial registry or the trial's PEDro record. Where a report does not say, the honest answer is "no
# information", which the algorithm turns into *some concerns* or *high risk*. When the silent report is
# only an abstract, that judgement says nothing about how the trial was run: it is **not assessable from
# the abstract** (drawn hollow below), kept apart from *high risk: flaw reported*. Where a trial's PEDro
# record (rated from the full report) answers what its abstract leaves out, the mapped answer fills the
# gap; the reviewer's own answers always win (mapping and its limits: `studies/README.md`).

# %%
if len(review.rob):
    rob_table = review.rob.copy()
    write_table(rob_table, paths.tables / "risk_of_bias.csv")
    labels = data.trials.set_index("study_id")
    rob_plot = rob_table.assign(study=[f"{trial_label(s, labels.loc[s, 'authors'], labels.loc[s, 'year'])} ({o.replace('_', ' ')})"
                                       for s, o in zip(rob_table["study_id"], rob_table["outcome"])])
    n_trials = rob_table["study_id"].nunique()
    beyond = rob_table.groupby("study_id")["beyond_abstract"].any()
    gaps = ~rob_table.groupby("study_id")["overall_assessable"].all()
    floors = rob_table.groupby("study_id")["overall_floor"].agg(lambda f: max(f, key=["low", "some concerns", "high"].index))
    pooled_ids = {s for r in review.analyses.values() for s in r.studies.get("study_id", [])}
    display(Markdown(
        f"**What the judgements rest on.** {int(rob_table['beyond_abstract'].sum())} of the {len(rob_table)} assessments "
        f"({rob_table['beyond_abstract'].mean():.0%}; {int(beyond.sum())} of {n_trials} trials) rest on more than an abstract "
        f"(a PEDro record or the full text); the others rest on abstracts alone. For {int(gaps.sum())} of the {n_trials} trials the "
        "overall judgement is worse only because an abstract leaves out how the trial was run; what their reports do state "
        f"puts {int((floors == 'high').sum())} at high risk (a reported flaw), {int((floors == 'some concerns').sum())} at some "
        f"concerns and {int((floors == 'low').sum())} at low risk. Of the {len(pooled_ids)} trials in a pooled analysis, "
        f"{int(beyond.reindex(sorted(pooled_ids), fill_value=False).sum())} are assessed from more than an abstract."))
    show_figure(plots.traffic_light_plot(rob_plot), "rob_traffic_light",
                "Risk of bias (RoB 2) per trial and outcome: the five domains and the overall judgement. Hollow symbols: "
                "judged some concerns or high only because the abstract leaves out what the judgement needs (not assessable "
                "from the abstract); solid symbols rest on what the abstract, full text or PEDro record reports.")
    show_figure(plots.rob_summary_plot(rob_plot, weights=study_weights(rob_table), unit=f"trials (n = {n_trials}; each trial counts once)"), "rob_summary",
                f"Risk of bias (RoB 2) summary: the share of the {n_trials} assessed trials at each judgement, per domain, with "
                "judgements that rest only on what abstracts leave out apart (hatched: not assessable from the abstract) from "
                "reported flaws. A trial with several assessed outcomes counts once, its outcomes sharing its weight.")
else:
    display(Markdown("No risk-of-bias assessments recorded yet."))

# %% [markdown]
# ## 5. Pooled analyses
# Random-effects model (REML τ², Hartung-Knapp-Sidik-Jonkman CI), intervention versus control.
# Continuous outcomes as standardised mean differences (Hedges' g): for pain and disability a negative
# SMD favours trigger-point therapy, for pressure pain threshold a positive one. Responders as risk
# ratios (RR > 1 favours trigger-point therapy). An analysis with one trial shows that trial's own
# estimate; it is not a pooled result.

# %%
SMALL_K = 4  # up to this many trials the report shows the Bayesian result beside REML + HKSJ
BAYES_SCALES = np.geomspace(0.125, 2.0, 41)  # prior-sensitivity sweep of the half-normal scale


def show_small_k_bayes(aid, p, spec, measure, ratio) -> None:
    """Bayesian random effects (half-normal(0.5) prior on τ, uniform on μ) beside the frequentist result,
    with a sentence on which to read, the shrinkage forest and the prior-sensitivity curve."""
    if spec.measure.value not in ("SMD", "RR", "OR"):
        display(Markdown(
            f"*Bayesian result not shown for {measure}: a weakly informative prior on τ is set on the SMD or "
            "log-ratio scale; on a raw scale (mm) it would need a reference SD that this analysis does not have.*"))
        return
    bayes = tpmeta.pool_bayes(p.yi, p.vi, tau_prior="halfnormal", tau_scale=0.5, labels=list(p.study_labels))
    sweep = tpmeta.pool_bayes_batch(np.broadcast_to(p.yi, (len(BAYES_SCALES), p.k)),
                                    np.broadcast_to(p.vi, (len(BAYES_SCALES), p.k)), tau_scale=BAYES_SCALES)
    lower_favours = spec.lower_favours  # the same rule as the forest plot's "Favours …" labels
    null = "1" if ratio else "0"
    better = f"{'<' if lower_favours else '>'} {null} favours"
    prob = bayes.prob_mu_below_0 if lower_favours else 1 - bayes.prob_mu_below_0
    lo, hi = sweep.mu_ci_low, sweep.mu_ci_high
    f = np.exp if ratio else (lambda v: v)
    display(Markdown(
        f"**Bayesian random effects** ({bayes.prior_label()}): {measure} "
        f"{format_effect(bayes.mu_median, bayes.mu_ci_low, bayes.mu_ci_high, ratio=ratio)} (median, 95% credible interval); "
        f"τ {bayes.tau_median:.2f} [{bayes.tau_ci_low:.2f}, {bayes.tau_ci_high:.2f}]; a new trial's effect "
        f"{format_effect(bayes.mu_median, bayes.pred_low, bayes.pred_high, ratio=ratio).split(' ', 1)[1]}; "
        f"probability that trigger-point therapy is better (μ {better} it): {prob:.0%}.\n\n"
        f"*Which to read:* with {p.k} trials, REML + HKSJ estimates τ from {p.k} numbers and uses a t distribution "
        f"with {p.k - 1} degree{'s' if p.k > 2 else ''} of freedom, so its interval is either very wide or, when the trials happen to "
        "agree, too narrow. The Bayesian result replaces that estimate with a weakly informative prior on τ "
        "(half-normal, scale 0.5 on the SMD or log-ratio scale; Friede et al. 2017, doi:10.1002/bimj.201500224; "
        "Röver 2020, doi:10.18637/jss.v093.i06) and is the one to read here. Across prior scales from "
        f"{BAYES_SCALES[0]:g} to {BAYES_SCALES[-1]:g} the 95% credible interval of μ runs from "
        f"[{f(lo[0]):.2f}, {f(hi[0]):.2f}] to [{f(lo[-1]):.2f}, {f(hi[-1]):.2f}] (figure below)."))
    show_figure(plots.shrinkage_forest(bayes, effect_label=measure, ratio=ratio), f"bayes_{aid}",
                f"Bayesian random-effects meta-analysis: {spec.title} ({measure}; {p.k} trials; {bayes.prior_label()}). "
                "Squares: each trial as reported (95% CI); circles: its shrinkage estimate (95% credible interval); "
                "diamond: μ; bar: the predictive interval for a new trial.")
    show_figure(plots.prior_sensitivity_plot(sweep, effect_label=f"{measure} μ", ratio=ratio, mark=0.5), f"bayes_sensitivity_{aid}",
                f"Prior sensitivity: {spec.title}. Posterior median and 95% credible interval of μ against the scale of the "
                "half-normal prior on τ (0.5 is the report's choice).")


labels = data.trials.set_index("study_id")
pooled_rows, effect_rows, loo_rows = [], [], []
for aid, res in review.analyses.items():
    spec = res.spec
    measure = spec.measure.value
    ratio = spec.measure.is_ratio
    display(Markdown(f"### {md_text(spec.title)}"))  # dataset text: escaped before Markdown
    if res.pooled is None:
        display(Markdown("**No trial with usable numbers for this analysis.**"))
    else:
        p = res.pooled
        forest_args = review.forest_arguments(aid)  # the same choices as `tpmeta forest`
        fig = plots.forest_plot(p, **forest_args, width="double")
        show_figure(fig, f"forest_{aid}", f"Forest plot: {spec.title} ({measure}; {p.k} trial{'s' if p.k != 1 else ''}).")
        est = format_effect(p.estimate, p.ci_low, p.ci_high, ratio=ratio)
        if p.k == 1:
            display(Markdown(f"**One trial** ({md_text(p.study_labels[0])}): {measure} {est}. A single trial is not a pooled result."))
        else:
            display(Markdown(
                f"**{p.k} trials**, pooled {measure} **{est}**; τ² = {p.tau2:.3f}, I² = {p.i2:.0f}%, "
                f"prediction interval {format_effect(p.estimate, p.pi_low, p.pi_high, ratio=ratio).split(' ', 1)[1]}."))
        if 2 <= p.k <= SMALL_K:
            show_small_k_bayes(aid, p, spec, measure, ratio)
        es = res.studies.assign(analysis_id=aid)
        effect_rows.append(es)
        pooled_rows.append({"analysis_id": aid, "measure": measure, **p.to_dict()})
        if p.k >= 3:
            loo = tpmeta.leave_one_out(p)
            loo_rows.append(loo.assign(analysis_id=aid))
            display(Markdown("**Leave-one-out:** the pooled estimate without each trial."))
            show_table(pd.DataFrame({
                "trial left out": loo["omitted"],
                f"{measure} [95% CI]": [format_effect(e, lo, hi, ratio=ratio) for e, lo, hi in zip(loo["estimate"], loo["ci_low"], loo["ci_high"])],
                "τ²": loo["tau2"].map(lambda v: f"{v:.3g}"), "I² (%)": loo["i2"].map(lambda v: f"{v:.0f}")}))
        if p.k >= 3:
            infl = tpmeta.influence_diagnostics(p)
            write_table(infl.assign(analysis_id=aid), paths.tables / f"influence_{aid}.csv")
            display(Markdown("**Influence diagnostics** (metafor's `influence()`; `inf` marks an influential trial):"))
            show_table(infl[["study", "rstudent", "dffits", "cook_d", "hat", "weight", "inf"]].round(3))
            show_figure(plots.baujat_plot(tpmeta.baujat(p)), f"baujat_{aid}",
                        f"Baujat plot: {spec.title} ({measure}). Each trial's contribution to the heterogeneity Q (x) "
                        "against its influence on the pooled estimate (y); trials at the top right drive both.")
        classes = res.studies["intervention_class"].astype(str)
        if p.k >= 3 and classes.nunique() > 1:
            sg = tpmeta.subgroup_analysis(p.yi, p.vi, classes.str.replace("_", " ").to_numpy(), method=spec.method,
                                          test=spec.test, labels=list(p.study_labels))
            display(Markdown(f"**By intervention:** {md_text(sg.test_text)}"))
            labels_only = {k: forest_args[k] for k in ("favours", "effect_label", "ratio")}  # same labels as above
            show_figure(plots.forest_plot(p, subgroups=list(sg.subgroups), subgroup_test=sg.test_text, **labels_only,
                                          width="double"), f"forest_{aid}_by_intervention",
                        f"Forest plot by intervention: {spec.title} ({measure}), with the test for subgroup differences.")
        restricted = review.rob_restricted(aid)
        rows = [{"analysis": "all trials", "k": p.k, f"{measure} [95% CI]": est}]
        for name, r in restricted.items():
            rows.append({"analysis": name, "k": 0 if r is None else r.k,
                         f"{measure} [95% CI]": "no trials" if r is None else format_effect(r.estimate, r.ci_low, r.ci_high, ratio=ratio)})
        display(Markdown("**Sensitivity to risk of bias** (overall RoB 2 judgement; and only the trials assessed from more than an abstract):"))
        show_table(pd.DataFrame(rows))
        if p.k >= 10:
            eg = tpmeta.egger_test(p)
            display(Markdown(f"**Small-study effects:** Egger's test t = {eg.statistic:.2f}, p = {eg.pvalue:.3f}."))
            show_figure(plots.funnel_plot(p, egger=(eg.limit_estimate, eg.slope), ratio=ratio), f"funnel_{aid}",
                        f"Funnel plot with Egger's regression line: {spec.title} ({measure}).")
            tf = tpmeta.trim_and_fill(p)
            display(Markdown(f"Trim-and-fill ({tf.estimator}): {tf.k0} trial(s) imputed on the {tf.side} side; "
                             f"adjusted estimate {format_effect(tf.estimate, tf.ci_low, tf.ci_high, ratio=ratio)}."))
        else:
            display(Markdown(f"Small-study effects not tested: {p.k} trial(s), fewer than the 10 needed."))
    if len(res.excluded):
        show_table(res.excluded.assign(trial=[trial_label(s, labels.loc[s, "authors"], labels.loc[s, "year"]) for s in res.excluded["study_id"]])[["trial", "reason"]],
                   collapsed=f"{len(res.excluded)} trial(s) of this question report the outcome but could not enter — show why")

if effect_rows:
    write_table(pd.concat(effect_rows, ignore_index=True), paths.tables / "effect_sizes.csv")
write_table(pd.DataFrame(pooled_rows), paths.tables / "pooled_results.csv")
if loo_rows:
    write_table(pd.concat(loo_rows, ignore_index=True), paths.tables / "leave_one_out.csv")

# %% [markdown]
# ### Robustness across analytic choices (multiverse)
# Every combination of time point (first or last after treatment), intervention (any manual technique
# or compression only), comparator (inactive or any), risk of bias (all trials or none at high risk),
# τ² estimator (REML, DL, PM) and test (z, HKSJ), pooled in one batched run. Influence diagnostics
# run from 3 trials, GOSH from 5 and tests of small-study effects (Egger, trim-and-fill) from 10; the
# analyses above show which applied.

# %%
from tpmeta.diagnostics.multiverse import summarise_multiverse  # noqa: E402
from tpmeta.review.outcome_multiverse import review_multiverse  # noqa: E402

for outcome in ("pain_intensity", "pressure_pain_threshold"):
    mv = review_multiverse(data, outcome, review=review)
    summary_mv = summarise_multiverse(mv)
    display(Markdown(f"**{outcome.replace('_', ' ').capitalize()} (SMD):** {summary_mv.sentence()}"))
    if len(mv):
        write_table(mv, paths.tables / f"multiverse_{outcome}.csv")
        if summary_mv.n_specifications >= 2:
            show_figure(plots.specification_curve_plot(
                mv, ["timepoint", "intervention", "comparator", "risk_of_bias", "method", "test"]), f"multiverse_{outcome}",
                f"Specification curve ({outcome.replace('_', ' ')}): the pooled SMD under every combination of reasonable analytic choices.")

gosh_done = []
for aid, res in review.analyses.items():
    if res.pooled is not None and res.k >= 5:
        g = tpmeta.gosh(res.pooled.yi, res.pooled.vi, res.spec.method.value)
        write_table(g, paths.tables / f"gosh_{aid}.csv")
        ratio = res.spec.measure.is_ratio
        show_figure(plots.gosh_plot(g, effect_label=f"Pooled {res.spec.measure.value}", ratio=ratio), f"gosh_{aid}",
                    f"GOSH plot: {res.spec.title}. The pooled estimate and I² of every one of the {len(g):,} subsets of its "
                    f"{res.k} trials; separate clusters point to trials that change the answer.")
        gosh_done.append(aid)
if not gosh_done:
    largest = max((r.k for r in review.analyses.values()), default=0)
    display(Markdown(f"**GOSH** (every subset of trials) is drawn for analyses with at least 5 trials; the largest "
                     f"analysis has {largest}, so none is drawn yet. Baujat plots appear above for analyses with 3 or more."))

# %% [markdown]
# ### Network of all comparisons
# A network meta-analysis puts every trial with usable arm-level numbers into one model, whatever it
# compared, so that treatments never compared in the same trial can be compared through a treatment they
# share (indirect evidence). Its answer is only as good as that link: the trials joined through a shared
# treatment must be alike in whatever changes the effect (transitivity). **Treatments (nodes)**, declared
# in `studies/networks.csv`: an intervention arm is its trial's trigger-point technique (ischemic
# compression, pressure release, massage, self-massage, instrument-assisted compression, dry needling,
# trigger-point injection); a control arm is sham, no treatment or usual care; an active comparator is its
# own named treatment (ibuprofen and an intravenous NSAID are different nodes), never lumped with other
# active treatments, and so is a multimodal programme. Arms of one trial at the same node are combined, so
# each trial counts once; a multi-arm trial enters with all its arms. One time point and instrument per
# trial, as in the pairwise analyses (the first after treatment); SMD (Hedges' g), REML. A second model
# uses every reported time point of pain (multilevel model, trials as clusters, CR2 cluster-robust
# inference).

# %%
from tpmeta.review import network_text  # noqa: E402
from tpmeta.review.network_analysis import run_networks  # noqa: E402

for aid, na in run_networks(data, review.rob).items():
    spec = na.spec
    display(Markdown(f"**{md_text(spec.title)}**"))  # bold, as the multiverse above: anchors are for h1–h3
    if spec.model == "multilevel":
        display(Markdown(md_text(na.sentence())))
        if len(na.effects):
            write_table(na.effects, paths.tables / f"multilevel_{aid}_effects.csv")
            se = np.sqrt(na.effects["vi"])
            show_table(pd.DataFrame({"trial": na.effects["label"], "time point": na.effects["timepoint"],
                                     "instrument": na.effects["instrument"],
                                     "SMD [95% CI]": [format_effect(y, y - 1.96 * s, y + 1.96 * s) for y, s in zip(na.effects["yi"], se)]}))
    elif na.result is None:
        display(Markdown(md_text(network_text.summary_sentence(na))))
    else:
        display(Markdown(f"**In short:** {md_text(network_text.bottom_line(na))}"))
        display(Markdown(md_text(network_text.summary_sentence(na))))
    if spec.model == "network" and na.result is not None:
        res = na.result
        write_table(na.comparisons, paths.tables / f"network_{aid}_comparisons.csv")
        write_table(na.arms, paths.tables / f"network_{aid}_arms.csv")
        write_table(res.league, paths.tables / f"network_{aid}_league.csv")
        display(Markdown("**How much evidence each comparison rests on:**\n\n"
                         + "\n".join(f"- {md_text(s)}" for s in na.comparison_sentences())))
        outcome = spec.outcome.replace("_", " ")
        show_figure(plots.network_graph(res), f"network_{aid}",
                    f"Network of the {res.k} trials of {outcome} ({len(res.treatments)} treatments). Node area: "
                    "participants randomised to the treatment; edge width and number: trials comparing the two. "
                    "Treatments without an edge between them were never compared in a trial.")
        show_table(network_text.comparison_table(na))
        display(Markdown(md_text(network_text.transitivity_sentence(na))))
        for note in na.notes:
            display(Markdown(f"*Note:* {md_text(note)}"))
        display(Markdown(f"**Heterogeneity and inconsistency.** {md_text(network_text.heterogeneity_sentence(na))} "
                         f"{md_text(network_text.inconsistency_sentence(na))}"))
        better = "a negative" if res.small_values.value == "desirable" else "a positive"
        show_figure(plots.league_heatmap(res, width=5.0 if len(res.treatments) <= 4 else "double"), f"league_{aid}",
                    f"League table of {outcome} ({res.measure.value}, network estimates, 95% CI): each cell is the row treatment versus "
                    f"the column treatment; {better} value favours the row treatment. Colour: estimate divided by its "
                    "standard error. Pairs that no trial compared are indirect estimates only (see the table above).")
        if not res.node_split.empty:
            show_figure(plots.node_split_plot(res), f"node_split_{aid}",
                        "Node-splitting: direct, indirect and network estimates of every comparison with both kinds "
                        "of evidence, with the p-value of their difference.")
        display(Markdown(f"**Ranking (P-scores) — caution.** {md_text(network_text.pscore_caution(na))}"))
        show_figure(plots.pscore_plot(res), f"pscore_{aid}",
                    f"P-scores (0 to 1; 1 = best) of the treatments in the network of {outcome}. A ranking, not an "
                    "effect size: read it with the caution above.")
        show_table(na.arms.assign(**{"arm(s) as reported": na.arms["arms"], "values": na.arms["value_type"],
                                     "n": na.arms["n"].round().astype(int)})[
                       ["trial", "condition", "node", "arm(s) as reported", "n", "instrument", "timepoint", "values"]],
                   collapsed=f"Show the {res.k} trials in the network and how their arms were placed")
    if len(na.excluded):
        show_table(na.excluded[["trial", "reason"]],
                   collapsed=f"{len(na.excluded)} trial(s) report the outcome but are not in this analysis — show why")

# %% [markdown]
# ## 6. Certainty of the evidence (GRADE) — Summary of Findings
# tpmeta suggests each downgrade from the analysis itself; a reviewer's decision in `studies/grade.csv`
# replaces the suggestion for that domain. Footnotes give every reason. Risk of bias counts what the trials'
# reports state: a judgement that is worse only because an abstract leaves something out is not counted
# as a flaw, and the footnote says how much of the weight that concerns. The table covers trigger-point
# manual therapy (at most seven outcomes, as GRADE advises); the needling/injection comparator register
# is rated in the analyses above.

# %%
sof_rows = []
MAX_SOF_OUTCOMES = 7  # GRADE: at most seven outcomes in a Summary of Findings table
for aid, g in review.grade.items():
    res = review.analyses[aid]
    if {"dry_needling", "injection"} & set(res.spec.intervention_classes):
        continue  # the needling/injection comparator register is not the question of this review
    if len(sof_rows) == MAX_SOF_OUTCOMES:
        break
    p = res.pooled
    participants = int(res.studies["n1"].sum() + res.studies["n2"].sum())
    comparator_effect, with_effect = "—", ""
    if res.spec.measure.is_ratio:
        risk = res.studies["ci"].sum() / res.studies["n2"].sum()  # control-arm events / participants
        comparator_effect = f"{1000 * risk:.0f} per 1,000"
        per1000 = [min(1000.0, 1000 * risk * float(np.exp(x))) for x in (p.estimate, p.ci_low, p.ci_high)]  # risks cap at 1
        with_effect = f" — {per1000[0]:.0f} per 1,000 ({per1000[1]:.0f} to {per1000[2]:.0f})"
    sof_rows.append({"outcome": f"{res.spec.title.split(':')[0]} — {res.spec.title.split(': ')[-1]} ({res.spec.measure.value}; first follow-up after treatment)",
                     "comparator_effect": comparator_effect,
                     "effect": f"{res.spec.measure.value} " + format_effect(p.estimate, p.ci_low, p.ci_high, ratio=res.spec.measure.is_ratio) + with_effect,
                     "participants": participants if participants else "not reported",
                     "studies": p.k, "assessment": g,
                     "comment": "one trial only" if p.k == 1 else ""})
if sof_rows:
    sof, footnotes = tpmeta.summary_of_findings(sof_rows)
    write_table(sof, paths.tables / "summary_of_findings.csv")
    (paths.tables / "summary_of_findings.md").write_text(
        markdown_table(sof) + "\n" + "".join(f"{i}. {t}\n" for i, t in enumerate(footnotes, 1)), encoding="utf-8")
    show_table(sof)
    display(Markdown("\n".join(f"{i}. {md_text(t)}" for i, t in enumerate(footnotes, 1))))
else:
    display(Markdown("No outcome could be rated: no pooled analysis has data."))

# %% [markdown]
# ## 7. What published systematic reviews found
# Pooled results reported by published reviews (numbers quoted from their abstracts; see `studies/reviews.csv`).

# %%
rev = reviews_table(data)
write_table(rev, paths.tables / "published_reviews.csv")
show_table(rev)

# %% [markdown]
# ## 8. The article's claims against the evidence

# %%
claims = claims_table(data, review.analyses, certainty, review.rob)
write_table(claims, paths.tables / "claims.csv")
display(Markdown(
    f"On the article's claim that \"there are only 12 studies that are worth examining\": {register_sentence(counts)} "
    f"{md_text(rob_sentence(data, review.analyses, review.rob))} The evidence is thin and uncertain, "
    "but there is more of it than the article says."))
show_table(claims)

# %% [markdown]
# ## 9. Data quality
# Validation warnings of the dataset (`tpmeta validate`): numbers that need a second look.

# %%
display(Markdown(f"{len(validation.errors)} errors, {len(validation.warnings)} warnings."))
if validation.warnings:
    warn = pd.DataFrame([{"file": w.file, "row": w.row, "column": w.column, "issue": w.message} for w in validation.warnings])
    write_table(warn, paths.tables / "validation_warnings.csv")
    counts = warn.groupby(["file", "issue"]).size().reset_index(name="rows").sort_values("rows", ascending=False)
    show_table(counts)
    show_table(warn, collapsed=f"Show all {len(warn)} warnings (also in tables/validation_warnings.csv)")

# %% [markdown]
# ## 10. Full texts to extract first
# Most trials could not enter an analysis because their accessible abstract gives no usable numbers.
# Ranked by how much each could change an analysis (`tpmeta worklist`; method in
# `tpmeta.review.worklist`): the expected narrowing of the analysis' confidence interval from the trial's
# size and the analysis' current precision, and the chance that its result would change whether the
# interval includes no effect. A researcher with library access can extract these first; `tpmeta
# add-study` then shows what changed.

# %%
from tpmeta.review.worklist import full_text_worklist, pain_share  # noqa: E402

worklist = full_text_worklist(data, review.analyses)
write_table(worklist, paths.tables / "full_text_worklist.csv")
n_pain, n_known = pain_share(data)
top = worklist.head(15)
display(Markdown(
    f"**{len(worklist)} trials** could enter an analysis with their full text; the 15 that would change the "
    f"analyses most are below (all in `tables/full_text_worklist.csv`). A trial whose abstract does not list "
    f"its outcomes is assumed to measure pain intensity, as {n_pain} of the {n_known} trials with extracted "
    "outcomes do."))
show_table(pd.DataFrame({
    "rank": top["rank"], "trial": top["trial"],
    "identifier": [f"doi:{d}" if d else (f"PMID {p}" if p else "—") for d, p in zip(top["doi"], top["pmid"])],
    "n": top["n"], "analysis most affected": top["analysis_id"], "trials in it now": top["k_now"],
    "CI narrower by": [("creates the analysis" if k == 0 else f"{x:.0%}") if pd.notna(x) else "n not known"
                       for x, k in zip(top["ci_shrinkage"], top["k_now"])],
    "chance the conclusion changes": [f"{x:.0%}" if pd.notna(x) else "—" for x in top["p_flip"]],
    "why not in yet": top["why"],
}))

