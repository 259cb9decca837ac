"""Shared by test_inference.py and test_profile.py: metafor's reference values
(tests/reference/metafor_inference.json, written by metafor_inference.R) and the named tolerances.

Tolerances (relative to max(1, |expected|)):

- CLOSED_FORM = 1e-9: quantities of FE and DL fits and of fits at a fixed τ² (predictions, BLUPs, Wald
  tests, contrasts, log-likelihoods, AIC/BIC) are closed-form; the only error is floating-point
  rounding (amplified by the conditioning of X'WX, e.g. year ~ 1950 beside the intercept) and the 15
  significant digits jsonlite writes.
- ITERATIVE = 1e-7: everything that depends on an estimated REML/ML/PM τ², and the bounds of intervals
  for τ² (roots of Q(τ²) = χ² quantile or of the likelihood cut-off), is iterative: tpmeta solves to
  1e-10 relative, metafor to 1e-12 (Fisher scoring converges linearly for ML, so its last step
  understates the error, seen ~2.5e-9), and a flat likelihood magnifies a tiny change in ℓ into τ².
  Where metafor's values depend on its solver and tpmeta's do not, the tests also check tpmeta's value
  against the equation it solves (independent k × k formulas written in the tests).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta

CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_inference.json").read_text())
_TESTS = {"z": "z", "knha": "knha", "adhoc": "knha_adhoc"}


def data(name: str) -> pd.DataFrame:
    return pd.DataFrame(REF["data"][name])


def fit(model: dict, *, pooled: bool = True):
    """The tpmeta fit of a reference model: pool() for intercept-only models with τ² estimated (unless
    ``pooled=False``), else meta_regression()."""
    d = data(model["data"])
    test = _TESTS[model["test"]]
    level = model["level"]
    if not model["columns"] and model["tau2"] is None and pooled:
        return tpmeta.pool(d["yi"], d["vi"], method=model["method"], test=test, level=level)
    mods = d[model["columns"]] if model["columns"] else None
    return tpmeta.meta_regression(d["yi"], d["vi"], mods, method=model["method"], test=test, level=level,
                                  tau2=model["tau2"])  # fmt: skip


def tol(*models: dict) -> float:
    """ITERATIVE if any model estimates τ² iteratively, else CLOSED_FORM."""
    iterative = any(m["method"] in ("REML", "ML", "PM", "EB") and m["tau2"] is None for m in models)
    return ITERATIVE if iterative else CLOSED_FORM


def close(got, expected, tolerance, name):
    expected = np.atleast_1d(np.asarray(np.nan if expected is None else expected, dtype=float))
    got = np.atleast_1d(np.asarray(got, dtype=float))
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
    for g, e in zip(got.ravel(), expected.ravel()):
        if math.isnan(e):
            assert math.isnan(g), f"{name}: metafor gives no value, tpmeta {g}"
        else:
            assert g == pytest.approx(e, rel=tolerance, abs=tolerance), name


def case_id(case: dict) -> str:
    m = case.get("model") or case["full"]
    return f"{m['data']}-{'+'.join(m['columns']) or '1'}-{m['method']}-{m['test']}" + (
        f"-tau2={m['tau2']}" if m.get("tau2") is not None else "")


def ll(y, v, X, tau2, reml):
    """metafor's log-likelihood at a fixed τ² with explicit k × k matrices (no tpmeta code)."""
    y, v, X = np.asarray(y, float), np.asarray(v, float), np.asarray(X, float)
    k, p = X.shape
    V = np.diag(v + tau2)
    Wm = np.linalg.inv(V)
    b = np.linalg.solve(X.T @ Wm @ X, X.T @ Wm @ y)
    r = y - X @ b
    out = -0.5 * np.linalg.slogdet(V)[1] - 0.5 * r @ Wm @ r
    if reml:
        return out - 0.5 * (k - p) * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(X.T @ X)[1] - 0.5 * np.linalg.slogdet(
            X.T @ Wm @ X)[1]
    return out - 0.5 * k * np.log(2 * np.pi)


def design(model: dict) -> np.ndarray:
    d = data(model["data"])
    cols = [np.ones(len(d))] + [d[c].to_numpy(float) for c in model["columns"]]
    return np.column_stack(cols)
