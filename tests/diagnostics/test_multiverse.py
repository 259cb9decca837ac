"""Multiverse: every combination pooled, batched results equal single fits, summary and plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta.diagnostics.multiverse import run_multiverse, summarise_multiverse
from tpmeta.plots.multiverse import specification_curve_plot


@pytest.fixture()
def effects():
    rng = np.random.default_rng(8)
    n = 10
    v = rng.uniform(0.02, 0.1, n)
    return pd.DataFrame({"yi": rng.normal(-0.4, np.sqrt(v + 0.03)), "vi": v,
                         "sham": rng.random(n) < 0.5, "high": rng.random(n) < 0.3})


CHOICES = {
    "comparator": {"any": lambda d: d.yi == d.yi, "sham only": lambda d: d.sham},
    "risk_of_bias": {"all": lambda d: d.yi == d.yi, "not high": lambda d: ~d.high},
}


def test_every_specification_matches_a_single_fit(effects):
    out = run_multiverse(effects, CHOICES, methods=["REML", "DL"], tests=["z", "knha"])
    assert len(out) == 4 * 4  # 2 x 2 options x 2 methods x 2 tests (all with k >= 2 here)
    for _, row in out.iterrows():
        keep = np.array([c == "1" for c in row["members"]])
        single = tpmeta.pool(effects.yi[keep], effects.vi[keep], method=row["method"], test=row["test"])
        assert row["estimate"] == pytest.approx(single.estimate, rel=1e-9)
        assert row["ci_low"] == pytest.approx(single.ci_low, rel=1e-9)
        assert row["k"] == single.k


def test_summary_and_min_k(effects):
    out = run_multiverse(effects, CHOICES, methods=["DL"], tests=["z"], min_k=20)
    assert out.empty and summarise_multiverse(out).n_specifications == 0
    out = run_multiverse(effects, CHOICES, methods=["DL"], tests=["z"])
    s = summarise_multiverse(out)
    assert s.n_specifications == 4 and 0 <= s.share_significant <= 1 and s.min_estimate <= s.median_estimate
    assert "specifications" in s.sentence()


def test_specification_curve_plot(effects):
    out = run_multiverse(effects, CHOICES, methods=["REML", "DL"], tests=["z", "knha"])
    fig = specification_curve_plot(out, ["comparator", "risk_of_bias", "method", "test"])
    top, _, bottom = fig.axes  # estimates, k per specification, choices
    assert len(top.collections) >= 2  # CI lines and points
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert "comparator: sham only" in labels and "method: REML" in labels
    with pytest.raises(ValueError):
        specification_curve_plot(out.iloc[0:0], ["comparator"])
