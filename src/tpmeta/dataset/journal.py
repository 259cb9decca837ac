"""Add a trial to the dataset safely: validate first, write atomically, report what changed.

Input: a YAML file (``trial:`` mapping, optional ``outcomes:``, ``contrasts:``, ``registrations:``,
``rob2:`` lists and a ``pedro:`` mapping) or a CSV with a ``table`` column naming the target file of each row.

Safety:

* The new dataset is assembled and validated in a scratch copy; invalid input writes nothing.
* Existing rows are kept byte for byte (read and written as text) and each CSV is kept sorted by its
  primary key, so version-control diffs show only the new rows.
* The commit is journaled: the files about to change are first copied into
  ``studies/.add-study-journal/`` (with a marker written last); then each file is replaced with
  ``os.replace`` (atomic on POSIX); then the journal is removed. Ctrl-C is held off during the
  replacements, and if anything fails midway the originals are restored at once. If the process is
  killed midway, the next call of :func:`recover` (run by every ``commit_study``) restores
  them, so the dataset is always either exactly as before or completely updated.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pandas as pd

from ..errors import DataProblem, StudyDataError
from .studies import StudyData, load_studies, validate_studies

T = TypeVar("T")

__all__ = ["commit_study", "read_study_file", "recover", "JOURNAL"]

JOURNAL = ".add-study-journal"
_TABLES = ("trials", "outcomes", "contrasts", "registrations", "rob2", "pedro")
_LISTS = ("outcomes", "contrasts", "registrations", "rob2")


def read_study_file(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Parse the YAML or CSV description of a trial into rows per table."""
    path = Path(path)
    if not path.is_file():
        raise StudyDataError(DataProblem("no such file", file=str(path), fix="give the path of the YAML or CSV file"))
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise StudyDataError(DataProblem(f"not valid YAML: {exc}", file=str(path), fix="check indentation and quoting")) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("trial"), dict):
            raise StudyDataError(DataProblem("the file needs a 'trial:' mapping", file=str(path),
                                             fix="see the example in README.md (Adding a study)"))  # fmt: skip
        rows: dict[str, list[dict[str, Any]]] = {"trials": [doc["trial"]]}
        for key in _LISTS:
            value = doc.get(key) or []
            if not isinstance(value, list):
                raise StudyDataError(DataProblem(f"'{key}' must be a list of rows", file=str(path), fix=f"write '{key}:' followed by '- ...' items"))
            rows[key] = value
        if doc.get("pedro"):
            rows["pedro"] = [doc["pedro"]]
        unknown = set(doc) - {"trial", "pedro", *_LISTS}
        if unknown:
            raise StudyDataError(DataProblem(f"unknown section(s) {sorted(unknown)}", file=str(path),
                                             fix=f"use trial, {', '.join(_LISTS)}, pedro"))  # fmt: skip
        return rows
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
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


def _merged_csv(original: Path, fields: list[str], key: list[str], new_rows: list[dict[str, Any]], label: str) -> str:
    """The file's text with the new rows inserted in key order; existing lines kept verbatim."""
    text = original.read_text(encoding="utf-8") if original.exists() else ",".join(fields) + "\n"
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    unknown = sorted({k for r in new_rows for k in r} - set(header))
    if unknown:
        raise StudyDataError(DataProblem(f"unknown column(s) {unknown} for {label}", file=label,
                                         fix=f"use the columns of {label}: {', '.join(header)}"))  # fmt: skip
    records = [(list(next(csv.reader([line]))), line) for line in lines[1:] if line.strip()]
    for row in new_rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_text(row.get(col)) for col in header])
        records.append((next(csv.reader([buf.getvalue()])), buf.getvalue()))
    idx = [header.index(k) for k in key if k in header] or [0]
    records.sort(key=lambda r: tuple(r[0][i] if i < len(r[0]) else "" for i in idx))
    if not lines[0].endswith("\n"):
        lines[0] += "\n"
    return lines[0] + "".join(line if line.endswith("\n") else line + "\n" for _, line in records)


def recover(studies: str | Path) -> bool:
    """Finish or undo an interrupted commit: restore the journaled originals. True if it did."""
    journal = Path(studies) / JOURNAL
    if not journal.exists():
        return False
    marker = journal / "COMPLETE"
    if marker.exists():  # replacements may have started: put every original back
        for name in json.loads(marker.read_text()):
            backup, target = journal / name, Path(studies) / name
            if backup.exists():
                os.replace(backup, target)
            elif target.exists():  # the file did not exist before
                target.unlink()
    shutil.rmtree(journal)
    return True


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends (main thread only), then deliver them."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError):  # pragma: no cover - platforms without sigmask
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _commit(studies: Path, new_texts: dict[str, str]) -> None:
    journal = studies / JOURNAL
    journal.mkdir()
    for name in new_texts:
        src = studies / name
        if src.exists():
            shutil.copy2(src, journal / name)
    (journal / "COMPLETE").write_text(json.dumps(sorted(new_texts)))  # the journal is usable from here on
    staged = {}
    for name, text in new_texts.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=studies)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        staged[name] = tmp
    try:
        with _no_interrupts():
            for name, tmp in staged.items():
                os.replace(tmp, studies / name)
    except BaseException:
        recover(studies)
        raise
    finally:
        for tmp in staged.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
    shutil.rmtree(journal)


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
    recover(studies)
    rows = read_study_file(file)
    descriptor = json.loads((studies / "datapackage.json").read_text())
    fields, keys = _fields(descriptor), _keys(descriptor)
    study_id = str(rows["trials"][0].get("study_id", "")).strip()
    if not study_id:
        raise StudyDataError(DataProblem("the trial has no study_id", file=str(file), column="study_id",
                                         fix="add study_id, e.g. surname + year: smith2021"))  # fmt: skip
    existing = pd.read_csv(studies / "trials.csv", dtype=str, keep_default_na=False)["study_id"]
    if study_id in set(existing):
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
        shutil.copytree(studies, scratch_dir, ignore=shutil.ignore_patterns(JOURNAL, ".*"))
        for name, text in new_texts.items():
            (scratch_dir / name).write_text(text, encoding="utf-8")
        report = validate_studies(scratch_dir)
        if not report.ok:
            raise StudyDataError(list(report.errors))
        changes = compare(before, load_studies(scratch_dir, validate=False)) if compare is not None else None
    if not dry_run:
        _commit(studies, new_texts)
    return changes
