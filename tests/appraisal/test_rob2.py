"""RoB 2 (the PEDro scale is tested in test_pedro.py).

Expected judgements are written from /work/shared/reference/appraisal-rules.md (a summary of the RoB 2
full guidance, 22 Aug 2019), not from the implementation. The exhaustive tests compare every valid
answer combination with an independent decision table kept in this file.
"""

from __future__ import annotations

import doctest
import itertools

import pandas as pd
import pytest

from tpmeta.appraisal import rob2 as rob
from tpmeta.appraisal.rob2 import Answer, assess_rob2, rob2_table
from tpmeta.errors import StudyDataError
from tpmeta.options import Judgement

LOW, SC, HIGH = "low", "some concerns", "high"
ANSWERS = ("Y", "PY", "PN", "N", "NI", "NA")
QUESTIONS = {
    "d1": ["d1_1", "d1_2", "d1_3"],
    "d2": ["d2_1", "d2_2", "d2_3", "d2_4", "d2_5", "d2_6", "d2_7"],
    "d3": ["d3_1", "d3_2", "d3_3", "d3_4"],
    "d4": ["d4_1", "d4_2", "d4_3", "d4_4", "d4_5"],
    "d5": ["d5_1", "d5_2", "d5_3"],
}
# one answer set per domain and judgement (domain answers in question order)
EXAMPLES = {
    "d1": {LOW: "Y Y N", SC: "Y Y Y", HIGH: "Y N N"},
    "d2": {LOW: "N N NA NA NA Y NA", SC: "Y N NI NA NA Y NA", HIGH: "Y N Y Y N Y NA"},
    "d3": {LOW: "Y NA NA NA", SC: "N N Y N", HIGH: "N N Y Y"},
    "d4": {LOW: "N N N NA NA", SC: "N NI N NA NA", HIGH: "Y N NA NA NA"},
    "d5": {LOW: "Y N N", SC: "N N N", HIGH: "Y Y N"},
}


def domain_answers(domain: str, text: str) -> dict[str, str]:
    values = text.split()
    assert len(values) == len(QUESTIONS[domain]), text
    return dict(zip(QUESTIONS[domain], values))


def answers(**domains: str) -> dict[str, str]:
    """All 22 answers: every domain at its low example unless given as ``d2="Y N ..."``."""
    out: dict[str, str] = {}
    for domain in QUESTIONS:
        out |= domain_answers(domain, domains.get(domain, EXAMPLES[domain][LOW]))
    return out


def judge(domain: str, text: str) -> str:
    return assess_rob2(answers(**{domain: text}), study_id="T").domains[domain].proposed.value


# ------------------------------------------------------------------ hand-written branch tables
D1_CASES = [  # 1.1 1.2 1.3
    ("Y N N", HIGH), ("Y PN Y", HIGH), ("NI PN NI", HIGH),  # 1.2 N/PN → high
    ("N NI Y", HIGH), ("Y NI PY", HIGH),  # 1.2 NI, 1.3 Y/PY → high
    ("N NI N", SC), ("Y NI NI", SC), ("PY NI PN", SC),  # 1.2 NI, else → SC (1.1 unused)
    ("N Y N", SC), ("PN PY NI", SC),  # 1.2 Y, 1.1 N/PN → SC
    ("Y Y Y", SC), ("NI PY PY", SC),  # 1.2 Y, 1.1 not N, 1.3 Y/PY → SC
    ("Y Y N", LOW), ("PY PY PN", LOW), ("NI Y NI", LOW), ("Y PY NI", LOW),
]
D2_CASES = [  # 2.1 2.2 2.3 2.4 2.5 2.6 2.7
    ("N N NA NA NA Y NA", LOW), ("PN N NA NA NA PY NA", LOW),  # part 1: both unaware → low
    ("Y N N NA NA Y NA", LOW), ("N NI PN NA NA Y NA", LOW),  # 2.3 N/PN → low
    ("Y Y NI NA NA Y NA", SC),  # 2.3 NI → SC
    ("Y N Y N NA Y NA", SC), ("N PY PY PN NA Y NA", SC),  # 2.4 N/PN → SC
    ("Y N Y Y Y Y NA", SC), ("Y N Y NI PY Y NA", SC),  # 2.5 Y/PY → SC (the often-skipped 2.5)
    ("Y N Y Y N Y NA", HIGH), ("Y N Y Y NI Y NA", HIGH), ("NI NI PY NI PN Y NA", HIGH),  # 2.5 N/NI
    ("N N NA NA NA N N", SC), ("N N NA NA NA NI PN", SC),  # part 2: 2.7 N/PN → SC
    ("N N NA NA NA PN Y", HIGH), ("N N NA NA NA N NI", HIGH), ("N N NA NA NA NI PY", HIGH),
    ("Y N NI NA NA N N", SC),  # SC + SC → SC
    ("Y N NI NA NA N Y", HIGH), ("Y N Y Y N N N", HIGH),  # SC + high, high + SC → high
    ("Y N Y Y N N Y", HIGH),  # high + high
]
D3_CASES = [  # 3.1 3.2 3.3 3.4
    ("Y NA NA NA", LOW), ("PY NA NA NA", LOW),
    ("N Y NA NA", LOW), ("NI PY NA NA", LOW),
    ("N N N NA", LOW), ("PN PN PN NA", LOW),
    ("N N Y N", SC), ("NI N NI PN", SC),
    ("N N Y Y", HIGH), ("N PN PY NI", HIGH), ("NI N NI PY", HIGH),
]
D4_CASES = [  # 4.1 4.2 4.3 4.4 4.5
    ("Y N NA NA NA", HIGH), ("PY NI NA NA NA", HIGH), ("Y Y NA NA NA", HIGH),
    ("N Y NA NA NA", HIGH), ("NI PY NA NA NA", HIGH),
    ("N N N NA NA", LOW), ("NI PN PN NA NA", LOW),
    ("N N Y N NA", LOW), ("N N NI PN NA", LOW),
    ("N N Y Y N", SC), ("N N Y NI PN", SC),
    ("N N Y Y Y", HIGH), ("N N PY PY NI", HIGH),
    ("N NI N NA NA", SC), ("N NI Y N NA", SC), ("N NI Y Y N", SC),  # 4.2 NI: low → SC
    ("N NI Y Y Y", HIGH), ("NI NI NI NI NI", HIGH),  # ... but high stays high
]
D5_CASES = [  # 5.1 5.2 5.3
    ("Y Y N", HIGH), ("Y N PY", HIGH), ("N NI Y", HIGH), ("NI PY PY", HIGH),
    ("Y NI N", SC), ("Y N NI", SC), ("Y NI NI", SC),
    ("Y N N", LOW), ("PY PN PN", LOW),
    ("N N N", SC), ("PN PN N", SC), ("NI N N", SC),
]


@pytest.mark.parametrize(
    "domain, text, expected",
    [("d1", *c) for c in D1_CASES] + [("d2", *c) for c in D2_CASES] + [("d3", *c) for c in D3_CASES]
    + [("d4", *c) for c in D4_CASES] + [("d5", *c) for c in D5_CASES],
)
def test_domain_branch(domain: str, text: str, expected: str) -> None:
    assert judge(domain, text) == expected


# ------------------------------------------------------------------ independent decision tables
def category(answer: str) -> str:
    return {"Y": "Y", "PY": "Y", "N": "N", "PN": "N"}.get(answer, answer)


def first_match(table: list[tuple], values: list[str]) -> str:
    cats = [category(v) for v in values]
    for *pattern, result in table:
        if all(p == "*" or c in p.split("|") for p, c in zip(pattern, cats)):
            return result
    raise AssertionError(f"no row of the decision table matches {values}")


D1_TABLE = [  # 1.1, 1.2, 1.3
    ("*", "N", "*", HIGH),
    ("*", "NI", "Y", HIGH),
    ("*", "NI", "N|NI", SC),
    ("N", "Y", "*", SC),
    ("Y|NI", "Y", "Y", SC),
    ("Y|NI", "Y", "N|NI", LOW),
]
D2_PART1_TABLE = [  # 2.1 .. 2.5
    ("N", "N", "NA", "NA", "NA", LOW),
    ("*", "*", "N", "NA", "NA", LOW),
    ("*", "*", "NI", "NA", "NA", SC),
    ("*", "*", "Y", "N", "NA", SC),
    ("*", "*", "Y", "Y|NI", "Y", SC),
    ("*", "*", "Y", "Y|NI", "N|NI", HIGH),
]
D2_PART2_TABLE = [("Y", "NA", LOW), ("N|NI", "N", SC), ("N|NI", "Y|NI", HIGH)]  # 2.6, 2.7
D2_COMBINE = {
    (LOW, LOW): LOW, (LOW, SC): SC, (SC, LOW): SC, (SC, SC): SC,
    (HIGH, LOW): HIGH, (HIGH, SC): HIGH, (HIGH, HIGH): HIGH, (LOW, HIGH): HIGH, (SC, HIGH): HIGH,
}
D3_TABLE = [  # 3.1 .. 3.4
    ("Y", "NA", "NA", "NA", LOW),
    ("N|NI", "Y", "NA", "NA", LOW),
    ("N|NI", "N", "N", "NA", LOW),
    ("N|NI", "N", "Y|NI", "N", SC),
    ("N|NI", "N", "Y|NI", "Y|NI", HIGH),
]
D4_TABLE = [  # 4.1 .. 4.5
    ("Y", "*", "NA", "NA", "NA", HIGH),
    ("N|NI", "Y", "NA", "NA", "NA", HIGH),
    ("N|NI", "N", "N", "NA", "NA", LOW),
    ("N|NI", "N", "Y|NI", "N", "NA", LOW),
    ("N|NI", "N", "Y|NI", "Y|NI", "N", SC),
    ("N|NI", "N", "Y|NI", "Y|NI", "Y|NI", HIGH),
    ("N|NI", "NI", "N", "NA", "NA", SC),
    ("N|NI", "NI", "Y|NI", "N", "NA", SC),
    ("N|NI", "NI", "Y|NI", "Y|NI", "N", SC),
    ("N|NI", "NI", "Y|NI", "Y|NI", "Y|NI", HIGH),
]
D5_TABLE = [  # 5.1 .. 5.3
    ("*", "Y", "*", HIGH),
    ("*", "*", "Y", HIGH),
    ("*", "NI", "N|NI", SC),
    ("*", "N", "NI", SC),
    ("Y", "N", "N", LOW),
    ("N|NI", "N", "N", SC),
]


def expected_judgement(domain: str, values: list[str]) -> str:
    if domain == "d2":
        return D2_COMBINE[(first_match(D2_PART1_TABLE, values[:5]), first_match(D2_PART2_TABLE, values[5:]))]
    table = {"d1": D1_TABLE, "d3": D3_TABLE, "d4": D4_TABLE, "d5": D5_TABLE}[domain]
    return first_match(table, values)


# Skip logic: when each conditional question is asked (categories of earlier answers).
ASKED = {
    "d2_3": lambda c: c["d2_1"] in ("Y", "NI") or c["d2_2"] in ("Y", "NI"),
    "d2_4": lambda c: c["d2_3"] == "Y",
    "d2_5": lambda c: c["d2_4"] in ("Y", "NI"),
    "d2_7": lambda c: c["d2_6"] in ("N", "NI"),
    "d3_2": lambda c: c["d3_1"] in ("N", "NI"),
    "d3_3": lambda c: c["d3_2"] == "N",
    "d3_4": lambda c: c["d3_3"] in ("Y", "NI"),
    "d4_3": lambda c: c["d4_1"] in ("N", "NI") and c["d4_2"] in ("N", "NI"),
    "d4_4": lambda c: c["d4_3"] in ("Y", "NI"),
    "d4_5": lambda c: c["d4_4"] in ("Y", "NI"),
}


def is_valid(combo: dict[str, str]) -> bool:
    cats = {q: category(a) for q, a in combo.items()}
    for q, answer in combo.items():
        asked = ASKED.get(q, lambda c: True)(cats)
        if asked and (answer == "NA" or (q == "d3_2" and answer == "NI")):
            return False
        if not asked and answer != "NA":
            return False
    return True


def all_combos(questions: list[str]) -> list[dict[str, str]]:
    return [dict(zip(questions, values)) for values in itertools.product(ANSWERS, repeat=len(questions))]


# hand-counted numbers of valid combinations (see the skip logic above)
VALID_COUNTS = {"d1": 125, "d2": (4 + 21 * 37) * 17, "d3": 2 + 3 * 36, "d4": 16 + 9 * 53, "d5": 125}


@pytest.mark.parametrize("domain", list(QUESTIONS))
def test_exhaustive_against_decision_table(domain: str) -> None:
    valid = [c for c in all_combos(QUESTIONS[domain]) if is_valid(c)]
    assert len(valid) == VALID_COUNTS[domain]
    base = answers()
    seen = set()
    for combo in valid:
        result = assess_rob2(base | combo, study_id="T").domains[domain].proposed.value
        expected = expected_judgement(domain, list(combo.values()))
        assert result == expected, combo
        seen.add(result)
    assert seen == {LOW, SC, HIGH}


@pytest.mark.parametrize(
    "domain, questions, fixed",
    [
        ("d1", QUESTIONS["d1"], {}),
        ("d2", QUESTIONS["d2"][:5], {"d2_6": "Y", "d2_7": "NA"}),
        ("d2", QUESTIONS["d2"][5:], {"d2_1": "Y", "d2_2": "N", "d2_3": "N", "d2_4": "NA", "d2_5": "NA"}),
        ("d3", QUESTIONS["d3"], {}),
        ("d4", QUESTIONS["d4"], {}),
        ("d5", QUESTIONS["d5"], {}),
    ],
)
def test_exhaustive_skip_logic(domain: str, questions: list[str], fixed: dict[str, str]) -> None:
    """Every combination of answers is accepted exactly when the skip logic allows it."""
    base = answers()
    for combo in all_combos(questions):
        full = base | fixed | combo
        if is_valid({q: full[q] for q in QUESTIONS[domain]}):
            assess_rob2(full, study_id="T")
        else:
            with pytest.raises(StudyDataError):
                assess_rob2(full, study_id="T")


# ------------------------------------------------------------------ skip-logic and input errors
def problems_of(a: dict, **kwargs) -> list:
    with pytest.raises(StudyDataError) as info:
        assess_rob2(a, **kwargs)
    return info.value.problems


@pytest.mark.parametrize(
    "change, column, words",
    [
        ({"d1_1": "NA"}, "d1_1", ["1.1", "always asked", "NA"]),
        ({"d5_3": "NA"}, "d5_3", ["5.3", "NA"]),
        ({"d2_6": "NA"}, "d2_6", ["2.6", "NA"]),
        ({"d2_3": "Y"}, "d2_3", ["2.3", "skipped", "2.1 is N", "2.2 is N"]),  # both unaware
        ({"d2_1": "Y", "d2_3": "NA"}, "d2_3", ["2.3", "asked", "NA"]),
        ({"d2_1": "Y", "d2_3": "Y", "d2_4": "Y", "d2_5": "NA"}, "d2_5", ["2.5", "asked", "2.4"]),
        ({"d2_1": "Y", "d2_3": "Y", "d2_4": "N", "d2_5": "Y"}, "d2_5", ["2.5", "skipped"]),
        ({"d2_1": "Y", "d2_3": "NI", "d2_4": "N"}, "d2_4", ["2.4", "skipped", "2.3 is NI"]),
        ({"d2_7": "N"}, "d2_7", ["2.7", "skipped", "2.6 is Y"]),
        ({"d2_6": "NI"}, "d2_7", ["2.7", "asked"]),
        ({"d3_2": "Y"}, "d3_2", ["3.2", "skipped", "3.1 is Y"]),
        ({"d3_1": "N", "d3_2": "NI"}, "d3_2", ["3.2", "cannot be answered NI"]),
        ({"d3_1": "N", "d3_2": "N", "d3_3": "NA"}, "d3_3", ["3.3", "asked"]),
        ({"d3_1": "N", "d3_2": "N", "d3_3": "Y", "d3_4": "NA"}, "d3_4", ["3.4", "asked"]),
        ({"d4_1": "Y", "d4_3": "N"}, "d4_3", ["4.3", "skipped", "4.1 is Y"]),
        ({"d4_2": "PY", "d4_3": "N"}, "d4_3", ["4.3", "skipped", "4.2 is PY"]),
        ({"d4_1": "Y", "d4_2": "NA", "d4_3": "NA"}, "d4_2", ["4.2", "always asked"]),
        ({"d4_3": "Y", "d4_4": "NA"}, "d4_4", ["4.4", "asked"]),
        ({"d4_3": "Y", "d4_4": "Y", "d4_5": "NA"}, "d4_5", ["4.5", "asked"]),
        ({"d1_2": "Yes"}, "d1_2", ["unknown answer"]),
        ({"d1_2": "y"}, "d1_2", ["unknown answer"]),
        ({"d2_8": "N"}, "d2_8", ["not a RoB 2 signalling question"]),
    ],
)
def test_skip_logic_errors(change: dict, column: str, words: list[str]) -> None:
    problems = problems_of(answers() | change, study_id="Smith 2019", outcome="pain")
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert problem.column == column and problem.fix
    text = str(problem)
    for word in ["Smith 2019", "pain", *words]:
        assert word in text


def test_missing_question_and_no_cascade() -> None:
    a = answers()
    del a["d3_1"]
    problems = problems_of(a, study_id="T")
    assert [p.column for p in problems] == ["d3_1"]  # 3.2-3.4 depend on 3.1: not reported again
    # a bad 2.3 does not also produce errors for 2.4 and 2.5
    problems = problems_of(answers(d2="Y N X Y Y Y NA"), study_id="T")
    assert [p.column for p in problems] == ["d2_3"]


def test_all_problems_collected_and_raised_once() -> None:
    a = answers() | {"d1_1": "NA", "d2_7": "Y", "d4_4": "N", "d5_2": "maybe"}
    problems = problems_of(a, study_id="T")
    assert sorted(p.column for p in problems) == ["d1_1", "d2_7", "d4_4", "d5_2"]


def test_blank_and_nan_count_as_na() -> None:
    a = answers() | {"d2_3": float("nan"), "d2_4": None, "d2_5": ""}
    assert assess_rob2(a).d2.proposed is Judgement.LOW
    assert Answer("PY") is Answer.PY


def test_study_id_taken_from_answers() -> None:
    problems = problems_of(answers() | {"study_id": "Lee 2020", "outcome": "PPT", "d1_1": "NA"})
    assert "trial 'Lee 2020', outcome 'PPT'" in str(problems[0])


# ------------------------------------------------------------------ paths, overall, overrides
def test_paths() -> None:
    res = assess_rob2(answers(d1="Y PY N", d2="Y N Y Y PY N PN", d4="N NI Y N NA"), study_id="T")
    assert res.d1.path == "1.2 PY; 1.1 Y; 1.3 N → low"
    assert res.d2.path == (
        "part 1 (2.1 Y; 2.2 N; 2.3 Y; 2.4 Y; 2.5 PY → some concerns) + part 2 (2.6 N; 2.7 PN → "
        "some concerns) → some concerns"
    )
    assert res.d3.path == "3.1 Y → low"
    assert res.d4.path == "4.1 N; 4.2 NI; 4.3 Y; 4.4 N → some concerns"
    assert res.d5.path == "5.2 N; 5.3 N; 5.1 Y → low"
    assert res.overall.path == "D2, D4 some concerns; none high → some concerns"
    assert assess_rob2(answers(d5="Y Y PY")).d5.path == "5.2 Y; 5.3 PY → high"


@pytest.mark.parametrize("levels", list(itertools.product((LOW, SC, HIGH), repeat=5)))
def test_overall(levels: tuple[str, ...]) -> None:
    res = assess_rob2(answers(**{d: EXAMPLES[d][lvl] for d, lvl in zip(QUESTIONS, levels)}))
    assert [res.domains[d].proposed.value for d in QUESTIONS] == list(levels)
    expected = HIGH if HIGH in levels else LOW if set(levels) == {LOW} else SC
    assert res.overall.proposed.value == expected == res.overall.final.value
    assert res.reviewer_flag_multiple_some_concerns == (levels.count(SC) >= 2)


def test_domain_override_kept_beside_proposal_and_feeds_overall() -> None:
    a = answers(d2=EXAMPLES["d2"][SC]) | {"d2_override": "high", "d2_rationale": "large crossover"}
    res = assess_rob2(a, study_id="T")
    assert res.d2.proposed is Judgement.SOME_CONCERNS
    assert res.d2.override is Judgement.HIGH and res.d2.final is Judgement.HIGH
    assert res.d2.rationale == "large crossover"
    assert res.overall.proposed is Judgement.HIGH  # overall follows the final domain judgements
    assert res.d1.override is None and res.d1.final is res.d1.proposed


def test_overall_override() -> None:
    a = answers(d2=EXAMPLES["d2"][SC], d5=EXAMPLES["d5"][SC])
    a |= {"overall_override": "high", "overall_rationale": "two concerns compound"}
    res = assess_rob2(a)
    assert res.reviewer_flag_multiple_some_concerns
    assert res.overall.proposed is Judgement.SOME_CONCERNS and res.overall.final is Judgement.HIGH


@pytest.mark.parametrize(
    "extra, column, words",
    [
        ({"d3_override": "low"}, "d3_rationale", ["without a rationale"]),
        ({"overall_override": "high", "overall_rationale": "  "}, "overall_rationale", ["without"]),
        ({"d1_override": "High", "d1_rationale": "x"}, "d1_override", ["not a judgement"]),
    ],
)
def test_override_errors(extra: dict, column: str, words: list[str]) -> None:
    problems = problems_of(answers() | extra, study_id="T")
    assert [p.column for p in problems] == [column]
    assert all(w in str(problems[0]) for w in words)


def test_blank_override_is_no_override() -> None:
    res = assess_rob2(answers() | {"d1_override": float("nan"), "d1_rationale": float("nan")})
    assert res.d1.override is None and res.d1.rationale is None


def test_result_objects_frame_and_html() -> None:
    res = assess_rob2(answers(d4=EXAMPLES["d4"][HIGH]), study_id="T", outcome="pain")
    row = res.to_frame().iloc[0]
    assert row["study_id"] == "T" and row["d4"] == HIGH and row["overall_proposed"] == HIGH
    assert row["d4_path"] == "4.1 Y → high"
    assert "Rob2Assessment" in res._repr_html_()
    assert res.d1.to_dict()["proposed"] == LOW


# ------------------------------------------------------------------ rob2_table
def make_frame(with_outcome: bool = True) -> pd.DataFrame:
    rows = [
        {"study_id": "A 2019", "outcome": "pain"} | answers(),
        {"study_id": "B 2020", "outcome": "pain"} | answers(d2=EXAMPLES["d2"][SC], d5=EXAMPLES["d5"][SC]),
        {"study_id": "C 2021", "outcome": "PPT"} | answers(d3=EXAMPLES["d3"][HIGH]),
    ]
    frame = pd.DataFrame(rows)
    return frame if with_outcome else frame.drop(columns="outcome")


def test_rob2_table_columns_and_values() -> None:
    out = rob2_table(make_frame())
    assert list(out.columns[:8]) == ["study_id", "outcome", "d1", "d2", "d3", "d4", "d5", "overall"]
    assert {f"{k}_proposed" for k in ("d1", "d5", "overall")} <= set(out.columns)
    assert {f"{k}_path" for k in ("d1", "d5", "overall")} <= set(out.columns)
    assert out["overall"].tolist() == [LOW, SC, HIGH]
    assert out["reviewer_flag_multiple_some_concerns"].tolist() == [False, True, False]
    assert out["d3_path"].iloc[2] == "3.1 N; 3.2 N; 3.3 Y; 3.4 Y → high"
    assert "outcome" not in rob2_table(make_frame(with_outcome=False)).columns


def test_rob2_table_overrides() -> None:
    frame = make_frame()
    frame["overall_override"] = [None, "high", None]
    frame["overall_rationale"] = [None, "two domains with concerns about the same mechanism", None]
    out = rob2_table(frame)
    assert out["overall"].tolist() == [LOW, HIGH, HIGH]
    assert out["overall_proposed"].tolist() == [LOW, SC, HIGH]
    assert out["overall_rationale"].iloc[1].startswith("two domains")


def test_rob2_table_reads_csv_na(tmp_path) -> None:
    path = tmp_path / "rob.csv"
    make_frame().to_csv(path, index=False)
    frame = pd.read_csv(path)  # the text NA becomes NaN
    assert frame["d2_4"].isna().all()
    assert rob2_table(frame, source=str(path))["overall"].tolist() == [LOW, SC, HIGH]


def test_rob2_table_errors_name_csv_line_and_collect_rows() -> None:
    frame = make_frame()
    frame.loc[1, "d2_5"] = "Y"  # row 1: 2.4 is NA (2.3 NI) so 2.5 is skipped
    frame.loc[2, "d3_override"] = "low"  # row 2: override without rationale
    with pytest.raises(StudyDataError) as info:
        rob2_table(frame, source="rob2.csv")
    problems = info.value.problems
    assert [(p.row, p.column) for p in problems] == [(3, "d2_5"), (4, "d3_rationale")]
    assert all(p.file == "rob2.csv" for p in problems)
    assert "B 2020" in str(problems[0]) and "rob2.csv, row 3" in str(info.value)
    with pytest.raises(StudyDataError) as info:
        rob2_table(frame)
    assert [p.row for p in info.value.problems] == [1, 2]


def test_rob2_table_missing_study_id_value() -> None:
    frame = make_frame()
    frame.loc[0, "study_id"] = None
    with pytest.raises(StudyDataError) as info:
        rob2_table(frame, source="rob2.csv")
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "study_id")]


def test_rob2_table_missing_columns() -> None:
    with pytest.raises(StudyDataError) as info:
        rob2_table(make_frame().drop(columns=["study_id", "d4_5"]))
    assert sorted(p.column for p in info.value.problems) == ["d4_5", "study_id"]


def test_docstring_examples() -> None:
    result = doctest.testmod(rob)
    assert result.attempted >= 5 and result.failed == 0
