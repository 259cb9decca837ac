"""The PRISMA-style flow diagram: a box per main step, side boxes for excluded and awaiting, all text
inside the figure and not overlapping."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import tpmeta
from tpmeta.plots import flow_diagram
from tpmeta.plots.style import get_renderer
from tpmeta.review.tables import flow_counts

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("width", ["double", "single"])
def test_flow_diagram_of_the_shipped_data(width):
    """PRISMA 2020 layout: three phase bars, a main column (identified, screened, sought, assessed,
    included, pooled) and a side box beside each of the first four; every text inside the figure, inside
    its own box, and no two texts overlapping, at both journal widths."""
    from matplotlib.patches import FancyBboxPatch
    from matplotlib.text import Text

    data = tpmeta.load_studies(ROOT / "studies")
    counts = flow_counts(data, tpmeta.run_all(data))
    fig = flow_diagram(counts, width=width)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 3 + 6 + 4  # phases + main column + side boxes
    renderer = get_renderer(fig)
    fig.draw(renderer)
    texts = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text) if t.get_text().strip()]
    names = [t for t, _ in texts]
    for phase in ("Identification", "Screening", "Included"):
        assert phase in names
    joined = " ".join(names)  # wrapped lines are separate texts
    for title in ("Records excluded (n\u00a0=\u00a013)", "Reports sought for retrieval (n\u00a0=\u00a0166)",
                  "Studies with results in a pooled analysis (n\u00a0=\u00a09)"):  # fmt: skip
        assert title in joined
    for _, b in texts:
        assert b.x0 >= 0 and b.x1 <= fig.bbox.x1 and b.y0 >= 0 and b.y1 <= fig.bbox.y1
        assert any(box.get_window_extent(renderer).contains(b.x0 + 1, b.y0 + 1)
                   and box.get_window_extent(renderer).contains(b.x1 - 1, b.y1 - 1) for box in boxes)  # fmt: skip
    for (a, ba), (c, bc) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bc), (a, c)


def test_flow_diagram_refuses_counts_it_cannot_draw():
    import pandas as pd

    with pytest.raises(ValueError, match="needs the columns"):
        flow_diagram(pd.DataFrame({"step": ["x"], "trials": [1]}))
    with pytest.raises(ValueError, match="kind 'box'"):
        flow_diagram(pd.DataFrame({"phase": ["I"], "kind": ["box"], "step": ["x"], "trials": [1]}))
