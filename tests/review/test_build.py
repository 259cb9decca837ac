"""The review bundle: RoB-restricted sensitivity by domain, GRADE overrides from grade.csv, and the
comparison used by add-study."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import tpmeta
from tpmeta.review.build import build_review, compare_reviews

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_studies"


@pytest.fixture()
def data():
    return tpmeta.load_studies(MINI)


def test_rob_restriction_by_domain(data):
    rob = data.rob2.copy()
    rob.loc[rob.study_id == "fixture2002", "d1_2"] = "N"  # D1 high -> overall high
    review = build_review(dataclasses.replace(data, rob2=rob))
    assert review.overall_rob("pain_post") == ["low", "high", "low"]
    assert review.overall_rob("pain_post", "d2") == ["low", "low", "low"]
    assert review.rob_restricted("pain_post")["low risk only"].k == 2
    assert review.rob_restricted("pain_post", "d2")["low risk only"].k == 3
    with pytest.raises(ValueError, match="domain"):
        review.overall_rob("pain_post", "d9")


def test_grade_override_applies(data):
    grade = pd.DataFrame([{"analysis_id": "pain_post", "domain": "indirectness", "downgrade": 2, "rationale": "healthy volunteers"}])
    review = build_review(dataclasses.replace(data, grade=grade))
    g = review.grade["pain_post"]
    assert g.domain("indirectness").downgrade == 2 and g.domain("indirectness").suggested == 0
    assert g.certainty != g.suggested_certainty


def test_compare_reviews_lists_only_changes(data):
    a = build_review(data)
    assert compare_reviews(a, a).empty
    fewer = dataclasses.replace(data, outcomes=data.outcomes[data.outcomes.study_id != "fixture2003"])
    diff = compare_reviews(a, build_review(fewer)).set_index("analysis_id")
    assert diff.loc["pain_post", "k"] == "3 → 2"


def test_rob_basis_restriction_and_floors(data):
    from tpmeta.review.build import ASSESSED_BEYOND_ABSTRACT

    rob = data.rob2.copy()
    rob.loc[rob.study_id == "fixture2001", "basis"] = "full_text"
    rob.loc[rob.study_id == "fixture2002", ["d1_2", "d1_3"]] = ["NI", "N"]  # abstract silent on concealment
    review = build_review(dataclasses.replace(data, rob2=rob))
    assert review.overall_rob("pain_post") == ["low", "some concerns", "low"]
    assert review.rob_floor("pain_post") == ["low", "low", "low"]
    assert review.rob_beyond_abstract("pain_post") == [True, False, False]
    assert review.rob_restricted("pain_post")[ASSESSED_BEYOND_ABSTRACT].k == 1
    assert "worse only because abstracts" in review.grade["pain_post"].domain("risk_of_bias").reason
