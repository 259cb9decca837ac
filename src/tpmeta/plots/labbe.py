"""L'Abbé plot, as ``metafor::labbe()``: each study's outcome in group 1 (treatment, y) against group
2 (control, x) on the scale of the measure (from :func:`tpmeta.diagnostics.graphical.labbe_data`),
points sized by precision, the line of no effect (solid diagonal) and the line of the pooled effect
(dashed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diagnostics.graphical import LabbeResult
from .style import COLORS, axes_or_new, font_family, style

__all__ = ["labbe_plot"]

#: Marker area (points²) of a point of metafor size 1 (``cex = 1``).
_UNIT_AREA = 12.0


def labbe_plot(data: LabbeResult, *, ax: Any = None, width: str | float = "single",
               groups: tuple[str, str] = ("Group 1", "Group 2")) -> Any:  # fmt: skip
    """Draw the L'Abbé plot of ``data``; returns the Figure.

    ``groups`` names group 1 (y axis, e.g. the intervention) and group 2 (x axis, e.g. the control).
    """
    import matplotlib as mpl

    with mpl.rc_context(style()):
        family = font_family()
        fs = mpl.rcParams["font.size"]
        fig, ax, _ = axes_or_new(ax, width, lambda w: w * 0.95)
        lo = float(min(data.x.min(), data.y.min()))
        hi = float(max(data.x.max(), data.y.max()))
        pad = 0.06 * (hi - lo if hi > lo else 1.0)
        lim = (lo - pad, hi + pad)
        ax.plot(lim, lim, color=COLORS["line"], lw=0.7, gid="labbe-diagonal", label="No effect")
        ax.plot(data.line_x, data.line_y, color=COLORS["line"], lw=0.8, ls="--", gid="labbe-estimate",
                label=f"Pooled {data.measure}")  # fmt: skip
        order = np.argsort(-data.size, kind="stable")  # large points first, small ones on top
        ax.scatter(data.x[order], data.y[order], s=_UNIT_AREA * data.size[order] ** 2, facecolor="#9AA9BC",
                   edgecolor=COLORS["study"], linewidths=0.6, zorder=3, gid="labbe-points")  # fmt: skip
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"{data.scale} ({groups[1]})", fontsize=fs, family=family)
        ax.set_ylabel(f"{data.scale} ({groups[0]})", fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        ax.legend(loc="upper left", frameon=False, prop={"family": family, "size": fs * 0.9})
        return fig
