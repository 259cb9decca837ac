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
from dataclasses import dataclass, field
from typing import Any, Mapping, cast

import numpy as np
import pandas as pd

from .._results import ResultMixin
from ..errors import DataProblem, StudyDataError
from ..options import Judgement
from .pedro_rob2 import pedro_rob2_answers
from .rob2_basis import Basis, DerivedAnswer, apply_derived, domain_floor, read_bases
from .rob2_rules import DOMAINS, NO_NI_OPTION, QUESTIONS, SKIP, Answer, combine, propose
from .rob2_rules import column as _column
from .rob2_rules import is_missing as _is_missing
from .rob2_rules import missing_columns as _missing_columns
from .rob2_rules import row_number as _row_number
from .rob2_rules import text as _text

__all__ = ["Answer", "Basis", "QUESTIONS", "DomainJudgement", "Rob2Assessment", "assess_rob2", "rob2_table",
           "study_weights"]

_LOW, _SOME, _HIGH = Judgement.LOW, Judgement.SOME_CONCERNS, Judgement.HIGH
_KEYS = (*DOMAINS, "overall")


@dataclass(frozen=True)
class DomainJudgement(ResultMixin):
    """Proposed (algorithm) and final (after any reviewer override) judgement of one domain.

    ``path`` lists the answers that decided the proposal, e.g. ``"1.2 PY; 1.1 Y; 1.3 N → low"``.
    ``floor`` is the judgement with every abstract gap (an NI whose basis is ``abstract`` or ``none``)
    answered most favourably, and ``gaps`` lists those questions (:mod:`tpmeta.appraisal.rob2_basis`).
    """

    proposed: Judgement
    path: str
    override: Judgement | None = None
    rationale: str | None = None
    floor: Judgement | None = None
    gaps: tuple[str, ...] = ()

    @property
    def final(self) -> Judgement:
        """The override if a reviewer gave one, otherwise the proposed judgement."""
        return self.override if self.override is not None else self.proposed

    @property
    def assessable(self) -> bool:
        """True when the final judgement rests on reported information (it equals its floor); False
        when it is worse only because of what an abstract leaves out."""
        return self.override is not None or self.floor is None or self.floor is self.final


@dataclass(frozen=True)
class Rob2Assessment(ResultMixin):
    """RoB 2 assessment of one result (trial × outcome); see :func:`assess_rob2`.

    ``bases`` gives each answer's source; ``derived`` names the answers filled in from a PEDro record
    (an explicit reviewer answer is never replaced), with ``derived_notes`` saying which item.
    """

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
    bases: Mapping[str, Basis] = field(default_factory=dict)
    derived_notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def domains(self) -> dict[str, DomainJudgement]:
        """The five domain judgements keyed ``"d1"`` … ``"d5"``."""
        return {d: getattr(self, d) for d in DOMAINS}

    @property
    def derived(self) -> frozenset[str]:
        """Questions answered from a PEDro record rather than by the reviewer."""
        return frozenset(self.derived_notes)

    @property
    def basis_summary(self) -> str:
        """The sources of the asked answers, e.g. ``"abstract + pedro_record"``."""
        used = {self.bases[q] for q, a in self.answers.items() if a is not Answer.NA and q in self.bases}
        return " + ".join(b.value for b in Basis if b in used) or Basis.NONE.value

    @property
    def beyond_abstract(self) -> bool:
        """Whether any asked answer comes from the full text, a PEDro record or a registry."""
        return any(self.bases.get(q, Basis.NONE).beyond_abstract for q, a in self.answers.items() if a is not Answer.NA)

    def answer_text(self) -> str:
        """Every asked answer with its source: ``"1.2 PY (PEDro item 3 (concealed allocation) = yes)"``."""
        parts = []
        for q, a in self.answers.items():
            if a is Answer.NA:
                continue
            source = self.derived_notes.get(q) or self.bases.get(q, Basis.NONE).value
            parts.append(f"{q} {a.value} ({source})")
        return "; ".join(parts)

    def _scalar_items(self) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = [("study_id", self.study_id), ("outcome", self.outcome)]
        items += [(k, getattr(self, k).final.value) for k in _KEYS]
        items += [(f"{k}_proposed", getattr(self, k).proposed.value) for k in _KEYS]
        items += [(f"{k}_path", getattr(self, k).path) for k in _KEYS]
        items += [(f"{k}_rationale", getattr(self, k).rationale) for k in _KEYS]
        items.append(("reviewer_flag_multiple_some_concerns", self.reviewer_flag_multiple_some_concerns))
        items += [(f"{k}_floor", None if getattr(self, k).floor is None else getattr(self, k).floor.value) for k in _KEYS]
        items += [(f"{k}_assessable", getattr(self, k).assessable) for k in _KEYS]
        items += [("basis_summary", self.basis_summary), ("beyond_abstract", self.beyond_abstract),
                  ("derived", " ".join(sorted(self.derived))), ("answers_with_basis", self.answer_text())]
        return items


# ----------------------------------------------------------------------------- input checking
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
        rule = SKIP.get(q)
        col, answer = _column(q), parsed[q]
        if rule is not None and any(d in bad for d in rule.depends):
            bad.add(q)  # cannot tell whether it is asked
            continue
        if rule is None or rule.asked(parsed):
            why = "always asked" if rule is None else f"asked because {rule.condition}"
            if answer is Answer.NA:
                options = "Y, PY, PN or N" if q in NO_NI_OPTION else "Y, PY, PN, N or NI"
                ctx.add(f"question {q} ({QUESTIONS[q]}) is {why} but answered NA", col, "NA",
                        f"answer {options}")
                bad.add(q)
            elif answer is Answer.NI and q in NO_NI_OPTION:
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


def _assess(answers: Mapping[str, Any], study_id: object, outcome: object, file: str | None, row: int | None,
            derived: Mapping[str, DerivedAnswer] | None = None) -> tuple[Rob2Assessment | None, list[DataProblem]]:
    ctx = _Context(study_id, outcome, file, row)
    parsed = _read_answers(answers, ctx)
    overrides = {k: _read_override(answers, k, ctx) for k in _KEYS}
    bases = read_bases(answers, parsed, ctx.add) if not ctx.problems else {}
    if ctx.problems:
        return None, ctx.problems
    parsed, bases, notes = apply_derived(parsed, bases, derived or {})
    domains = {}
    for d in DOMAINS:
        proposed, path = propose(d, parsed)
        override, rationale = overrides[d]
        floor, gaps = domain_floor(d, parsed, bases)
        domains[d] = DomainJudgement(proposed, path, override, rationale,
                                     override if override is not None else floor, gaps)  # fmt: skip
    finals = [domains[d].final for d in DOMAINS]
    overall = combine(finals)
    if overall is _LOW:
        overall_path = "all domains low → low"
    else:
        level = _HIGH if overall is _HIGH else _SOME
        named = ", ".join(d.upper() for d in DOMAINS if domains[d].final is level)
        overall_path = f"{named} {level.value}" + ("" if level is _HIGH else "; none high") + f" → {overall.value}"
    n_some = sum(j is _SOME for j in finals)
    override, rationale = overrides["overall"]
    floor = override if override is not None else combine([domains[d].floor or domains[d].final for d in DOMAINS])
    gaps = tuple(q for d in DOMAINS if not domains[d].assessable for q in domains[d].gaps)
    assessment = Rob2Assessment(
        study_id=None if study_id is None else str(study_id),
        outcome=None if outcome is None else str(outcome),
        **domains,
        overall=DomainJudgement(overall, overall_path, override, rationale, floor, gaps),
        reviewer_flag_multiple_some_concerns=n_some >= 2,
        answers=parsed,
        bases=bases,
        derived_notes=notes,
    )
    return assessment, []


def assess_rob2(answers: Mapping[str, Any], study_id: str | None = None, outcome: str | None = None,
                pedro: Mapping[str, Any] | None = None) -> Rob2Assessment:
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

    Basis: every answer has a source (``basis`` for the row, ``answer_basis`` for exceptions, see
    :func:`tpmeta.appraisal.rob2_basis.read_bases`). An NI from an abstract (or with no basis stated)
    is a gap of the accessible text: given ``pedro``, the PEDro-derived answer fills it
    (:mod:`tpmeta.appraisal.pedro_rob2`); every other answer is the reviewer's and wins. Each domain
    and the overall judgement carry a ``floor`` (the judgement with every gap answered favourably) and
    ``assessable`` (the judgement equals its floor: it rests on what was reported).

    Parameters
    ----------
    answers : mapping
        ``d1_1`` … ``d5_3`` → ``"Y"``, ``"PY"``, ``"PN"``, ``"N"``, ``"NI"`` or ``"NA"`` (exact, upper
        case). A skipped question must be NA (blank or NaN counts as NA); an asked one must not be.
        Optional ``d1_override`` … ``d5_override``, ``overall_override`` (``"low"``, ``"some concerns"``,
        ``"high"``), each with a ``*_rationale``. Optional ``basis`` (``full_text``, ``pedro_record``,
        ``registry``, ``abstract``, ``none``; default ``none``) and ``answer_basis`` (e.g.
        ``"1.2 full_text; 5.1 registry"``). Other keys are ignored.
    study_id, outcome : str, optional
        Named in error messages; taken from ``answers["study_id"]`` / ``answers["outcome"]`` if omitted.
        The outcome also decides which PEDro item answers 4.3.
    pedro : mapping, optional
        The trial's PEDro items (``item1`` … ``item11`` → ``"Y"``/``"N"``).

    Returns
    -------
    Rob2Assessment
        Per domain and overall: ``proposed``, ``path``, ``override``, ``rationale``, ``final``,
        ``floor``, ``gaps`` and ``assessable``; the answers used with their ``bases`` and the
        PEDro-``derived`` ones.

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
    >>> gap = a | dict(d1_2="NI", basis="abstract")  # the abstract does not say how allocation was done
    >>> res = assess_rob2(gap)
    >>> res.d1.final.value, res.d1.floor.value, res.d1.assessable
    ('some concerns', 'low', False)
    >>> res = assess_rob2(gap, pedro={"item3": "Y"})  # PEDro: allocation concealed; 1.1, 1.3 stay the reviewer's
    >>> res.d1.final.value, sorted(res.derived), res.d3.final.value
    ('low', ['1.2'], 'low')
    """
    if study_id is None and not _is_missing(answers.get("study_id")):
        study_id = answers["study_id"]
    if outcome is None and not _is_missing(answers.get("outcome")):
        outcome = answers["outcome"]
    derived = pedro_rob2_answers(pedro, None if outcome is None else str(outcome)) if pedro is not None else None
    assessment, problems = _assess(answers, study_id, outcome, None, None, derived)
    if problems:
        raise StudyDataError(problems)
    return cast(Rob2Assessment, assessment)


def rob2_table(frame: pd.DataFrame, source: str | None = None, pedro: pd.DataFrame | None = None) -> pd.DataFrame:
    """Assess every row of ``frame`` with :func:`assess_rob2` (RoB 2 algorithms, Sterne et al. 2019).

    Parameters
    ----------
    frame : DataFrame
        One row per result: ``study_id``, optional ``outcome``, ``d1_1`` … ``d5_3`` and optional
        override/rationale columns. NaN (how ``read_csv`` reads the text ``NA``) counts as NA.
    source : str, optional
        File name for error messages; when given, rows are reported as CSV line numbers (index + 2).
    pedro : DataFrame, optional
        PEDro records (``study_id``, ``item1`` … ``item11``): their mapped answers fill the abstract
        gaps of the same trial's rows (:mod:`tpmeta.appraisal.pedro_rob2`).

    Returns
    -------
    DataFrame
        ``study_id``, ``outcome`` (if present), ``d1`` … ``d5``, ``overall`` (final judgements as
        strings), ``d1_proposed`` … ``overall_proposed``, ``d1_path`` … ``overall_path``,
        ``reviewer_flag_multiple_some_concerns``, ``d1_floor`` … ``overall_floor`` and
        ``d1_assessable`` … ``overall_assessable`` (see :func:`assess_rob2`), ``basis_summary``,
        ``beyond_abstract``, ``derived`` (questions answered from PEDro), ``answers_with_basis`` and,
        when overrides are present, ``*_rationale``.

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
    records_pedro = {} if pedro is None or not len(pedro) else {
        str(r["study_id"]): r for r in pedro.to_dict("records") if not _is_missing(r.get("study_id"))}
    for index, row in frame.iterrows():
        values, where = row.to_dict(), _row_number(index, source)
        study_id, outcome = _text(values["study_id"]), _text(values.get("outcome"))
        if study_id is None:
            problems.append(DataProblem("study_id is missing", file=source, row=where, column="study_id",
                                        fix="name the trial, e.g. 'Smith 2019'"))  # fmt: skip
        items = records_pedro.get(str(study_id))
        derived = pedro_rob2_answers(items, outcome) if items is not None else None
        assessment, row_problems = _assess(values, study_id, outcome, source, where, derived)
        problems += row_problems
        if assessment is not None:
            records.append(assessment.to_dict())
    if problems:
        raise StudyDataError(problems)
    keys = (*DOMAINS, "overall")
    out_columns = ["study_id"] + (["outcome"] if has_outcome else []) + list(keys)
    out_columns += [f"{k}_proposed" for k in keys] + [f"{k}_path" for k in keys]
    out_columns.append("reviewer_flag_multiple_some_concerns")
    out_columns += [f"{k}_floor" for k in keys] + [f"{k}_assessable" for k in keys]
    out_columns += ["basis_summary", "beyond_abstract", "derived", "answers_with_basis"]
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
