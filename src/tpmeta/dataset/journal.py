"""Add a trial to the dataset safely: validate first, write atomically, report what changed.

Input: a YAML file (``trial:`` mapping, optional ``outcomes:``, ``contrasts:``, ``registrations:``,
``rob2:`` lists and a ``pedro:`` mapping) or a CSV with a ``table`` column naming the target file of each row.

Safety:

* The new dataset is assembled and validated in a scratch copy; invalid input writes nothing.
* Existing rows are kept byte for byte (read and written as text) and each CSV is kept sorted by its
  primary key, so version-control diffs show only the new rows.
* The whole read–validate–write holds the dataset lock, so two ``add-study`` runs at once take turns.
* The write is journaled (:mod:`tpmeta.dataset.transaction`): a crash, kill or Ctrl-C at any moment
  leaves the dataset exactly as before or completely updated; the next write or read rolls an
  interrupted write back.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pandas as pd

from ..errors import DataProblem, StudyDataError
from .studies import StudyData, load_studies, validate_studies
from .transaction import JOURNAL, dataset_lock, recover, replace_files

T = TypeVar("T")

__all__ = ["commit_study", "read_study_file", "recover", "JOURNAL"]  # recover, JOURNAL: from .transaction

_TABLES = ("trials", "outcomes", "contrasts", "registrations", "rob2", "pedro")
_LISTS = ("outcomes", "contrasts", "registrations", "rob2")


#: Limits on what add-study reads: a trial description is a few kilobytes.
MAX_FILE_BYTES = 1_000_000
MAX_ID_LENGTH = 60
MAX_TEXT_LENGTH = 10_000


def _safe_yaml(text: str) -> Any:
    """YAML without aliases: an alias bomb (a few lines that expand to gigabytes) is refused at once."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.YAMLError(f"aliases (*{event.anchor}) are not accepted here, "
                                     f"line {event.start_mark.line + 1}; write the values out")  # fmt: skip
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader subclass


def _cell_problems(rows: dict[str, list[Any]], file: str, yaml_style: bool) -> list[DataProblem]:
    """Each row a mapping and each value one scalar of a sane length, named where the user wrote it
    (``outcomes[0].mean``, or the CSV line)."""
    problems = []
    for table, items in rows.items():
        for i, item in enumerate(items):
            where = (f"{'trial' if table == 'trials' else table}" + ("" if table in ("trials", "pedro") else f"[{i}]")
                     if yaml_style else f"line {i + 2}")  # fmt: skip
            if not isinstance(item, dict):
                problems.append(DataProblem(f"{where} is {type(item).__name__} {item!r}, not a row of named values",
                                            file=file, fix="write each row as 'name: value' pairs, e.g. {outcome: pain_intensity, n: 20}"))  # fmt: skip
                continue
            for key, value in item.items():
                place = f"{where}.{key}" if yaml_style else f"{where}, column {key}"
                if isinstance(value, (list, dict, set, tuple)):
                    problems.append(DataProblem(f"{place} holds a {type(value).__name__}, not one value", file=file,
                                                column=str(key), fix="give one value (a list or mapping cannot go in a CSV cell)"))  # fmt: skip
                    continue
                text = "" if value is None else str(value)
                limit = MAX_ID_LENGTH if key == "study_id" else MAX_TEXT_LENGTH
                if "\x00" in text:
                    problems.append(DataProblem(f"{place} contains a NUL character", file=file, column=str(key),
                                                fix="remove the control character (copied from a PDF?)"))  # fmt: skip
                elif len(text) > limit:
                    problems.append(DataProblem(f"{place} is {len(text):,} characters long (limit {limit:,})", file=file,
                                                column=str(key), fix="shorten it; a study_id is surname + year, e.g. smith2021"))  # fmt: skip
    return problems


def read_study_file(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Parse the YAML or CSV description of a trial into rows per table.

    Every problem is reported at once, named where the user wrote it (``outcomes[0].mean``).
    """
    path = Path(path)
    if not path.is_file():
        raise StudyDataError(DataProblem("no such file", file=str(path), fix="give the path of the YAML or CSV file"))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise StudyDataError(DataProblem(f"the file is larger than {MAX_FILE_BYTES:,} bytes", file=str(path),
                                         fix="describe one trial per file"))  # fmt: skip
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StudyDataError(DataProblem(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path),
                                         fix="save the file as UTF-8"))  # fmt: skip
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            doc = _safe_yaml(text)
        except yaml.YAMLError as exc:
            raise StudyDataError(DataProblem(f"not valid YAML: {exc}", file=str(path),
                                             fix="check indentation and quoting (put text with ': ' in quotes)")) from None  # fmt: skip
        if not isinstance(doc, dict) or not isinstance(doc.get("trial"), dict):
            raise StudyDataError(DataProblem("the file needs a 'trial:' mapping", file=str(path),
                                             fix="see the example in README.md (Adding a study)"))  # fmt: skip
        rows: dict[str, list[Any]] = {"trials": [doc["trial"]]}
        for key in _LISTS:
            value = doc.get(key) or []
            if not isinstance(value, list):
                raise StudyDataError(DataProblem(f"'{key}' must be a list of rows", file=str(path), fix=f"write '{key}:' followed by '- ...' items"))
            rows[key] = value
        if doc.get("pedro"):
            rows["pedro"] = [doc["pedro"]]
        unknown = set(doc) - {"trial", "pedro", *_LISTS}
        if unknown:
            raise StudyDataError(DataProblem(f"unknown section(s) {sorted(map(str, unknown))}", file=str(path),
                                             fix=f"use trial, {', '.join(_LISTS)}, pedro"))  # fmt: skip
        problems = _cell_problems(rows, str(path), yaml_style=True)
        if problems:
            raise StudyDataError(problems)
        return rows
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise StudyDataError(DataProblem(f"cannot be read as CSV ({exc})", file=str(path), fix="save it as CSV")) from None
    if "table" not in frame.columns:
        raise StudyDataError(DataProblem(f"a CSV needs a 'table' column ({', '.join(_TABLES)})",
                                         file=str(path), column="table", fix="add the column"))  # fmt: skip
    rows = {}
    for i, rec in frame.iterrows():
        table = rec["table"]
        if table not in _TABLES:
            raise StudyDataError(DataProblem("unknown table", file=str(path), row=int(i) + 2, column="table", value=table,
                                             fix=f"use one of {', '.join(_TABLES)}"))  # fmt: skip
        rows.setdefault(table, []).append({k: v for k, v in rec.items() if k != "table" and v != ""})
    if len(rows.get("trials", [])) != 1:
        raise StudyDataError(DataProblem(f"the CSV has {len(rows.get('trials', []))} rows with table=trials; it needs exactly one",
                                         file=str(path), column="table", fix="describe one trial per file: one 'trials' row"))  # fmt: skip
    problems = _cell_problems(rows, str(path), yaml_style=False)
    if problems:
        raise StudyDataError(problems)
    return rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _keys(descriptor: dict) -> dict[str, list[str]]:
    return {r["name"]: r["schema"].get("primaryKey", []) for r in descriptor["resources"]}


def _fields(descriptor: dict) -> dict[str, list[str]]:
    return {r["name"]: [f["name"] for f in r["schema"]["fields"]] for r in descriptor["resources"]}


def _read_records(path: Path) -> tuple[list[str], list[dict[str, str]], list[str], str]:
    """``(header, raw header line, records as dicts, raw text of each record, line terminator)`` of a CSV file.

    Records are read with the csv module, so a quoted field may hold a line break; the raw text of each
    record (all its lines) is kept so that existing rows are written back byte for byte.
    """
    text = path.read_bytes().decode("utf-8")
    if not text:
        return [], "", [], [], "\n"
    terminator = "\r\n" if text.split("\n", 1)[0].endswith("\r") else "\n"
    lines = iter(text.splitlines(keepends=True))
    consumed: list[str] = []

    def feed() -> Iterator[str]:
        for line in lines:
            consumed.append(line)
            yield line

    reader = csv.reader(feed())
    header = next(reader)
    head_text = "".join(consumed)
    consumed.clear()
    records, raws = [], []
    for fields in reader:
        raw = "".join(consumed)
        consumed.clear()
        if not any(f.strip() for f in fields):
            continue
        records.append(dict(zip(header, fields)))
        raws.append(raw if raw.endswith(("\n", "\r")) else raw + terminator)
    return header, head_text, records, raws, terminator


def _merged_csv(original: Path, fields: list[str], key: list[str], new_rows: list[dict[str, Any]], label: str) -> str:
    """The file's text with the new rows inserted in key order; existing records kept byte for byte
    (line endings included), new ones written with the file's own line terminator."""
    if original.exists():
        header, head_text, records, raws, terminator = _read_records(original)
    else:
        header, records, raws, terminator = list(fields), [], [], "\n"
        head_text = ",".join(fields) + terminator
    unknown = sorted({k for r in new_rows for k in r} - set(header))
    if unknown:
        raise StudyDataError(DataProblem(f"unknown column(s) {unknown} for {label}", file=label,
                                         fix=f"use the columns of {label}: {', '.join(header)}"))  # fmt: skip
    entries = list(zip(records, raws))
    for row in new_rows:
        buf = io.StringIO()
        values = {col: _text(row.get(col)) for col in header}
        csv.writer(buf, lineterminator=terminator).writerow([values[col] for col in header])
        entries.append((values, buf.getvalue()))
    order = [k for k in key if k in header] or header[:1]
    entries.sort(key=lambda e: tuple(e[0].get(k, "") for k in order))
    if not head_text.endswith(("\n", "\r")):
        head_text += terminator
    return head_text + "".join(raw for _, raw in entries)


def commit_study(file: str | Path, studies: str | Path = "studies", *, dry_run: bool = False,
                 compare: Callable[[StudyData, StudyData], T] | None = None) -> T | None:
    """Add the trial described in ``file`` to ``studies`` with a journaled write.

    ``compare(before, after)``, given the validated dataset before and after the addition, runs
    before anything is written (so its failure writes nothing) and its value is returned; the review
    layer passes one that compares every analysis (:func:`tpmeta.review.build.add_study`). This layer
    knows nothing of analyses, which is why the comparison comes in as a function.

    Raises
    ------
    StudyDataError
        The file is unreadable, the trial exists already, or the resulting dataset does not validate
        (every problem listed; nothing is written).
    """
    studies = Path(studies)
    rows = read_study_file(file)
    with dataset_lock(studies):  # one writer at a time, from the first read to the last write
        recover(studies)
        changes = _add_locked(file, studies, rows, dry_run, compare)
    return changes


def _add_locked(file: str | Path, studies: Path, rows: dict[str, list[dict[str, Any]]], dry_run: bool,
                compare: Callable[[StudyData, StudyData], T] | None) -> T | None:  # fmt: skip
    if not (studies / "datapackage.json").is_file():
        raise StudyDataError(DataProblem("no datapackage.json here", file=str(studies),
                                         fix="give the dataset folder with --studies (e.g. studies)"))  # fmt: skip
    descriptor = json.loads((studies / "datapackage.json").read_text())
    fields, keys = _fields(descriptor), _keys(descriptor)
    raw_id = rows["trials"][0].get("study_id")
    study_id = "" if raw_id is None else str(raw_id).strip()
    if not study_id:
        raise StudyDataError(DataProblem("the trial has no study_id", file=str(file), column="study_id",
                                         fix="add study_id, e.g. surname + year: smith2021"))  # fmt: skip
    existing = {r["study_id"] for r in _read_records(studies / "trials.csv")[2]}
    if study_id in existing:
        raise StudyDataError(DataProblem("a trial with this study_id is already in the dataset", file=str(file),
                                         column="study_id", value=study_id,
                                         fix="choose another study_id (e.g. add a, b) or edit the CSVs directly"))  # fmt: skip
    for table, items in rows.items():
        for item in items:
            item.setdefault("study_id", study_id)
    new_texts = {f"{t}.csv": _merged_csv(studies / f"{t}.csv", fields[t], keys[t], items, f"{t}.csv")
                 for t, items in rows.items() if items}  # fmt: skip
    before = load_studies(studies)
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch) / studies.name
        shutil.copytree(studies, scratch_dir, ignore=shutil.ignore_patterns(".*"))
        for name, text in new_texts.items():
            (scratch_dir / name).write_bytes(text.encode("utf-8"))
        report = validate_studies(scratch_dir)
        if not report.ok:
            raise StudyDataError(list(report.errors))
        changes = compare(before, load_studies(scratch_dir, validate=False)) if compare is not None else None
    if not dry_run:
        replace_files(studies, new_texts)
    return changes
