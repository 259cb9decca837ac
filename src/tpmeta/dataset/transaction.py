"""Writes to the dataset that are all-or-nothing, even across a crash, a kill or two writers at once.

Protocol (:func:`replace_files`), every step safe to interrupt:

1. The caller holds the dataset lock (:func:`dataset_lock`, exclusive) for the whole read–validate–write,
   so two writers run one after the other and the second one sees the first one's rows.
2. The files about to change are copied into a *pending* folder with ``manifest.json``, which records
   for each file whether it existed before; the folder is fsynced and renamed to ``.add-study-journal``
   in one atomic step. A pending folder left by a kill is simply deleted: nothing was replaced yet.
3. The new files are written as hidden temporary files in the dataset folder (with the permissions of
   the files they replace), fsynced, and moved over the originals with ``os.replace`` (atomic on POSIX),
   with Ctrl-C and SIGTERM held off meanwhile.
4. The journal is renamed to a *done* folder (atomically) and then deleted.

:func:`recover` (run under the lock by every write and every read of the dataset) puts the journaled
originals back when a journal is present (between steps 2 and 4: the dataset is then exactly as before),
deletes pending and done folders and temporary files, and is itself safe to interrupt and rerun.

The lock is ``fcntl.flock`` on the dataset folder itself (POSIX only): the kernel releases it when the
process dies, and no lock file is left in ``studies/``. (The ``filelock`` package needs a lock file,
which would change the dataset folder and its hash.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import DataProblem, DataWarning, StudyDataError

__all__ = ["JOURNAL", "dataset_lock", "replace_files", "recover", "recover_if_needed", "is_leftover"]

JOURNAL = ".add-study-journal"
_PENDING = ".add-study-journal.pending-"
_DONE = ".add-study-journal.done-"
_STAGE = ".tpmeta-stage-"
_MANIFEST = "manifest.json"
#: Seconds a writer waits for another writer before giving up with a message.
LOCK_TIMEOUT = 120.0


def _step(name: str) -> None:
    """A named point of the write protocol. Does nothing; the crash-injection tests replace it to kill
    the process at every step in turn."""


def is_leftover(name: str) -> bool:
    """Whether a file name in the dataset folder belongs to an interrupted write (journal, temporary)."""
    return name.startswith((JOURNAL, _STAGE)) or (name.startswith(".") and ".csv." in name)


@contextmanager
def dataset_lock(studies: str | Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the dataset's exclusive lock (writers, and readers that roll back an interrupted write).

    Waits up to ``timeout`` seconds for another process, then raises :class:`StudyDataError`.
    """
    import fcntl

    folder = Path(studies)
    if not folder.is_dir():
        raise StudyDataError(DataProblem("no such folder", file=str(folder), fix="give the folder that holds datapackage.json"))
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StudyDataError(DataProblem(
                        f"another tpmeta process has been writing to the dataset for over {timeout:.0f} s",
                        file=str(folder), fix="wait for it to finish (the lock is released when it exits), then retry",
                    )) from None  # fmt: skip
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_staged(folder: Path, name: str, data: bytes, mode: int) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f"{_STAGE}{name}-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends (main thread only), then deliver them."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError):  # pragma: no cover - platforms without sigmask, other threads
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def replace_files(studies: str | Path, new_texts: dict[str, str]) -> None:
    """Replace (or create) the named files of ``studies`` with ``new_texts``, all or nothing.

    The caller holds :func:`dataset_lock`. Texts are written byte for byte (line endings as given).
    """
    folder = Path(studies)
    recover(folder)
    _step("start")
    pending = Path(tempfile.mkdtemp(prefix=_PENDING, dir=folder))
    manifest = {}
    for name in sorted(new_texts):
        existed = (folder / name).exists()
        manifest[name] = existed
        if existed:
            shutil.copy2(folder / name, pending / name)
            _step("backup")
    with open(pending / _MANIFEST, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(pending)
    _step("manifest")
    os.rename(pending, folder / JOURNAL)  # from here on the journal is complete and recovery undoes
    _fsync_dir(folder)
    _step("journal")
    staged: dict[str, str] = {}
    try:
        for name in sorted(new_texts):
            target = folder / name
            mode = (target.stat().st_mode & 0o7777) if target.exists() else _default_mode()
            staged[name] = _write_staged(folder, name, new_texts[name].encode("utf-8"), mode)
            _step("staged")
        with _no_interrupts():
            for name in sorted(staged):
                os.replace(staged[name], folder / name)
                _step("replaced")
        _fsync_dir(folder)
    except BaseException:
        recover(folder)
        raise
    done = folder / f"{_DONE}{os.getpid()}-{time.monotonic_ns()}"
    os.rename(folder / JOURNAL, done)  # the new dataset is final from here on
    _step("done")
    shutil.rmtree(done)
    _step("finished")


def recover(studies: str | Path) -> bool:
    """Undo an interrupted write (restore the journaled originals) and delete its leftovers.

    The caller holds :func:`dataset_lock` (exclusive). Returns True if a journal was rolled back.
    """
    folder = Path(studies)
    journal = folder / JOURNAL
    rolled_back = False
    if journal.is_dir():
        manifest = _read_manifest(journal)
        for name, existed in sorted(manifest.items()):
            target = folder / name
            if existed:  # copy, not move: rerunning after a kill here finds the backup again
                mode = (journal / name).stat().st_mode & 0o7777
                tmp = _write_staged(folder, name, (journal / name).read_bytes(), mode)
                os.replace(tmp, target)
            elif target.exists():
                target.unlink()
            _step("restored")
        _fsync_dir(folder)
        done = folder / f"{_DONE}{os.getpid()}-{time.monotonic_ns()}"
        os.rename(journal, done)
        _step("recovered")
        rolled_back = True
    for leftover in folder.iterdir():
        if leftover.name.startswith((_PENDING, _DONE)) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        elif leftover.is_file() and is_leftover(leftover.name):
            leftover.unlink(missing_ok=True)
    return rolled_back


def _read_manifest(journal: Path) -> dict[str, bool]:
    path = journal / _MANIFEST
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            data = None
        if isinstance(data, dict) and all(isinstance(v, bool) for v in data.values()):
            return data
        raise StudyDataError(DataProblem(
            "the journal of an interrupted add-study is damaged", file=str(path),
            fix=f"compare the CSVs with version control, then delete {journal}",
        ))  # fmt: skip
    marker = journal / "COMPLETE"  # written by tpmeta 0.1.0, which named the files but not their existence
    if marker.exists():
        try:
            names = json.loads(marker.read_text(encoding="utf-8"))
        except ValueError:
            names = []  # an empty marker: the write was killed before any file was replaced
        return {name: (journal / name).exists() for name in names}
    return {}  # no manifest: killed before the journal was usable; nothing was replaced


def recover_if_needed(studies: str | Path) -> None:
    """For readers: if an interrupted write left a journal, roll it back (with a warning) first."""
    folder = Path(studies)
    if not folder.is_dir() or not any(p.name.startswith(JOURNAL) or p.name.startswith(_STAGE) for p in folder.iterdir()):
        return
    with dataset_lock(folder):
        if recover(folder):
            warnings.warn(f"{folder}: an interrupted add-study was rolled back; the dataset is as it was before it",
                          DataWarning, stacklevel=3)  # fmt: skip
