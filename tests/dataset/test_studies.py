"""`tpmeta validate`: the shipped data pass; broken copies fail with messages naming file, row,
column, value and fix (25 kinds of defect); validation never changes the data."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

import tpmeta
from tpmeta.cli import main

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "mini_studies"


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def edit(table: str, row: int, **changes):
    def apply(d: Path) -> None:
        fields, rows = _rows(d / f"{table}.csv")
        rows[row].update(changes)
        _write(d / f"{table}.csv", fields, rows)

    return apply


def duplicate(table: str, row: int):
    def apply(d: Path) -> None:
        fields, rows = _rows(d / f"{table}.csv")
        rows.append(dict(rows[row]))
        _write(d / f"{table}.csv", fields, rows)

    return apply


def drop_column(table: str, column: str):
    def apply(d: Path) -> None:
        fields, rows = _rows(d / f"{table}.csv")
        fields.remove(column)
        _write(d / f"{table}.csv", fields, [{k: v for k, v in r.items() if k != column} for r in rows])

    return apply


def add_column(table: str, column: str):
    def apply(d: Path) -> None:
        fields, rows = _rows(d / f"{table}.csv")
        _write(d / f"{table}.csv", fields + [column], [{**r, column: "x"} for r in rows])

    return apply


def add_pedro(total: str):
    def apply(d: Path) -> None:
        fields, _ = _rows(d / "pedro.csv")
        row = {f"item{i}": "Y" for i in range(1, 12)}
        row.update(study_id="fixture2001", total_reported=total, source_url="https://example.org/p",
                   source_location="PEDro record", source_quote=f"{total}/10")
        _write(d / "pedro.csv", fields, [row])

    return apply


def add_trial(d: Path) -> None:
    fields, rows = _rows(d / "trials.csv")
    rows.append({**rows[0], "study_id": "fixture2009"})
    _write(d / "trials.csv", fields, rows)


def _add_registration(d: Path, study_id: str, number: str) -> None:
    fields, rows = _rows(d / "registrations.csv")
    rows.append({**rows[0], "study_id": study_id, "registration": number, "source_quote": number})
    _write(d / "registrations.csv", fields, rows)


DEFECTS = {
    "missing required value": (edit("trials", 0, intervention_class=""), "trials.csv", "intervention_class", "required"),
    "value not allowed": (edit("outcomes", 0, outcome="pain"), "outcomes.csv", "outcome", "enum"),
    "wrong type": (edit("trials", 0, year="20x1"), "trials.csv", "year", "type"),
    "duplicate arm": (duplicate("outcomes", 0), "outcomes.csv", None, "unique"),
    "unknown trial (foreign key)": (edit("outcomes", 0, study_id="nobody1999"), "outcomes.csv", None, "trials"),
    "negative SD": (edit("outcomes", 0, sd="-1.2"), "outcomes.csv", "sd", "minimum"),
    "zero SD": (edit("outcomes", 0, sd="0"), "outcomes.csv", "sd", "SD must be positive"),
    "events above n": (edit("outcomes", 0, events="25"), "outcomes.csv", "events", "more events"),
    "CI not containing the mean": (edit("outcomes", 0, ci_low="4.0", ci_high="5.0"), "outcomes.csv", "mean", "CI does not contain"),
    "lower CI above upper": (edit("outcomes", 1, ci_low="5.0", ci_high="4.5"), "outcomes.csv", "ci_low", "above the upper"),
    "number not in its quote": (edit("outcomes", 0, mean="3.2"), "outcomes.csv", "mean", "source_quote"),
    "n randomised not in its quote": (edit("trials", 0, n_randomised="41"), "trials.csv", "n_randomised", "source_quote"),
    "PEDro total mismatch": (add_pedro("7"), "pedro.csv", "total_reported", "PEDro total"),
    "RoB 2 skip logic": (edit("rob2", 0, d2_4="Y"), "rob2.csv", "d2_4", "2.4"),
    "RoB 2 answer not allowed": (edit("rob2", 0, d1_1="Yes"), "rob2.csv", "d1_1", "enum"),
    "two units for one instrument": (edit("outcomes", 2, unit="mm"), "outcomes.csv", "unit", "several units"),
    "excluded without reason": (edit("trials", 0, inclusion_status="excluded"), "trials.csv", "exclusion_reason", "reason"),
    "extracted without results": (lambda d: add_trial(d), "trials.csv", "data_status", "no rows"),
    "results but not marked extracted": (edit("trials", 1, data_status="full_text_needed"), "trials.csv", "data_status", "not marked extracted"),
    "missing file": (lambda d: (d / "rob2.csv").unlink(), "rob2.csv", None, "missing"),
    "undeclared column": (add_column("trials", "notes"), "trials.csv", None, "notes"),
    "missing column": (drop_column("outcomes", "source_quote"), "outcomes.csv", None, "source_quote"),
    "malformed DOI": (edit("trials", 0, doi="doi:10.1/x"), "trials.csv", "doi", "pattern"),
    "quantiles out of order": (edit("outcomes", 0, median="3", q1="4", q3="2"), "outcomes.csv", None, "quantiles out of order"),
    "registry number not in its quote": (edit("registrations", 0, registration="NCT00000009"), "registrations.csv", "registration", "registry number"),
    "malformed registry number": (edit("registrations", 0, registration="NCT-1"), "registrations.csv", "registration", "pattern"),
    "one registration on two trials": (lambda d: _add_registration(d, "fixture2002", "NCT00000001"), "registrations.csv", "registration", "several trials"),
    "one DOI on two trials": (edit("trials", 1, doi="10.0000/fixture.0"), "trials.csv", "doi", "same doi"),
    "source is not a URL": (edit("outcomes", 0, source_url="Table 2"), "outcomes.csv", "source_url", "pattern"),
}


@pytest.fixture()
def mini(tmp_path):
    target = tmp_path / "studies"
    shutil.copytree(MINI, target)
    return target


def test_fixture_and_shipped_data_validate():
    assert tpmeta.validate_studies(MINI).ok
    report = tpmeta.validate_studies(ROOT / "studies")
    assert report.ok, report.summary()


def test_at_least_twenty_kinds_of_defect():
    assert len(DEFECTS) >= 20


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_broken_copy_fails_with_a_clear_message(mini, name):
    apply, file, column, fragment = DEFECTS[name]
    apply(mini)
    report = tpmeta.validate_studies(mini)
    assert not report.ok
    hits = [p for p in report.errors if p.file and p.file.endswith(file)]
    assert hits, report.summary()
    if column:
        hits = [p for p in hits if p.column == column]
        assert hits, report.summary()
    if fragment:
        assert any(fragment.lower() in str(p).lower() for p in hits), report.summary()
    assert all(p.fix for p in report.errors)


def test_repeated_title_is_a_warning_not_an_error(mini):
    edit("trials", 1, title="Synthetic test trial 0")(mini)
    report = tpmeta.validate_studies(mini)
    assert report.ok
    assert any(p.column == "title" and "same title" in str(p) for p in report.warnings)


def test_shared_registration_is_a_warning_when_only_one_report_is_included(mini):
    _add_registration(mini, "fixture2002", "NCT00000001")
    edit("trials", 1, inclusion_status="awaiting", exclusion_reason="report of fixture2001")(mini)
    report = tpmeta.validate_studies(mini)
    assert report.ok, report.summary()
    assert any(p.column == "registration" and "several trials" in str(p) for p in report.warnings)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_validate_cli_exit_status_and_never_writes(mini, capsys):
    before = _digest(mini)
    assert main(["validate", str(mini)]) == 0
    edit("outcomes", 0, sd="0")(mini)
    broken = _digest(mini)
    assert main(["validate", str(mini)]) == 1
    out = capsys.readouterr().out
    assert "outcomes.csv, row 2, column 'sd'" in out and "Fix:" in out
    assert _digest(mini) == broken != before


def test_validate_cli_groups_warnings_by_kind(mini, capsys):
    edit("outcomes", 0, n="")(mini)
    edit("outcomes", 1, n="")(mini)
    assert main(["validate", str(mini)]) == 0
    grouped = capsys.readouterr().out
    assert "2 x " in grouped and "column 'n'" in grouped and "(rows 2, 3)" in grouped
    assert main(["validate", str(mini), "--all-warnings"]) == 0
    each = capsys.readouterr().out
    assert "row 2, column 'n'" in each and "row 3, column 'n'" in each


def test_numbers_in_words_and_digits():
    from tpmeta.dataset.studies import numbers_in_text

    assert {94.0, 47.0} <= numbers_in_text("Ninety-four patients ... (n=47)")
    assert 180.0 in numbers_in_text("One hundred and eighty subjects")
    assert 0.62 in numbers_in_text("SMD .62")
    assert 0.22 in numbers_in_text("SMD = − 0.22")


def test_header_with_stray_spaces_or_missing_column_is_reported_not_a_traceback(tmp_path, capsys):
    import pandas as pd

    bad = tmp_path / "studies"
    shutil.copytree(ROOT / "studies", bad)
    text = (bad / "outcomes.csv").read_text()
    (bad / "outcomes.csv").write_text(text.replace("study_id,", "study_id ,", 1))
    trials = pd.read_csv(bad / "trials.csv", dtype=str, keep_default_na=False)
    trials.drop(columns=["inclusion_status"]).to_csv(bad / "trials.csv", index=False)
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr()
    out = err.out + err.err
    assert "'study_id ' has spaces around the name" in out and "cross-checks not run" in out
    assert "Traceback" not in out


def test_nul_bytes_are_an_error(tmp_path):
    bad = tmp_path / "studies"
    shutil.copytree(ROOT / "studies", bad)
    data = (bad / "outcomes.csv").read_bytes()
    (bad / "outcomes.csv").write_bytes(data.replace(b"Table 2", b"Table\x002", 1))
    report = tpmeta.validate_studies(bad)
    assert not report.ok and any("NUL" in p.message for p in report.errors)


def test_sources_read_as_written_and_like_with_like():
    """Kocak 2019 (issue #16): trigger-point injection vs an intravenous NSAID is an active comparison, and
    its abstract's 'decreased by 0.41 (TPI) … by 2.59 (NSAID)' is entered literally (changes −0.41, −2.59),
    not in the reading that would favour the injection."""
    data = tpmeta.load_studies(ROOT / "studies")
    trial = data.trials.set_index("study_id").loc["kocak2019"]
    assert trial["comparator_class"] == "active"
    pain = data.outcomes[(data.outcomes["study_id"] == "kocak2019") & (data.outcomes["outcome"] == "pain_intensity")]
    means = dict(zip(pain["arm_role"], pain["mean"]))
    assert means == {"intervention": -0.41, "control": -2.59} and set(pain["direction"]) == {"lower_better"}
