"""The architecture, checked: lower layers never import higher ones, and modules stay small.

The layers are declared once, as an import-linter contract in ``pyproject.toml``
(cli > review > plots | dataset > appraisal > diagnostics > models > core). import-linter sees every
import, including those inside functions, so a lazy upward import fails here too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tpmeta"
#: "Modules stay under ~600 lines" (CONTRIBUTING.md); the check allows the "~".
MAX_MODULE_LINES = 650


def _lint(pythonpath: Path) -> subprocess.CompletedProcess:
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True))")  # fmt: skip
    env = {"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def test_layers_are_kept():
    out = _lint(SRC.parent)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("module", "upward"),
    [("models/pooling.py", "from ..review import build"),  # models -> review
     ("plots/forest.py", "from ..dataset import studies"),  # plots -> dataset
     ("diagnostics/gosh.py", "    from ..appraisal import grade")],  # a lazy import counts too
)  # fmt: skip
def test_an_upward_import_is_caught(tmp_path, module, upward):
    copy = tmp_path / "tpmeta"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    text = target.read_text()
    if upward.startswith(" "):
        text += f"\n\ndef _planted():\n{upward}\n"
    else:
        text += f"\n{upward}  # noqa\n"
    target.write_text(text)
    out = _lint(tmp_path)
    assert out.returncode != 0, "the planted upward import was not reported"
    assert "BROKEN" in out.stdout


def test_modules_stay_small():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}  # fmt: skip
    assert not long, f"split these modules (one concept each): {long}"


def test_every_subpackage_states_its_contents_and_imports():
    for init in SRC.glob("*/__init__.py"):
        doc = init.read_text()
        assert doc.startswith('"""') and "May import" in doc, init


def test_import_is_light():
    """`import tpmeta` and `tpmeta --help` load neither pandas nor SciPy nor matplotlib (lazy public API)."""
    code = ("import sys, tpmeta, tpmeta.cli; heavy = [m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules]; "
            "print(','.join(heavy)); tpmeta.pool; print('pandas' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["", "True"] or out == ["True"], out
