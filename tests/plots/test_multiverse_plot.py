"""Specification curve: k per specification, a legend, and very wide intervals clipped with arrows so
that they do not flatten the curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tpmeta.plots import specification_curve_plot


def _frame():
    est = np.array([-1.3, -1.3, -0.6, -0.6, -0.5])
    half = np.array([1.2, 8.0, 0.4, 1.5, 0.3])  # one HKSJ-with-two-trials interval, much wider
    return pd.DataFrame({"method": ["REML", "REML", "DL", "DL", "PM"], "test": ["z", "knha", "z", "knha", "z"],
                         "k": [2, 2, 3, 3, 4], "estimate": est, "ci_low": est - half, "ci_high": est + half})


def test_k_row_legend_and_clipped_intervals():
    fig = specification_curve_plot(_frame(), ["method", "test"])
    curve = fig.axes[0]
    ks = [t.get_text() for a in fig.axes for t in a.texts if t.get_gid() == "k-per-specification"]
    assert sorted(ks) == ["2", "2", "3", "3", "4"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["95% CI excludes 0", "95% CI includes 0", "no effect"]
    assert "interval continues beyond the axis" in legend
    low, high = curve.get_ylim()
    assert high < -1.3 + 8.0 and low > -1.3 - 8.0  # the wide interval is clipped ...
    assert len([ln for ln in curve.lines if ln.get_gid() == "clipped-interval"]) == 2  # ... with arrows
    assert low < -1.3 - 1.2 and high > 0  # every other interval and the null line stay in view
    labels = [t.get_text() for t in fig.axes[-1].get_yticklabels()]
    assert "test: knha" in labels and all("_" not in lab for lab in labels)


def test_no_arrow_entry_when_nothing_is_clipped():
    frame = _frame().iloc[[0, 2, 4]]
    fig = specification_curve_plot(frame, ["method"])
    assert "interval continues beyond the axis" not in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="no specifications"):
        specification_curve_plot(frame.iloc[:0], ["method"])
