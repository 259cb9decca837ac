"""Load and validate the curated dataset in ``studies/``.

The schema is declared once, as a Frictionless data package (``studies/datapackage.json``: types,
units, allowed values, required fields, primary and foreign keys). :func:`validate_studies` runs the
Frictionless validator for everything the schema can express, then the cross-checks it cannot
(numbers present in their verbatim quotes, events ≤ n, CI contains the mean, one unit per outcome and
instrument, PEDro totals, RoB 2 skip logic, ...). Every problem names the file, the CSV line, the
column, the value and the fix. Nothing here ever writes to the dataset.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .._results import ResultMixin
from ..errors import DataProblem, StudyDataError
from .provenance import OPTIONAL_FIELDS, check_provenance
from .transaction import recover_if_needed

__all__ = [
    "StudyData",
    "ValidationReport",
    "load_studies",
    "validate_studies",
    "numbers_in_text",
    "trial_label",
    "DEFAULT_STUDIES_DIR",
]

DEFAULT_STUDIES_DIR = Path("studies")
RESOURCES = ("trials", "outcomes", "contrasts", "registrations", "rob2", "pedro", "reviews", "claims", "analyses",
             "grade", "reports", "identifiers", "searches")  # fmt: skip
#: numeric columns whose values must appear in the row's source_quote, per resource
QUOTED_NUMBERS = {
    "trials": ("n_randomised",),
    "outcomes": ("n", "mean", "sd", "se", "ci_low", "ci_high", "median", "q1", "q3", "min", "max", "events"),
    "contrasts": ("estimate", "ci_low", "ci_high", "se", "pvalue", "n1", "n2"),
    "pedro": ("total_reported",),
    "reviews": ("k", "participants", "estimate", "ci_low", "ci_high", "i2"),
}

# ---- numbers in quotes -------------------------------------------------------------------------

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+")
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def _word_numbers(text: str) -> set[float]:
    """Numbers written in English words ("Fifty-six", "one hundred and eighty"), up to 9,999."""
    found: set[float] = set()
    tokens = _WORD.findall(text.lower())
    current: int | None = None
    for tok in tokens + ["."]:
        if tok in _UNITS or tok in _TENS:
            value = _UNITS.get(tok, _TENS.get(tok, 0))
            if current is not None and tok in _UNITS and current % 100 >= 20 and current % 10 == 0:
                current += value  # forty six
            elif current is not None and current % 100 == 0 and current > 0:
                current += value  # hundred and six
            else:
                if current is not None:
                    found.add(float(current))
                current = value
        elif tok in ("hundred", "thousand") and current is not None:
            current *= 100 if tok == "hundred" else 1000
        elif tok == "and" and current is not None and current % 100 == 0 and current > 0:
            continue
        else:
            if current is not None:
                found.add(float(current))
            current = None
    return found


def numbers_in_text(text: str) -> set[float]:
    """Every number written in ``text`` (unsigned), in digits or in English words.

    ``1,047`` is read both as 1047 and as 1 and 047; ``.62`` as 0.62.

    >>> sorted(numbers_in_text("Fifty-six patients; VAS 2.50 (SD 1,047), I2 = 59%"))  # "I2" gives 2
    [1.0, 2.0, 2.5, 47.0, 56.0, 59.0, 1047.0]
    """
    if not isinstance(text, str):
        return set()
    out: set[float] = set()
    for match in _NUMBER.finditer(text):
        token = match.group()
        out.add(float(token.replace(",", "")))
        if "," in token:
            out.update(float(p) for p in re.split(r"[,.]", token) if p)
    return out | _word_numbers(text)


def _in_quote(value: object, numbers: set[float]) -> bool:
    """Whether the number (or every number in a text value such as "<0.001") is in the quote."""
    targets = numbers_in_text(value) if isinstance(value, str) else {abs(float(value))}
    return all(any(math.isclose(t, n, rel_tol=1e-9, abs_tol=1e-12) for n in numbers) for t in targets)


# ---- data objects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationReport(ResultMixin):
    """Outcome of :func:`validate_studies`: errors make the dataset unusable, warnings need a look."""

    path: str
    errors: tuple[DataProblem, ...] = ()
    warnings: tuple[DataProblem, ...] = ()
    _array_fields = ("errors", "warnings")

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self, group_warnings: bool = False, max_rows: int = 12) -> str:
        """Errors one per line; warnings one per line, or with ``group_warnings`` one line per kind
        (same file, column and message) with its count and first ``max_rows`` rows."""
        lines = [f"{self.path}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        if self.errors:
            lines.append("Errors:")
            lines += [f"  - {p}" for p in self.errors]
        if self.warnings and not group_warnings:
            lines.append("Warnings:")
            lines += [f"  - {p}" for p in self.warnings]
        elif self.warnings:
            lines.append("Warnings, one line per kind:")
            groups: dict[tuple, list[DataProblem]] = {}
            for p in self.warnings:
                groups.setdefault((p.file, p.column, p.message, p.fix), []).append(p)
            for (file, column, message, fix), problems in groups.items():
                if len(problems) == 1:
                    lines.append(f"  - {problems[0]}")
                    continue
                rows = [str(p.row) for p in problems if p.row is not None]
                shown = ", ".join(rows[:max_rows]) + (", ..." if len(rows) > max_rows else "")
                where = f"{file}, column '{column}'" if column else str(file)
                lines.append(f"  - {len(problems)} x {where}: {message} (rows {shown})" + (f". Fix: {fix}" if fix else ""))
        return "\n".join(lines)


@dataclass(frozen=True)
class StudyData:
    """The dataset, one DataFrame per CSV; each index is the CSV line number (header = line 1)."""

    path: Path
    trials: pd.DataFrame
    outcomes: pd.DataFrame
    contrasts: pd.DataFrame
    registrations: pd.DataFrame
    rob2: pd.DataFrame
    pedro: pd.DataFrame
    reviews: pd.DataFrame
    claims: pd.DataFrame
    analyses: pd.DataFrame
    grade: pd.DataFrame
    schema: dict = field(repr=False, default_factory=dict)
    # publications, identifier provenance and the search log (dataset/provenance.py); empty when absent
    reports: pd.DataFrame = field(repr=False, default_factory=lambda: _empty("reports"))
    identifiers: pd.DataFrame = field(repr=False, default_factory=lambda: _empty("identifiers"))
    searches: pd.DataFrame = field(repr=False, default_factory=lambda: _empty("searches"))

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)


def trial_label(study_id: str, authors: object = None, year: object = None) -> str:
    """Display label of a trial: "Surname 2011", with the study_id's letter suffix when it has one
    ("Gemmell 2008a"); the study_id itself when the authors are unknown.

    >>> trial_label("gemmell2008a", "Gemmell H, Miller P", 2008)
    'Gemmell 2008a'
    >>> trial_label("jchiroprmed2016", None, 2016)
    'jchiroprmed2016'
    """
    if authors is None or pd.isna(authors) or not str(authors).strip():
        return str(study_id)
    surname = str(authors).split(",")[0].strip().rsplit(" ", 1)[0] if " " in str(authors).split(",")[0].strip() else str(authors).split(",")[0].strip()
    suffix = re.sub(r"^.*?\d{4}", "", str(study_id)) if re.search(r"\d{4}", str(study_id)) else ""
    year_text = "" if year is None or pd.isna(year) else f" {int(year)}"
    return f"{surname}{year_text}{suffix}".strip()


def _schema_fields(descriptor: dict, name: str) -> list[dict]:
    for res in descriptor["resources"]:
        if res["name"] == name:
            return res["schema"]["fields"]
    if name in OPTIONAL_FIELDS:  # reports, identifiers, searches: optional in older copies and fixtures
        return OPTIONAL_FIELDS[name]
    raise KeyError(name)


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame({f["name"]: pd.Series(dtype="Int64" if f["type"] == "integer" else "string")
                         for f in OPTIONAL_FIELDS[name]})  # fmt: skip


def _read_table(path: Path, fields: list[dict]) -> pd.DataFrame:
    dtypes = {}
    for f in fields:
        dtypes[f["name"]] = {"integer": "Int64", "number": "float64"}.get(f["type"], "string")
    if not path.exists():
        return pd.DataFrame({k: pd.Series(dtype=v) for k, v in dtypes.items()})
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    frame = pd.DataFrame(index=raw.index)
    for col in raw.columns:
        kind = dtypes.get(col, "string")
        if kind == "string":
            frame[col] = raw[col].astype("string")
        else:
            numeric = pd.to_numeric(raw[col], errors="coerce")
            frame[col] = numeric.round().astype("Int64") if kind == "Int64" else numeric.astype(float)
    frame.index = range(2, len(frame) + 2)
    return frame


def load_studies(path: str | Path = DEFAULT_STUDIES_DIR, *, validate: bool = True) -> StudyData:
    """Read the dataset. With ``validate=True`` (default) raise :class:`StudyDataError` listing every
    error found by :func:`validate_studies`; warnings do not stop loading.

    >>> data = load_studies("studies")  # doctest: +SKIP
    >>> data.trials.shape  # doctest: +SKIP
    """
    path = Path(path)
    recover_if_needed(path)  # an add-study killed midway is rolled back before anything is read
    if validate:
        report = validate_studies(path)
        if not report.ok:
            raise StudyDataError(list(report.errors))
    descriptor = json.loads((path / "datapackage.json").read_text())
    tables = {name: _read_table(path / f"{name}.csv", _schema_fields(descriptor, name)) for name in RESOURCES}
    return StudyData(path=path, schema=descriptor, **tables)


# ---- validation --------------------------------------------------------------------------------

_FIXES = {
    "type-error": "write a value of the column's type (see studies/datapackage.json)",
    "constraint-error": "use one of the allowed values / a value within the allowed range",
    "primary-key": "each row must be unique on the table's key; merge or relabel the duplicate",
    "foreign-key": "add the trial to trials.csv first, or correct the study_id",
    "missing-cell": "fill in the required value",
    "extra-cell": "remove the extra value or add the column to the schema",
    "extra-label": "remove the column, or declare it in studies/datapackage.json",
    "missing-label": "add the column (it is declared in studies/datapackage.json)",
    "incorrect-label": "rename the column as declared in studies/datapackage.json",
    "blank-row": "delete the empty line",
    "duplicate-row": "delete the duplicate line",
}


def _schema_problems(path: Path) -> list[DataProblem]:
    import frictionless  # imported here: validation only, keeps `import tpmeta` light

    report = frictionless.validate(str(path / "datapackage.json"))
    try:
        descriptor = json.loads((path / "datapackage.json").read_text())
    except (OSError, ValueError):
        descriptor = {"resources": []}
    allowed = {(r.get("name"), f["name"]): f["constraints"]["enum"] for r in descriptor.get("resources", [])
               for f in r.get("schema", {}).get("fields", []) if "enum" in f.get("constraints", {})}  # fmt: skip
    problems = []
    for task in report.tasks:
        resource = Path(task.place).name if task.place else task.name
        for err in task.errors:
            note = err.note or ""
            fix = _FIXES.get(err.type, err.description)
            if '"required"' in note:
                note, fix = "a required value is missing", "fill in the value (the column is required)"
            elif err.type == "scheme-error" or "No such file" in note:
                note, fix = "file is missing", "create it with the header declared in studies/datapackage.json"
            elif err.type in ("extra-label", "missing-label", "incorrect-label"):
                note = {"extra-label": "column '{}' is not declared in the schema",
                        "missing-label": "declared column '{}' is missing",
                        "incorrect-label": "column header '{}' does not match the schema"}[err.type].format(
                    getattr(err, "label", "") or getattr(err, "field_name", ""))  # fmt: skip
            field = getattr(err, "field_name", None)
            cell = str(getattr(err, "cell", "") or "")
            if err.type == "type-error" and re.fullmatch(r"-?\d+,\d+", cell.strip()):
                fix = f"a decimal comma: write {cell.strip().replace(',', '.')} (decimal point)"
            choices = allowed.get((Path(resource).stem, field))
            if err.type == "constraint-error" and choices:
                close = difflib.get_close_matches(str(getattr(err, "cell", "")), choices, n=1, cutoff=0.5)
                fix = (f"did you mean '{close[0]}'? " if close else "") + f"allowed: {', '.join(choices)}"
            problems.append(
                DataProblem(
                    message=note or err.title,
                    file=f"{path.name}/{resource}",
                    row=getattr(err, "row_number", None),
                    column=getattr(err, "field_name", None) or getattr(err, "label", None) or None,
                    value=getattr(err, "cell", None),
                    fix=fix,
                )
            )
    for err in report.errors:
        problems.append(DataProblem(err.message, file=f"{path.name}/datapackage.json",
                                    fix="repair the package descriptor"))  # fmt: skip
    return problems


class _Checker:
    def __init__(self, data: StudyData) -> None:
        self.data = data
        self.errors: list[DataProblem] = []
        self.warnings: list[DataProblem] = []

    def add(self, severity: str, table: str, row: int | None, column: str | None, value: object,
            message: str, fix: str) -> None:  # fmt: skip
        problem = DataProblem(message, file=f"{self.data.path.name}/{table}.csv", row=row,
                              column=column, value=value, fix=fix)  # fmt: skip
        (self.errors if severity == "error" else self.warnings).append(problem)

    # numbers present in their quotes
    def quotes(self) -> None:
        trial_quotes = {}
        if "source_quote" in self.data.trials:
            trial_quotes = dict(zip(self.data.trials["study_id"], self.data.trials["source_quote"]))
        for table, columns in QUOTED_NUMBERS.items():
            frame = self.data.table(table)
            if "source_quote" not in frame:
                continue
            for row, rec in frame.iterrows():
                present = [c for c in columns if c in frame and pd.notna(rec.get(c))]
                if not present:
                    continue
                numbers = numbers_in_text(rec.get("source_quote"))
                # group sizes are often stated once, in the trial's own quote (spec: say so in the note)
                sizes = numbers_in_text(trial_quotes.get(rec.get("study_id"))) if table != "trials" else set()
                for col in present:
                    value = rec[col]
                    pool_ = numbers | sizes if col in ("n", "n1", "n2") else numbers
                    if not _in_quote(value, pool_):
                        self.add("error", table, row, col, _plain(value),
                                 "number does not appear in the row's source_quote",
                                 "copy the verbatim fragment of the source that shows this number into "
                                 "source_quote, or correct the number")  # fmt: skip
                if table != "trials" and pd.isna(rec.get("source_url")):
                    self.add("error", table, row, "source_url", None, "numbers without a source",
                             "give the URL of the page the numbers come from")  # fmt: skip

    def outcomes(self) -> None:
        o = self.data.outcomes
        for row, r in o.iterrows():
            def bad(col: str, cond: bool, message: str, fix: str, severity: str = "error") -> None:
                if cond:
                    self.add(severity, "outcomes", row, col, _plain(r.get(col)), message, fix)

            bad("sd", pd.notna(r.sd) and r.sd <= 0, "SD must be positive", "check the SD")
            bad("se", pd.notna(r.se) and r.se <= 0, "SE must be positive", "check the SE")
            bad("events", pd.notna(r.events) and pd.notna(r.n) and r.events > r.n,
                "more events than participants", "check events and n")  # fmt: skip
            if pd.notna(r.ci_low) and pd.notna(r.ci_high):
                bad("ci_low", r.ci_low > r.ci_high, "lower CI limit above the upper", "swap or correct")
                bad("mean", pd.notna(r["mean"]) and not (r.ci_low <= r["mean"] <= r.ci_high),
                    "the CI does not contain the mean", "check the mean and its CI")  # fmt: skip
            order = [c for c in ("min", "q1", "median", "q3", "max") if pd.notna(r.get(c))]
            vals = [r[c] for c in order]
            bad(order[0] if order else "median", any(a > b for a, b in zip(vals, vals[1:])),
                "quantiles out of order (min ≤ q1 ≤ median ≤ q3 ≤ max)", "check the quantiles")  # fmt: skip
            has_mean = pd.notna(r["mean"]) and (pd.notna(r.sd) or pd.notna(r.se) or pd.notna(r.ci_low))
            has_median = pd.notna(r.median) and ((pd.notna(r.q1) and pd.notna(r.q3)) or
                                                  (pd.notna(r["min"]) and pd.notna(r["max"])))  # fmt: skip
            bad("mean", not (has_mean or has_median or pd.notna(r.events)),
                "no usable statistic (mean with SD/SE/CI, median with IQR/range, or events)",
                "add the spread, or leave the row out", "warning")  # fmt: skip
            bad("n", pd.isna(r.n), "number analysed (n) is missing; the arm cannot be pooled",
                "add n from the source (with a quote)", "warning")  # fmt: skip
            note = "" if pd.isna(r.get("extraction_note")) else str(r.get("extraction_note"))
            if re.search(r"±\s*not\s+labell?ed", note, re.I):
                self.add("warning", "outcomes", row, "sd", _plain(r.sd),
                         "± not labelled as SD in the source; treated as SD",
                         "check the full text; if it is an SE, move it to 'se'")  # fmt: skip
        # one unit per outcome and instrument
        if len(o):
            units = o.groupby(["outcome", "instrument"])["unit"].nunique()
            for (outcome, instrument), count in units[units > 1].items():
                rows = o[(o.outcome == outcome) & (o.instrument == instrument)]
                self.add("error", "outcomes", int(rows.index[0]), "unit", ", ".join(sorted(rows.unit.dropna().unique())),
                         f"{outcome}/{instrument} has several units", "convert to one unit or split the instrument")  # fmt: skip

    def contrasts(self) -> None:
        for row, r in self.data.contrasts.iterrows():
            if pd.notna(r.ci_low) and pd.notna(r.ci_high) and not (r.ci_low <= r.estimate <= r.ci_high):
                self.add("warning", "contrasts", row, "estimate", _plain(r.estimate),
                         "estimate lies outside its CI as reported", "check the source; say so in extraction_note")  # fmt: skip
            if pd.isna(r.ci_low) and pd.isna(r.se):
                self.add("warning", "contrasts", row, "se", None, "no CI or SE: cannot be pooled",
                         "add the CI or SE if the source gives it")  # fmt: skip

    def trials(self) -> None:
        t = self.data.trials
        with_rows = set(self.data.outcomes.study_id.dropna()) | set(self.data.contrasts.study_id.dropna())
        for row, r in t.iterrows():
            if r.inclusion_status in ("excluded", "awaiting") and pd.isna(r.exclusion_reason):
                self.add("error", "trials", row, "exclusion_reason", None,
                         f"an {r.inclusion_status} trial needs a reason", "say why in exclusion_reason")  # fmt: skip
            if r.data_status == "extracted" and r.study_id not in with_rows:
                self.add("error", "trials", row, "data_status", r.data_status,
                         "marked extracted but has no rows in outcomes.csv or contrasts.csv",
                         "add its results, or set data_status to full_text_needed")  # fmt: skip
            if r.data_status != "extracted" and r.study_id in with_rows:
                self.add("error", "trials", row, "data_status", r.data_status,
                         "has result rows but is not marked extracted", "set data_status to extracted")  # fmt: skip
            if pd.isna(r.doi) and pd.isna(r.pmid):
                self.add("warning", "trials", row, "doi", None, "no DOI or PMID",
                         "add a DOI or PMID so readers can find the trial")  # fmt: skip
            if pd.notna(r.n_randomised) and pd.isna(r.source_quote):
                self.add("error", "trials", row, "source_quote", None, "n_randomised without a quote",
                         "quote the sentence that gives the number randomised")  # fmt: skip
        self._duplicate_trials(t)

    def _duplicate_trials(self, t: pd.DataFrame) -> None:
        """One row per trial: a DOI or PMID on two rows is an error, a repeated title a warning."""
        for column in ("doi", "pmid"):
            for rows in _repeated(t[column].astype("string").str.strip().str.lower()):
                ids = ", ".join(t.loc[rows, "study_id"].astype(str))
                self.add("error", "trials", int(rows[1]), column, _plain(t.loc[rows[1], column]),
                         f"the same {column.upper()} is on several trials ({ids})",
                         "keep one row per trial: merge the duplicates into one study_id")  # fmt: skip
        for rows in _repeated(t["title"].astype("string").str.lower().str.replace(r"[^a-z0-9]", "", regex=True)):
            ids = ", ".join(t.loc[rows, "study_id"].astype(str))
            self.add("warning", "trials", int(rows[1]), "title", t.loc[rows[1], "title"],
                     f"the same title is on several trials ({ids})",
                     "merge them if they are one trial; otherwise say in exclusion_reason or the "
                     "note how they differ")  # fmt: skip

    def registrations(self) -> None:
        """A registry number, like a number, must be printed in its row's verbatim quote."""
        regs = self.data.registrations
        for row, r in regs.iterrows():
            if pd.isna(r.registration) or pd.isna(r.source_quote):
                continue  # required-field errors come from the schema
            if str(r.registration).strip().lower() not in str(r.source_quote).lower():
                self.add("error", "registrations", row, "registration", r.registration,
                         "registry number does not appear in the row's source_quote",
                         "copy the fragment of the registry or article page that prints the number into "
                         "source_quote, or correct the number")  # fmt: skip
        # one registration is one trial: two study_ids with it are two reports of the same trial. Two
        # included would count its participants twice (error); otherwise the overlap needs a look.
        status = dict(zip(self.data.trials["study_id"], self.data.trials["inclusion_status"]))
        for rows in _repeated(regs["registration"].astype("string").str.strip().str.upper()):
            ids = sorted(set(regs.loc[rows, "study_id"].dropna()))
            if len(ids) > 1:
                included = [i for i in ids if status.get(i) == "included"]
                self.add("error" if len(included) > 1 else "warning", "registrations", int(rows[1]),
                         "registration", regs.loc[rows[1], "registration"],
                         f"one registration on several trials ({', '.join(ids)}): reports of the same trial",
                         "include one study_id for the trial; mark the other report 'awaiting' or "
                         "'excluded' with the reason 'report of <study_id>'")  # fmt: skip

    def provenance(self) -> None:
        """Reports, identifier provenance and the search log (dataset/provenance.py)."""
        check_provenance({n: self.data.table(n) for n in ("trials", "reports", "identifiers", "searches", "registrations")},
                         self.add)  # fmt: skip

    def pedro(self) -> None:
        for row, r in self.data.pedro.iterrows():
            items = [r.get(f"item{i}") for i in range(2, 12)]
            if any(pd.isna(x) for x in items) or pd.isna(r.total_reported):
                continue
            total = sum(x == "Y" for x in items)
            if total != int(r.total_reported):
                self.add("error", "pedro", row, "total_reported", int(r.total_reported),
                         f"PEDro total of items 2-11 is {total}, not {int(r.total_reported)}",
                         "re-check the item answers against the PEDro record")  # fmt: skip

    def rob2(self) -> None:
        frame = self.data.rob2
        if not len(frame):
            return
        try:
            from ..appraisal import rob2 as rob
        except ImportError:  # pragma: no cover - rob module always shipped
            return
        source = f"{self.data.path.name}/rob2.csv"
        try:  # 0-based index: rob2_table reports CSV lines (index + 2)
            rob.rob2_table(frame.reset_index(drop=True), source=source, pedro=self.data.pedro)
        except StudyDataError as exc:
            self.errors.extend(exc.problems)
        # an answer said to come from a PEDro record must be traceable to one in pedro.csv
        recorded = set(self.data.pedro["study_id"].dropna().astype(str))
        for row, r in frame.iterrows():
            named = [c for c in ("basis", "answer_basis") if pd.notna(r.get(c)) and "pedro_record" in str(r.get(c))]
            if named and str(r.study_id) not in recorded:
                self.add("error", "rob2", row, named[0], r.get(named[0]),
                         f"trial {r.study_id!r}: answers rest on a PEDro record, but pedro.csv has none for this trial",
                         "add the trial's PEDro record to pedro.csv (record URL and the score line), or correct the basis")  # fmt: skip


def _repeated(keys: pd.Series) -> Iterable[pd.Index]:
    """Row labels of each key (blank keys ignored) that stands on more than one row."""
    keys = keys.dropna()
    keys = keys[keys != ""]
    return [rows for rows in keys.groupby(keys).groups.values() if len(rows) > 1]


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _nul_problems(path: Path) -> list[DataProblem]:
    """NUL bytes (control characters pasted from PDFs) are invisible and break tools downstream."""
    problems = []
    for name in RESOURCES:
        file = path / f"{name}.csv"
        if file.is_file() and b"\x00" in (data := file.read_bytes()):
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            problems.append(DataProblem("a NUL character (byte 0) in the file", file=f"{path.name}/{file.name}", row=line,
                                        fix="delete the control character (copied from a PDF?)"))  # fmt: skip
    return problems


def _column_problems(path: Path, descriptor: dict) -> tuple[bool, list[DataProblem]]:
    """Whether any table lacks a declared column (the cross-checks then cannot run), and the header
    labels that differ from a declared name only by spaces (the schema check lets those through)."""
    import csv

    missing_any, problems = False, []
    for name in RESOURCES:
        file = path / f"{name}.csv"
        if not file.is_file():
            continue
        with open(file, newline="", encoding="utf-8", errors="replace") as fh:
            header = next(csv.reader(fh), [])
        missing = {f["name"] for f in _schema_fields(descriptor, name)} - set(header)
        missing_any |= bool(missing)
        for label in header:
            if label != label.strip() and label.strip() in missing:
                problems.append(DataProblem(f"column header {label!r} has spaces around the name", file=f"{path.name}/{file.name}",
                                            row=1, column=label.strip(), fix=f"write it as {label.strip()!r}"))  # fmt: skip
    return missing_any, problems


def validate_studies(path: str | Path = DEFAULT_STUDIES_DIR) -> ValidationReport:
    """Check the dataset against its schema and the cross-checks; never changes the data (but first rolls
    back an add-study that was killed midway, so that what is checked is a dataset that was written whole).

    Returns a :class:`ValidationReport`; ``report.ok`` is False when there are errors.
    """
    path = Path(path)
    recover_if_needed(path)
    descriptor_path = path / "datapackage.json"
    if not descriptor_path.is_file():
        return ValidationReport(str(path), errors=(DataProblem(
            "no datapackage.json here", file=str(path), fix="point to the studies/ folder"),))  # fmt: skip
    errors = _nul_problems(path) + _schema_problems(path)
    descriptor = json.loads(descriptor_path.read_text())
    missing, header_problems = _column_problems(path, descriptor)
    errors += header_problems
    if missing:  # the cross-checks need every declared column
        errors.append(DataProblem("cross-checks not run: a table lacks declared columns (see above)",
                                  file=str(path), fix="repair the headers first (spelling, stray spaces)"))  # fmt: skip
        return ValidationReport(str(path), errors=tuple(errors))
    tables = {name: _read_table(path / f"{name}.csv", _schema_fields(descriptor, name)) for name in RESOURCES}
    checker = _Checker(StudyData(path=path, schema=descriptor, **tables))
    for check in (checker.quotes, checker.outcomes, checker.contrasts, checker.trials, checker.registrations,
                  checker.pedro, checker.rob2, checker.provenance):  # fmt: skip
        try:
            check()
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # values the schema check already flags
            checker.errors.append(DataProblem(
                f"the {check.__name__} cross-check could not run ({type(exc).__name__}: {exc})", file=str(path),
                fix="fix the errors listed above (missing or mistyped values) and validate again"))  # fmt: skip
    return ValidationReport(str(path), errors=tuple(errors + checker.errors), warnings=tuple(checker.warnings))


def iter_problems(report: ValidationReport) -> Iterable[tuple[str, DataProblem]]:
    for p in report.errors:
        yield "error", p
    for p in report.warnings:
        yield "warning", p
