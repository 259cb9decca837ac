"""tpmeta.effect_sizes against metafor::escalc (SMD, MD, RR, OR, RD incl. zero cells).

Tolerance CLOSED_FORM = 1e-10 (relative to max(1, |expected|)): the formulas are closed-form, so only
floating-point rounding and jsonlite's 15 significant digits separate the two.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

import tpmeta

CLOSED_FORM = 1e-10
REQUIRED = {("dat.bcg", m) for m in ("RR", "OR", "RD")} | {("dat.li2007", m) for m in ("RR", "OR", "RD")} | {
    ("dat.normand1999", m) for m in ("SMD", "MD")
}


def _cases():
    return json.loads(REFERENCE.read_text())["escalc"]


def test_escalc_grid_complete(metafor_reference):
    seen = {(c["dataset"], c["measure"]) for c in metafor_reference["escalc"]}
    assert REQUIRED <= seen


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['dataset']}-{c['measure']}-{c['options'] or 'default'}")
def test_effect_sizes_match_escalc(case):
    frame = pd.DataFrame(case["inputs"])
    if case["dataset"] == "dat.bcg":
        cols = dict(ai="tpos", bi="tneg", ci="cpos", di="cneg")
    else:
        cols = {}
    options = case["options"] or {}
    out = tpmeta.effect_sizes(frame, case["measure"], **cols, **options)
    np.testing.assert_allclose(out["yi"], case["yi"], rtol=CLOSED_FORM, atol=CLOSED_FORM)
    np.testing.assert_allclose(out["vi"], case["vi"], rtol=CLOSED_FORM, atol=CLOSED_FORM)
