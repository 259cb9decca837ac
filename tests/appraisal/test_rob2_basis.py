"""What a RoB 2 judgement rests on: per-answer sources, abstract gaps and floors, PEDro-derived answers
(a reviewer's own answer always wins), the checks of ``basis``/``answer_basis``, and GRADE's
risk-of-bias downgrade following the basis.

Expected floors are written from /work/shared/reference/appraisal-rules.md: the floor is the judgement
the domain's rules give when every NI that only reflects a silent abstract is answered favourably.
"""

from __future__ import annotations

import csv
import doctest
import itertools
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.appraisal import rob2_basis
from tpmeta.appraisal.grade import suggest_grade
from tpmeta.appraisal.rob2 import assess_rob2, rob2_table
from tpmeta.appraisal.rob2_basis import Basis
from tpmeta.appraisal.rob2_rules import (
    DOMAIN_QUESTIONS,
    ORDER,
    QUESTIONS,
    Answer,
    judge,
)
from tpmeta.errors import StudyDataError
from tpmeta.models.pooling import PoolResult
from tpmeta.options import Method, Test

ROOT = Path(__file__).resolve().parents[2]
LOW, SC, HIGH = "low", "some concerns", "high"
COLS = {q: "d" + q.replace(".", "_") for q in QUESTIONS}
# every domain low, nothing skipped wrongly (answers in question order)
LOW_ANSWERS = dict(zip(COLS.values(), "Y Y N N N NA NA NA Y NA Y NA NA NA N N N NA NA Y N N".split()))


def row(basis: str | None = "abstract", **answers: str) -> dict[str, str]:
    out = dict(LOW_ANSWERS) | {COLS.get(k.replace("_", "."), k): v for k, v in answers.items()}
    return out | ({"basis": basis} if basis is not None else {})


# ------------------------------------------------------------------ floors, hand-written from the rules
FLOOR_CASES = [
    # domain, answers (d1_1=…), basis, expected final, expected floor
    ("d1", dict(d1_2="NI", d1_3="N"), "abstract", SC, LOW),  # concealment unknown only from the abstract
    ("d1", dict(d1_2="NI", d1_3="N"), "full_text", SC, SC),  # the full report is silent: a finding
    ("d1", dict(d1_2="NI", d1_3="Y"), "abstract", HIGH, SC),  # imbalance reported: at least some concerns
    ("d1", dict(d1_2="N"), "abstract", HIGH, HIGH),  # a flaw the abstract reports
    ("d2", dict(d2_1="PY", d2_2="PY", d2_3="NI"), "abstract", SC, LOW),
    ("d2", dict(d2_6="NI", d2_7="NI"), "abstract", HIGH, LOW),
    ("d2", dict(d2_6="N", d2_7="NI"), "abstract", HIGH, SC),  # not analysed as randomised, impact unknown
    ("d2", dict(d2_1="PY", d2_2="PY", d2_3="Y", d2_4="Y", d2_5="N"), "abstract", HIGH, HIGH),
    ("d3", dict(d3_1="NI", d3_2="PN", d3_3="NI", d3_4="NI"), "abstract", HIGH, LOW),
    ("d3", dict(d3_1="N", d3_2="N", d3_3="Y", d3_4="NI"), "abstract", HIGH, SC),
    ("d3", dict(d3_1="NI", d3_2="PN", d3_3="NI", d3_4="NI"), "pedro_record", HIGH, HIGH),
    ("d4", dict(d4_2="NI", d4_3="N"), "abstract", SC, LOW),
    ("d4", dict(d4_3="PY", d4_4="PY", d4_5="NI"), "abstract", HIGH, SC),  # aware assessor, could influence
    ("d4", dict(d4_3="NI", d4_4="PY", d4_5="NI"), "abstract", HIGH, LOW),
    ("d5", dict(d5_1="NI", d5_2="NI", d5_3="NI"), "abstract", SC, LOW),
    ("d5", dict(d5_2="Y"), "abstract", HIGH, HIGH),
    ("d5", dict(d5_1="NI", d5_2="NI", d5_3="NI"), "registry", SC, SC),
]


@pytest.mark.parametrize("domain, answers, basis, final, floor", FLOOR_CASES)
def test_floor_decision_table(domain, answers, basis, final, floor) -> None:
    res = assess_rob2(row(basis, **answers))
    d = res.domains[domain]
    assert (d.final.value, d.floor.value) == (final, floor)
    assert d.assessable is (final == floor)
    others = [res.domains[k] for k in res.domains if k != domain]
    assert all(o.final.value == LOW and o.assessable for o in others)


def test_answer_basis_names_the_exceptions() -> None:
    base = row("abstract", d1_2="NI", d1_3="N", d5_1="NI", d5_2="NI", d5_3="NI")
    res = assess_rob2(base | {"answer_basis": "1.2 full_text; 5.2 registry ;5.3 registry"})
    assert res.d1.floor.value == SC and res.d1.assessable  # 1.2 from the full text: not a gap
    assert res.d5.floor.value == SC and res.d5.assessable  # 5.2/5.3 NI from the registry: some concerns stand
    assert res.bases["1.2"] is Basis.FULL_TEXT and res.bases["1.1"] is Basis.ABSTRACT
    assert res.beyond_abstract and res.basis_summary == "full_text + registry + abstract"


def test_no_basis_counts_as_not_stated_and_a_gap() -> None:
    res = assess_rob2(row(None, d1_2="NI", d1_3="N"))
    assert res.bases["1.2"] is Basis.NONE and not res.d1.assessable and not res.beyond_abstract


def test_override_is_its_own_floor_and_overall_combines_floors() -> None:
    answers = row("abstract", d1_2="NI", d1_3="N", d4_3="PY", d4_4="PY", d4_5="NI")
    res = assess_rob2(answers)
    assert (res.overall.final.value, res.overall.floor.value, res.overall.assessable) == (HIGH, SC, False)
    assert set(res.overall.gaps) == {"1.2", "4.5"}
    res = assess_rob2(answers | {"d4_override": "some concerns", "d4_rationale": "self-reported, small effect"})
    assert res.d4.assessable and res.d4.floor.value == SC
    res = assess_rob2(answers | {"overall_override": "high", "overall_rationale": "two concerns about one mechanism"})
    assert res.overall.assessable and res.overall.floor.value == HIGH


def _brute_floor(domain: str, answers: dict, bases: dict) -> str:
    """Independent of the Y/N shortcut: every answer (Y, PY, PN, N, NI) for every abstract gap."""
    gaps = [q for q in DOMAIN_QUESTIONS[domain] if answers[q] is Answer.NI and bases[q] in (Basis.ABSTRACT, Basis.NONE)]
    options = [Answer.Y, Answer.PY, Answer.PN, Answer.N, Answer.NI]
    best = None
    for combo in itertools.product(options, repeat=len(gaps)):
        trial = dict(answers) | dict(zip(gaps, combo))
        j = judge(domain, trial)
        best = j if best is None or ORDER[j] < ORDER[best] else best
    return best.value


@pytest.mark.parametrize("domain", ["d1", "d2", "d3", "d4", "d5"])
def test_floor_equals_exhaustive_search(domain: str) -> None:
    rng = random.Random(domain)
    qs = DOMAIN_QUESTIONS[domain]
    checked = 0
    for _ in range(4000):
        answers = {q: rng.choice(list(Answer)) for q in QUESTIONS}
        try:
            res = assess_rob2(row("abstract") | {COLS[q]: answers[q].value for q in qs}
                              | {"answer_basis": "; ".join(f"{q} full_text" for q in qs if rng.random() < 0.3
                                                             and answers[q] is not Answer.NA)})  # fmt: skip
        except StudyDataError:
            continue  # not a valid answer set under the skip logic
        d = res.domains[domain]
        assert ORDER[d.floor] <= ORDER[d.final]
        assert d.floor.value == _brute_floor(domain, dict(res.answers), dict(res.bases))
        checked += 1
    assert checked >= 50


# ------------------------------------------------------------------ PEDro-derived answers, overrides
PEDRO_ALL_YES = {f"item{i}": "Y" for i in range(1, 12)}


def test_pedro_fills_abstract_gaps_and_cascades_skips() -> None:
    answers = row("abstract", d1_2="NI", d1_3="NI", d2_6="NI", d2_7="NI", d3_1="NI", d3_2="PN", d3_3="NI", d3_4="NI")
    res = assess_rob2(answers, outcome="pain_intensity", pedro=PEDRO_ALL_YES)
    assert res.derived == {"1.2", "1.3", "2.6", "3.1"}  # 1.1, 2.1, 2.2, 4.3 are the reviewer's (Y, N, N, N)
    assert [res.answers[q].value for q in ("1.2", "1.3", "2.6", "3.1")] == ["PY", "PN", "PY", "PY"]
    assert all(res.bases[q] is Basis.PEDRO_RECORD for q in res.derived)
    assert [res.answers[q].value for q in ("2.7", "3.2", "3.3", "3.4")] == ["NA"] * 4  # no longer asked
    assert res.overall.final.value == LOW and res.overall.assessable
    assert "1.2 PY (PEDro item 3 (concealed allocation) = yes)" in res.answer_text()


def test_reviewer_answers_override_pedro() -> None:
    pedro = {f"item{i}": "Y" for i in range(1, 12)}
    explicit = assess_rob2(row("abstract", d1_2="N"), pedro=pedro)  # an answer from the abstract wins
    assert explicit.answers["1.2"] is Answer.N and "1.2" not in explicit.derived and explicit.d1.final.value == HIGH
    full_text_ni = assess_rob2(row("full_text", d1_2="NI", d1_3="N"), pedro=pedro)  # the full report is silent
    assert full_text_ni.answers["1.2"] is Answer.NI and not full_text_ni.derived
    one = assess_rob2(row("abstract", d1_2="NI", d1_3="N") | {"answer_basis": "1.2 full_text"}, pedro=pedro)
    assert one.answers["1.2"] is Answer.NI and "1.2" not in one.derived
    kept = assess_rob2(row("abstract", d2_1="NI", d2_2="PY", d2_3="NI"), pedro=pedro)  # 2.2 PY stays
    assert kept.answers["2.1"] is Answer.PN and kept.answers["2.2"] is Answer.PY and kept.derived == {"2.1"}


def test_a_pedro_no_is_a_finding_not_a_gap() -> None:
    answers = row("abstract", d1_2="NI", d1_3="N")
    assert not assess_rob2(answers).d1.assessable
    res = assess_rob2(answers, pedro={"item3": "N"})
    assert res.answers["1.2"] is Answer.NI and res.bases["1.2"] is Basis.PEDRO_RECORD
    assert (res.d1.final.value, res.d1.floor.value, res.d1.assessable) == (SC, SC, True)


def test_rob2_table_applies_pedro_by_study_and_reports_bases() -> None:
    frame = pd.DataFrame([{"study_id": "A", "outcome": "pain_intensity"} | row("abstract", d1_2="NI", d1_3="N"),
                          {"study_id": "B", "outcome": "pain_intensity"} | row("abstract", d1_2="NI", d1_3="N")])
    pedro = pd.DataFrame([{"study_id": "A"} | PEDRO_ALL_YES])
    out = rob2_table(frame, pedro=pedro).set_index("study_id")
    assert out.loc["A", "d1"] == LOW and out.loc["A", "derived"] == "1.2" and out.loc["A", "beyond_abstract"]
    assert out.loc["B", "d1"] == SC and out.loc["B", "d1_floor"] == LOW and not out.loc["B", "d1_assessable"]
    assert out.loc["B", "basis_summary"] == "abstract" and not out.loc["B", "beyond_abstract"]
    assert {"overall_floor", "overall_assessable", "answers_with_basis"} <= set(out.columns)


# ------------------------------------------------------------------ checks with clear messages
@pytest.mark.parametrize(
    "change, column, words",
    [
        ({"basis": "paper"}, "basis", ["not a known source", "full_text"]),
        ({"answer_basis": "1.2"}, "answer_basis", ["not '<question> <basis>'", "1.2 full_text"]),
        ({"answer_basis": "9.9 abstract"}, "answer_basis", ["9.9", "not a RoB 2 signalling question"]),
        ({"answer_basis": "1.2 fulltext"}, "answer_basis", ["unknown basis 'fulltext'", "pedro_record"]),
        ({"answer_basis": "1.2 abstract; 1.2 registry"}, "answer_basis", ["1.2 twice", "one entry"]),
        ({"answer_basis": "2.3 abstract"}, "answer_basis", ["2.3", "answered NA", "remove the 2.3 entry"]),
    ],
)
def test_basis_problems_name_file_row_column_value_and_fix(change, column, words) -> None:
    frame = pd.DataFrame([{"study_id": "A", "outcome": "pain"} | row("abstract"),
                          {"study_id": "B", "outcome": "pain"} | row("abstract") | change])
    with pytest.raises(StudyDataError) as info:
        rob2_table(frame, source="rob2.csv")
    problems = info.value.problems
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.row, p.column) == ("rob2.csv", 3, column) and p.value == change[column] and p.fix
    text = str(p)
    assert "trial 'B'" in text and all(w in text for w in words), text


def _edit_csv(path: Path, index: int, **values: str) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[index].update(values)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_validate_reports_csv_lines_and_untraceable_pedro_basis(tmp_path) -> None:
    studies = tmp_path / "studies"
    shutil.copytree(ROOT / "studies", studies)
    _edit_csv(studies / "rob2.csv", 0, answer_basis="1.2 fulltext")  # line 2
    _edit_csv(studies / "rob2.csv", 2, basis="pedro_record")  # line 4: bron2011 has no PEDro record
    report = tpmeta.validate_studies(studies)
    rob = [p for p in report.errors if p.file and p.file.endswith("rob2.csv")]
    assert [(p.row, p.column) for p in rob] == [(2, "answer_basis"), (4, "basis")]
    assert "pedro.csv has none" in str(rob[1]) and "add the trial's PEDro record" in str(rob[1])


def test_shipped_assessments_state_their_basis() -> None:
    data = tpmeta.load_studies(ROOT / "studies")
    out = rob2_table(data.rob2, pedro=data.pedro)
    assert out["basis_summary"].ne("none").all()
    hains = out.set_index("study_id").loc["hains2010a"]
    assert hains["beyond_abstract"] and "1.2" in hains["derived"].split()


# ------------------------------------------------------------------ GRADE follows the basis
def _pooled(weights) -> PoolResult:
    w = np.asarray(weights, float)
    nan = float("nan")
    return PoolResult(estimate=0.5, se=0.1, statistic=nan, pvalue=nan, ci_low=0.3, ci_high=0.7, tau2=0.0,
                      tau2_ci_low=nan, tau2_ci_high=nan, i2=0.0, i2_ci_low=nan, i2_ci_high=nan, h2=nan, q=nan,
                      q_pvalue=nan, pi_low=0.2, pi_high=0.8, k=w.size, df=w.size - 1, method=Method.REML, test=Test.Z,
                      level=0.95, converged=True, n_iter=1, truncated=False, yi=np.full(w.size, 0.5),
                      vi=np.full(w.size, 0.04), weights=w)  # fmt: skip


def _rob_downgrade(basis: str, pedro: pd.DataFrame | None = None) -> tuple[int, str]:
    silent = row(basis, d2_6="NI", d2_7="NI")  # analysis population not reported: D2 high
    frame = pd.DataFrame([{"study_id": s, "outcome": "pain_intensity"} | silent for s in ("A", "B")])
    table = rob2_table(frame, pedro=pedro)
    g = suggest_grade("x", _pooled([60, 40]), list(table["overall"]), participants=1000,
                      rob_floor=list(table["overall_floor"]))
    return g.domain("risk_of_bias").suggested, g.domain("risk_of_bias").reason


def test_grade_downgrade_changes_with_the_basis() -> None:
    from_full_text, reason = _rob_downgrade("full_text")  # the full reports are silent: counted
    assert from_full_text == 2 and "100% of the weight from trials at high risk (flaw reported)" in reason
    from_abstract, reason = _rob_downgrade("abstract")  # only the abstracts are silent: not counted
    assert from_abstract == 0 and "100% of the weight is worse only because abstracts" in reason
    itt_yes = pd.DataFrame([{"study_id": "A"} | PEDRO_ALL_YES])  # PEDro: A analysed by intention to treat
    with_pedro, reason = _rob_downgrade("abstract", itt_yes)
    assert with_pedro == 0 and "40% of the weight is worse only because abstracts" in reason
    itt_no = pd.DataFrame([{"study_id": "A"} | PEDRO_ALL_YES | {"item9": "N"}])  # PEDro: not shown for A
    assert _rob_downgrade("abstract", itt_no)[0] == 1  # A (60 %): some concerns on what its report states


def test_grade_without_floors_is_unchanged() -> None:
    g = suggest_grade("x", _pooled([50, 50]), ["high", "low"], participants=1000)
    assert g.domain("risk_of_bias").suggested == 2 and "flaw reported" not in g.domain("risk_of_bias").reason


def test_docstring_examples() -> None:
    result = doctest.testmod(rob2_basis)
    assert result.attempted >= 2 and result.failed == 0
