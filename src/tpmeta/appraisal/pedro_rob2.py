"""PEDro items → RoB 2 signalling answers, where the two tools ask about the same thing.

PEDro raters read the trial's full report and award a point "only when a criterion is clearly
satisfied" (PEDro scale, operational definitions): a "yes" is reported evidence for the criterion, a
"no" means the full report does not clearly show it. So a "yes" maps to the favourable RoB 2 answer,
with "probably" where the PEDro criterion is looser than the RoB 2 question, and a "no" maps to NI,
never to an unfavourable answer (it cannot tell "not done" from "not reported"). Both carry the basis
``pedro_record``: an NI from PEDro is a finding about the full report, not a gap of an abstract.

========  ====================================  ======  ===========  ======================================
question  PEDro item                            yes →   no →         limit
========  ====================================  ======  ===========  ======================================
1.1       2 random allocation                   PY      NI           PEDro does not require the method;
                                                                     quasi-random allocation scores "no"
1.2       3 concealed allocation                PY      NI
1.3       4 baseline comparability              PN      NI           PEDro asks for similarity on key
                                                                     prognostic indicators only
2.1       5 blind subjects                      PN      NI
2.2       6 blind therapists                    PN      NI
2.6       9 intention to treat                  PY      NI           PEDro also scores "yes" when everyone
                                                                     received the allocated treatment
3.1       8 key outcome from > 85 %             PY      NI           RoB 2 "nearly all" is often stricter;
                                                                     PEDro looks at one key outcome
4.3       5 (self-reported outcome)             PN      NI           the participant is the assessor
4.3       7 (observer-measured outcome)         PN      NI           item 7 covers "at least one key outcome"
4.3       5 and 7 (pressure pain threshold)     PN      NI           the assessor presses, the participant
                                                                     signals: both must be blind
========  ====================================  ======  ===========  ======================================

Items 1, 10 and 11 have no RoB 2 counterpart, and no PEDro item speaks to domain 5 (selection of the
reported result) or to 2.3-2.5, 2.7, 3.2-3.4, 4.1, 4.2, 4.4 and 4.5. PEDro rates the trial, RoB 2 a
result: the mapped answers hold for the trial's key outcome and are a starting point a reviewer's own
answer replaces (:func:`tpmeta.appraisal.rob2_basis.apply_derived`).

References
----------
Moseley AM, Rahman P, Wells GA, et al. Agreement between the Cochrane risk of bias tool and
Physiotherapy Evidence Database (PEDro) scale: a meta-research study of randomized controlled trials
of physical therapy interventions. PLoS One 2019;14(9):e0222770. doi:10.1371/journal.pone.0222770
(item-level agreement "moderate" for allocation concealment, participant and assessor blinding; highest
when the Cochrane "unclear" category is collapsed with "high" — why a PEDro "no" is NI here, not low risk).

Armijo-Olivo S, da Costa BR, Cummings GG, et al. PEDro or Cochrane to assess the quality of clinical
trials? A meta-epidemiological study. PLoS One 2015;10(7):e0132634. doi:10.1371/journal.pone.0132634
(PEDro summary scores and Cochrane judgements agree poorly — so items are mapped, never the total).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .pedro import _pedro_item
from .rob2_basis import Basis, DerivedAnswer
from .rob2_rules import Answer, is_missing

__all__ = ["PEDRO_TO_ROB2", "SELF_REPORTED", "OBSERVER_MEASURED", "PARTICIPANT_SIGNALLED", "pedro_rob2_answers"]

#: Outcomes the participant reports (the participant is the outcome assessor in RoB 2's sense).
SELF_REPORTED = frozenset({"pain_intensity", "disability", "headache_frequency", "global_improvement", "quality_of_life"})
#: Outcomes an assessor measures.
OBSERVER_MEASURED = frozenset({"range_of_motion"})
#: Outcomes an assessor measures while the participant signals the end point (algometry).
PARTICIPANT_SIGNALLED = frozenset({"pressure_pain_threshold"})


@dataclass(frozen=True)
class MappingRule:
    """One row of the mapping: a question answered from PEDro items (all must be "yes")."""

    question: str
    items: tuple[str, ...]
    if_yes: Answer
    if_no: Answer
    label: str


_ITEM_LABELS = {"item2": "random allocation", "item3": "concealed allocation", "item4": "baseline comparability",
                "item5": "blind subjects", "item6": "blind therapists", "item7": "blind assessors",
                "item8": "adequate follow-up (>85%)", "item9": "intention-to-treat analysis"}  # fmt: skip

#: The trial-level rows of the mapping (4.3 depends on the outcome: see :func:`pedro_rob2_answers`).
PEDRO_TO_ROB2: tuple[MappingRule, ...] = (
    MappingRule("1.1", ("item2",), Answer.PY, Answer.NI, "random sequence"),
    MappingRule("1.2", ("item3",), Answer.PY, Answer.NI, "allocation concealed"),
    MappingRule("1.3", ("item4",), Answer.PN, Answer.NI, "no baseline imbalance"),
    MappingRule("2.1", ("item5",), Answer.PN, Answer.NI, "participants unaware"),
    MappingRule("2.2", ("item6",), Answer.PN, Answer.NI, "deliverers unaware"),
    MappingRule("2.6", ("item9",), Answer.PY, Answer.NI, "analysis of the effect of assignment"),
    MappingRule("3.1", ("item8",), Answer.PY, Answer.NI, "outcome data for nearly all"),
)
_ASSESSOR_ITEMS = {**{o: ("item5",) for o in SELF_REPORTED}, **{o: ("item7",) for o in OBSERVER_MEASURED},
                   **{o: ("item5", "item7") for o in PARTICIPANT_SIGNALLED}}  # fmt: skip


def _rules(outcome: str | None) -> tuple[MappingRule, ...]:
    items = _ASSESSOR_ITEMS.get(str(outcome)) if outcome is not None else None
    if items is None:
        return PEDRO_TO_ROB2
    return (*PEDRO_TO_ROB2, MappingRule("4.3", items, Answer.PN, Answer.NI, "outcome assessors unaware"))


def pedro_rob2_answers(items: Mapping[str, Any], outcome: str | None = None) -> dict[str, DerivedAnswer]:
    """RoB 2 answers derived from one trial's PEDro items (see the module's table).

    Parameters
    ----------
    items : mapping
        ``item2`` … ``item9`` → ``"Y"``/``"N"`` (or bool, 1/0); a missing or unreadable item derives
        nothing for the questions that need it.
    outcome : str, optional
        The assessed outcome (``studies/`` vocabulary); decides which item answers 4.3. Unknown or
        ``None``: 4.3 is not derived.

    Returns
    -------
    dict
        Question (``"1.2"``) → :class:`~tpmeta.appraisal.rob2_basis.DerivedAnswer` with basis
        ``pedro_record`` and a note naming the items.

    Examples
    --------
    >>> d = pedro_rob2_answers({"item2": "Y", "item3": "N", "item5": "Y"}, "pain_intensity")
    >>> {q: a.answer.value for q, a in d.items()}
    {'1.1': 'PY', '1.2': 'NI', '2.1': 'PN', '4.3': 'PN'}
    >>> d["1.2"].note
    'PEDro item 3 (concealed allocation) = no'
    """
    out: dict[str, DerivedAnswer] = {}
    for rule in _rules(outcome):
        values = [None if is_missing(items.get(i)) else _pedro_item(items.get(i)) for i in rule.items]
        if any(v is None for v in values):
            continue
        yes = all(values)
        note = " and ".join(f"PEDro item {i[4:]} ({_ITEM_LABELS[i]}) = {'yes' if v else 'no'}"
                            for i, v in zip(rule.items, values))  # fmt: skip
        out[rule.question] = DerivedAnswer(rule.if_yes if yes else rule.if_no, Basis.PEDRO_RECORD, note)
    return out
