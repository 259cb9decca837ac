"""Specification-curve plot of a multiverse analysis (Simonsohn, Simmons & Nelson 2020,
doi:10.1038/s41562-020-0912-z): estimates with CIs sorted by size (top) above a panel showing which
option of each choice every specification used (bottom). Drawing only: the fits come from
:func:`tpmeta.multiverse.run_multiverse`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .style import COLORS, figure_width, font_family, new_figure, style

__all__ = ["specification_curve_plot"]


def specification_curve_plot(
    frame: pd.DataFrame,
    choices: Sequence[str],
    *,
    effect_label: str = "SMD",
    width: str | float = "double",
) -> Any:
    """Draw the specification curve of ``frame`` (a :func:`run_multiverse` result).

    ``choices`` names the columns that hold each specification's options (``method`` and ``test`` are
    typical additions).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl
    from matplotlib.lines import Line2D

    if frame.empty:
        raise ValueError("no specifications to draw")
    order = frame.sort_values("estimate", kind="stable").reset_index(drop=True)
    n = len(order)
    x = np.arange(n)
    rows = [(c, opt) for c in choices for opt in sorted(order[c].astype(str).unique())]
    est, lo, hi = (order[c].to_numpy(float) for c in ("estimate", "ci_low", "ci_high"))
    ylim = _clipped_limits(est, lo, hi)
    family = font_family()
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        top_h, row_h, k_h, legend_h = 1.8, 0.16, 0.2, 0.3
        fig_h = legend_h + top_h + k_h + row_h * len(rows) + 0.9
        fig = new_figure(fig_w, fig_h)
        left = 1.55 / fig_w
        bottom_rows = row_h * len(rows) + 0.55
        ax = fig.add_axes([left, (bottom_rows + k_h + 0.2) / fig_h, 0.97 - left, (top_h - 0.15) / fig_h])
        sig = (order["ci_low"] > 0) | (order["ci_high"] < 0)
        colour = np.where(sig, COLORS["study"], _GREY)
        ax.vlines(x, np.maximum(lo, ylim[0]), np.minimum(hi, ylim[1]), colors=colour, lw=0.6)
        ax.scatter(x, est, s=6, c=colour, zorder=3)
        # intervals beyond the axis end in an arrow head at the edge (as in forest plots)
        for xi, low, high, c in zip(x, lo, hi, colour):
            if low < ylim[0]:
                ax.plot(xi, ylim[0], marker="v", ms=3, color=c, clip_on=False, gid="clipped-interval")
            if high > ylim[1]:
                ax.plot(xi, ylim[1], marker="^", ms=3, color=c, clip_on=False, gid="clipped-interval")
        ax.set_ylim(*ylim)
        ax.axhline(0, color=COLORS["null"], lw=0.6, ls="--")
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_xticks([])
        ax.set_ylabel(f"{effect_label} (95% CI)", fontfamily=family)
        for t in ax.get_yticklabels():
            t.set_fontfamily(family)
        # the number of trials behind each specification
        kx = fig.add_axes([left, (bottom_rows + 0.1) / fig_h, 0.97 - left, k_h / fig_h], sharex=ax)
        kx.set_axis_off()
        if "k" in order.columns:
            for xi, k in zip(x, order["k"]):
                kx.text(xi, 0.5, f"{int(k)}", ha="center", va="center", fontsize=fs - 1, fontfamily=family,
                        gid="k-per-specification")  # fmt: skip
            kx.text(-0.5, 0.5, "trials (k)  ", ha="right", va="center", fontsize=fs - 1, fontfamily=family,
                    transform=kx.transData)  # fmt: skip
        kx.set_ylim(0, 1)
        bx = fig.add_axes([left, 0.55 / fig_h, 0.97 - left, (row_h * len(rows)) / fig_h], sharex=ax)
        for j, (choice, opt) in enumerate(rows):
            on = order[choice].astype(str).to_numpy() == opt
            bx.scatter(x[on], np.full(on.sum(), j), s=4, marker="s", c="black")
        bx.set_yticks(range(len(rows)), [f"{c.replace('_', ' ')}: {o.replace('_', ' ')}" for c, o in rows],
                      fontfamily=family, fontsize=fs - 1)  # fmt: skip
        bx.set_ylim(len(rows) - 0.5, -0.5)
        bx.set_xlabel(f"{n} specifications, ordered by estimate", fontfamily=family)
        bx.tick_params(axis="x", bottom=False, labelbottom=False)
        for spine in ("top", "right", "bottom"):
            bx.spines[spine].set_visible(False)
        handles = [Line2D([], [], color=COLORS["study"], marker="o", ms=3, lw=0.6, label="95% CI excludes 0"),
                   Line2D([], [], color=_GREY, marker="o", ms=3, lw=0.6, label="95% CI includes 0"),
                   Line2D([], [], color=COLORS["null"], lw=0.6, ls="--", label="no effect"),
                   Line2D([], [], color=_GREY, marker="^", ms=3, ls="", label="interval continues beyond the axis")]
        if not (hi > ylim[1]).any() and not (lo < ylim[0]).any():
            handles = handles[:3]
        fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(0.5 + left / 2, 1.0), prop={"family": family, "size": fs - 0.5},
                   handlelength=1.6, columnspacing=1.2)  # fmt: skip
    return fig


_GREY = "#9AA5B1"


def _clipped_limits(est: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """y-limits that keep every estimate and the typical interval in view: an interval more than three
    median half-widths beyond the estimates is clipped (and drawn with an arrow), so that one very wide
    interval (e.g. HKSJ with two trials) does not flatten the curve. Presentation only."""
    half = (hi - lo) / 2
    finite = half[np.isfinite(half)]
    reach = 3 * float(np.median(finite)) if finite.size else 1.0
    low = max(float(np.nanmin(lo)), float(np.nanmin(est)) - reach)
    high = min(float(np.nanmax(hi)), float(np.nanmax(est)) + reach)
    low, high = min(low, 0.0), max(high, 0.0)  # the line of no effect is always shown
    pad = 0.05 * (high - low or 1.0)
    return low - pad, high + pad
