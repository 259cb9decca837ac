"""The dataset survives kills at every step of a write, two writers at once, CRLF files and line breaks
inside fields; written files keep their permissions and interrupted writes leave nothing behind.

Kills are real: a forked child process runs the write and calls ``os._exit`` at the n-th step of the
protocol (``transaction._step``), so no ``finally`` block or cleanup runs, as with SIGKILL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
import warnings
from pathlib import Path

import pytest

from tpmeta.dataset import transaction
from tpmeta.dataset.journal import commit_study
from tpmeta.dataset.studies import load_studies, validate_studies
from tpmeta.errors import DataWarning
from tpmeta.review.report import data_hash

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_studies"
TRIAL = Path(__file__).with_name("test_journal.py")


def _digest(folder: Path) -> str:
    """Every file, hidden ones included (a leftover journal or temporary file changes it)."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _yaml(study_id: str, title: str = "Another synthetic trial") -> str:
    from test_journal import NEW_TRIAL

    return (NEW_TRIAL.replace("fixture2000", study_id).replace("10.0000/fixture.new", f"10.0000/{study_id}")
            .replace("NCT00000002", "NCT" + str(int(hashlib.sha256(study_id.encode()).hexdigest(), 16) % 10**8).zfill(8))
            .replace("title: Another synthetic trial", f"title: {json.dumps(title)}"))  # fmt: skip


@pytest.fixture()
def mini(tmp_path):
    target = tmp_path / "studies"
    shutil.copytree(MINI, target)
    return target


def _run_killed(fn, kill_at: int) -> int:
    """Run ``fn`` in a forked child that dies (os._exit) at the ``kill_at``-th protocol step; the exit
    status is 137 if it was killed, 0 if it finished first."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        count = {"n": 0}

        def step(name: str) -> None:
            count["n"] += 1
            if count["n"] == kill_at:
                os._exit(137)

        transaction._step = step
        try:
            fn()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _steps_of(fn) -> list[str]:
    names: list[str] = []
    original = transaction._step
    transaction._step = names.append
    try:
        fn()
    finally:
        transaction._step = original
    return names


@pytest.mark.slow
def test_a_kill_at_every_step_leaves_the_dataset_before_or_after(mini, tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(_yaml("killme2001"))
    before = _digest(mini)
    reference = tmp_path / "reference"
    shutil.copytree(mini, reference)
    steps = _steps_of(lambda: commit_study(new, reference))
    after = _digest(reference)
    assert len(steps) >= 8 and steps[0] == "start" and steps[-1] == "finished"
    for n in range(1, len(steps) + 1):
        assert _run_killed(lambda: commit_study(new, mini), n) == 137, steps[n - 1]
        state = _digest(mini)
        with warnings.catch_warnings(record=True) as caught:  # reading rolls an interrupted write back
            warnings.simplefilter("always")
            assert validate_studies(mini).ok
        assert all(issubclass(w.category, DataWarning) for w in caught)
        assert _digest(mini) in (before, after), f"killed at step {n} ({steps[n - 1]}): {state}"
        if _digest(mini) == after:  # undo for the next round
            shutil.rmtree(mini)
            shutil.copytree(MINI, mini)


def test_a_kill_during_recovery_is_recovered_again(mini, tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(_yaml("killme2002"))
    before = _digest(mini)
    # kill after the first file was replaced: a journal is left
    steps = _steps_of(lambda: commit_study(new, shutil.copytree(mini, tmp_path / "probe")))
    assert _run_killed(lambda: commit_study(new, mini), steps.index("replaced") + 1) == 137
    assert (mini / transaction.JOURNAL).is_dir()
    for n in (1, 2, 3):  # kill the recovery itself at its first steps, then let it finish
        _run_killed(lambda: transaction.recover(mini), n)
    with pytest.warns(DataWarning, match="rolled back"):
        load_studies(mini)
    assert _digest(mini) == before


def test_damaged_or_empty_markers_of_older_journals(mini):
    before = _digest(mini)
    journal = mini / transaction.JOURNAL
    journal.mkdir()
    (journal / "COMPLETE").write_text("")  # tpmeta 0.1.0 killed while writing its marker
    assert transaction.recover(mini) and _digest(mini) == before
    journal.mkdir()
    (journal / "manifest.json").write_text("{not json")
    with pytest.raises(Exception, match="damaged"):
        transaction.recover(mini)


@pytest.mark.slow
def test_two_writers_at_once_never_lose_a_trial(mini, tmp_path):
    files = []
    for i in range(40):
        path = tmp_path / f"t{i}.yaml"
        path.write_text(_yaml(f"race{2000 + i}"))
        files.append(path)
    for round_ in range(20):
        a, b = files[2 * round_], files[2 * round_ + 1]
        pids = []
        for path in (a, b):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                try:
                    commit_study(path, mini)
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    path.with_suffix(".error").write_text(repr(exc))
                    os._exit(1)
                os._exit(0)
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        errors = [p.with_suffix(".error").read_text() for p in (a, b) if p.with_suffix(".error").exists()]
        assert codes == [0, 0], (round_, errors)
    ids = set(load_studies(mini).trials["study_id"])
    assert {f"race{2000 + i}" for i in range(40)} <= ids
    assert not [p for p in mini.iterdir() if p.name.startswith(".")]


def test_a_writer_waits_for_the_lock_then_gives_up_with_a_message(mini, tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(_yaml("waits2003"))
    with transaction.dataset_lock(mini):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            transaction.LOCK_TIMEOUT = 0.3
            try:
                with transaction.dataset_lock(mini, timeout=0.3):
                    os._exit(0)
            except Exception as exc:  # noqa: BLE001
                os._exit(3 if "another tpmeta process" in str(exc) else 1)
        time.sleep(0.1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 3


def test_crlf_files_stay_crlf_and_rows_stay_byte_for_byte(mini, tmp_path):
    for name in ("trials.csv", "outcomes.csv", "registrations.csv"):
        path = mini / name
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    old = (mini / "trials.csv").read_bytes().split(b"\r\n")
    new = tmp_path / "new.yaml"
    new.write_text(_yaml("crlf2004"))
    commit_study(new, mini)
    text = (mini / "trials.csv").read_bytes()
    assert b"\r\n" in text and b"\n" not in text.replace(b"\r\n", b"")
    assert set(old) <= set(text.split(b"\r\n"))
    assert validate_studies(mini).ok


def test_line_breaks_inside_fields_do_not_break_later_writes(mini, tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text(_yaml("newline2005", title="A title\nover two lines"))
    commit_study(first, mini)
    second = tmp_path / "second.yaml"
    second.write_text(_yaml("newline2006"))
    commit_study(second, mini)
    trials = load_studies(mini).trials.set_index("study_id")
    assert trials.loc["newline2005", "title"] == "A title\nover two lines"
    assert "newline2006" in trials.index and validate_studies(mini).ok


def test_written_files_keep_their_permissions_and_nothing_is_left(mini, tmp_path):
    for name in ("trials.csv", "outcomes.csv"):
        os.chmod(mini / name, 0o644)
    (mini / "registrations.csv").chmod(0o664)
    new = tmp_path / "new.yaml"
    new.write_text(_yaml("modes2007"))
    commit_study(new, mini)
    assert stat.S_IMODE((mini / "trials.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((mini / "registrations.csv").stat().st_mode) == 0o664
    assert not [p for p in mini.iterdir() if p.name.startswith(".")]


def test_leftover_temporary_files_are_removed_and_do_not_change_the_data_hash(mini):
    clean = data_hash(mini)
    (mini / ".trials.csv.x1y2z3").write_text("half a file")  # tpmeta 0.1.0's temporary name
    (mini / ".tpmeta-stage-outcomes.csv-abc").write_text("half a file")
    assert data_hash(mini) == clean
    validate_studies(mini)  # any read cleans up (no journal: nothing to roll back, no warning)
    assert not [p for p in mini.iterdir() if p.name.startswith(".")]
