"""Shared by the meta-regression, subgroup and permutation tests: metafor's reference values
(tests/reference/metafor_metareg.json, written by metafor_metareg.R) and the named tolerances.

Tolerances (relative to max(1, |expected|)):

- CLOSED_FORM = 1e-9: FE/DL/HE/HS/SJ and everything derived from them are closed-form; the only error
  is floating-point rounding (amplified by the conditioning of X'WX, e.g. with year ~ 1950 next to the
  intercept) and the 15 significant digits jsonlite writes.
- ITERATIVE = 1e-7: REML/ML/PM/EB are roots of equations solved to 1e-10 by tpmeta and 1e-12 by
  metafor; Fisher scoring for ML converges linearly, so the last step understates the error (seen:
  ~2.5e-9 for ML), and a flat likelihood magnifies it in tau^2.
- Exact permutation p-values are ratios of counts and must agree to rounding (1e-12).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
EXACT_COUNT = 1e-12
ITERATIVE_METHODS = {"REML", "ML", "PM", "EB"}
REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_metareg.json").read_text())
DATA = REF["data"]
BCG = pd.DataFrame({k: DATA[k] for k in ("yi", "vi", "ablat", "year", "alloc")})
FIELDS = ["coef", "se", "statistic", "pvalue", "ci_low", "ci_high", "tau2", "tau2_se", "qm",
          "qm_pvalue", "qe", "qe_pvalue", "i2", "h2", "r2"]  # fmt: skip


def _close(got, expected, tol, name):
    expected = np.atleast_1d(np.asarray(expected if expected is not None else np.nan, dtype=float))
    got = np.atleast_1d(np.asarray(got, dtype=float))
    assert got.shape == expected.shape, name
    for g, e in zip(got, expected):
        if math.isnan(e):
            assert math.isnan(g), f"{name}: metafor gives no value, tpmeta {g}"
        else:
            assert g == pytest.approx(e, rel=tol, abs=tol), name


def _case_id(c):
    return f"{c['model']}-{c['method']}-{c['test']}"
