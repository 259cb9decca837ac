"""Leave-one-out and cumulative forest plots: one row per refit, text inside the figure, no overlaps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tpmeta
from tpmeta.plots.sequential import cumulative_plot, leave_one_out_plot
from tpmeta.plots.style import get_renderer


@pytest.fixture()
def result():
    rng = np.random.default_rng(2)
    v = rng.uniform(0.01, 0.1, 12)
    return tpmeta.pool(rng.normal(-0.5, np.sqrt(v + 0.05)), v,
                       labels=[f"Study {i}" + (" with a long descriptive label" if i % 3 == 0 else "") for i in range(12)])


@pytest.mark.parametrize("kind", ["loo", "cum"])
@pytest.mark.parametrize("ratio", [False, True])
def test_sequence_plots(result, kind, ratio):
    from matplotlib.text import Text

    frame = tpmeta.leave_one_out(result) if kind == "loo" else tpmeta.cumulative(result)
    fig = (leave_one_out_plot if kind == "loo" else cumulative_plot)(frame, result, effect_label="SMD", ratio=ratio)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == result.k
    renderer = get_renderer(fig)
    fig.draw(renderer)
    axbox = ax.get_window_extent(renderer)
    ticks = set(map(id, ax.get_xticklabels(which="both")))
    boxes = []
    for t in fig.findobj(Text):
        if not (t.get_text().strip() and t.get_visible()):
            continue
        box = t.get_window_extent(renderer)
        if id(t) in ticks and not (axbox.x0 - 1 <= (box.x0 + box.x1) / 2 <= axbox.x1 + 1):
            continue  # a tick outside the view limits is not drawn
        boxes.append((t.get_text(), box))
    for _, b in boxes:
        assert b.x0 >= -0.5 and b.x1 <= fig.bbox.x1 + 0.5
    for (a, ba), (c, bc) in itertools.combinations(boxes, 2):
        assert not ba.overlaps(bc), (a, c)


def test_empty_frame_raises(result):
    with pytest.raises(ValueError, match="nothing to draw"):
        leave_one_out_plot(tpmeta.leave_one_out(result).iloc[0:0], result)
