"""Typed exceptions and warnings.

Input problems raise :class:`StudyDataError`, whose message names where the bad value is (file, row,
column), the value itself, and how to fix it. Statistical caveats are warnings of their own classes so
that callers can filter them precisely.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "StudyDataError",
    "DataProblem",
    "TpmetaWarning",
    "ConvergenceWarning",
    "SingleStudyWarning",
    "DataWarning",
    "FewStudiesWarning",
    "ReportError",
]


@dataclass(frozen=True)
class DataProblem:
    """One problem found in input data, with everything a person needs to fix it."""

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    fix: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        head = ", ".join(where)
        text = f"{head}: {self.message}" if head else self.message
        if self.value is not None or self.column is not None:
            text += f" (value: {self.value!r})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class StudyDataError(ValueError):
    """Invalid study data. ``problems`` lists every :class:`DataProblem` found, not just the first."""

    def __init__(self, problems: DataProblem | list[DataProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [DataProblem(problems)]
        elif isinstance(problems, DataProblem):
            problems = [problems]
        self.problems: list[DataProblem] = list(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems in the data:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(text)


class TpmetaWarning(UserWarning):
    """Base class of tpmeta's warnings."""


class ConvergenceWarning(TpmetaWarning):
    """An iterative estimator stopped before meeting its convergence criterion."""


class SingleStudyWarning(TpmetaWarning):
    """Only one study: the 'pooled' result is that study's own estimate."""


class DataWarning(TpmetaWarning):
    """Data are usable but something deserves a human look (e.g. an unlabelled ±)."""


class ReportError(RuntimeError):
    """Building the report failed: names the notebook, the cell and the cause (raised by
    :func:`tpmeta.review.report.build_report`; defined here so that the CLI can catch it without
    importing the report machinery)."""


class FewStudiesWarning(TpmetaWarning):
    """A method used with fewer studies than it needs to be informative (e.g. small-study tests, k < 10)."""
