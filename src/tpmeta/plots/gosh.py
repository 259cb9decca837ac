"""GOSH plot (Olkin, Dahabreh & Trikalinos 2012, doi:10.1002/jrsm.1043): the pooled estimate of every
subset of studies against its I², as metafor's ``plot(gosh(...))`` draws it (estimate on x, I² on y).

Takes the frame of :func:`tpmeta.gosh` and draws it; nothing is computed here. Up to 20,000 subsets are
drawn as translucent points; beyond that as a hexagonal density (a million points would hide each other
and take seconds to draw).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .style import COLORS, axes_or_new, font_family, style

__all__ = ["gosh_plot"]

#: Beyond this many subsets the plot shows their density instead of each point.
MAX_POINTS = 20_000


def gosh_plot(gosh_frame: Any, ax: Any = None, *, width: str | float = "single", effect_label: str = "Pooled estimate",
              ratio: bool = False) -> Any:  # fmt: skip
    """Draw a GOSH plot; return the Figure.

    Parameters
    ----------
    gosh_frame : DataFrame
        The result of :func:`tpmeta.gosh` (columns ``estimate`` and ``i2``).
    ax : matplotlib Axes, optional
        Draw into this Axes; otherwise a new figure of journal ``width`` is made.
    effect_label : str
        x-axis label.
    ratio : bool
        Estimates are log ratios: the axis shows exp(estimate) on a log scale.

    >>> import tpmeta
    >>> from tpmeta.plots import gosh_plot
    >>> fig = gosh_plot(tpmeta.gosh([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.02], "DL"))
    >>> fig.axes[0].get_ylabel()
    'I² (%)'
    """
    import matplotlib as mpl

    est = np.asarray(gosh_frame["estimate"], dtype=float)
    i2 = np.asarray(gosh_frame["i2"], dtype=float)
    keep = np.isfinite(est) & np.isfinite(i2)
    est, i2 = est[keep], i2[keep]
    with mpl.rc_context(style()):
        fig, ax, own = axes_or_new(ax, width, lambda w: 0.8 * w)
        x = np.exp(est) if ratio else est
        if x.size > MAX_POINTS:
            art = ax.hexbin(x, i2, gridsize=60, bins="log", mincnt=1, cmap="Blues",
                            xscale="log" if ratio else "linear", gid="gosh-density")  # fmt: skip
            fig.colorbar(art, ax=ax, label="subsets (log scale)")
        else:
            alpha = float(np.clip(300.0 / max(x.size, 1), 0.08, 0.8))
            ax.scatter(x, i2, s=6, color=COLORS["study"], alpha=alpha, linewidths=0, gid="gosh-points")
            if ratio:
                ax.set_xscale("log")
        ax.axvline(1.0 if ratio else 0.0, color=COLORS["null"], lw=0.6, zorder=0, gid="null-line")
        ax.set_xlabel(effect_label, family=font_family())
        ax.set_ylabel("I² (%)", family=font_family())
        ax.set_ylim(-2, 102)
        ax.set_title(f"{keep.sum():,} subsets of studies", family=font_family())
    return fig
