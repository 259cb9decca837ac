"""Studies, not reports: reports.csv links each publication to one study; identifiers.csv gives each DOI/PMID
the page that prints it; searches.csv logs the searches (PRISMA-S). Broken copies of a small fixture fail
with messages naming file, row, column and fix; one study never enters an analysis twice."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import tpmeta
from tpmeta.dataset.provenance import identifier_in_text, study_groups
from tpmeta.errors import StudyDataError
from tpmeta.review.analyses import analysis_specs, run_analysis

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "mini_studies"
NEW = ("reports", "identifiers", "searches")

REPORT = {"report_id": "fixture2001b", "study_id": "fixture2001", "role": "secondary", "doi": "10.0000/fixture.9",
          "pmid": "", "year": "2002", "citation": "Fixture A0. A secondary report. Test fixture 2002",
          "results": "pain at 6 weeks (not extracted)", "source_url": "https://example.org/r",
          "source_quote": "the same 40 patients", "link_evidence": "same sample and arms"}  # fmt: skip
MAIN = {**REPORT, "report_id": "fixture2001", "role": "main", "doi": "10.0000/fixture.0", "year": "2001",
        "link_evidence": "main report"}  # fmt: skip
IDS = [{"study_id": "fixture2001", "report_id": "", "kind": "doi", "value": "10.0000/fixture.0",
        "source_url": "https://example.org/a", "source_quote": "Test fixture. doi: 10.0000/fixture.0", "note": ""},
       {"study_id": "fixture2001", "report_id": "fixture2001b", "kind": "doi", "value": "10.0000/fixture.9",
        "source_url": "https://example.org/r", "source_quote": "DOI 10.0000/fixture.9", "note": ""}]  # fmt: skip
SEARCHES = [{"search_id": "R-old", "date": "2026-11", "source": "reference lists", "query": "Lu 2022 Table 1",
             "hits": "not logged", "new_trials": "not logged", "notes": ""},
            {"search_id": "S1", "date": "2026-12-06", "source": "stored pages", "query": "fixture trial",
             "hits": "8", "new_trials": "0", "notes": ""}]  # fmt: skip


def _write(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _fields(name: str) -> list[str]:
    descriptor = json.loads((ROOT / "studies" / "datapackage.json").read_text())
    return [f["name"] for r in descriptor["resources"] if r["name"] == name for f in r["schema"]["fields"]]


@pytest.fixture()
def mini(tmp_path):
    """The mini fixture with the three resources declared as in the shipped package, and one secondary report."""
    target = tmp_path / "studies"
    shutil.copytree(MINI, target)
    shipped = json.loads((ROOT / "studies" / "datapackage.json").read_text())
    descriptor = json.loads((target / "datapackage.json").read_text())
    descriptor["resources"] += [r for r in shipped["resources"] if r["name"] in NEW]
    (target / "datapackage.json").write_text(json.dumps(descriptor, indent=1))
    tables = {"reports": [MAIN, REPORT], "identifiers": IDS, "searches": SEARCHES}
    for name in NEW:
        _write(target / f"{name}.csv", tables[name], _fields(name))
    return target


def _rewrite(folder: Path, name: str, change) -> None:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    _write(folder / f"{name}.csv", change(rows), _fields(name))


def test_the_fixture_with_reports_validates_and_counts_missing_provenance_once(mini):
    report = tpmeta.validate_studies(mini)
    assert report.ok, report.summary()
    missing = [p for p in report.warnings if p.file.endswith("identifiers.csv")]
    assert len(missing) == 1 and "2 of 4 DOIs/PMIDs" in missing[0].message, report.summary()
    data = tpmeta.load_studies(mini)
    assert list(data.reports["report_id"]) == ["fixture2001", "fixture2001b"]
    assert data.searches["hits"].tolist() == ["not logged", "8"]


DEFECTS = {
    "report of an unknown study": (lambda rows: [{**rows[1], "study_id": "nobody1999"}, rows[0]], "reports.csv", None, "trials"),
    "DOI on two reports": (lambda rows: rows + [{**rows[1], "report_id": "fixture2001c"}], "reports.csv", "doi", "two reports"),
    "PMID on two reports": (lambda rows: [rows[0], {**rows[1], "pmid": "99"}, {**rows[1], "report_id": "fixture2001c", "doi": "", "pmid": "99"}],
                            "reports.csv", "pmid", "two reports"),
    "report still a trial of its own": (lambda rows: rows + [{**rows[1], "report_id": "fixture2002", "doi": ""}], "reports.csv", "report_id", "still a trial"),
    "secondary report with another trial's DOI": (lambda rows: [rows[0], {**rows[1], "doi": "10.0000/fixture.2"}], "reports.csv", "doi", "fixture2003"),
    "secondary report with its own study's DOI": (lambda rows: [rows[0], {**rows[1], "doi": "10.0000/fixture.0"}], "reports.csv", "doi", "main"),
    "main report with other identifiers": (lambda rows: [{**rows[0], "doi": "10.0000/other"}, rows[1]], "reports.csv", "doi", "trials.csv gives"),
    "two main reports": (lambda rows: [rows[0], {**rows[1], "role": "main", "doi": ""}], "reports.csv", "role", "two main"),
}
ID_DEFECTS = {
    "identifier not in its quote": (lambda rows: [{**rows[0], "source_quote": "doi: 10.0000/fixture.01"}, rows[1]], "value", "not printed"),
    "PMID printed only as part of a longer number": (
        lambda rows: rows + [{**rows[0], "study_id": "fixture2002", "kind": "pmid", "value": "123", "source_quote": "PMID: 1234"}],
        "value", "not printed"),
    "identifier the dataset does not hold": (lambda rows: rows + [{**rows[0], "study_id": "fixture2002", "source_quote": "doi: 10.0000/fixture.0"}],
                                             "value", "does not hold"),
    "identifier of an unknown report": (lambda rows: [rows[0], {**rows[1], "report_id": "fixture2001z"}], "report_id", "no report"),
}
SEARCH_DEFECTS = {
    "new trials not named in identified_via": (lambda rows: [rows[0], {**rows[1], "new_trials": "1"}], "new_trials", "identified_via"),
    "more new trials than hits": (lambda rows: [rows[0], {**rows[1], "hits": "0", "new_trials": "1"}], "new_trials", "more new trials"),
    "hits neither a number nor 'not logged'": (lambda rows: [rows[0], {**rows[1], "hits": "many"}], "hits", "pattern"),
}


def _assert_error(report, file: str, column: str | None, fragment: str) -> None:
    assert not report.ok
    hits = [p for p in report.errors if p.file and p.file.endswith(file) and (column is None or p.column == column)]
    assert hits and any(fragment.lower() in str(p).lower() for p in hits), report.summary()
    assert all(p.fix for p in hits)


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_broken_reports_are_refused(mini, name):
    change, file, column, fragment = DEFECTS[name]
    _rewrite(mini, "reports", change)
    _assert_error(tpmeta.validate_studies(mini), file, column, fragment)


@pytest.mark.parametrize("name", sorted(ID_DEFECTS))
def test_broken_identifier_provenance_is_refused(mini, name):
    change, column, fragment = ID_DEFECTS[name]
    _rewrite(mini, "identifiers", change)
    _assert_error(tpmeta.validate_studies(mini), "identifiers.csv", column, fragment)


@pytest.mark.parametrize("name", sorted(SEARCH_DEFECTS))
def test_broken_search_log_is_refused(mini, name):
    change, column, fragment = SEARCH_DEFECTS[name]
    _rewrite(mini, "searches", change)
    _assert_error(tpmeta.validate_studies(mini), "searches.csv", column, fragment)


def test_a_logged_search_that_added_a_trial_is_named_by_it(mini):
    _rewrite(mini, "searches", lambda rows: [rows[0], {**rows[1], "new_trials": "1"}])
    trials = mini / "trials.csv"
    text = trials.read_text(encoding="utf-8").replace("test fixture,https://example.org", "search S1,https://example.org", 1)
    trials.write_text(text, encoding="utf-8")
    report = tpmeta.validate_studies(mini)
    assert report.ok, report.summary()


def test_identifiers_are_matched_as_printed():
    assert identifier_in_text("doi", "10.1093/PM/PNZ222", "Pain Med. 2020;21(2):e172-e181. doi: 10.1093/pm/pnz222.")
    assert identifier_in_text("pmid", "36214230", "MEDLINE | ID: mdl-36214230")
    assert not identifier_in_text("pmid", "3621423", "MEDLINE | ID: mdl-36214230")
    assert not identifier_in_text("doi", "10.1/x", None)


# ---- one study enters an analysis once --------------------------------------------------------


def _secondary_of_2001(report_id: str, **extra) -> pd.DataFrame:
    row = {**REPORT, "report_id": report_id, "doi": pd.NA, "pmid": pd.NA, "year": 2002, **extra}
    return pd.DataFrame([row]).astype({"pmid": "Int64", "year": "Int64"})


@pytest.mark.parametrize("link", ["report_id", "doi", "registration"])
def test_the_same_study_never_enters_an_analysis_twice(link):
    data = tpmeta.load_studies(MINI)
    spec = analysis_specs(data)[0]
    assert set(run_analysis(data, spec).studies["study_id"]) >= {"fixture2001", "fixture2002"}
    if link == "report_id":  # fixture2002 is listed as a report of fixture2001 but still a trial row
        broken = dataclasses.replace(data, reports=_secondary_of_2001("fixture2002"))
    elif link == "doi":
        broken = dataclasses.replace(data, reports=_secondary_of_2001("other2002", doi="10.0000/fixture.1"))
    else:  # two trials with one registry number are reports of one registered study
        regs = pd.concat([data.registrations, data.registrations.assign(study_id="fixture2002")], ignore_index=True)
        broken = dataclasses.replace(data, registrations=regs)
    assert study_groups(broken.trials, broken.reports, broken.registrations)["fixture2002"] == "fixture2001"
    with pytest.raises(StudyDataError) as err:
        run_analysis(broken, spec)
    text = str(err.value)
    assert spec.analysis_id in text and "fixture2002" in text and "fixture2001" in text and "twice" in text


# ---- the shipped data ---------------------------------------------------------------------------


def test_shipped_reports_identifiers_and_searches():
    data = tpmeta.load_studies(ROOT / "studies")
    trials = set(data.trials["study_id"])
    assert set(data.reports["study_id"]) <= trials
    merged = data.reports.loc[data.reports["role"] == "secondary", "report_id"]
    assert not set(merged) & trials  # a publication moved to reports.csv is no longer a trial row
    assert {"benitodepedro2019", "sanchezromero2018"} <= set(merged)
    groups = study_groups(data.trials, data.reports, data.registrations)
    assert all(groups[s] == s for s in trials)  # no two trial rows are one study
    md = data.contrasts[(data.contrasts["study_id"] == "yanuck2020") & (data.contrasts["measure"] == "MD")]
    assert md.empty  # a median difference is never stored as a mean difference
    for _, r in data.identifiers.iterrows():
        assert identifier_in_text(r["kind"], r["value"], r["source_quote"]), r["value"]
    logged = pd.to_numeric(data.searches["hits"], errors="coerce")
    assert logged.notna().sum() > 0 and (data.searches.loc[logged.isna(), "hits"] == "not logged").all()
