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

    if frame.empty:
        raise ValueError("no specifications to draw")
    order = frame.sort_values("estimate", kind="stable").reset_index(drop=True)
    n = len(order)
    x = np.arange(n)
    rows = [(c, opt) for c in choices for opt in sorted(order[c].astype(str).unique())]
    family = font_family()
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        top_h, row_h = 1.8, 0.16
        fig_h = top_h + row_h * len(rows) + 0.9
        fig = new_figure(fig_w, fig_h)
        left = 1.55 / fig_w
        ax = fig.add_axes([left, (row_h * len(rows) + 0.75) / fig_h, 0.97 - left, (top_h - 0.15) / fig_h])
        sig = (order["ci_low"] > 0) | (order["ci_high"] < 0)
        colour = np.where(sig, COLORS["study"], "#9AA5B1")
        ax.vlines(x, order["ci_low"], order["ci_high"], colors=colour, lw=0.6)
        ax.scatter(x, order["estimate"], s=6, c=colour, zorder=3)
        ax.axhline(0, color=COLORS["null"], lw=0.6, ls="--")
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_xticks([])
        ax.set_ylabel(f"{effect_label} (95% CI)", fontfamily=family)
        for t in ax.get_yticklabels():
            t.set_fontfamily(family)
        bx = fig.add_axes([left, 0.55 / fig_h, 0.97 - left, (row_h * len(rows)) / fig_h], sharex=ax)
        for j, (choice, opt) in enumerate(rows):
            on = order[choice].astype(str).to_numpy() == opt
            bx.scatter(x[on], np.full(on.sum(), j), s=4, marker="s", c="black")
        bx.set_yticks(range(len(rows)), [f"{c.replace('_', ' ')}: {o}" for c, o in rows], fontfamily=family, fontsize=fs - 1)
        bx.set_ylim(len(rows) - 0.5, -0.5)
        bx.set_xlabel(f"{n} specifications, ordered by estimate", fontfamily=family)
        bx.tick_params(axis="x", bottom=False, labelbottom=False)
        for spine in ("top", "right", "bottom"):
            bx.spines[spine].set_visible(False)
    return fig
