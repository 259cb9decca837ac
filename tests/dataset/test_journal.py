"""`tpmeta add-study`: validates first, writes atomically, keeps CSVs sorted, reports the changes;
interruption at any moment or invalid input leaves the dataset exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import tpmeta
from tpmeta.cli import main
from tpmeta.dataset import journal as addstudy
from tpmeta.dataset import transaction
from tpmeta.review.build import add_study

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_studies"

NEW_TRIAL = """
trial:
  study_id: fixture2000
  authors: Fixture Z
  year: 2000
  title: Another synthetic trial
  journal: Test fixture
  doi: 10.0000/fixture.new
  population: patients
  region: neck_shoulder
  intervention_class: ischemic_compression
  comparator_class: sham
  design: parallel
  n_randomised: 44
  inclusion_status: included
  data_status: extracted
  identified_via: test
  source_url: https://example.org/new
  source_quote: 44 patients were randomised
outcomes:
  - {outcome: pain_intensity, instrument: VAS_0_10, unit: cm, timepoint: post-treatment, weeks: 4, arm: IC,
     arm_role: intervention, n: 22, mean: 2.1, sd: 1.0, value_type: final, direction: lower_better,
     source_url: "https://example.org/new", source_location: Table 2, source_quote: "IC: n = 22, 2.1 (1.0)"}
  - {outcome: pain_intensity, instrument: VAS_0_10, unit: cm, timepoint: post-treatment, weeks: 4, arm: sham,
     arm_role: control, n: 22, mean: 4.2, sd: 1.1, value_type: final, direction: lower_better,
     source_url: "https://example.org/new", source_location: Table 2, source_quote: "sham: n = 22, 4.2 (1.1)"}
registrations:
  - {registration: NCT00000002, source_url: "https://example.org/registry", source_quote: "NCT00000002"}
"""


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + f.read_bytes())
    return h.hexdigest()


@pytest.fixture()
def mini(tmp_path):
    target = tmp_path / "studies"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture()
def new_trial(tmp_path):
    path = tmp_path / "new.yaml"
    path.write_text(NEW_TRIAL)
    return path


def test_add_study_inserts_sorted_and_reports_changes(mini, new_trial):
    old_lines = (mini / "outcomes.csv").read_text().splitlines()
    changes = add_study(new_trial, mini)
    trials = (mini / "trials.csv").read_text().splitlines()
    assert trials[1].startswith("fixture2000,")  # sorted by study_id: before fixture2001
    new_lines = (mini / "outcomes.csv").read_text().splitlines()
    assert set(old_lines) <= set(new_lines) and len(new_lines) == len(old_lines) + 2  # existing lines verbatim
    assert "fixture2000,NCT00000002," in (mini / "registrations.csv").read_text()
    assert tpmeta.validate_studies(mini).ok
    row = changes.set_index("analysis_id").loc["pain_post"]
    assert row["k"] == "3 → 4"
    assert "→" in row["estimate [CI]"]
    assert not (mini / addstudy.JOURNAL).exists()


def test_dry_run_writes_nothing(mini, new_trial, capsys):
    before = _digest(mini)
    assert main(["add-study", str(new_trial), "--studies", str(mini), "--dry-run"]) == 0
    assert "pain_post" in capsys.readouterr().out
    assert _digest(mini) == before


@pytest.mark.parametrize(
    "mutation, fragment",
    [
        (lambda t: t.replace("mean: 2.1,", "mean: 2.3,"), "source_quote"),  # number not in its quote
        (lambda t: t.replace("study_id: fixture2000", "study_id: fixture2001"), "already in the dataset"),
        (lambda t: t.replace("arm_role: control", "arm_role: comparator"), "enum"),
        (lambda t: t.replace("trial:", "trials:"), "trial:"),
        (lambda t: t + "\n  - [unbalanced", "YAML"),
        (lambda t: t.replace("  region: neck_shoulder", "  region: neck_shoulder\n  colour: blue"), "unknown column"),
        (lambda t: t.replace('source_quote: "NCT00000002"', 'source_quote: "registered"'), "registry number"),
    ],
)
def test_invalid_input_changes_nothing(mini, tmp_path, mutation, fragment, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(mutation(NEW_TRIAL))
    before = _digest(mini)
    assert main(["add-study", str(path), "--studies", str(mini)]) == 1
    err = capsys.readouterr().err
    assert fragment.lower() in err.lower() and "Traceback" not in err
    assert _digest(mini) == before


def test_interrupt_during_write_restores_everything(mini, new_trial, monkeypatch):
    before = _digest(mini)
    real_replace = os.replace
    calls = {"n": 0}

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:  # after the first file was replaced
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", flaky)
    with pytest.raises(KeyboardInterrupt):
        add_study(new_trial, mini)
    monkeypatch.setattr(transaction.os, "replace", real_replace)
    assert _digest(mini) == before
    assert not list(mini.glob(".*"))  # no journal, no temporary files


def test_crash_midway_is_recovered_on_next_use(mini, new_trial, monkeypatch):
    """A kill between replacements (simulated: the journal is left behind) is undone by recover()."""
    before = _digest(mini)
    real_replace = os.replace
    calls = {"n": 0}

    class Killed(BaseException):
        pass

    def dies(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed
        return real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", dies)
    monkeypatch.setattr(transaction, "recover", lambda studies: False)  # a killed process runs no cleanup
    with pytest.raises(Killed):
        add_study(new_trial, mini)
    monkeypatch.undo()
    for leftover in mini.glob(".tpmeta-stage-*"):
        leftover.unlink()  # orphaned temp files are harmless; remove to compare
    assert (mini / addstudy.JOURNAL).exists() and _digest(mini) != before
    assert addstudy.recover(mini)
    assert _digest(mini) == before


def test_csv_input(mini, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text(
        "table,study_id,authors,year,title,intervention_class,comparator_class,inclusion_status,data_status,population\n"
        "trials,fixture1999,Fixture Y,1999,Registered only,massage,sham,awaiting,full_text_needed,patients\n"
    )
    with pytest.raises(tpmeta.StudyDataError, match="needs a reason"):
        add_study(path, mini)
    path.write_text(path.read_text().replace("patients\n", "patients\n").replace(
        "table,study_id", "table,exclusion_reason,study_id").replace("trials,fixture", "trials,full text needed,fixture"))
    changes = add_study(path, mini)
    assert changes.empty
    assert "fixture1999" in (mini / "trials.csv").read_text()


BOMB = """a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
trial: {study_id: bomb2020, title: *g}
"""


@pytest.mark.parametrize(
    ("text", "suffix", "fragments"),
    [
        (BOMB, ".yaml", ["aliases", "not accepted"]),  # an alias bomb is refused at once, not expanded
        (NEW_TRIAL.replace("  year: 2000", "  year: [2000, 2001]"), ".yaml", ["trial.year holds a list"]),
        (NEW_TRIAL + "contrasts:\n  - 1\n  - {outcome: x}\n", ".yaml", ["contrasts[0] is int 1"]),
        (NEW_TRIAL.replace("study_id: fixture2000", "study_id: " + "x" * 5000), ".yaml", ["5,000 characters"]),
        (NEW_TRIAL.replace("title: Another synthetic trial", 'title: "A\\0B"'), ".yaml", ["NUL character"]),
        ("table,study_id,outcome\noutcomes,x2020,pain_intensity\n", ".csv", ["0 rows with table=trials"]),
    ],
)
def test_hostile_study_files_are_refused_quickly_with_the_place(mini, tmp_path, capsys, text, suffix, fragments):
    import time

    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    before = _digest(mini)
    started = time.perf_counter()
    assert main(["add-study", str(path), "--studies", str(mini)]) == 1
    assert time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert all(f in err for f in fragments) and "Traceback" not in err, err
    assert _digest(mini) == before


@pytest.mark.parametrize("studies", [".", "does-not-exist"])
def test_add_study_with_a_wrong_studies_folder(tmp_path, new_trial, capsys, monkeypatch, studies):
    monkeypatch.chdir(tmp_path)
    assert main(["add-study", str(new_trial), "--studies", studies]) == 1
    err = capsys.readouterr().err
    assert ("no datapackage.json" in err or "no such folder" in err) and "Traceback" not in err


def test_add_study_says_what_it_wrote_and_suggests_the_closest_value(mini, tmp_path, capsys):
    typo = tmp_path / "typo.yaml"
    typo.write_text(NEW_TRIAL.replace("intervention_class: ischemic_compression", "intervention_class: ischemic_compresion"))
    assert main(["add-study", str(typo), "--studies", str(mini)]) == 1
    assert "did you mean 'ischemic_compression'?" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(NEW_TRIAL)
    assert main(["add-study", str(good), "--studies", str(mini), "--dry-run"]) == 0
    assert "would write (dry run, nothing written) trials.csv +1 row, outcomes.csv +2 rows" in capsys.readouterr().out
    assert main(["add-study", str(good), "--studies", str(mini)]) == 0
    assert "wrote trials.csv +1 row, outcomes.csv +2 rows, registrations.csv +1 row" in capsys.readouterr().out


def test_a_decimal_comma_gets_its_own_message(mini, tmp_path, capsys):
    path = tmp_path / "comma.yaml"
    path.write_text(NEW_TRIAL.replace("n: 22, mean: 2.1,", 'n: 22, mean: "2,1",'))
    assert main(["add-study", str(path), "--studies", str(mini)]) == 1
    assert "decimal comma: write 2.1" in capsys.readouterr().err
