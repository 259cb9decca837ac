"""Build the review report: execute the notebooks against ``studies/`` and write ``reports/``.

The notebooks in ``notebooks/`` are plain-text jupytext (percent format) files. Each is executed with
nbclient, its ``parameters`` cell replaced by the run's parameters, and the executed notebooks are
rendered, inputs hidden, into one self-contained ``reports/index.html`` (figures embedded, no external
scripts or fonts). The notebooks write figures and tables into the output folder through
:func:`output_paths`. The build happens in a temporary folder that replaces ``reports/`` only when
everything succeeded, so a failure or Ctrl-C never leaves a half-written report.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from ..dataset.studies import ValidationReport, validate_studies
from ..errors import ReportError, StudyDataError

__all__ = ["build_report", "ReportError", "ReportPaths", "output_paths", "write_table", "data_hash"]

PARAMETERS_TAG = "parameters"


@dataclass(frozen=True)
class ReportPaths:
    """Where a notebook writes its products."""

    root: Path

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def tables(self) -> Path:
        return self.root / "tables"


def output_paths(out_dir: str | Path) -> ReportPaths:
    """Create (if needed) and return the report's output folders."""
    paths = ReportPaths(Path(out_dir))
    paths.figures.mkdir(parents=True, exist_ok=True)
    paths.tables.mkdir(parents=True, exist_ok=True)
    return paths


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a CSV deterministically: same data → byte-identical file (fixed float format, LF)."""
    path = Path(path)
    frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    return path


def data_hash(studies: str | Path) -> str:
    """SHA-256 over the dataset's files (names and bytes, in sorted order); hidden files (the journal and
    temporary files of an interrupted write) are not part of the dataset and do not count."""
    digest = hashlib.sha256()
    for file in sorted(Path(studies).glob("*")):
        if file.is_file() and not file.name.startswith("."):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("tpmeta", "numpy", "scipy", "pandas", "matplotlib", "nbclient", "jupytext"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def _git_commit(where: Path) -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _read_notebook(path: Path):
    import jupytext

    return jupytext.read(path)


def _inject_parameters(nb, params: dict[str, str]) -> None:
    import nbformat

    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    for cell in nb.cells:
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = source
            return
    nb.cells.insert(0, nbformat.v4.new_code_cell(source, metadata={"tags": [PARAMETERS_TAG]}))


def _section_names(nb) -> dict[int, str]:
    """Cell index -> the heading of the section it belongs to (for progress lines)."""
    names, current = {}, ""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            heading = next((ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")), "")
            current = heading or current
        names[i] = current
    return names


def _execute(nb, path: Path, cwd: Path, progress: Callable[[str], None]) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    done = {"n": 0, "t": time.perf_counter()}
    section = _section_names(nb)

    def on_cell_executed(cell, cell_index, execute_reply, **_):  # noqa: ANN001
        if cell.cell_type == "code":
            done["n"] += 1
            now = time.perf_counter()
            where = f" {section[cell_index]}" if section.get(cell_index) else ""
            progress(f"  {path.name}: {done['n']}/{len(code_cells)}{where} ({now - done['t']:.1f} s)")
            done["t"] = now

    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                            on_cell_executed=on_cell_executed)  # fmt: skip
    try:
        # the kernel's own stderr (start-up notices, its tracebacks when stopped) is not for the reader:
        # cell errors arrive as messages and become a ReportError below
        client.execute(stderr=subprocess.DEVNULL)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        # nbclient catches SIGINT/SIGTERM itself (an asyncio handler that shuts the kernel down) and then
        # fails in its own cleanup; its handler leaves this future behind, so a stop is recognised here
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt from None
        if isinstance(exc, CellExecutionError):
            _raise_cell_error(exc, path, code_cells)
        raise


def _raise_cell_error(exc: Exception, path: Path, code_cells: list) -> None:
    """A failed cell as a ReportError naming the notebook, the cell and the cause."""
    index = next((i for i, c in enumerate(code_cells, 1)
                  if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)  # fmt: skip
    error = next((o for c in code_cells for o in c.get("outputs", []) if o.get("output_type") == "error"), {})
    raise ReportError(f"{path}: code cell {index} failed: {error.get('ename', 'Error')}: "
                      f"{error.get('evalue', str(exc).splitlines()[-1] if str(exc) else '')}") from None  # fmt: skip


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1.5em;color:#1f2328;line-height:1.5}
h1{border-bottom:2px solid #d0d7de;padding-bottom:.3em} h2{border-bottom:1px solid #d0d7de;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em} th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} img{max-width:100%;height:auto} pre{background:#f6f8fa;padding:.8em;overflow:auto}
.jp-OutputArea-output pre{background:none;padding:0} .anchor-link{display:none}
td:first-child{white-space:pre-wrap}
table{display:block;max-width:100%;overflow-x:auto}
figure{margin:1em 0} figcaption{font-size:.95em;color:#333}
.figure-scroll{overflow-x:auto}
@media (max-width:600px){body{padding:0 .6em;margin:1em auto} table{font-size:.8em} h1{font-size:1.5em}
.figure-scroll img{max-width:none;width:var(--print-width,100%)}}
"""


def _render_html(notebooks: list, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)  # fmt: skip
    bodies = [exporter.from_notebook_node(nb)[0] for nb in notebooks]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(bodies)
        + "\n</body></html>\n"
    )


def build_report(
    studies: str | Path = "studies",
    out: str | Path = "reports",
    notebooks: str | Path = "notebooks",
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Validate the data, run every notebook, and write ``out/index.html`` with figures, tables and
    ``provenance.json``. Returns the path of ``index.html``.

    Raises
    ------
    StudyDataError
        The dataset does not validate (nothing is written).
    ReportError
        A notebook cell failed (nothing is written; the message names notebook, cell and cause).
    """
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    studies, out, notebooks = Path(studies).resolve(), Path(out).resolve(), Path(notebooks).resolve()
    started = time.perf_counter()
    say(f"[1/3] validating {studies}")
    report = validate_studies(studies)
    if not report.ok:
        raise StudyDataError(list(report.errors))
    sources = sorted(notebooks.glob("*.py"))
    if not sources:
        raise ReportError(f"{notebooks}: no notebooks (*.py, jupytext percent format) found")
    out.parent.mkdir(parents=True, exist_ok=True)
    for leftover in out.parent.glob(f".{out.name}-*"):  # from a build that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    stopped: list[int] = []
    with _stop_on_signals(stopped):
        try:
            _build(studies, out, tmp, sources, notebooks, report, started, say)
        except BaseException:
            if stopped:  # Ctrl-C or SIGTERM: whatever nbclient raised while shutting down, say it once
                raise KeyboardInterrupt from None
            raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    # the path itself is printed once, by the caller (the CLI prints it on stdout for scripts)
    say(f"done in {time.perf_counter() - started:.1f} s")
    return out / "index.html"


@contextmanager
def _stop_on_signals(stopped: list[int]) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into one KeyboardInterrupt and remember it (main thread only): the notebook
    client otherwise ends a stopped build with tracebacks from its own shutdown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _build(studies: Path, out: Path, tmp: Path, sources: list[Path], notebooks: Path, report: ValidationReport,
           started: float, say: Callable[[str], None]) -> None:  # fmt: skip
    """Run the notebooks into ``tmp``, write the page and provenance, then swap ``tmp`` in for ``out``."""
    output_paths(tmp)
    executed = []
    with tempfile.TemporaryDirectory() as scratch:
        # the notebooks reuse this validation instead of repeating it (a pickle: same Python, same run)
        validation_file = Path(scratch) / "validation.pickle"
        validation_file.write_bytes(pickle.dumps(report))
        params = {"STUDIES_DIR": str(studies), "OUT_DIR": str(tmp), "VALIDATION_FILE": str(validation_file)}
        for i, path in enumerate(sources, 1):
            say(f"[2/3] running notebook {i}/{len(sources)}: {path.name}")
            nb = _read_notebook(path)
            _inject_parameters(nb, params)
            _execute(nb, path, notebooks.parent, say)
            executed.append(nb)
    say("[3/3] writing index.html and provenance.json")
    (tmp / "index.html").write_text(_render_html(executed, "Trigger-point therapy: evidence review"), encoding="utf-8")
    provenance = {
        "generated_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_sha256": data_hash(studies),
        "git_commit": _git_commit(notebooks.parent),
        "versions": _versions(),
        "parameters": {"studies": os.path.relpath(studies, out.parent), "notebooks": [p.name for p in sources]},
        "validation_warnings": len(report.warnings),
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    (tmp / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    old = out.with_name(f".{out.name}-old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)
