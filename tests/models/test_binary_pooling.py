"""tpmeta.pool_binary against metafor 3.8.1's rma.mh and rma.peto, field by field.

Reference: tests/reference/metafor_binary.R -> metafor_binary.json (published data from metadat: dat.bcg,
dat.yusuf1985 table 9, dat.nielweise2007, dat.collins1985a; every MH measure, Peto, and the zero-cell
options add/to/drop00 as single values and as pairs, correct=FALSE, other levels).

Tolerance: CLOSED_FORM = 1e-9 relative to max(1, |expected|) for every field. MH and Peto are closed
form (sums, a square root, a quadratic root for Tarone's fitted cells, normal and chi-square
tail functions); the only error is floating-point rounding (R sums in extended precision) and the 15
significant digits jsonlite writes, ~1e-15, which the p-value functions amplify by at most ~1e3.
Observed maximum: ~5e-14. Counts (k, k_yi) and the pattern of NaN (tables left out) must match exactly.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta import BinaryMethod, DataWarning, SingleStudyWarning, StudyDataError

CLOSED_FORM = 1e-9
REF = json.loads((Path(__file__).parents[1] / "reference" / "metafor_binary.json").read_text())
SCALARS = [
    "estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "estimate_exp", "ci_low_exp",
    "ci_high_exp", "q", "q_pvalue", "i2", "h2", "cmh", "cmh_pvalue", "tarone", "tarone_pvalue",
    "breslow_day", "breslow_day_pvalue",
]  # fmt: skip
ARRAYS = ["yi", "vi", "weights"]


def _array(values: list) -> np.ndarray:
    return np.array([np.nan if x is None else float(x) for x in values])


def _fit(case: dict) -> tpmeta.BinaryPoolResult:
    o, x = case["options"], case["inputs"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # to="none": infinite yi left out of Q, as metafor
        return tpmeta.pool_binary(x["ai"], x["n1i"], x["ci"], x["n2i"], measure=o["measure"],
                                  method=case["method"], level=o["level"], labels=x["label"],
                                  add=tuple(o["add"]), to=tuple(o["to"]), drop00=tuple(o["drop00"]),
                                  correct=o["correct"])  # fmt: skip


def test_reference_covers_the_options():
    assert REF["metafor_version"] == "3.8.1"
    cases = REF["binary"]
    assert {(c["method"], c["options"]["measure"]) for c in cases} == {("MH", "OR"), ("MH", "RR"), ("MH", "RD"),
                                                                        ("PETO", "OR")}  # fmt: skip
    assert {c["dataset"] for c in cases} >= {"dat.bcg", "dat.yusuf1985.table9", "dat.nielweise2007",
                                             "dat.collins1985a.deaths"}  # fmt: skip
    opts = [c["options"] for c in cases]
    assert {tuple(o["to"]) for o in opts} >= {("only0", "none"), ("all", "none"), ("if0all", "none"),
                                              ("none", "none"), ("only0", "only0"), ("all", "if0all")}  # fmt: skip
    assert {tuple(o["drop00"]) for o in opts} == {(True, False), (False, False), (True, True)}
    assert any(not o["correct"] for o in opts) and any(o["level"] != 0.95 for o in opts)
    assert all("call" in c and c["call"].startswith(("rma.mh(", "rma.peto(")) for c in cases)


@pytest.mark.parametrize("case", REF["binary"], ids=lambda c: f"{c['dataset']}:{c['call'].split('data=d')[1][:60]}:{c['method']}")
def test_pool_binary_matches_metafor(case):
    res = _fit(case)
    e = case["expected"]
    assert (res.k, res.k_yi, res.df) == (e["k"], e["k_yi"], e["k_yi"] - 1)
    for name in SCALARS:
        want, got = e[name], getattr(res, name)
        if want is None:
            assert math.isnan(got), f"{name}: metafor gives NA, tpmeta {got}"
        else:
            assert got == pytest.approx(want, rel=CLOSED_FORM, abs=CLOSED_FORM), name
    for name in ARRAYS:
        want, got = _array(e[name]), getattr(res, name)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM, atol=CLOSED_FORM, err_msg=name)
    assert res.labels == tuple(case["inputs"]["label"])


def test_zero_cell_options_act_where_metafor_says():
    """add/to/drop00 with one value change the per-study yi (hence Q) but never the MH estimate."""
    by_call = {c["call"]: c["expected"] for c in REF["binary"] if c["dataset"] == "dat.nielweise2007"}
    base = by_call["rma.mh(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=d, measure=\"OR\")"]
    for opt in ('to="all"', 'to="if0all", add=1', 'to="none"', "drop00=FALSE"):
        other = by_call[f'rma.mh(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=d, measure="OR", {opt})']
        assert other["estimate"] == base["estimate"] and other["q"] != base["q"], opt
    # the double-zero trial moves the MH risk difference only when the second drop00 leaves it out
    rd = {c["call"]: c["expected"]["estimate"] for c in REF["binary"]
          if c["dataset"] == "dat.nielweise2007" and c["options"]["measure"] == "RD"}  # fmt: skip
    assert len(set(rd.values())) == 3


def test_example_and_result_object():
    bcg = pd.DataFrame({"tpos": [4, 6, 3], "tneg": [119, 300, 228], "cpos": [11, 29, 11], "cneg": [128, 274, 209]},
                       index=["Aronson", "Ferguson", "Rosenthal"])  # fmt: skip
    res = tpmeta.pool_binary(bcg["tpos"], bcg["tpos"] + bcg["tneg"], bcg["cpos"], bcg["cpos"] + bcg["cneg"])
    assert res.labels == ("Aronson", "Ferguson", "Rosenthal")  # from the index
    assert res.method is BinaryMethod.MH and res.estimate_exp == pytest.approx(math.exp(res.estimate))
    frame = res.to_frame()
    assert frame.shape[0] == 1 and {"estimate", "cmh", "tarone", "method", "measure"} <= set(frame.columns)
    assert frame["method"].iloc[0] == "MH" and "yi" not in frame.columns
    assert list(res.study_frame()["label"]) == list(res.labels)
    assert res.weights.sum() == pytest.approx(100.0) and not res.weights.flags.writeable
    assert "OR" in repr(res) and "CMH" in repr(res) and "<table>" in res._repr_html_()
    rd = tpmeta.pool_binary([4, 6], [123, 306], [11, 29], [139, 303], measure="RD")
    assert math.isnan(rd.estimate_exp) and math.isnan(rd.cmh) and "RD" in repr(rd)


def test_options_are_enums_without_synonyms():
    args = ([1, 2], [10, 10], [2, 3], [10, 10])
    for bad, message in [({"method": "mh"}, "'MH', 'PETO'"), ({"method": "Peto"}, "'MH', 'PETO'"),
                         ({"measure": "SMD"}, "'OR', 'RR', 'RD'"), ({"measure": "or"}, "measure="),
                         ({"method": "PETO", "measure": "RR"}, "measure='OR'"), ({"to": "zero"}, "only0"),
                         ({"add": -1}, "add="), ({"add": (0.5, 0.5, 0.5)}, "pair"), ({"drop00": "yes"}, "drop00"),
                         ({"level": 95}, "level="), ({"correct": "yes"}, "correct")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            tpmeta.pool_binary(*args, **bad)
    assert tpmeta.pool_binary(*args, method=BinaryMethod.PETO).method is BinaryMethod.PETO


def test_data_problems_name_row_column_value_and_fix():
    with pytest.raises(StudyDataError) as err:
        tpmeta.pool_binary([3, "x", -1, 12, None], [10, 10, 10, 10, 10], [1, 0, 3, 4, 5], [10, 0, 10, 10, 10],
                           labels=["A", "B", "C", "D", "E"])  # fmt: skip
    problems = {(p.row, p.column): p for p in err.value.problems}
    assert set(problems) == {(1, "ai"), (2, "ai"), (3, "ai"), (4, "ai"), (1, "n2i")}
    assert problems[(1, "ai")].value == "x" and "not a number" in problems[(1, "ai")].message
    assert problems[(2, "ai")].value == -1 and "negative" in problems[(2, "ai")].message
    assert problems[(3, "ai")].value == 12 and "more events" in problems[(3, "ai")].message
    assert "missing" in problems[(4, "ai")].message and "'E'" in problems[(4, "ai")].message
    assert "no participants" in problems[(1, "n2i")].message
    assert all(p.fix for p in err.value.problems)
    with pytest.raises(StudyDataError, match="equal length"):
        tpmeta.pool_binary([1, 2], [10, 10], [1], [10])
    with pytest.raises(StudyDataError, match="labels"):
        tpmeta.pool_binary([1, 2], [10, 10], [1, 2], [10, 10], labels=["a"])
    with pytest.raises(StudyDataError, match="Peto"):
        tpmeta.pool_binary([0, 0], [10, 10], [0, 0], [10, 10], method="PETO")
    with pytest.raises(StudyDataError, match="nothing to pool"):
        tpmeta.pool_binary([0, 0], [10, 10], [0, 0], [10, 10], drop00=(True, True))


def test_warnings_for_degenerate_data():
    with pytest.warns(SingleStudyWarning, match="one table"):
        tpmeta.pool_binary([3], [10], [5], [10])
    with pytest.warns(DataWarning, match="undefined"):  # no events in group 1 anywhere: MH OR undefined
        res = tpmeta.pool_binary([0, 0], [10, 12], [3, 4], [10, 12])
    assert math.isnan(res.estimate) and math.isnan(res.q) and not math.isnan(res.cmh)
    with pytest.warns(DataWarning, match="'2'.*left out of Q"):
        res = tpmeta.pool_binary([3, 0, 4], [10, 10, 10], [5, 2, 6], [10, 10, 10], to="none")
    assert res.k_yi == 2 and math.isnan(res.yi[1]) and not math.isnan(res.weights[1])
