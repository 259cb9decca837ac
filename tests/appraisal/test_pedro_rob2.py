"""PEDro items → RoB 2 answers, item by item.

The expected answers are an independent decision table written from the PEDro item list in
/work/shared/reference/appraisal-rules.md and the mapping the project asked for (random allocation →
1.1, concealed allocation → 1.2, baseline similarity → 1.3, blinded participants/therapists → 2.1/2.2,
blinded assessors → 4.3, outcome data from > 85 % → 3.1, intention to treat → 2.6): a PEDro "yes" is
reported evidence for the criterion and gives the favourable RoB 2 answer; a PEDro "no" only says the
full report does not clearly show it, so it gives "no information", never an unfavourable answer.
"""

from __future__ import annotations

import doctest

import pytest

from tpmeta.appraisal import pedro_rob2
from tpmeta.appraisal.pedro_rob2 import pedro_rob2_answers
from tpmeta.appraisal.rob2_basis import Basis

# question: (PEDro item, answer when "yes", answer when "no") — written from the rules, not the code
DECISION_TABLE = {
    "1.1": ("item2", "PY", "NI"),  # random allocation: "probably", PEDro needs no method
    "1.2": ("item3", "PY", "NI"),  # concealed allocation
    "1.3": ("item4", "PN", "NI"),  # groups similar at baseline: no imbalance suggesting a problem
    "2.1": ("item5", "PN", "NI"),  # subjects blinded: participants not aware
    "2.2": ("item6", "PN", "NI"),  # therapists blinded: deliverers not aware
    "2.6": ("item9", "PY", "NI"),  # intention to treat: appropriate analysis of assignment
    "3.1": ("item8", "PY", "NI"),  # key outcome from > 85 %: data for (nearly) all
}
# 4.3 (outcome assessors aware) by who assesses the outcome
ASSESSOR = {
    "pain_intensity": ("item5",),  # self-reported: the participant is the assessor
    "disability": ("item5",),
    "headache_frequency": ("item5",),
    "global_improvement": ("item5",),
    "quality_of_life": ("item5",),
    "range_of_motion": ("item7",),  # measured by an assessor
    "pressure_pain_threshold": ("item5", "item7"),  # assessor presses, participant signals: both blind
}


def items(value: str, **overrides: str) -> dict[str, str]:
    return {f"item{i}": value for i in range(1, 12)} | overrides


@pytest.mark.parametrize("question", sorted(DECISION_TABLE))
@pytest.mark.parametrize("value", ["Y", "N"])
def test_each_trial_level_item(question: str, value: str) -> None:
    item, if_yes, if_no = DECISION_TABLE[question]
    other = "N" if value == "Y" else "Y"  # every other item the opposite: only `item` may decide
    derived = pedro_rob2_answers(items(other, **{item: value}))
    assert derived[question].answer.value == (if_yes if value == "Y" else if_no)
    assert derived[question].basis is Basis.PEDRO_RECORD
    assert f"PEDro item {item[4:]}" in derived[question].note
    assert derived[question].note.endswith("yes" if value == "Y" else "no")


def test_only_mapped_questions_are_derived_and_never_unfavourable() -> None:
    for value in ("Y", "N"):
        derived = pedro_rob2_answers(items(value))
        assert set(derived) == set(DECISION_TABLE)  # no outcome: 4.3 is not derived
        # unfavourable answers would be 1.1 N, 1.2 N, 1.3 Y, 2.1 Y, 2.2 Y, 2.6 N, 3.1 N
        assert all(d.answer.value in ("Y", "PY", "PN", "N", "NI") for d in derived.values())
        assert not any(d.answer.value in ("N", "Y") for d in derived.values())


@pytest.mark.parametrize("outcome", sorted(ASSESSOR))
def test_assessor_blinding_follows_who_assesses(outcome: str) -> None:
    needed = ASSESSOR[outcome]
    assert pedro_rob2_answers(items("N", **{i: "Y" for i in needed}), outcome)["4.3"].answer.value == "PN"
    for missing in needed:  # any needed item "no" → no information
        others = {i: "Y" for i in needed if i != missing}
        assert pedro_rob2_answers(items("Y", **others, **{missing: "N"}), outcome)["4.3"].answer.value == "NI"
    # the items that do not assess this outcome never decide 4.3
    unrelated = {"item5", "item7"} - set(needed)
    for item in unrelated:
        assert pedro_rob2_answers(items("Y", **{item: "N"}), outcome)["4.3"].answer.value == "PN"


@pytest.mark.parametrize("outcome", [None, "other", "not_an_outcome"])
def test_no_assessor_answer_when_the_outcome_is_unknown(outcome) -> None:
    assert "4.3" not in pedro_rob2_answers(items("Y"), outcome)


def test_missing_or_unreadable_items_derive_nothing() -> None:
    derived = pedro_rob2_answers({"item3": "Y", "item4": None, "item5": "maybe"}, "pain_intensity")
    assert set(derived) == {"1.2"}
    assert pedro_rob2_answers({}) == {}
    assert pedro_rob2_answers({"item2": True, "item8": 0})["3.1"].answer.value == "NI"


def test_docstring_examples() -> None:
    result = doctest.testmod(pedro_rob2)
    assert result.attempted >= 2 and result.failed == 0
