"""Shared helpers of the benchmark scripts: a median timer and running an R snippet for metafor."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import timeit
from pathlib import Path

import numpy as np


def median_time(fn, number: int, repeat: int = 5) -> float:
    """Median seconds per call over ``repeat`` runs of ``number`` calls."""
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number)


def run_r_json(script: str, timeout: int = 900) -> dict[str, float]:
    """Run an R script that prints one JSON object; {} when R is missing or the script fails."""
    if shutil.which("Rscript") is None:
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        proc = subprocess.run(["Rscript", fh.name], capture_output=True, text=True, timeout=timeout)
        return json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return {}
    finally:
        Path(fh.name).unlink(missing_ok=True)
