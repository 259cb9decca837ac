"""Radial (Galbraith) plot, as ``metafor::radial()``: standardised effects ``z_i`` against precisions
``x_i`` (from :func:`tpmeta.diagnostics.graphical.radial_data`), the pooled estimate as the slope of a
line through the origin with the ``±z_crit`` band around it, and on the right an arc on which a line
from the origin through a study reads off that study's effect (ticks at seven values spanning the
effects, a second arc for the CI of the pooled estimate). The axes are square, as metafor's
(``pty = "s"``), so the arcs are circular.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diagnostics.graphical import RadialResult
from .style import COLORS, axes_or_new, font_family, style

__all__ = ["radial_plot"]


def _on_arc(values: np.ndarray, radius: float, asp: float) -> tuple[np.ndarray, np.ndarray]:
    """Points at ``radius`` (in x units, on a circle of the square axes) on the rays ``z = θ x``."""
    x = radius / np.sqrt(1.0 + (values / asp) ** 2)
    return x, x * values


def radial_plot(data: RadialResult, *, ax: Any = None, width: str | float = "single", ratio: bool = False,
                steps: int = 7, digits: int = 2) -> Any:  # fmt: skip
    """Draw the radial plot of ``data`` (see :func:`tpmeta.diagnostics.graphical.radial_data`); returns
    the Figure.

    Parameters
    ----------
    data : RadialResult
    ax : Axes, optional
        Draw into this axes; otherwise a new square figure of ``width``.
    ratio : bool
        Effects are log ratios: the arc labels show the ratio (``exp``).
    steps, digits : int
        Number of labelled ticks on the effect arc and their decimals (metafor's defaults).
    """
    import matplotlib as mpl

    x, z, y = data.x, data.z, data.yi
    b, zc = data.estimate, data.zcrit
    with mpl.rc_context(style()):
        family = font_family()
        fs = mpl.rcParams["font.size"]
        fig, ax, own = axes_or_new(ax, width, lambda w: w * 0.9)
        if own:  # room on the right for the arc and its labels, which lie outside the axes
            fig.get_layout_engine().set(rect=(0.0, 0.0, 0.87, 1.0))
        xmax = 1.3 * float(x.max())
        ci_pos, arc_pos = xmax * 1.12, xmax * 1.14
        lo = min(-5.0, 1.1 * z.min(), 1.1 * data.ci_low * ci_pos, 1.1 * y.min() * arc_pos, -1.1 * zc + xmax * b)
        hi = max(5.0, 1.1 * z.max(), 1.1 * data.ci_high * ci_pos, 1.1 * y.max() * arc_pos, 1.1 * zc + xmax * b)
        ax.set_box_aspect(1)
        ax.set_xlim(0, xmax)
        ax.set_ylim(lo, hi)
        asp = (hi - lo) / xmax
        ax.fill([0, xmax, xmax, 0], [zc, zc + xmax * b, -zc + xmax * b, -zc], color="#E3E3E3", lw=0,
                zorder=0, gid="radial-band")  # fmt: skip
        ax.plot([0, xmax], [0, xmax * b], color=COLORS["line"], lw=0.8, gid="radial-estimate")
        for s in (-1, 1):
            ax.plot([0, xmax], [s * zc, s * zc + xmax * b], color=COLORS["line"], lw=0.6, ls=":", gid="radial-limits")
        kw = dict(color=COLORS["line"], lw=0.6, clip_on=False)
        theta = np.linspace(y.min(), y.max(), 100)
        ax.plot(*_on_arc(theta, arc_pos, asp), gid="radial-arc", **kw)
        ticks = np.linspace(y.min(), y.max(), steps)
        x0, z0 = _on_arc(ticks, arc_pos, asp)
        x1, z1 = _on_arc(ticks, arc_pos + 0.015 * xmax, asp)
        xt, zt = _on_arc(ticks, arc_pos + 0.02 * xmax, asp)
        for i, t in enumerate(ticks):
            ax.plot([x0[i], x1[i]], [z0[i], z1[i]], **kw)
            if lo < zt[i] < hi:
                ax.text(xt[i], zt[i], f"{np.exp(t) if ratio else t:.{digits}f}", ha="left", va="center",
                        fontsize=fs * 0.9, family=family, clip_on=False, gid="radial-arc-label")  # fmt: skip
        ax.plot(*_on_arc(np.linspace(data.ci_low, data.ci_high, 25), ci_pos, asp), gid="radial-ci-arc", **kw)
        for t in (data.ci_low, b, data.ci_high):
            xa, za = _on_arc(np.array([t]), ci_pos - 0.007 * xmax, asp)
            xb, zb = _on_arc(np.array([t]), ci_pos + 0.007 * xmax, asp)
            ax.plot([xa[0], xb[0]], [za[0], zb[0]], **kw)
        ax.scatter(x, z, s=14, facecolor=COLORS["study"], edgecolor="white", linewidths=0.4, zorder=3,
                   gid="radial-points")  # fmt: skip
        ax.set_yticks([-2, 0, 2])
        ax.spines["bottom"].set_bounds(0, xmax)
        tau = " + τ²" if data.random else ""
        ax.set_xlabel(f"$x_i$ = 1/√($v_i${tau})", fontsize=fs, family=family)
        ax.set_ylabel(f"$z_i$ = $y_i$/√($v_i${tau})", fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        return fig
