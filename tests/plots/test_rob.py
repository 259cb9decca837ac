"""Risk-of-bias figures at 3, 15 and 40 studies: every element present, text inside the figure and
not overlapping (measured with the renderer)."""

from __future__ import annotations

import itertools

import matplotlib.colors as mpl_colors
import numpy as np
import pandas as pd
import pytest

from tpmeta.plots.rob import (
    DOMAIN_COLUMNS,
    PALETTES,
    rob_summary_plot,
    traffic_light_plot,
)
from tpmeta.plots.style import get_renderer


def _table(n, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.DataFrame({"study": [f"Trial {i}" + (" with a deliberately long label to test layout" if i % 4 == 0 else "") + f" {1990 + i}" for i in range(n)]})
    for c in ["d1", "d2", "d3", "d4", "d5", "overall"]:
        t[c] = rng.choice(["low", "some concerns", "high", None], n)
    return t


def _texts(fig):
    renderer = get_renderer(fig)
    fig.draw(renderer)
    out, seen = [], set()
    from matplotlib.text import Text

    for t in fig.findobj(lambda a: isinstance(a, Text) and a.get_visible()):
        if id(t) in seen:
            continue
        seen.add(id(t))
        if not t.get_text().strip() or t.get_text() in "+−×?":
            continue
        out.append((t.get_text(), t.get_window_extent(renderer)))
    return out, fig.bbox


@pytest.mark.parametrize("n", [3, 15, 40])
def test_traffic_light_structure(n):
    table = _table(n)
    fig = traffic_light_plot(table)
    ax = fig.axes[0]
    markers = [l for l in ax.lines if l.get_marker() == "o"]
    assert len(markers) == 6 * n
    colours = {m.get_markerfacecolor() for m in markers}
    assert colours <= set(PALETTES["cochrane"].values())
    texts, bbox = _texts(fig)
    labels = [t for t, _ in texts]
    for s in table["study"]:
        assert s in labels
    for _, box in texts:
        assert box.x0 >= bbox.x0 - 0.5 and box.x1 <= bbox.x1 + 0.5 and box.y0 >= bbox.y0 - 0.5 and box.y1 <= bbox.y1 + 0.5
    for (a, ba), (b, bb) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bb), (a, b)


def test_traffic_light_colourblind_and_bad_palette():
    fig = traffic_light_plot(_table(3), palette="colourblind")
    colours = {l.get_markerfacecolor() for l in fig.axes[0].lines if l.get_marker() == "o"}
    assert colours <= set(PALETTES["colourblind"].values())
    with pytest.raises(ValueError, match="palette"):
        traffic_light_plot(_table(3), palette="rainbow")


@pytest.mark.parametrize("n", [3, 15, 40])
def test_summary_plot_weighted_shares(n):
    table = _table(n, seed=n)
    w = np.arange(1, n + 1, dtype=float)
    fig = rob_summary_plot(table, weights=w)
    ax = fig.axes[0]
    widths = {}
    for bar in ax.patches:
        row = round(bar.get_y() + bar.get_height() / 2)
        widths[row] = widths.get(row, 0) + bar.get_width()
    assert len(widths) == 6 and all(v == pytest.approx(1.0) for v in widths.values())
    texts, bbox = _texts(fig)
    for (a, ba), (b, bb) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bb), (a, b)
    with pytest.raises(ValueError, match="weights"):
        rob_summary_plot(table, weights=np.zeros(n))


def test_labels_on_dark_fills_are_white_and_light_fills_black():
    """Percentages and symbols stay legible: white on the dark red of 'high', black on yellow/green."""
    table = pd.DataFrame({"study": ["a", "b"], **{c: ["high", "some concerns"] for c in DOMAIN_COLUMNS}})
    fig = rob_summary_plot(table, unit="trials")
    ax = fig.axes[0]
    by_colour = {}
    for bar, text in zip(ax.patches, ax.texts):
        by_colour[mpl_colors.to_hex(bar.get_facecolor())] = text.get_color()
    assert by_colour[PALETTES["cochrane"]["high"].lower()] == "white"
    assert by_colour[PALETTES["cochrane"]["some concerns"].lower()] == "black"
    assert ax.get_xlabel() == "share of trials"
    light = traffic_light_plot(table)
    symbols = {t.get_text(): t.get_color() for t in light.axes[0].texts if t.get_text() in ("×", "−")}
    assert symbols == {"×": "white", "−": "black"}


def test_study_weights_make_each_trial_count_once():
    from tpmeta.appraisal.rob2 import study_weights

    table = pd.DataFrame({"study_id": ["a", "a", "a", "b"], "overall": ["high", "high", "low", "low"]})
    w = study_weights(table)
    assert w.sum() == pytest.approx(2.0)
    fig = rob_summary_plot(table.rename(columns={"study_id": "study"}), weights=w)
    shares = {mpl_colors.to_hex(b.get_facecolor()): b.get_width() for b in fig.axes[0].patches if b.get_y() > 4}
    # overall row: a is 2/3 high, 1/3 low -> high share (2/3)/2, low share (1/3 + 1)/2
    assert shares[PALETTES["cochrane"]["high"].lower()] == pytest.approx(1 / 3)
    assert shares[PALETTES["cochrane"]["low"].lower()] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no column"):
        study_weights(table, study="trial")


def _basis_table():
    """Three trials: a reported flaw, a 'high' that rests only on an abstract gap, and low risk."""
    t = pd.DataFrame({"study": ["Flaw 2001", "Silent abstract 2002", "Clean 2003"]})
    for c in DOMAIN_COLUMNS:
        t[c] = ["high", "high", "low"]
        t[f"{c}_assessable"] = [True, False, True]
    t["d5"] = ["some concerns", "some concerns", "low"]
    t["d5_assessable"] = [False, False, True]
    return t


def test_traffic_light_draws_abstract_gaps_hollow_with_a_legend_line():
    from tpmeta.plots.rob import GAP_LABEL

    table = _basis_table()
    fig = traffic_light_plot(table)
    cells = [l for l in fig.axes[0].lines if l.get_marker() == "o"]
    assert len(cells) == 6 * 3
    hollow = [l for l in cells if l.get_markeredgewidth() > 1]
    assert len(hollow) == 5 + 2  # the second trial's six cells and the first trial's D5
    assert {mpl_colors.to_hex(l.get_markeredgecolor()) for l in hollow} <= {v.lower() for v in PALETTES["cochrane"].values()}
    assert all(mpl_colors.to_hex(l.get_markerfacecolor()) not in {v.lower() for v in PALETTES["cochrane"].values()} for l in hollow)
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any(GAP_LABEL.lower() in t.lower() for t in legend_texts)
    symbols = [t for t in fig.axes[0].texts if t.get_text() in ("×", "−")]
    assert {t.get_color() for t in symbols[:6]} >= {"black"}  # hollow: dark symbol on a pale centre
    texts, bbox = _texts(fig)
    for _, box in texts:
        assert box.x0 >= bbox.x0 - 0.5 and box.x1 <= bbox.x1 + 0.5 and box.y0 >= bbox.y0 - 0.5
    for (a, ba), (b, bb) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bb), (a, b)
    plain = traffic_light_plot(table, show_basis=False)
    assert not [l for l in plain.axes[0].lines if l.get_marker() == "o" and l.get_markeredgewidth() > 1]
    assert len(plain.legends) == 1


@pytest.mark.parametrize("width", ["single", "double"])
def test_summary_plot_splits_reported_flaws_from_abstract_gaps(width):
    from tpmeta.plots.rob import GAP_LABEL

    fig = rob_summary_plot(_basis_table(), unit="trials", width=width)
    ax = fig.axes[0]
    overall = [b for b in ax.patches if round(b.get_y() + b.get_height() / 2) == 5]
    by_kind = {("gap" if b.get_hatch() else mpl_colors.to_hex(b.get_facecolor())): b.get_width() for b in overall}
    assert by_kind[PALETTES["cochrane"]["high"].lower()] == pytest.approx(1 / 3)  # the reported flaw only
    assert by_kind["gap"] == pytest.approx(1 / 3) and by_kind[PALETTES["cochrane"]["low"].lower()] == pytest.approx(1 / 3)
    d5 = [b for b in ax.patches if round(b.get_y() + b.get_height() / 2) == 4]
    assert sum(b.get_width() for b in d5 if b.get_hatch()) == pytest.approx(2 / 3)
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "High: flaw reported" in labels and GAP_LABEL in labels
    texts, bbox = _texts(fig)
    for _, box in texts:  # legend and tick labels inside the figure at journal widths
        assert box.x0 >= bbox.x0 - 0.5 and box.x1 <= bbox.x1 + 0.5 and box.y0 >= bbox.y0 - 0.5
    for (a, ba), (b, bb) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bb), (a, b)
    plain = rob_summary_plot(_basis_table(), show_basis=False)
    assert not any(b.get_hatch() for b in plain.axes[0].patches)
