"""Risk of bias: the RoB 2 algorithm (Cochrane's revised tool for randomised trials).

RoB 2 covers individually randomised parallel-group trials and the effect of *assignment* to the
intervention (intention-to-treat effect). Each of the 22 signalling questions is answered Y, PY, PN, N,
NI or NA; in every rule Y≡PY and N≡PN. The algorithms of the full guidance map the answers of each
domain to a *proposed* judgement (low / some concerns / high). A reviewer may override any domain or the
overall judgement with a written rationale; both the proposed and the final judgement are kept.

Signalling questions are named ``d<domain>_<number>`` (``d1_1`` … ``d5_3``). Overrides are given as
``d1_override`` … ``d5_override`` and ``overall_override``, each with its rationale in ``d1_rationale``
… ``overall_rationale``.

References
----------
Sterne JAC, Savović J, Page MJ, et al. RoB 2: a revised tool for assessing risk of bias in randomised
trials. BMJ 2019;366:l4898. doi:10.1136/bmj.l4898

Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). Revised Cochrane risk-of-bias tool for randomized
trials (RoB 2). Full guidance document, 22 August 2019.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping, cast

import numpy as np
import pandas as pd

from .._results import ResultMixin
from ..errors import DataProblem, StudyDataError
from ..options import Judgement

__all__ = ["Answer", "QUESTIONS", "DomainJudgement", "Rob2Assessment", "assess_rob2", "rob2_table", "study_weights"]


class Answer(str, Enum):
    """Answer to a RoB 2 signalling question."""

    Y = "Y"  #: yes
    PY = "PY"  #: probably yes (≡ Y in every rule)
    PN = "PN"  #: probably no (≡ N in every rule)
    N = "N"  #: no
    NI = "NI"  #: no information
    NA = "NA"  #: not applicable: only for questions that the skip logic does not ask

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


YES = frozenset({Answer.Y, Answer.PY})
NO = frozenset({Answer.N, Answer.PN})
_LOW, _SOME, _HIGH = Judgement.LOW, Judgement.SOME_CONCERNS, Judgement.HIGH

#: The 22 signalling questions (``"1.1"`` … ``"5.3"``) with a short label each.
QUESTIONS: dict[str, str] = {
    "1.1": "allocation sequence random",
    "1.2": "allocation sequence concealed",
    "1.3": "baseline differences suggest a problem with randomisation",
    "2.1": "participants aware of assignment",
    "2.2": "carers/people delivering aware of assignment",
    "2.3": "deviations arising because of the trial context",
    "2.4": "deviations likely to have affected the outcome",
    "2.5": "deviations balanced between groups",
    "2.6": "appropriate analysis of the effect of assignment",
    "2.7": "potential for substantial impact of failing to analyse as randomised",
    "3.1": "outcome data available for all or nearly all participants",
    "3.2": "evidence that the result was not biased by missing data",
    "3.3": "missingness could depend on the true value",
    "3.4": "likely that missingness depended on the true value",
    "4.1": "method of measuring the outcome inappropriate",
    "4.2": "measurement could have differed between groups",
    "4.3": "outcome assessors aware of the intervention received",
    "4.4": "assessment could have been influenced by knowledge of intervention",
    "4.5": "likely that assessment was influenced by knowledge of intervention",
    "5.1": "analysed in accordance with a pre-specified plan",
    "5.2": "result selected from multiple outcome measurements",
    "5.3": "result selected from multiple analyses",
}
DOMAINS = ("d1", "d2", "d3", "d4", "d5")


def _column(question: str) -> str:
    return "d" + question.replace(".", "_")


@dataclass(frozen=True)
class _SkipRule:
    depends: tuple[str, ...]
    asked: Callable[[Mapping[str, Answer]], bool]
    condition: str


def _is(q: str, allowed: frozenset[Answer]) -> Callable[[Mapping[str, Answer]], bool]:
    return lambda a: a[q] in allowed


_YES_NI = YES | {Answer.NI}
_NO_NI = NO | {Answer.NI}
#: Questions asked only under a condition (full guidance, 22 Aug 2019); all others are always asked.
_SKIP: dict[str, _SkipRule] = {
    "2.3": _SkipRule(("2.1", "2.2"), lambda a: a["2.1"] in _YES_NI or a["2.2"] in _YES_NI,
                     "2.1 or 2.2 is Y/PY/NI"),
    "2.4": _SkipRule(("2.3",), _is("2.3", YES), "2.3 is Y/PY"),
    "2.5": _SkipRule(("2.4",), _is("2.4", _YES_NI), "2.4 is Y/PY/NI"),
    "2.7": _SkipRule(("2.6",), _is("2.6", _NO_NI), "2.6 is N/PN/NI"),
    "3.2": _SkipRule(("3.1",), _is("3.1", _NO_NI), "3.1 is N/PN/NI"),
    "3.3": _SkipRule(("3.2",), _is("3.2", NO), "3.2 is N/PN"),
    "3.4": _SkipRule(("3.3",), _is("3.3", _YES_NI), "3.3 is Y/PY/NI"),
    "4.3": _SkipRule(("4.1", "4.2"), lambda a: a["4.1"] in _NO_NI and a["4.2"] in _NO_NI,
                     "4.1 and 4.2 are both N/PN/NI"),
    "4.4": _SkipRule(("4.3",), _is("4.3", _YES_NI), "4.3 is Y/PY/NI"),
    "4.5": _SkipRule(("4.4",), _is("4.4", _YES_NI), "4.4 is Y/PY/NI"),
}
_NO_NI_OPTION = {"3.2"}  # the guidance offers no NI answer for 3.2


@dataclass(frozen=True)
class DomainJudgement(ResultMixin):
    """Proposed (algorithm) and final (after any reviewer override) judgement of one domain.

    ``path`` lists the answers that decided the proposal, e.g. ``"1.2 PY; 1.1 Y; 1.3 N → low"``.
    """

    proposed: Judgement
    path: str
    override: Judgement | None = None
    rationale: str | None = None

    @property
    def final(self) -> Judgement:
        """The override if a reviewer gave one, otherwise the proposed judgement."""
        return self.override if self.override is not None else self.proposed


@dataclass(frozen=True)
class Rob2Assessment(ResultMixin):
    """RoB 2 assessment of one result (trial × outcome); see :func:`assess_rob2`."""

    study_id: str | None
    outcome: str | None
    d1: DomainJudgement
    d2: DomainJudgement
    d3: DomainJudgement
    d4: DomainJudgement
    d5: DomainJudgement
    overall: DomainJudgement
    reviewer_flag_multiple_some_concerns: bool
    answers: Mapping[str, Answer]

    @property
    def domains(self) -> dict[str, DomainJudgement]:
        """The five domain judgements keyed ``"d1"`` … ``"d5"``."""
        return {d: getattr(self, d) for d in DOMAINS}

    def _scalar_items(self) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = [("study_id", self.study_id), ("outcome", self.outcome)]
        keys = (*DOMAINS, "overall")
        items += [(k, getattr(self, k).final.value) for k in keys]
        items += [(f"{k}_proposed", getattr(self, k).proposed.value) for k in keys]
        items += [(f"{k}_path", getattr(self, k).path) for k in keys]
        items += [(f"{k}_rationale", getattr(self, k).rationale) for k in keys]
        items.append(("reviewer_flag_multiple_some_concerns", self.reviewer_flag_multiple_some_concerns))
        return items


# ----------------------------------------------------------------------------- domain algorithms
def _d1(a: Mapping[str, Answer]) -> tuple[Judgement, list[str]]:
    if a["1.2"] in NO:
        return _HIGH, ["1.2"]
    if a["1.2"] is Answer.NI:  # 1.1 is not used on this branch
        return (_HIGH if a["1.3"] in YES else _SOME), ["1.2", "1.3"]
    if a["1.1"] in NO:
        return _SOME, ["1.2", "1.1"]
    return (_SOME if a["1.3"] in YES else _LOW), ["1.2", "1.1", "1.3"]


def _d2_part1(a: Mapping[str, Answer]) -> tuple[Judgement, list[str]]:
    if a["2.1"] in NO and a["2.2"] in NO:
        return _LOW, ["2.1", "2.2"]
    used = ["2.1", "2.2", "2.3"]
    if a["2.3"] in NO:
        return _LOW, used
    if a["2.3"] is Answer.NI:
        return _SOME, used
    used.append("2.4")
    if a["2.4"] in NO:
        return _SOME, used
    used.append("2.5")
    return (_SOME if a["2.5"] in YES else _HIGH), used


def _d2_part2(a: Mapping[str, Answer]) -> tuple[Judgement, list[str]]:
    if a["2.6"] in YES:
        return _LOW, ["2.6"]
    return (_SOME if a["2.7"] in NO else _HIGH), ["2.6", "2.7"]


def _d3(a: Mapping[str, Answer]) -> tuple[Judgement, list[str]]:
    if a["3.1"] in YES:
        return _LOW, ["3.1"]
    if a["3.2"] in YES:
        return _LOW, ["3.1", "3.2"]
    if a["3.3"] in NO:
        return _LOW, ["3.1", "3.2", "3.3"]
    return (_SOME if a["3.4"] in NO else _HIGH), ["3.1", "3.2", "3.3", "3.4"]


def _d4(a: Mapping[str, Answer]) -> tuple[Judgement, list[str]]:
    if a["4.1"] in YES:
        return _HIGH, ["4.1"]
    if a["4.2"] in YES:
        return _HIGH, ["4.1", "4.2"]
    used = ["4.1", "4.2", "4.3"]
    if a["4.3"] in NO:
        judgement = _LOW
    else:
        used.append("4.4")
        if a["4.4"] in NO:
            judgement = _LOW
        else:
            used.append("4.5")
            judgement = _SOME if a["4.5"] in NO else _HIGH
    if judgement is _LOW and a["4.2"] is Answer.NI:  # NI on 4.2 turns every Low into Some concerns
        judgement = _SOME
    return judgement, used


def _d5(a: Mapping[str, Answer]) -> tuple[Judgement, list[str]]:
    selected = [q for q in ("5.2", "5.3") if a[q] in YES]
    if selected:
        return _HIGH, selected
    if Answer.NI in (a["5.2"], a["5.3"]):
        return _SOME, ["5.2", "5.3"]
    return (_LOW if a["5.1"] in YES else _SOME), ["5.2", "5.3", "5.1"]


def _path(a: Mapping[str, Answer], used: list[str], judgement: Judgement) -> str:
    return "; ".join(f"{q} {a[q].value}" for q in used) + f" → {judgement.value}"


def _combine(judgements: list[Judgement]) -> Judgement:
    if _HIGH in judgements:
        return _HIGH
    return _LOW if all(j is _LOW for j in judgements) else _SOME


def _propose(domain: str, a: Mapping[str, Answer]) -> tuple[Judgement, str]:
    if domain == "d2":
        (j1, u1), (j2, u2) = _d2_part1(a), _d2_part2(a)
        judgement = _combine([j1, j2])
        path = f"part 1 ({_path(a, u1, j1)}) + part 2 ({_path(a, u2, j2)}) → {judgement.value}"
        return judgement, path
    rule = {"d1": _d1, "d3": _d3, "d4": _d4, "d5": _d5}[domain]
    judgement, used = rule(a)
    return judgement, _path(a, used, judgement)


# ----------------------------------------------------------------------------- input checking
def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return isinstance(value, str) and value.strip() == ""


def _text(value: object) -> str | None:
    return None if _is_missing(value) else str(value).strip()


class _Context:
    """Where an answer set came from, for error messages."""

    def __init__(self, study_id: object, outcome: object, file: str | None, row: int | None) -> None:
        self.study_id, self.outcome, self.file, self.row = study_id, outcome, file, row
        self.problems: list[DataProblem] = []
        who = f"trial {study_id!r}" if study_id is not None else "trial (no study_id)"
        self.who = who + (f", outcome {outcome!r}" if outcome is not None else "")

    def add(self, message: str, column: str, value: object, fix: str) -> None:
        self.problems.append(DataProblem(f"{self.who}: {message}", file=self.file, row=self.row,
                                         column=column, value=value, fix=fix))  # fmt: skip


_VALID_ANSWERS = "Y, PY, PN, N, NI"
_QUESTION_KEY = re.compile(r"^d[1-5]_\d+$")
_COLUMNS = frozenset(_column(q) for q in QUESTIONS)


def _read_answers(answers: Mapping[str, Any], ctx: _Context) -> dict[str, Answer]:
    """Parse and skip-check all answers; problems go to ``ctx``. Returns the parsed answers."""
    parsed: dict[str, Answer] = {}
    bad: set[str] = set()  # questions whose answer is wrong or cannot be checked
    for key in answers:
        if isinstance(key, str) and _QUESTION_KEY.match(key) and key not in _COLUMNS:
            ctx.add(f"'{key}' is not a RoB 2 signalling question", key, answers[key],
                    "use d1_1..d1_3, d2_1..d2_7, d3_1..d3_4, d4_1..d4_5, d5_1..d5_3")
    for q in QUESTIONS:
        col = _column(q)
        if col not in answers:
            ctx.add(f"question {q} ({QUESTIONS[q]}) has no answer", col, None,
                    f"add '{col}' with one of {_VALID_ANSWERS}, or NA if the skip logic does not ask it")
            bad.add(q)
            continue
        raw = answers[col]
        if _is_missing(raw):
            parsed[q] = Answer.NA  # blank cell; pandas.read_csv also turns the text "NA" into NaN
            continue
        try:
            parsed[q] = Answer(raw.strip() if isinstance(raw, str) else raw)
        except ValueError:
            ctx.add(f"question {q} has an unknown answer", col, raw, f"write one of {_VALID_ANSWERS}, NA")
            bad.add(q)
    for q in QUESTIONS:
        if q in bad:
            continue
        rule = _SKIP.get(q)
        col, answer = _column(q), parsed[q]
        if rule is not None and any(d in bad for d in rule.depends):
            bad.add(q)  # cannot tell whether it is asked
            continue
        if rule is None or rule.asked(parsed):
            why = "always asked" if rule is None else f"asked because {rule.condition}"
            if answer is Answer.NA:
                options = "Y, PY, PN or N" if q in _NO_NI_OPTION else "Y, PY, PN, N or NI"
                ctx.add(f"question {q} ({QUESTIONS[q]}) is {why} but answered NA", col, "NA",
                        f"answer {options}")
                bad.add(q)
            elif answer is Answer.NI and q in _NO_NI_OPTION:
                ctx.add(f"question {q} ({QUESTIONS[q]}) cannot be answered NI", col, "NI",
                        "answer Y, PY, PN or N (the guidance offers no NI for 3.2)")
                bad.add(q)
        elif answer is not Answer.NA:
            deps = ", ".join(f"{d} is {parsed[d].value}" for d in rule.depends)
            ctx.add(f"question {q} is skipped ({deps}; it is asked only if {rule.condition}) "
                    f"but answered {answer.value}", col, answer.value,
                    f"answer NA, or correct the answer to {' and '.join(rule.depends)}")
            bad.add(q)
    return parsed


def _read_override(answers: Mapping[str, Any], key: str, ctx: _Context) -> tuple[Judgement | None, str | None]:
    raw, rationale = answers.get(f"{key}_override"), _text(answers.get(f"{key}_rationale"))
    if _is_missing(raw):
        return None, rationale
    try:
        override = Judgement(str(raw).strip())
    except ValueError:
        ctx.add(f"{key} override is not a judgement", f"{key}_override", raw,
                "write low, some concerns or high, or leave it blank")
        return None, rationale
    if rationale is None:
        ctx.add(f"{key} is overridden to {override.value!r} without a rationale", f"{key}_rationale",
                None, f"give the reviewer's reason in '{key}_rationale', or remove the override")
    return override, rationale


def _assess(answers: Mapping[str, Any], study_id: object, outcome: object, file: str | None,
            row: int | None) -> tuple[Rob2Assessment | None, list[DataProblem]]:
    ctx = _Context(study_id, outcome, file, row)
    parsed = _read_answers(answers, ctx)
    overrides = {k: _read_override(answers, k, ctx) for k in (*DOMAINS, "overall")}
    if ctx.problems:
        return None, ctx.problems
    domains = {}
    for d in DOMAINS:
        proposed, path = _propose(d, parsed)
        domains[d] = DomainJudgement(proposed, path, *overrides[d])
    finals = [domains[d].final for d in DOMAINS]
    overall = _combine(finals)
    if overall is _LOW:
        overall_path = "all domains low → low"
    else:
        level = _HIGH if overall is _HIGH else _SOME
        named = ", ".join(d.upper() for d in DOMAINS if domains[d].final is level)
        overall_path = f"{named} {level.value}" + ("" if level is _HIGH else "; none high") + f" → {overall.value}"
    n_some = sum(j is _SOME for j in finals)
    assessment = Rob2Assessment(
        study_id=None if study_id is None else str(study_id),
        outcome=None if outcome is None else str(outcome),
        **domains,
        overall=DomainJudgement(overall, overall_path, *overrides["overall"]),
        reviewer_flag_multiple_some_concerns=n_some >= 2,
        answers=parsed,
    )
    return assessment, []


def assess_rob2(answers: Mapping[str, Any], study_id: str | None = None,
                outcome: str | None = None) -> Rob2Assessment:
    """Apply the RoB 2 algorithms to one result of an individually randomised parallel-group trial.

    Rules (RoB 2 full guidance, 22 Aug 2019; Y≡PY, N≡PN):

    - D1: 1.2 N → high; 1.2 NI → high if 1.3 Y else some concerns; 1.2 Y → some concerns if 1.1 N
      or 1.3 Y, else low.
    - D2 part 1: 2.1 and 2.2 both N → low; else 2.3 N → low, NI → some concerns, Y → 2.4 N → some
      concerns, Y/NI → 2.5 Y → some concerns, N/NI → high. Part 2: 2.6 Y → low; else 2.7 N → some
      concerns, Y/NI → high. High if either part is high, low only if both are low.
    - D3: 3.1 Y, 3.2 Y or 3.3 N → low; else 3.4 N → some concerns, Y/NI → high.
    - D4: 4.1 Y or 4.2 Y → high; else 4.3 N or 4.4 N → low, 4.5 N → some concerns, Y/NI → high;
      with 4.2 NI every low becomes some concerns.
    - D5: 5.2 or 5.3 Y → high; either NI → some concerns; else 5.1 Y → low, otherwise some concerns.
    - Overall (from the final domain judgements): low if all low, high if any high, else some concerns.
      ``reviewer_flag_multiple_some_concerns`` marks ≥ 2 domains at some concerns, where the guidance
      lets the reviewer judge the result high; it is a flag, never applied automatically.

    Parameters
    ----------
    answers : mapping
        ``d1_1`` … ``d5_3`` → ``"Y"``, ``"PY"``, ``"PN"``, ``"N"``, ``"NI"`` or ``"NA"`` (exact, upper
        case). A skipped question must be NA (blank or NaN counts as NA); an asked one must not be.
        Optional ``d1_override`` … ``d5_override``, ``overall_override`` (``"low"``, ``"some concerns"``,
        ``"high"``), each with a ``*_rationale``. Other keys are ignored.
    study_id, outcome : str, optional
        Named in error messages; taken from ``answers["study_id"]`` / ``answers["outcome"]`` if omitted.

    Returns
    -------
    Rob2Assessment
        Per domain and overall: ``proposed``, ``path``, ``override``, ``rationale`` and ``final``.

    Raises
    ------
    StudyDataError
        Listing every unknown answer, skip-logic violation and override without rationale.

    References
    ----------
    Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised trials.
    BMJ 2019;366:l4898. doi:10.1136/bmj.l4898. Higgins JPT et al. RoB 2 full guidance, 22 Aug 2019.

    Examples
    --------
    >>> a = dict(d1_1="Y", d1_2="PY", d1_3="N", d2_1="N", d2_2="N", d2_3="NA", d2_4="NA",
    ...          d2_5="NA", d2_6="Y", d2_7="NA", d3_1="Y", d3_2="NA", d3_3="NA", d3_4="NA",
    ...          d4_1="N", d4_2="N", d4_3="Y", d4_4="PN", d4_5="NA", d5_1="N", d5_2="N", d5_3="N")
    >>> res = assess_rob2(a, study_id="Smith 2019")
    >>> res.d1.path
    '1.2 PY; 1.1 Y; 1.3 N → low'
    >>> res.d5.final.value, res.overall.final.value
    ('some concerns', 'some concerns')
    """
    if study_id is None and not _is_missing(answers.get("study_id")):
        study_id = answers["study_id"]
    if outcome is None and not _is_missing(answers.get("outcome")):
        outcome = answers["outcome"]
    assessment, problems = _assess(answers, study_id, outcome, None, None)
    if problems:
        raise StudyDataError(problems)
    return cast(Rob2Assessment, assessment)


def _row_number(index: object, source: str | None) -> Any:
    if source is not None and isinstance(index, (int, np.integer)):
        return int(index) + 2  # CSV line: header is line 1
    return index


def _missing_columns(frame: pd.DataFrame, columns: list[str], source: str | None, fix: str) -> list[DataProblem]:
    return [DataProblem(f"column '{c}' is missing", file=source, column=c, fix=fix)
            for c in columns if c not in frame.columns]


def rob2_table(frame: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Assess every row of ``frame`` with :func:`assess_rob2` (RoB 2 algorithms, Sterne et al. 2019).

    Parameters
    ----------
    frame : DataFrame
        One row per result: ``study_id``, optional ``outcome``, ``d1_1`` … ``d5_3`` and optional
        override/rationale columns. NaN (how ``read_csv`` reads the text ``NA``) counts as NA.
    source : str, optional
        File name for error messages; when given, rows are reported as CSV line numbers (index + 2).

    Returns
    -------
    DataFrame
        ``study_id``, ``outcome`` (if present), ``d1`` … ``d5``, ``overall`` (final judgements as
        strings), ``d1_proposed`` … ``overall_proposed``, ``d1_path`` … ``overall_path``,
        ``reviewer_flag_multiple_some_concerns`` and, when overrides are present, ``*_rationale``.

    Raises
    ------
    StudyDataError
        Once, listing the problems of every row.

    References
    ----------
    Sterne JAC et al. BMJ 2019;366:l4898. doi:10.1136/bmj.l4898. RoB 2 full guidance, 22 Aug 2019.

    Examples
    --------
    >>> import pandas as pd
    >>> row = {"d" + q.replace(".", "_"): "NA" for q in QUESTIONS}  # skipped questions stay NA
    >>> row.update(study_id="A", d1_1="Y", d1_2="N", d1_3="N", d2_1="N", d2_2="N", d2_6="Y",
    ...            d3_1="Y", d4_1="Y", d4_2="N", d5_1="Y", d5_2="N", d5_3="N")
    >>> rob2_table(pd.DataFrame([row]))[["d1", "d4", "overall"]].iloc[0].tolist()
    ['high', 'high', 'high']
    """
    columns = ["study_id"] + [_column(q) for q in QUESTIONS]
    problems = _missing_columns(frame, columns, source, "add the column (skipped questions are NA)")
    if problems:
        raise StudyDataError(problems)
    has_outcome = "outcome" in frame.columns
    records = []
    for index, row in frame.iterrows():
        values, where = row.to_dict(), _row_number(index, source)
        study_id, outcome = _text(values["study_id"]), _text(values.get("outcome"))
        if study_id is None:
            problems.append(DataProblem("study_id is missing", file=source, row=where, column="study_id",
                                        fix="name the trial, e.g. 'Smith 2019'"))  # fmt: skip
        assessment, row_problems = _assess(values, study_id, outcome, source, where)
        problems += row_problems
        if assessment is not None:
            records.append(assessment.to_dict())
    if problems:
        raise StudyDataError(problems)
    keys = (*DOMAINS, "overall")
    out_columns = ["study_id"] + (["outcome"] if has_outcome else []) + list(keys)
    out_columns += [f"{k}_proposed" for k in keys] + [f"{k}_path" for k in keys]
    out_columns.append("reviewer_flag_multiple_some_concerns")
    if any(f"{k}_override" in frame.columns for k in keys):
        out_columns += [f"{k}_rationale" for k in keys]
    return pd.DataFrame(records, columns=out_columns, index=frame.index)


def study_weights(table: pd.DataFrame, study: str = "study_id") -> np.ndarray:
    """One weight per row such that every study counts once in a summary of judgements.

    RoB 2 is assessed per result, so a trial with three assessed outcomes has three rows; counting rows
    would give it three times the say of a trial with one. Each row gets ``1 / (rows of its study)``;
    the weights sum to the number of studies. (The other common choice, a study's meta-analysis weight,
    belongs to one analysis and is passed to the summary plot directly.)

    Examples
    --------
    >>> import pandas as pd
    >>> study_weights(pd.DataFrame({"study_id": ["a", "a", "b"]})).tolist()
    [0.5, 0.5, 1.0]
    """
    if study not in table.columns:
        raise ValueError(f"study_weights: no column {study!r}; columns are {list(table.columns)}")
    ids = table[study].astype(str)
    return (1.0 / ids.map(ids.value_counts())).to_numpy(float)
