"""Report tables built from the dataset and the analyses: the flow of trials (PRISMA-style counts),
trial characteristics, published reviews' results, and the article's claims with the evidence found.

Presentation only: numbers are rounded here, never in computation.
"""

from __future__ import annotations

import html
import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..dataset.provenance import logged_searches
from ..dataset.studies import StudyData, trial_label
from .analyses import AnalysisResult

__all__ = [
    "flow_counts", "characteristics_table", "reviews_table", "claims_table", "format_effect", "markdown_table",
    "rob_sentence",
]


def format_effect(estimate: float, low: float, high: float, digits: int = 2, ratio: bool = False) -> str:
    """``"0.45 [0.12, 0.78]"`` (display only); ``ratio=True`` exponentiates log ratios first.

    >>> format_effect(0.0, -0.6931471805599453, 0.6931471805599453, ratio=True)
    '1.00 [0.50, 2.00]'
    """
    if any(pd.isna(x) for x in (estimate, low, high)):
        return "—"
    if ratio:
        estimate, low, high = (float(np.exp(x)) for x in (estimate, low, high))
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def flow_counts(data: StudyData, results: Mapping[str, AnalysisResult] | None = None) -> pd.DataFrame:
    """Counts for a PRISMA 2020 flow diagram (Page et al. 2021, doi:10.1136/bmj.n71), from the register.

    One row per box or detail line: ``phase`` (Identification, Screening, Included), ``kind`` (``main``:
    a box of the main column; ``side``: the box to its right, for what left the flow at that step;
    ``detail``: a line inside the box above it), ``step`` (the text) and ``trials`` (NA where the count
    was not recorded). The arithmetic is PRISMA's: records identified - removed before screening =
    screened; screened - excluded = reports sought; sought - not retrieved = assessed; assessed - excluded
    = included. In this register a "report" is the trial's accessible publication record — an abstract,
    and the full text where it could be reached — so a trial can be judged eligible from its abstract
    while its results still need the full text; the included box says how many.

    Identification comes from the search log (``searches.csv``, PRISMA-S) where it has numbers: each
    logged search adds its ``hits``, and the records it returned that did not become a new trial (already
    in the register, or not a report of a trial) are removed before screening. Trials no logged search
    added (their ``identified_via`` names no logged search_id) are counted by the route their
    ``identified_via`` records, as records whose searches were not logged.
    """
    t = data.trials
    status = t["inclusion_status"]
    excluded, awaiting, inc = t[status == "excluded"], t[status == "awaiting"], t[status == "included"]
    logged = logged_searches(getattr(data, "searches", None))
    via = t["identified_via"].fillna("not recorded").astype(str)
    by_search = via.map(lambda v: any(re.search(rf"(?<![\w-]){re.escape(str(s))}(?![\w-])", v) for s in logged["search_id"]))
    routes = via[~by_search].map(_source_group).value_counts()
    removed = int((logged["hits"] - logged["new_trials"]).sum()) if len(logged) else pd.NA
    rows: list[tuple[str, str, str, Any]] = [
        ("Identification", "main", "Records identified", int(logged["hits"].sum()) + int((~by_search).sum()))]
    hits = logged.groupby("source")["hits"].sum() if len(logged) else pd.Series(dtype=int)
    for source in sorted(hits.index, key=lambda s: (-hits[s], s)):
        rows.append(("Identification", "detail", f"logged searches, {source}", int(hits[source])))
    for route in sorted(routes.index, key=lambda r: (-routes[r], r)):
        label = f"{route} (register trials; searches not logged)" if len(logged) else route
        rows.append(("Identification", "detail", label, int(routes[route])))
    rows.append(("Identification", "side", "Records removed before screening", removed))
    if len(logged):
        rows.append(("Identification", "detail", "logged searches: already in the register or not a report of a trial",
                     removed))  # fmt: skip
        rows.append(("Identification", "detail", "duplicates in the unlogged searches: not logged", pd.NA))
    else:
        rows.append(("Identification", "detail", "duplicates: not logged (each trial entered once)", pd.NA))
    rows.append(("Screening", "main", "Records screened", len(t)))
    rows.append(("Screening", "side", "Records excluded", len(excluded)))
    reasons = excluded["exclusion_reason"].fillna("not recorded").map(_short_reason).value_counts()
    for reason in sorted(reasons.index, key=lambda r: (-reasons[r], r)):
        rows.append(("Screening", "detail", reason, int(reasons[reason])))
    rows.append(("Screening", "main", "Reports sought for retrieval", len(t) - len(excluded)))
    rows.append(("Screening", "side", "Reports not retrieved (awaiting classification)", len(awaiting)))
    rows.append(("Screening", "detail", "eligibility unclear without the full text", len(awaiting)))
    rows.append(("Screening", "main", "Reports assessed for eligibility", len(t) - len(excluded) - len(awaiting)))
    rows.append(("Screening", "side", "Reports excluded", 0))
    rows.append(("Included", "main", "Studies included in review", len(inc)))
    for key, text in (("extracted", "results extracted"), ("full_text_needed", "results need the full text"),
                      ("not_reported", "results not reported")):  # fmt: skip
        n = int((inc["data_status"] == key).sum())
        if n:
            rows.append(("Included", "detail", text, n))
    if results is not None:
        pooled: set[str] = set()
        for res in results.values():
            pooled |= set(res.studies.get("study_id", pd.Series(dtype=str)))
        rows.append(("Included", "main", "Studies with results in a pooled analysis", len(pooled)))
    out = pd.DataFrame(rows, columns=["phase", "kind", "step", "trials"])
    out["trials"] = out["trials"].astype("Int64")
    return out


def _source_group(text: str) -> str:
    """The route of ``identified_via``: a review's reference list only when the entry starts from the review
    ("Lu 2022 review ... Table 1"); a search that merely mentions a review ("... Lu 2022 inclusion not
    verified", "trials of the kind pooled by Denneny 2019") is a search."""
    low = str(text).lower()
    if re.match(r"\s*(lu 2022|denneny)", low) or "reference list" in low:
        return "reference lists of reviews"
    if "brief" in low:
        return "named in the project brief"
    if "search" in low:
        return "database and web searches"
    return "other routes"


_REASON_GROUPS = (
    (("not randomi", "retrospective", "quasi", "single-group", "non-random", "cohort"), "not randomised"),
    (("both arms", "head-to-head", "no comparator", "both groups", "compared"), "no comparator without the trigger-point therapy"),
    (("duplicate",), "duplicate report"),
)


def _short_reason(text: str) -> str:
    """The exclusion reason's category, for the flow diagram (the full reason stays in trials.csv)."""
    low = str(text).lower()
    for keys, label in _REASON_GROUPS:
        if any(k in low for k in keys):
            return label
    return "other reasons (see trials.csv)"


def characteristics_table(data: StudyData) -> pd.DataFrame:
    """One row per included trial: population, intervention and comparator, n, data status."""
    t = data.trials[data.trials["inclusion_status"] == "included"].copy()
    out = pd.DataFrame({
        "trial": [trial_label(r.study_id, r.authors, r.year) for r in t.itertuples()],
        "condition": t["condition"].fillna(""),
        "population": t["population"].fillna("").str.replace("_", " "),
        "intervention": t["intervention_class"].str.replace("_", " "),
        "comparator": t["comparator_class"].fillna("").str.replace("_", " "),
        "n randomised": t["n_randomised"].map(lambda x: "" if pd.isna(x) else str(int(x))),
        "results": t["data_status"].str.replace("_", " "),
        "reference": [f"doi:{r.doi}" if pd.notna(r.doi) else (f"PMID {int(r.pmid)}" if pd.notna(r.pmid) else "")
                      for r in t.itertuples()],
    })  # fmt: skip
    return out.sort_values("trial", ignore_index=True)


def _author_year(citation: object, review_id: str) -> str:
    """'Denneny 2019' from the citation's first author and the year in the review id (the id as a fallback)."""
    year = re.search(r"(19|20)\d{2}", str(review_id))
    first = str(citation).split(",")[0].strip() if isinstance(citation, str) and citation.strip() else ""
    surname = first.rsplit(" ", 1)[0] if " " in first else first
    return f"{surname} {year.group(0)}" if surname and year else str(review_id)


def reviews_table(data: StudyData) -> pd.DataFrame:
    """Published reviews' pooled results, formatted for reading."""
    r = data.reviews.copy()
    return pd.DataFrame({
        "review": [_author_year(c, rid) for c, rid in zip(r["citation"], r["review_id"])],
        "doi": r["doi"].fillna("") if "doi" in r else "", "outcome": r["outcome"], "comparison": r["comparison"].fillna(""),
        "studies": r["k"].map(lambda x: "" if pd.isna(x) else str(int(x))),
        "participants": r["participants"].map(lambda x: "" if pd.isna(x) else str(int(x))),
        "measure": r["measure"].fillna(""),
        "effect [95% CI]": [format_effect(e, lo, hi) for e, lo, hi in zip(r["estimate"], r["ci_low"], r["ci_high"])],
        "I² %": r["i2"].map(lambda x: "" if pd.isna(x) else f"{x:.0f}"),
    }).sort_values(["review", "outcome"], ignore_index=True)  # fmt: skip


#: ``claims.csv`` outcome of a claim about the evidence itself ("only 12 studies"): answered from the
#: register's counts, the same numbers the report's summary gives (one source of truth).
REGISTER_OUTCOME = "register"


def register_counts(data: StudyData, results: Mapping[str, AnalysisResult] | None = None) -> dict[str, int]:
    """Trials in the register, included, included with results verified from accessible text, and
    trials that entered at least one pooled analysis."""
    t = data.trials
    included = t["inclusion_status"] == "included"
    pooled = {s for r in (results or {}).values() for s in r.studies.get("study_id", [])}
    return {"trials": len(t), "included": int(included.sum()),
            "with_results": int((included & (t["data_status"] == "extracted")).sum()), "pooled": len(pooled)}  # fmt: skip


def register_sentence(counts: Mapping[str, int]) -> str:
    """The register's counts in one sentence (used by the claims table and the report's summary)."""
    return (f"This register holds {counts['trials']} trials of trigger-point therapies, of which "
            f"{counts['included']} are randomised trials that meet the inclusion criteria; the results of "
            f"{counts['with_results']} could be verified from accessible text, and {counts['pooled']} entered at "
            "least one pooled analysis.")  # fmt: skip


def claims_table(
    data: StudyData, results: Mapping[str, AnalysisResult], certainty: Mapping[str, str] | None = None,
    rob: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each claim of the source article with, in plain language, what the trials and the published
    reviews show. ``claims.csv`` names, per claim, the analyses (space-separated ``analysis_id``), the
    reviews and the trials without usable numbers that speak to it. Given the RoB 2 table (``rob``,
    from :func:`tpmeta.appraisal.rob2.rob2_table`), the bottom line adds :func:`rob_sentence`."""
    rows = []
    trials = data.trials.set_index("study_id")
    for c in data.claims.itertuples():
        if str(c.outcome).strip() == REGISTER_OUTCOME:  # a claim about the trials themselves
            counts = register_counts(data, results)
            rows.append({"claim": c.claim, "article says": c.article_quote,
                         "bottom line": "There are more trials than the article says, but few report results that could be checked.",
                         "what the evidence shows": register_sentence(counts)})  # fmt: skip
            continue
        parts = []
        analysis_ids = str(c.analysis_id).split() if isinstance(c.analysis_id, str) else []
        pooled_ids: set[str] = set()
        for aid in analysis_ids:
            res = results.get(aid)
            if res is None:
                continue
            parts.append(_analysis_sentence(res, (certainty or {}).get(aid)))
            pooled_ids |= set(res.studies.get("study_id", []))
        reviews = str(c.review_ids).split() if isinstance(c.review_ids, str) else []
        for rid in reviews:
            parts += _review_sentences(data.reviews, rid, str(c.outcome))
        ids = [i for i in (str(c.study_ids).split() if isinstance(c.study_ids, str) else [])
               if i in trials.index and i not in pooled_ids]  # fmt: skip
        if ids:
            parts.append("Other trials found but not poolable here (see the register): "
                         + ", ".join(_cite(trials, i) for i in ids) + ".")  # fmt: skip
        evidence = " ".join(parts) if parts else "No randomised trials found in this review's register."
        analysed = [results[a] for a in analysis_ids if a in results]
        bottom = _bottom_line(analysed, bool(reviews), bool(ids), certainty or {})
        rob_text = rob_sentence(data, results, rob, analysis_ids) if rob is not None else ""
        rows.append({"claim": c.claim, "article says": c.article_quote,
                     "bottom line": f"{bottom} {rob_text}".strip(),
                     "what the evidence shows": evidence})  # fmt: skip
    return pd.DataFrame(rows)


def _benefit(res: AnalysisResult) -> bool:
    p = res.pooled
    if p is None or not (p.ci_low > 0 or p.ci_high < 0):
        return False
    return (p.estimate < 0) if res.spec.lower_favours else (p.estimate > 0)


def _bottom_line(analysed: list[AnalysisResult], has_reviews: bool, has_trials: bool,
                 certainty: Mapping[str, str]) -> str:  # fmt: skip
    """One plain sentence per claim: untested, unchecked, or what the trials with numbers show."""
    with_data = [r for r in analysed if r.pooled is not None]
    reviews_note = " (see the published reviews)" if has_reviews else ""
    if not with_data:
        if has_trials or has_reviews or analysed:
            return f"Trials exist, but no results could be checked here{reviews_note}."
        return "No randomised trials found in this review's register."
    inactive_declared = [r for r in analysed if set(r.spec.comparator_classes) <= {"sham", "no_treatment", "usual_care"}]
    inactive = [r for r in inactive_declared if r.pooled is not None]
    levels = {certainty.get(r.spec.analysis_id, "") for r in with_data} - {""}
    cert = f" Certainty: {sorted(levels)[0].lower()}." if len(levels) == 1 else ""
    if any(_benefit(r) for r in inactive):
        return "Some trial evidence of benefit against sham, no treatment or usual care." + cert
    if inactive:
        return "No reliable benefit shown against sham, no treatment or usual care (few, small trials)." + cert
    if inactive_declared:
        return (f"No results against sham or no treatment could be checked here{reviews_note}; "
                "only comparisons with other treatments." + cert)  # fmt: skip
    return "Only comparisons with other treatments." + cert


def _analysis_sentence(res: AnalysisResult, certainty: str | None) -> str:
    question = res.spec.title.split(": ", 1)[-1]
    if res.pooled is None:
        return f"No trial of {question} reported usable numbers."
    p, m = res.pooled, res.spec.measure
    effect = f"{m.value} {format_effect(p.estimate, p.ci_low, p.ci_high, ratio=m.is_ratio)}"
    cert = f" Certainty: {certainty.lower()}." if certainty else ""
    verdict = _plain_verdict(p, res.spec.outcome, m.is_ratio)
    if p.k == 1:
        return f"One trial of {question} ({p.study_labels[0]}): {effect}; {verdict}{cert}"
    return f"{p.k} trials of {question} pooled: {effect}; {verdict}{cert}"


def _review_sentences(reviews: pd.DataFrame, review_id: str, outcome: str) -> list[str]:
    rows = reviews[(reviews["review_id"] == review_id) & reviews["outcome"].str.startswith(outcome.split()[0])
                   & reviews["estimate"].notna()]  # fmt: skip
    out = []
    for r in rows.itertuples():
        k = "" if pd.isna(r.k) else f", {int(r.k)} trials"
        i2 = "" if pd.isna(r.i2) else f", I² {r.i2:.0f}%"
        out.append(f"Published review {_author_year(getattr(r, 'citation', ''), review_id)} ({r.comparison}): {r.measure} "
                   f"{format_effect(r.estimate, r.ci_low, r.ci_high)}{k}{i2}.")  # fmt: skip
    return out


def _cite(trials: pd.DataFrame, sid: str) -> str:
    r = trials.loc[sid]
    return trial_label(sid, r["authors"], r["year"])


def _plain_verdict(p, outcome: str, ratio: bool = False) -> str:  # noqa: ANN001
    null = 0.0
    significant = p.ci_low > null or p.ci_high < null
    if not significant:
        return "the confidence interval includes no effect, so it does not show a reliable benefit."
    lower_better = outcome in ("pain_intensity", "disability", "headache_frequency") and not ratio
    better = (p.estimate < 0) if lower_better else (p.estimate > 0)
    if ratio:
        size = abs(float(np.exp(p.estimate)) - 1)
        word = "small" if size < 0.25 else ("moderate" if size < 1.0 else "large")
    else:
        size = abs(p.estimate)
        word = "small" if size < 0.5 else ("moderate" if size < 0.8 else "large")
    direction = "in favour of trigger-point therapy" if better else "against trigger-point therapy"
    return f"a {word} effect {direction}."


#: Markdown punctuation that could start a link, an image, emphasis or a code span inside running text.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()+\-.!|~])")


def md_text(value: object) -> str:
    """Text from the dataset made inert before it goes into Markdown: HTML special characters become
    entities (no tags, no scripts) and Markdown punctuation is backslash-escaped (no links, no remote
    images), so a title or author field is shown as written and nothing in it runs or loads.

    >>> print(md_text("Smith [x](javascript:alert(1)) <b>"))
    Smith \\[x\\]\\(javascript:alert\\(1\\)\\) &lt;b&gt;
    """
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(value)), quote=False)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    def cell(x: object) -> str:
        return ("" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(cell, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def key_findings(data: StudyData, results: Mapping[str, AnalysisResult],
                 certainty: Mapping[str, str] | None = None, rob: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """The report's opening box: per claim of the article, the bottom line (the same sentence as the
    claims table, with what the risk-of-bias assessments can and cannot say), the GRADE certainty where
    an analysis was rated, and how many trials with checked results speak to it."""
    claims = claims_table(data, results, certainty, rob)
    rows = []
    for c, line in zip(data.claims.itertuples(), claims["bottom line"]):
        ids = str(c.analysis_id).split() if isinstance(c.analysis_id, str) else []
        pooled = {s for a in ids if a in results for s in results[a].studies.get("study_id", [])}
        levels = sorted({(certainty or {}).get(a, "") for a in ids if a in results and results[a].pooled is not None} - {""})
        n = register_counts(data, results)["with_results"] if str(c.outcome).strip() == REGISTER_OUTCOME else len(pooled)
        rows.append({"question": c.claim, "bottom line": line, "certainty": ", ".join(levels) or "not rated",
                     "trials with checked results": n})  # fmt: skip
    return pd.DataFrame(rows)


#: Domain names as they read in a sentence.
_DOMAIN_PHRASES = {"d1": "the randomisation process", "d2": "deviations from the intended interventions",
                   "d3": "missing outcome data", "d4": "measurement of the outcome",
                   "d5": "selection of the reported result"}  # fmt: skip


def _flag(value: object) -> bool:
    return bool(value) if value is not None and not pd.isna(value) else True


def rob_sentence(data: StudyData, results: Mapping[str, AnalysisResult], rob: pd.DataFrame | None,
                 analysis_ids: list[str] | None = None) -> str:  # fmt: skip
    """What the RoB 2 assessments of the trials behind ``analysis_ids`` (default: every analysis) say,
    keeping a reported flaw apart from what abstracts leave out: "at high risk because of …" only for a
    flaw the reports state, "could not be assessed from their abstracts" for judgements that rest only
    on what abstracts leave out, and the concerns the reports do support. Empty without assessments.
    """
    if rob is None or not len(rob) or "overall_assessable" not in rob:
        return ""
    ids = list(results) if analysis_ids is None else [a for a in analysis_ids if a in results]
    table = rob.set_index(["study_id", "outcome"])
    pairs = sorted({(s, results[a].spec.outcome) for a in ids for s in results[a].studies.get("study_id", [])
                    if (s, results[a].spec.outcome) in table.index})  # fmt: skip
    if not pairs:
        return ""
    trials = sorted({s for s, _ in pairs})
    labels = data.trials.set_index("study_id")
    cite = {s: trial_label(s, labels.loc[s, "authors"], labels.loc[s, "year"]) if s in labels.index else s for s in trials}
    gaps, flaws, concerns, beyond = set(), {}, set(), set()
    for s, o in pairs:
        r = table.loc[(s, o)]
        if not _flag(r.get("overall_assessable")):
            gaps.add(s)
        if _flag(r.get("beyond_abstract")) and r.get("beyond_abstract") is not None:
            beyond.add(s)
        for d in _DOMAIN_PHRASES:
            if r.get(d) == "high" and _flag(r.get(f"{d}_assessable")):
                flaws.setdefault(d, set()).add(s)
            if r.get(f"{d}_floor") == "some concerns":
                concerns.add(d)
    k, n_gap = len(trials), len(gaps)
    parts = []
    for d, who in flaws.items():
        parts.append(f"at high risk because of a reported flaw in {_DOMAIN_PHRASES[d]} "
                     f"({', '.join(cite[s] for s in sorted(who))})")  # fmt: skip
    if n_gap:
        if k == 1:
            parts.append("the trial could not be fully assessed from its abstract")
        elif n_gap == k:
            parts.append(f"no trial could be fully assessed from its abstract ({k} of {k})")
        elif n_gap > k / 2:
            parts.append(f"most trials ({n_gap} of {k}) could not be assessed from their abstracts")
        else:
            parts.append(f"{n_gap} of {k} trials could not be assessed from their abstracts")
    if concerns:
        phrases = [_DOMAIN_PHRASES[d] for d in _DOMAIN_PHRASES if d in concerns]
        parts.append("what the reports state gives some concerns about " + " and ".join(phrases))
    if beyond:
        parts.append(f"{len(beyond)} of {k} assessed with more than an abstract (PEDro record or full text)")
    if not parts:
        parts.append("low risk of bias")
    return "Risk of bias: " + "; ".join(parts) + "."


_DOI = re.compile(r"doi:(10\.\d{4,9}/[^\s<>\"'&]*[^\s<>\"'&.,;:)])")  # not trailing punctuation
_PMID = re.compile(r"PMID (\d{1,9})\b")
_REGISTRY = re.compile(r"\b(NCT\d{8})\b")


def link_identifiers(escaped_html: str) -> str:
    """Turn ``doi:…``, ``PMID …`` and NCT numbers in already-escaped HTML into links (doi.org, PubMed,
    ClinicalTrials.gov). Only these patterns become links, with percent-encoded targets, so dataset text
    cannot inject any other markup.

    >>> link_identifiers("doi:10.1016/j.ajem.2019.01.015; PMID 30660342")
    '<a href="https://doi.org/10.1016/j.ajem.2019.01.015">doi:10.1016/j.ajem.2019.01.015</a>; <a href="https://pubmed.ncbi.nlm.nih.gov/30660342/">PMID 30660342</a>'
    """
    from urllib.parse import quote

    out = _DOI.sub(lambda m: f'<a href="https://doi.org/{quote(m.group(1), safe="/:;()._-")}">{m.group(0)}</a>', escaped_html)
    out = _PMID.sub(lambda m: f'<a href="https://pubmed.ncbi.nlm.nih.gov/{m.group(1)}/">{m.group(0)}</a>', out)
    return _REGISTRY.sub(lambda m: f'<a href="https://clinicaltrials.gov/study/{m.group(1)}">{m.group(1)}</a>', out)
