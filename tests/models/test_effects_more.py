"""The effect measures added to tpmeta.effect_sizes (PETO, ROM, COR, ZCOR, IRR, PR, PLO, PAS, PFT, SMCC,
SMCR), the variance types (vtype), add/to and drop00, against metafor::escalc 3.8.1; and their input
checks.

Reference: tests/reference/metafor_escalc_more.json, written by tests/reference/metafor_escalc_more.R
(the exact escalc() call is stored with every case).

Tolerance CLOSED_FORM = 1e-9 (relative to max(1, |expected|)): every formula is closed-form, so only
floating-point rounding and jsonlite's 15 significant digits separate the two (the largest difference
seen is below 1e-15 in absolute terms).

Where metafor reports NA, tpmeta has NaN (drop00) or, where metafor recodes ±Inf to NA (a table
without events or non-events and ``to="none"``), a non-finite value with a DataWarning: that
difference is on purpose (tpmeta keeps the value and says why it is unusable).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.errors import DataWarning
from tpmeta.models.effects_extra import VTYPES
from tpmeta.options import Measure

CLOSED_FORM = 1e-9
REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_escalc_more.json").read_text())
CASES = REF["escalc"]


def _id(case):
    opts = ",".join(f"{k}={v}" for k, v in (case["options"] or {}).items()) or "default"
    return f"{case['dataset']}-{case['measure']}-{opts}"


def _run(case):
    frame = pd.DataFrame(case["inputs"])
    opts = dict(case["options"] or {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = tpmeta.effect_sizes(frame, case["measure"], **opts)
    return out, [w for w in caught if issubclass(w.category, DataWarning)]


def test_reference_covers_every_new_measure_and_vtype():
    assert REF["metafor_version"] == "3.8.1" and REF["r_version"].startswith("R version 4.2")
    seen = {(c["measure"], (c["options"] or {}).get("vtype", "LS")) for c in CASES}
    for measure in ("PETO", "ROM", "COR", "ZCOR", "IRR", "PR", "PLO", "PAS", "PFT", "SMCC", "SMCR"):
        for vtype in VTYPES.get(Measure(measure), ("LS",)):
            assert (measure, vtype) in seen, (measure, vtype)
    for measure in ("MD", "SMD", "RD"):
        assert {v for m, v in seen if m == measure} >= set(VTYPES[Measure(measure)]) - {"LS"}
    assert any((c["options"] or {}).get("drop00") for c in CASES if c["measure"] == "IRR")
    for call in (c["call"] for c in CASES):
        assert call.startswith("escalc(measure=")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_escalc(case):
    out, caught = _run(case)
    exp_y = np.array(case["yi"], dtype=float)
    exp_v = np.array(case["vi"], dtype=float)
    na = np.isnan(exp_y) | np.isnan(exp_v)
    if (case["options"] or {}).get("drop00"):
        assert (out["dropped00"].to_numpy() == na).all()
        assert np.isnan(out["yi"].to_numpy()[na]).all() and np.isnan(out["vi"].to_numpy()[na]).all()
    else:  # metafor's NA is a recoded ±Inf here: tpmeta keeps a non-finite value and warns
        bad = ~(np.isfinite(out["yi"].to_numpy()) & np.isfinite(out["vi"].to_numpy()))
        assert (bad == na).all()
        assert bool(caught) == bool(na.any())
    scale = np.maximum(1.0, np.abs(exp_y[~na]))
    assert np.all(np.abs(out["yi"].to_numpy()[~na] - exp_y[~na]) <= CLOSED_FORM * scale)
    scale = np.maximum(1.0, np.abs(exp_v[~na]))
    assert np.all(np.abs(out["vi"].to_numpy()[~na] - exp_v[~na]) <= CLOSED_FORM * scale)


def test_zero_cell_flags():
    pritz = next(c for c in CASES if c["dataset"] == "dat.pritz1997" and c["measure"] == "PLO" and not c["options"])
    out, _ = _run(pritz)
    frame = pd.DataFrame(pritz["inputs"])
    full = (frame["xi"] == frame["ni"]) | (frame["xi"] == 0)
    assert full.any() and (out["zero_cell_corrected"] == full).all()
    # PAS and PFT: metafor's default add is 0, so nothing is corrected
    assert not tpmeta.effect_sizes(frame, "PFT")["zero_cell_corrected"].any()
    assert tpmeta.effect_sizes(frame, "PFT", add=0.5)["zero_cell_corrected"].equals(full)


def test_ratio_measures():
    assert {m.value for m in Measure if m.is_ratio} == {"RR", "OR", "PETO", "ROM", "IRR"}


# ------------------------------------------------------------------------------------------ input


def _problem(frame, measure, column, fragment, **kw):
    with pytest.raises(tpmeta.StudyDataError) as err:
        tpmeta.effect_sizes(frame, measure, source="s.csv", **kw)
    text = str(err.value)
    assert "s.csv" in text and "row 1" in text and f"'{column}'" in text and fragment in text, text
    assert "Fix:" in text


@pytest.mark.parametrize(
    "measure, frame, column, fragment",
    [
        ("ROM", dict(m1i=[2.0, -1.0], sd1i=[1, 1], n1i=[5, 5], m2i=[1, 1], sd2i=[1, 1], n2i=[5, 5]), "m1i",
         "must be positive"),
        ("ROM", dict(m1i=[2.0, 1.0], sd1i=[1, -1], n1i=[5, 5], m2i=[1, 1], sd2i=[1, 1], n2i=[5, 5]), "sd1i",
         "negative"),
        ("ROM", dict(m1i=[2.0, 1.0], sd1i=[1, 1], n1i=[5, 5], m2i=[1, 1], sd2i=[1, 1], n2i=[5, 1]), "n2i",
         "at least 2"),
        ("COR", dict(ri=[0.2, 1.0], ni=[30, 30]), "ri", "strictly between -1 and 1"),
        ("COR", dict(ri=[0.2, 0.1], ni=[30, 1]), "ni", "at least 2"),
        ("ZCOR", dict(ri=[0.2, 0.1], ni=[30, 3]), "ni", "at least 4"),
        ("IRR", dict(x1i=[3, -1], t1i=[10, 10], x2i=[3, 3], t2i=[10, 10]), "x1i", "negative"),
        ("IRR", dict(x1i=[3, 1], t1i=[10, 10], x2i=[3, 3], t2i=[10, 0]), "t2i", "must be positive"),
        ("PR", dict(xi=[3, 12], ni=[10, 10]), "xi", "more events than participants"),
        ("PLO", dict(xi=[3, -2], ni=[10, 10]), "xi", "negative"),
        ("PFT", dict(xi=[3, 0], ni=[10, 0]), "ni", "at least 1"),
        ("SMCC", dict(m1i=[2, 2], m2i=[1, 1], sd1i=[1, 1], sd2i=[1, 0], ni=[10, 10], ri=[0.5, 0.5]), "sd2i",
         "SD must be positive"),
        ("SMCR", dict(m1i=[2, 2], m2i=[1, 1], sd1i=[1, 1], ni=[10, 10], ri=[0.5, -1.0]), "ri", "strictly"),
        ("SMCR", dict(m1i=[2, 2], m2i=[1, 1], sd1i=[1, 1], ni=[10, 2], ri=[0.5, 0.5]), "ni", "at least 3"),
        ("PETO", dict(ai=[2, 3], bi=[8, -1], ci=[1, 1], di=[9, 9]), "bi", "negative"),
    ],
)  # fmt: skip
def test_problems_are_named(measure, frame, column, fragment):
    _problem(pd.DataFrame(frame), measure, column, fragment)


def test_missing_columns_and_values_are_all_reported():
    frame = pd.DataFrame(dict(m1i=[2.0, np.nan], m2i=[1.0, 1.0], sd1i=[1.0, 1.0], ni=[10, 10]))
    with pytest.raises(tpmeta.StudyDataError) as err:
        tpmeta.effect_sizes(frame, "SMCR")
    text = str(err.value)
    assert "column 'ri' is missing" in text and "ri='your_column'" in text and "value is missing" in text
    with pytest.raises(tpmeta.StudyDataError, match="not a number"):
        tpmeta.effect_sizes(pd.DataFrame(dict(ri=["0.3", "n/a"], ni=[20, 30])), "COR")


def test_column_overrides_for_new_measures():
    frame = pd.DataFrame(dict(r=[0.3], n=[50]))
    out = tpmeta.effect_sizes(frame, "ZCOR", ri="r", ni="n")
    assert out["yi"].iloc[0] == pytest.approx(np.arctanh(0.3), rel=1e-14)
    with pytest.raises(ValueError, match="unknown column option"):
        tpmeta.effect_sizes(frame, "ZCOR", ai="r")


def test_bad_options():
    frame = pd.DataFrame(dict(ri=[0.3], ni=[50]))
    with pytest.raises(ValueError, match="vtype='UB' is not available for measure COR; choose one of 'LS', 'AV'"):
        tpmeta.effect_sizes(frame, "COR", vtype="UB")
    with pytest.raises(ValueError, match="vtype='AV' is not available for measure ZCOR"):
        tpmeta.effect_sizes(frame, "ZCOR", vtype="AV")
    with pytest.raises(ValueError, match="drop00 applies to 2x2 tables and IRR"):
        tpmeta.effect_sizes(frame, "COR", drop00=True)
    with pytest.raises(ValueError, match="add="):
        tpmeta.effect_sizes(pd.DataFrame(dict(xi=[1], ni=[5])), "PLO", add=-1)


def test_no_correction_warns_for_counts():
    frame = pd.DataFrame(dict(x1i=[0, 3], t1i=[10.0, 12.0], x2i=[2, 4], t2i=[11.0, 9.0]))
    with pytest.warns(DataWarning, match="IRR: rows 0 have zero counts"):
        out = tpmeta.effect_sizes(frame, "IRR", to="none")
    assert np.isinf(out["yi"].iloc[0]) and np.isfinite(out["yi"].iloc[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tpmeta.effect_sizes(frame, "IRR")["zero_cell_corrected"].tolist() == [True, False]


def test_drop00_leaves_double_zero_tables_out_of_if0all():
    # the only zero cells are in the double-zero table: with drop00 no table is corrected under if0all
    frame = pd.DataFrame(dict(ai=[0, 3, 5], bi=[10, 7, 5], ci=[0, 2, 4], di=[12, 8, 6]))
    out = tpmeta.effect_sizes(frame, "OR", to="if0all", drop00=True)
    assert out["dropped00"].tolist() == [True, False, False]
    assert not out["zero_cell_corrected"].any() and np.isnan(out["yi"].iloc[0])
    assert out["yi"].iloc[1] == pytest.approx(np.log(3 * 8 / (7 * 2)), rel=1e-14)
    kept = tpmeta.effect_sizes(frame, "OR", to="if0all")
    assert kept["zero_cell_corrected"].all() and "dropped00" not in kept
