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
    assert flow["Trials identified (register)"] == 3 and flow["Included"] == 3
    assert flow["In at least one pooled analysis"] == 3
    chars = characteristics_table(data)
    assert chars["trial"].tolist() == ["Fixture 2001", "Fixture 2002", "Fixture 2003"]


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
