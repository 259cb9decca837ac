"""What a RoB 2 judgement rests on: the source of each signalling answer, PEDro-derived answers, and
whether a domain's judgement stands on reported information or only on what an abstract leaves out.

Every answer has a *basis*: ``full_text``, ``pedro_record``, ``registry``, ``abstract`` or ``none``
(not stated). An ``NI`` answer whose basis is ``abstract`` or ``none`` is an *abstract gap*: the
report the reviewer read does not say, which is not the same as the trial's full report being silent
(an NI from the full text or a PEDro "no" is a finding about the trial and counts as reported).

A domain's *floor* is the judgement its algorithm gives when every abstract gap is answered in the
way most favourable to the trial (enumerating Y and N for each gap; NI is never more favourable than
both). The judgement is *assessable* when it equals its floor: then it rests on what was reported,
and a "high" is a reported flaw. When it is worse than its floor, it rests only on what the abstract
leaves out ("not assessable from the abstract"), and the floor says what the reported information
alone supports. Replacing an NI never makes a skipped question asked (every skip condition includes
NI among the answers that ask), so the enumeration only ever needs the gap questions themselves.

References
----------
Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). RoB 2 full guidance, 22 Aug 2019 (answer "no
information" where the report gives none; judgements follow the algorithms).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

from ..options import Judgement
from .rob2_rules import (
    DOMAIN_QUESTIONS,
    ORDER,
    QUESTIONS,
    SKIP,
    Answer,
    is_missing,
    judge,
)

__all__ = ["Basis", "GAP_BASES", "DerivedAnswer", "read_bases", "apply_derived", "domain_floor"]


class Basis(str, Enum):
    """Where a signalling answer comes from."""

    FULL_TEXT = "full_text"  #: the trial's full report
    PEDRO_RECORD = "pedro_record"  #: a PEDro database record (raters read the full report)
    REGISTRY = "registry"  #: a trial-registry record (protocol, pre-specified outcomes)
    ABSTRACT = "abstract"  #: the abstract only
    NONE = "none"  #: not stated

    @property
    def beyond_abstract(self) -> bool:
        """Whether the source is more than an abstract (full text, PEDro record or registry)."""
        return self in (Basis.FULL_TEXT, Basis.PEDRO_RECORD, Basis.REGISTRY)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


#: Bases whose NI answers are gaps of the accessible text, not findings about the trial.
GAP_BASES = frozenset({Basis.ABSTRACT, Basis.NONE})
_VALID_BASES = ", ".join(b.value for b in Basis)
_TOKEN = re.compile(r"^\s*(\d\.\d)\s*[:=]?\s*([a-z_]+)\s*$")


@dataclass(frozen=True)
class DerivedAnswer:
    """An answer derived from another source (a PEDro record): the answer, its basis and why."""

    answer: Answer
    basis: Basis
    note: str


Report = Callable[[str, str, Any, str], None]  # message, column, value, fix


def read_bases(values: Mapping[str, Any], parsed: Mapping[str, Answer], report: Report) -> dict[str, Basis]:
    """Each question's basis: the row's ``basis`` unless ``answer_basis`` names another one.

    ``answer_basis`` is a compact list such as ``"1.2 full_text; 5.1 registry"`` (question, a space,
    a basis; entries separated by ``;``). Problems go to ``report``.
    """
    raw = values.get("basis")
    default = Basis.NONE
    if not is_missing(raw):
        try:
            default = Basis(str(raw).strip())
        except ValueError:
            report("basis is not a known source", "basis", raw, f"write one of {_VALID_BASES}")
    bases = {q: default for q in QUESTIONS}
    text = values.get("answer_basis")
    if is_missing(text):
        return bases
    seen: set[str] = set()
    for entry in str(text).split(";"):
        if not entry.strip():
            continue
        match = _TOKEN.match(entry)
        if match is None:
            report(f"answer_basis entry {entry.strip()!r} is not '<question> <basis>'", "answer_basis", text,
                   "write entries like '1.2 full_text; 5.1 registry' (question, space, basis; separated by ';')")
            continue
        q, name = match.groups()
        if q not in QUESTIONS:
            report(f"answer_basis names {q}, which is not a RoB 2 signalling question", "answer_basis", text,
                   "use 1.1-1.3, 2.1-2.7, 3.1-3.4, 4.1-4.5, 5.1-5.3")
            continue
        try:
            basis = Basis(name)
        except ValueError:
            report(f"answer_basis gives {q} the unknown basis {name!r}", "answer_basis", text,
                   f"write one of {_VALID_BASES}")
            continue
        if q in seen:
            report(f"answer_basis names {q} twice", "answer_basis", text, "keep one entry per question")
            continue
        seen.add(q)
        if parsed.get(q) is Answer.NA:
            report(f"answer_basis gives a basis to {q}, which is answered NA (not asked)", "answer_basis", text,
                   f"remove the {q} entry, or answer {q}")
            continue
        bases[q] = basis
    return bases  # fmt: skip


def _is_gap(answer: Answer, basis: Basis) -> bool:
    return answer is Answer.NI and basis in GAP_BASES


def apply_derived(answers: Mapping[str, Answer], bases: Mapping[str, Basis],
                  derived: Mapping[str, DerivedAnswer]) -> tuple[dict[str, Answer], dict[str, Basis], dict[str, str]]:  # fmt: skip
    """Fill abstract gaps with derived answers; an explicit reviewer answer always wins.

    A derived answer replaces the reviewer's answer only where that answer is an abstract gap (NI
    with basis ``abstract`` or ``none``). Questions the skip logic no longer asks become NA. Returns
    the answers, their bases and, for each replaced question, the note saying where it came from.
    """
    out, out_bases, notes = dict(answers), dict(bases), {}
    for q, d in derived.items():
        if q in out and _is_gap(out[q], out_bases[q]):
            out[q], out_bases[q], notes[q] = d.answer, d.basis, d.note
    for q in QUESTIONS:  # in question order, so cascades resolve
        rule = SKIP.get(q)
        if rule is not None and not rule.asked(out) and out[q] is not Answer.NA:
            out[q] = Answer.NA
    return out, out_bases, notes


def domain_floor(domain: str, answers: Mapping[str, Answer],
                 bases: Mapping[str, Basis]) -> tuple[Judgement, tuple[str, ...]]:  # fmt: skip
    """The domain's judgement with every abstract gap answered most favourably, and the gaps.

    >>> a = {q: Answer.NA for q in QUESTIONS} | {"1.1": Answer.NI, "1.2": Answer.NI, "1.3": Answer.NI}
    >>> domain_floor("d1", a, {q: Basis.ABSTRACT for q in QUESTIONS})
    (<Judgement.LOW: 'low'>, ('1.1', '1.2', '1.3'))
    >>> domain_floor("d1", a, {q: Basis.PEDRO_RECORD for q in QUESTIONS})[0].value
    'some concerns'
    """
    gaps = tuple(q for q in DOMAIN_QUESTIONS[domain] if _is_gap(answers[q], bases[q]))
    if not gaps:
        return judge(domain, answers), gaps
    best = judge(domain, answers)
    trial = dict(answers)
    for combo in itertools.product((Answer.Y, Answer.N), repeat=len(gaps)):
        if ORDER[best] == 0:
            break
        trial.update(zip(gaps, combo))
        j = judge(domain, trial)
        if ORDER[j] < ORDER[best]:
            best = j
    return best, gaps
