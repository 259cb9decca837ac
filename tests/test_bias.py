"""Egger's regression test and Begg's rank test against metafor's regtest(model="lm") and ranktest().

CLOSED_FORM = 1e-9: weighted least squares and Kendall's tau are closed-form; the REML fit they start
from only provides yi and vi (the tests do not use tau2).
"""

from __future__ import annotations

import json

import pytest

import tpmeta
from conftest import REFERENCE
from tpmeta.bias import begg_test, egger_test

CLOSED_FORM = 1e-9


def _cases():
    return json.loads(REFERENCE.read_text())["small_study"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["dataset"])
def test_egger_and_begg_match_metafor(case):
    res = tpmeta.pool(case["yi"], case["vi"], method="REML")
    eg = egger_test(res)
    for name, expected in case["egger"].items():
        assert getattr(eg, name) == pytest.approx(expected, rel=CLOSED_FORM, abs=CLOSED_FORM), name
    bg = begg_test(res)
    assert bg.tau == pytest.approx(case["begg"]["tau"], rel=CLOSED_FORM)
    assert bg.pvalue == pytest.approx(case["begg"]["pvalue"], rel=1e-6)


def test_too_few_studies():
    res = tpmeta.pool([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="at least 3"):
        egger_test(res)
    with pytest.raises(ValueError, match="at least 3"):
        begg_test(res)
