"""Normal QQ plot of standardised residuals, as ``metafor::qqnorm.rma.uni()``: residuals (from
:func:`tpmeta.diagnostics.graphical.qq_residuals`) against normal quantiles, the line ``y = x`` and,
when computed, the pseudo-confidence envelope (dotted).
"""

from __future__ import annotations

from typing import Any

from ..diagnostics.graphical import QQResult
from .style import COLORS, axes_or_new, font_family, style

__all__ = ["qq_plot"]


def qq_plot(data: QQResult, *, ax: Any = None, width: str | float = "single") -> Any:
    """Draw the QQ plot of ``data``; returns the Figure."""
    import matplotlib as mpl

    with mpl.rc_context(style()):
        family = font_family()
        fs = mpl.rcParams["font.size"]
        fig, ax, _ = axes_or_new(ax, width, lambda w: w * 0.95)
        values = [data.theoretical, data.sample, data.envelope_low, data.envelope_high]
        lo = min(float(v.min()) for v in values if v.size)
        hi = max(float(v.max()) for v in values if v.size)
        pad = 0.05 * (hi - lo)
        lim = (lo - pad, hi + pad)
        ax.plot(lim, lim, color=COLORS["line"], lw=0.7, gid="qq-line")
        if data.envelope_x.size:
            for y in (data.envelope_low, data.envelope_high):
                ax.plot(data.envelope_x, y, color=COLORS["line"], lw=0.6, ls=":", gid="qq-envelope")
        ax.scatter(data.theoretical, data.sample, s=14, facecolor=COLORS["study"], edgecolor="white",
                   linewidths=0.4, zorder=3, gid="qq-points")  # fmt: skip
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("Theoretical quantiles", fontsize=fs, family=family)
        ax.set_ylabel("Standardised residuals", fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        return fig
