"""Report tables: flow counts, characteristics, and the claims table's plain-language bottom lines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

import tpmeta
from tpmeta.review.tables import (
    characteristics_table,
    claims_table,
    flow_counts,
    format_effect,
    markdown_table,
)

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_studies"
ROOT_STUDIES = Path(__file__).resolve().parents[2] / "studies"


def test_flow_and_characteristics():
    data = tpmeta.load_studies(MINI)
    flow = flow_counts(data, tpmeta.run_all(data)).set_index("step")["trials"]
    assert flow["Records identified"] == 3 and flow["Studies included in review"] == 3
    assert flow["Studies with results in a pooled analysis"] == 3
    chars = characteristics_table(data)
    assert chars["trial"].tolist() == ["Fixture 2001", "Fixture 2002", "Fixture 2003"]


def _check_prisma_arithmetic(flow: pd.DataFrame, t: pd.DataFrame) -> pd.Series:
    """identified − removed = screened; screened − excluded = sought; sought − not retrieved = assessed;
    assessed − excluded = included; every detail line of a counted box sums to its box."""
    assert list(dict.fromkeys(flow["phase"])) == ["Identification", "Screening", "Included"]
    n = flow[flow["kind"] != "detail"].set_index("step")["trials"]
    removed = n["Records removed before screening"]
    assert n["Records identified"] - (0 if pd.isna(removed) else removed) == n["Records screened"] == len(t)
    assert n["Records screened"] - n["Records excluded"] == n["Reports sought for retrieval"]
    assert n["Reports sought for retrieval"] - n["Reports not retrieved (awaiting classification)"] == n["Reports assessed for eligibility"]
    assert n["Reports assessed for eligibility"] - n["Reports excluded"] == n["Studies included in review"]
    assert n["Studies included in review"] == (t["inclusion_status"] == "included").sum()
    box, parts = None, {}
    for kind, step, count in zip(flow["kind"], flow["step"], flow["trials"]):
        if kind == "detail":
            parts.setdefault(box, []).append(count)
        else:
            box = step
    for step in ("Records identified", "Records excluded", "Studies included in review"):
        assert sum(parts.get(step, [])) == n[step], step
    if not pd.isna(removed):
        assert sum(c for c in parts["Records removed before screening"] if not pd.isna(c)) == removed
    return n


def test_flow_counts_follow_prisma_arithmetic_on_the_shipped_register():
    """PRISMA 2020's arithmetic holds on the shipped register; identification comes from the search log
    where it has numbers (searches.csv) and from identified_via otherwise; unknown counts stay NA."""
    data = tpmeta.load_studies(ROOT_STUDIES)
    flow = flow_counts(data, tpmeta.run_all(data))
    n = _check_prisma_arithmetic(flow, data.trials)
    logged = pd.to_numeric(data.searches["hits"], errors="coerce")
    if logged.notna().any():  # identified = logged hits + register trials no logged search added
        new = pd.to_numeric(data.searches["new_trials"], errors="coerce")[logged.notna()]
        assert n["Records removed before screening"] == logged.sum() - new.sum()
        assert n["Records identified"] == logged.sum() + len(data.trials) - new.sum()
    steps = set(flow["step"])
    assert "duplicates in the unlogged searches: not logged" in steps or "duplicates: not logged (each trial entered once)" in steps
    assert flow.loc[flow["step"].str.contains("not logged$"), "trials"].isna().all()  # never shown as a number


def test_flow_counts_without_a_search_log_fall_back_to_the_routes():
    """No searches.csv: records identified = the register's trials, by identified_via route; the records
    removed before screening were not logged and stay NA."""
    data = tpmeta.load_studies(ROOT_STUDIES)
    data = dataclasses.replace(data, searches=data.searches.iloc[0:0])
    flow = flow_counts(data)
    n = _check_prisma_arithmetic(flow, data.trials)
    assert n["Records identified"] == len(data.trials) and pd.isna(n["Records removed before screening"])
    details = flow[(flow["phase"] == "Identification") & (flow["kind"] == "detail")]["step"]
    assert "reference lists of reviews" in set(details) and not details.str.contains("logged searches").any()


def test_flow_counts_credit_a_logged_search_with_the_trials_it_added():
    """A logged search that added a trial (named in identified_via) counts its hits once: the trial is not
    counted again under its route, and its other hits are removed before screening."""
    data = tpmeta.load_studies(MINI)
    trials = data.trials.copy()
    trials.loc[trials.index[0], "identified_via"] = "search S1 (pages corpus)"
    searches = pd.DataFrame({"search_id": ["S1", "R-old"], "date": ["2026-12-06", "2026-11"],
                             "source": ["stored pages", "reference lists"], "query": ["q", "q"],
                             "hits": ["8", "not logged"], "new_trials": ["1", "not logged"], "notes": ["", ""]})
    flow = flow_counts(dataclasses.replace(data, trials=trials, searches=searches))
    n = _check_prisma_arithmetic(flow, trials)
    assert n["Records identified"] == 8 + len(trials) - 1 and n["Records removed before screening"] == 7
    assert ("logged searches, stored pages", 8) in set(zip(flow["step"], flow["trials"]))


def test_routes_are_grouped_by_where_the_trial_was_found():
    from tpmeta.review.tables import _source_group

    assert _source_group("Lu 2022 review (Chiropr Man Therap 30:34), Table 1") == "reference lists of reviews"
    assert _source_group("web/PubMed search for ischemic compression RCTs (Lu 2022 inclusion not verified)") == "database and web searches"
    assert _source_group("search (pages corpus); pelvic-pain trials of the kind pooled by Denneny 2019") == "database and web searches"
    assert _source_group("brief example list; search (pages corpus)") == "named in the project brief"
    assert _source_group("letter from an author") == "other routes"


def test_claims_bottom_lines():
    data = tpmeta.load_studies(MINI)
    claims = pd.concat([data.claims, pd.DataFrame([{"claim_id": "sleep", "claim": "helps sleep",
                                                     "article_quote": "sleep", "outcome": "sleep"}])], ignore_index=True)
    data = dataclasses.replace(data, claims=claims)
    table = claims_table(data, tpmeta.run_all(data), {"pain_post": "Moderate"}).set_index("claim")
    assert table.loc["relieves pain", "bottom line"].startswith("No reliable benefit shown against sham")
    assert "Certainty: moderate" in table.loc["relieves pain", "bottom line"]
    assert "3 trials of" in table.loc["relieves pain", "what the evidence shows"]
    assert table.loc["helps sleep", "bottom line"] == "No randomised trials found in this review's register."


def test_formatting_helpers():
    assert format_effect(float("nan"), 0, 1) == "—"
    md = markdown_table(pd.DataFrame({"a": ["x|y"], "b": [None]}))
    assert md.splitlines()[2] == "| x\\|y |  |"


def test_the_claim_about_the_number_of_trials_is_answered_from_the_register():
    """One source of truth: no 'no randomised trials found' under a paragraph that counts them."""
    from tpmeta.review.build import build_review
    from tpmeta.review.tables import register_counts

    data = tpmeta.load_studies(ROOT_STUDIES)
    review = build_review(data)
    claims = claims_table(data, review.analyses).set_index("claim")
    row = claims.loc[[c for c in claims.index if "12 studies" in c][0]]
    counts = register_counts(data, review.analyses)
    assert f"holds {counts['trials']} trials" in row["what the evidence shows"]
    assert f"{counts['included']} are randomised trials that meet the inclusion criteria" in row["what the evidence shows"]
    assert f"results of {counts['with_results']} could be verified" in row["what the evidence shows"]
    assert "No randomised trials found" not in row["what the evidence shows"] + row["bottom line"]
    for _, r in claims.iterrows():  # a bottom line never contradicts the evidence beside it
        if r["what the evidence shows"].startswith("No randomised trials found"):
            assert r["bottom line"].startswith("No randomised trials found"), r


def test_published_reviews_are_named_by_author_and_year():
    from tpmeta.review.tables import reviews_table

    data = tpmeta.load_studies(ROOT_STUDIES)
    table = reviews_table(data)
    assert "Denneny 2019" in set(table["review"]) and not table["review"].str.match(r"^[a-z]+\d{4}$").any()
    claims = claims_table(data, {})
    assert not claims["what the evidence shows"].str.contains(r"review [a-z]+\d{4}\b").any()
