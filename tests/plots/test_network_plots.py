"""Network meta-analysis figures (tpmeta.plots.network): each draws the numbers of the result it is
given, in a layout whose text stays inside the figure and does not collide.

The results are fitted on the metadat networks of tests/reference/metafor_network.json (their numbers are
checked against metafor in tests/models/test_network.py); here only what is drawn is checked.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tpmeta import network_meta
from tpmeta.plots import (
    league_heatmap,
    network_graph,
    node_split_plot,
    pscore_plot,
    save_figure,
)

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_network.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}


@lru_cache(maxsize=None)
def _res(name: str, method: str = "FE"):
    case = CASES[name]
    return network_meta(pd.DataFrame(case["arms"]), measure=case["measure"], reference=case["reference"],
                        method=method)  # fmt: skip


def _gid(fig, gid):
    return fig.findobj(lambda a: a.get_gid() == gid)


def _boxes(fig, artists):
    r = fig.canvas.get_renderer()
    return np.array([a.get_window_extent(r).extents for a in artists])


def _inside_figure(fig, artists):
    fb = fig.bbox
    for (x0, y0, x1, y1), a in zip(_boxes(fig, artists), artists):
        assert x0 >= fb.x0 - 1 and x1 <= fb.x1 + 1 and y0 >= fb.y0 - 1 and y1 <= fb.y1 + 1, a


def _no_overlap(boxes):
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            assert min(a[2], b[2]) - max(a[0], b[0]) <= 0.5 or min(a[3], b[3]) - max(a[1], b[1]) <= 0.5, (i, j)


def test_network_graph_layout(tmp_path):
    res = _res("senn2013_MD")
    fig = network_graph(res)
    fig.canvas.draw()
    nodes = _gid(fig, "network-node")[0]
    xy = nodes.get_offsets()
    assert len(xy) == 10 and np.allclose(np.hypot(xy[:, 0], xy[:, 1]), 1.0)
    assert xy[0, 0] == pytest.approx(0.0, abs=1e-12) and xy[0, 1] == pytest.approx(1.0)  # reference on top
    order = np.argsort(res.participants)
    assert np.all(np.diff(nodes.get_sizes()[order]) >= 0)  # area grows with participants
    edges = _gid(fig, "network-edge")
    assert len(edges) == len(res.edges)
    widths = np.array([e.get_linewidth() for e in edges])
    assert np.all(np.diff(widths[np.argsort(res.edges["n_studies"].to_numpy(), kind="stable")]) >= 0)
    numbers = _gid(fig, "network-edge-label")
    assert [t.get_text() for t in numbers] == [str(k) for k in res.edges["n_studies"]]
    _no_overlap(_boxes(fig, numbers))
    labels = _gid(fig, "network-label")
    assert [t.get_text() for t in labels] == list(res.treatments)
    _inside_figure(fig, labels)
    _no_overlap(_boxes(fig, labels))
    assert "participants" in fig.axes[0].get_title()
    written = save_figure(fig, tmp_path / "graph", formats=("png",))
    assert written[0].stat().st_size > 0


def test_league_heatmap_layout():
    res = _res("dong2013_OR", "REML")
    fig = league_heatmap(res)
    fig.canvas.draw()
    T = len(res.treatments)
    cells, texts = _gid(fig, "league-cell"), _gid(fig, "league-text")
    assert len(cells) == len(texts) == T * (T - 1)
    names = [t.get_text() for t in _gid(fig, "league-name")]
    assert names == [res.treatments[i] for i in np.argsort(-res.pscore, kind="stable")]  # best first
    lg = res.league.set_index(["treatment", "comparator"])
    r = fig.canvas.get_renderer()
    for cell, text in zip(cells, texts):
        c, row = int(cell.get_x()), int(cell.get_y())
        est = lg.loc[(names[row], names[c]), "estimate"]
        assert text.get_text().split("\n")[0] == f"{np.exp(est):.2f}"  # OR shown as a ratio
        tb, cb = text.get_window_extent(r), cell.get_window_extent(r)
        assert tb.x0 >= cb.x0 and tb.x1 <= cb.x1 and tb.y0 >= cb.y0 and tb.y1 <= cb.y1
    _inside_figure(fig, texts + _gid(fig, "league-name"))
    senn = league_heatmap(_res("senn2013_MD"), order="treatments")
    senn.canvas.draw()
    assert [t.get_text() for t in _gid(senn, "league-name")] == list(_res("senn2013_MD").treatments)
    assert all("−0.00" not in t.get_text() for t in _gid(senn, "league-text"))
    with pytest.raises(ValueError, match="'pscore', 'treatments'"):
        league_heatmap(res, order="alphabetical")


def test_pscore_plot_layout():
    res = _res("senn2013_MD")
    fig = pscore_plot(res)
    fig.canvas.draw()
    bars = _gid(fig, "pscore-bar")
    assert np.allclose([b.get_width() for b in bars], np.sort(res.pscore)[::-1])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [res.treatments[i] for i in np.argsort(-res.pscore)]
    labels = _gid(fig, "pscore-label")
    _inside_figure(fig, labels + ax.get_yticklabels() + [ax.xaxis.label])
    assert "smaller" in ax.get_xlabel()


def test_node_split_plot_layout():
    res = _res("dong2013_OR", "REML")
    fig = node_split_plot(res)
    fig.canvas.draw()
    ns = res.node_split
    for kind in ("direct", "indirect", "network"):
        marks = _gid(fig, f"split-{kind}")
        assert np.allclose([m.get_xdata()[0] for m in marks], ns[kind])
        cis = _gid(fig, f"split-{kind}-ci")
        assert np.allclose([c.get_xdata() for c in cis], ns[[f"{kind}_ci_low", f"{kind}_ci_high"]].to_numpy())
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{a} vs {b}" for a, b in zip(ns["treatment"], ns["comparator"])]
    pv = _gid(fig, "split-pvalue")
    assert len(pv) == len(ns)
    _inside_figure(fig, pv + ax.get_yticklabels() + [ax.xaxis.label] + ax.get_xticklabels())
    _no_overlap(_boxes(fig, ax.get_yticklabels()))
    assert {t.get_text() for t in ax.get_xticklabels()} <= {"0.25", "0.5", "1", "2", "4"}  # ratios on a log axis


def test_node_split_plot_needs_a_loop_and_plots_need_a_network_result():
    star = pd.DataFrame({"study": ["s1", "s1", "s2", "s2"], "treatment": ["A", "B", "A", "C"],
                         "mean": [1.0, 2, 1, 3], "sd": [1.0] * 4, "n": [20] * 4})  # fmt: skip
    res = network_meta(star, measure="MD", reference="A", method="FE")
    assert res.node_split.empty
    with pytest.raises(ValueError, match="no comparison with both direct and indirect"):
        node_split_plot(res)
    fig = network_graph(res)
    assert len(_gid(fig, "network-edge")) == 2
    # contrast-level input: node area by trials; the crossing diagonals' numbers do not collide
    c = pd.DataFrame(CASES["hasselblad1998_OR"]["contrasts"]).drop(columns="design")
    diamond = network_graph(network_meta(c, measure="OR", reference="no_contact", method="FE", comparator="comparator"))
    diamond.canvas.draw()
    assert "trials" in diamond.axes[0].get_title().split(";")[0]
    _no_overlap(_boxes(diamond, _gid(diamond, "network-edge-label")))
    with pytest.raises(TypeError, match="NetworkResult"):
        pscore_plot(object())
