"""The PRISMA-style flow diagram: a box per main step, side boxes for excluded and awaiting, all text
inside the figure and not overlapping."""

from __future__ import annotations

import itertools
from pathlib import Path

import tpmeta
from tpmeta.plots import flow_diagram
from tpmeta.plots.style import get_renderer
from tpmeta.review.tables import flow_counts

ROOT = Path(__file__).resolve().parents[2]


def test_flow_diagram_of_the_shipped_data():
    from matplotlib.patches import FancyBboxPatch
    from matplotlib.text import Text

    data = tpmeta.load_studies(ROOT / "studies")
    assert len([p for p in flow_diagram(flow_counts(data)).axes[0].patches if isinstance(p, FancyBboxPatch)]) == 2 + 2
    counts = flow_counts(data, tpmeta.run_all(data))
    fig = flow_diagram(counts)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 3 + 2  # identified, included, pooled + excluded and awaiting
    renderer = get_renderer(fig)
    fig.draw(renderer)
    texts = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text) if t.get_text().strip()]
    assert any("Excluded: n = " in t for t, _ in texts) and any("Included" in t for t, _ in texts)
    for _, b in texts:
        assert b.x0 >= 0 and b.x1 <= fig.bbox.x1 and b.y0 >= 0 and b.y1 <= fig.bbox.y1
    for (a, ba), (c, bc) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bc), (a, c)
