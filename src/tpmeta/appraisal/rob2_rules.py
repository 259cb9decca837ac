"""RoB 2 vocabulary and decision rules: answers, signalling questions, skip logic and the five domain
algorithms of the full guidance (22 Aug 2019). :mod:`tpmeta.appraisal.rob2` applies them to data;
:mod:`tpmeta.appraisal.rob2_basis` asks what each judgement rests on.

References
----------
Sterne JAC, Savović J, Page MJ, et al. RoB 2: a revised tool for assessing risk of bias in randomised
trials. BMJ 2019;366:l4898. doi:10.1136/bmj.l4898. Higgins JPT et al. RoB 2 full guidance, 22 Aug 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..errors import DataProblem
from ..options import Judgement

__all__ = ["Answer", "QUESTIONS", "DOMAINS", "DOMAIN_QUESTIONS", "ORDER", "propose", "combine", "asked"]


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
#: Severity order of the judgements (low < some concerns < high).
ORDER = {_LOW: 0, _SOME: 1, _HIGH: 2}

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
#: The signalling questions of each domain, in order.
DOMAIN_QUESTIONS = {d: tuple(q for q in QUESTIONS if q.startswith(d[1] + ".")) for d in DOMAINS}


def column(question: str) -> str:
    """CSV column of a question: ``"1.2"`` → ``"d1_2"``."""
    return "d" + question.replace(".", "_")


@dataclass(frozen=True)
class SkipRule:
    depends: tuple[str, ...]
    asked: Callable[[Mapping[str, Answer]], bool]
    condition: str


def _is(q: str, allowed: frozenset[Answer]) -> Callable[[Mapping[str, Answer]], bool]:
    return lambda a: a[q] in allowed


_YES_NI = YES | {Answer.NI}
_NO_NI = NO | {Answer.NI}
#: Questions asked only under a condition (full guidance, 22 Aug 2019); all others are always asked.
SKIP: dict[str, SkipRule] = {
    "2.3": SkipRule(("2.1", "2.2"), lambda a: a["2.1"] in _YES_NI or a["2.2"] in _YES_NI,
                    "2.1 or 2.2 is Y/PY/NI"),
    "2.4": SkipRule(("2.3",), _is("2.3", YES), "2.3 is Y/PY"),
    "2.5": SkipRule(("2.4",), _is("2.4", _YES_NI), "2.4 is Y/PY/NI"),
    "2.7": SkipRule(("2.6",), _is("2.6", _NO_NI), "2.6 is N/PN/NI"),
    "3.2": SkipRule(("3.1",), _is("3.1", _NO_NI), "3.1 is N/PN/NI"),
    "3.3": SkipRule(("3.2",), _is("3.2", NO), "3.2 is N/PN"),
    "3.4": SkipRule(("3.3",), _is("3.3", _YES_NI), "3.3 is Y/PY/NI"),
    "4.3": SkipRule(("4.1", "4.2"), lambda a: a["4.1"] in _NO_NI and a["4.2"] in _NO_NI,
                    "4.1 and 4.2 are both N/PN/NI"),
    "4.4": SkipRule(("4.3",), _is("4.3", _YES_NI), "4.3 is Y/PY/NI"),
    "4.5": SkipRule(("4.4",), _is("4.4", _YES_NI), "4.4 is Y/PY/NI"),
}  # fmt: skip
NO_NI_OPTION = {"3.2"}  # the guidance offers no NI answer for 3.2


def asked(question: str, answers: Mapping[str, Answer]) -> bool:
    """Whether the skip logic asks ``question`` given the other answers."""
    rule = SKIP.get(question)
    return rule is None or rule.asked(answers)


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


def combine(judgements: list[Judgement]) -> Judgement:
    """High if any is high, low only if all are low, otherwise some concerns."""
    if _HIGH in judgements:
        return _HIGH
    return _LOW if all(j is _LOW for j in judgements) else _SOME


def judge(domain: str, a: Mapping[str, Answer]) -> Judgement:
    """The domain algorithm's judgement alone (no path)."""
    if domain == "d2":
        return combine([_d2_part1(a)[0], _d2_part2(a)[0]])
    return {"d1": _d1, "d3": _d3, "d4": _d4, "d5": _d5}[domain](a)[0]


def propose(domain: str, a: Mapping[str, Answer]) -> tuple[Judgement, str]:
    """The domain algorithm's judgement and the answers that decided it (``"1.2 PY; 1.1 Y; 1.3 N → low"``)."""
    if domain == "d2":
        (j1, u1), (j2, u2) = _d2_part1(a), _d2_part2(a)
        judgement = combine([j1, j2])
        path = f"part 1 ({_path(a, u1, j1)}) + part 2 ({_path(a, u2, j2)}) → {judgement.value}"
        return judgement, path
    rule = {"d1": _d1, "d3": _d3, "d4": _d4, "d5": _d5}[domain]
    judgement, used = rule(a)
    return judgement, _path(a, used, judgement)


# ----------------------------------------------------------------------------- input helpers
def is_missing(value: object) -> bool:
    """None, NaN, pd.NA or blank text."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return isinstance(value, str) and value.strip() == ""


def text(value: object) -> str | None:
    return None if is_missing(value) else str(value).strip()


def row_number(index: object, source: str | None) -> Any:
    if source is not None and isinstance(index, (int, np.integer)):
        return int(index) + 2  # CSV line: header is line 1
    return index


def missing_columns(frame: pd.DataFrame, columns: list[str], source: str | None, fix: str) -> list[DataProblem]:
    return [DataProblem(f"column '{c}' is missing", file=source, column=c, fix=fix)
            for c in columns if c not in frame.columns]  # fmt: skip
