"""Methodological quality: the PEDro scale (11 items; items 2-11 give the 0-10 total).

References
----------
Maher CG, Sherrington C, Herbert RD, Moseley AM, Elkins M. Reliability of the PEDro scale for rating
quality of randomized controlled trials. Phys Ther 2003;83:713-721. doi:10.1093/ptj/83.8.713
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, cast

import numpy as np
import pandas as pd

from .._results import ResultMixin
from ..errors import DataProblem, StudyDataError
from .rob2_rules import is_missing as _is_missing
from .rob2_rules import missing_columns as _missing_columns
from .rob2_rules import row_number as _row_number

__all__ = ["PEDRO_ITEMS", "PedroScore", "pedro_band", "pedro_score", "pedro_table"]

PEDRO_ITEMS = tuple(f"item{i}" for i in range(1, 12))


def pedro_band(total: int) -> str:
    """Conventional band of a PEDro total: 0-3 poor, 4-5 fair, 6-8 good, 9-10 excellent.

    PEDro itself notes that these bands have not been validated.

    >>> pedro_band(6)
    'good'
    """
    if not 0 <= total <= 10:
        raise ValueError(f"a PEDro total lies in 0..10, got {total}")
    return "poor" if total <= 3 else "fair" if total <= 5 else "good" if total <= 8 else "excellent"


@dataclass(frozen=True)
class PedroScore(ResultMixin):
    """PEDro item answers, total (items 2-11) and conventional band; see :func:`pedro_score`."""

    items: Mapping[str, bool]
    total: int
    band: str

    def _scalar_items(self) -> list[tuple[str, Any]]:
        return [*self.items.items(), ("total", self.total), ("band", self.band)]


def _pedro_item(value: object) -> bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip() in ("Y", "N"):
        return value.strip() == "Y"
    if isinstance(value, (int, np.integer, float, np.floating)) and value in (0, 1):
        return bool(value == 1)
    return None


def _pedro(items: Mapping[str, Any], file: str | None, row: Any) -> tuple[PedroScore | None, list[DataProblem]]:
    problems, parsed = [], {}
    for name in PEDRO_ITEMS:
        value = items.get(name)
        answer = None if _is_missing(value) else _pedro_item(value)
        if answer is None:
            problems.append(DataProblem(f"PEDro {name} is {'missing' if _is_missing(value) else 'not Y/N'}",
                                        file=file, row=row, column=name, value=value,
                                        fix="write Y or N (or True/False, 1/0)"))  # fmt: skip
        parsed[name] = answer
    if problems:
        return None, problems
    total = sum(parsed[name] for name in PEDRO_ITEMS[1:])  # item 1 (eligibility) is not scored
    return PedroScore(items=parsed, total=int(total), band=pedro_band(int(total))), []


def pedro_score(items: Mapping[str, Any]) -> PedroScore:
    """Score the PEDro scale: total = number of items 2-11 satisfied (0-10); item 1 is not counted.

    Band (not validated, per PEDro's own note): 0-3 poor, 4-5 fair, 6-8 good, 9-10 excellent.

    Parameters
    ----------
    items : mapping
        ``item1`` … ``item11`` → ``"Y"``/``"N"``, bool, or 1/0.

    Returns
    -------
    PedroScore
        ``items`` (as bools), ``total`` and ``band``.

    Raises
    ------
    StudyDataError
        Naming every missing or unreadable item.

    References
    ----------
    Maher CG, Sherrington C, Herbert RD, Moseley AM, Elkins M. Reliability of the PEDro scale for
    rating quality of randomized controlled trials. Phys Ther 2003;83:713-721. doi:10.1093/ptj/83.8.713

    Examples
    --------
    >>> s = pedro_score({f"item{i}": "Y" if i <= 8 else "N" for i in range(1, 12)})
    >>> s.total, s.band
    (7, 'good')
    """
    score, problems = _pedro(items, None, None)
    if problems:
        raise StudyDataError(problems)
    return cast(PedroScore, score)


def pedro_table(frame: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Score every row with :func:`pedro_score` (Maher et al. 2003) and check ``total_reported``.

    Parameters
    ----------
    frame : DataFrame
        Columns ``item1`` … ``item11`` (Y/N, bool or 1/0); optional ``total_reported`` (e.g. from the
        PEDro database, whose "confirmed" records are authoritative); blank means not reported.
    source : str, optional
        File name for error messages; when given, rows are reported as CSV line numbers (index + 2).

    Returns
    -------
    DataFrame
        A copy of ``frame`` with ``total`` (items 2-11) and ``band`` added.

    Raises
    ------
    StudyDataError
        Once, naming every bad column or item and every ``total_reported`` mismatch (both values).

    Examples
    --------
    >>> import pandas as pd
    >>> row = {f"item{i}": "Y" for i in range(1, 12)} | {"total_reported": 10}
    >>> out = pedro_table(pd.DataFrame([row]))
    >>> int(out["total"].iloc[0]), out["band"].iloc[0]
    (10, 'excellent')
    """
    problems = _missing_columns(frame, list(PEDRO_ITEMS), source, "add the column with Y or N per trial")
    problems += [DataProblem(f"column '{c}' would be overwritten", file=source, column=c,
                             fix="rename it (a reported total belongs in 'total_reported')")
                 for c in ("total", "band") if c in frame.columns]  # fmt: skip
    if problems:
        raise StudyDataError(problems)
    totals, bands = [], []
    for index, row in frame.iterrows():
        values, where = row.to_dict(), _row_number(index, source)
        score, row_problems = _pedro(values, source, where)
        problems += row_problems
        totals.append(None if score is None else score.total)
        bands.append(None if score is None else score.band)
        reported = values.get("total_reported")
        if score is None or _is_missing(reported):
            continue
        try:
            number = float(reported)
        except (TypeError, ValueError):
            number = float("nan")
        if not number.is_integer():
            problems.append(DataProblem("total_reported is not a whole number", file=source, row=where,
                                        column="total_reported", value=reported, fix="write 0..10"))  # fmt: skip
        elif int(number) != score.total:
            problems.append(DataProblem(
                f"PEDro total reported as {int(number)} but items 2-11 sum to {score.total}",
                file=source, row=where, column="total_reported", value=reported,
                fix="check the item answers against the PEDro record (confirmed records are "
                    "authoritative), or correct total_reported"))  # fmt: skip
    if problems:
        raise StudyDataError(problems)
    out = frame.copy()
    out["total"] = pd.Series(totals, index=frame.index, dtype="int64")
    out["band"] = bands
    return out
