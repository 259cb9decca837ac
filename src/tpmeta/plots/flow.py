"""PRISMA-style flow diagram of trials from the register to the pooled analyses.

Drawing only: the counts come from :func:`tpmeta.summaries.flow_counts`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .style import figure_width, font_family, new_figure, style

__all__ = ["flow_diagram"]


def flow_diagram(counts: pd.DataFrame, *, width: str | float = "double") -> Any:
    """Boxes and arrows: identified → included → with results → pooled, with side boxes for the
    excluded and awaiting trials. ``counts`` has columns ``step`` and ``trials`` as produced by
    :func:`tpmeta.summaries.flow_counts` (indented steps are details of the step above).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    main, side = [], {}
    current = None
    for step, n in zip(counts["step"], counts["trials"]):
        if step.startswith("  "):
            if current is not None:
                side.setdefault(current, []).append(f"{step.strip()}: {n}")
            continue
        current = step
        main.append((step, int(n)))
    left_steps = [m for m in main if not m[0].startswith(("Excluded", "Awaiting"))]
    right_steps = {m[0]: m for m in main if m[0].startswith(("Excluded", "Awaiting"))}
    family = font_family()
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        box_h = 0.55
        gap = 0.35
        rows = len(left_steps)
        fig_h = rows * box_h + (rows - 1) * gap + 0.3
        fig = new_figure(fig_w, fig_h)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, fig_w)
        ax.set_ylim(fig_h, 0)
        ax.set_axis_off()
        bw = fig_w * 0.42
        x0 = 0.15
        for i, (step, n) in enumerate(left_steps):
            y = 0.15 + i * (box_h + gap)
            ax.add_patch(FancyBboxPatch((x0, y), bw, box_h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                        fc="#EEF3F8", ec="#1F3A5F", lw=0.8))  # fmt: skip
            details = side.get(step, [])
            text = f"{step}\nn = {n}" + ("".join(f"\n{d}" for d in details[:2]) if step.startswith("Included") else "")
            ax.text(x0 + bw / 2, y + box_h / 2, text, ha="center", va="center", fontsize=fs, fontfamily=family)
            if i:
                ax.add_patch(FancyArrowPatch((x0 + bw / 2, y - gap + 0.02), (x0 + bw / 2, y - 0.02),
                                             arrowstyle="-|>", mutation_scale=8, lw=0.8, color="#1F3A5F"))  # fmt: skip
        # side boxes between the first and second main box
        sx = x0 + bw + 0.35
        sw = fig_w - sx - 0.15
        y_side = 0.15
        for name in ("Excluded", "Awaiting classification (full text needed)"):
            key = next((k for k in right_steps if k.startswith(name.split(" (")[0])), None)
            if key is None:
                continue
            details = side.get(key, [])[:4]
            lines = [f"{key}: n = {right_steps[key][1]}"] + [f"• {d}" for d in details]
            h = 0.13 * len(lines) + 0.14
            ax.add_patch(FancyBboxPatch((sx, y_side), sw, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                        fc="#F8F0EE", ec="#A23B2A", lw=0.8))  # fmt: skip
            ax.text(sx + 0.08, y_side + h / 2, "\n".join(lines), ha="left", va="center", fontsize=fs - 0.5,
                    fontfamily=family)  # fmt: skip
            ax.add_patch(FancyArrowPatch((x0 + bw, 0.15 + box_h / 2), (sx, y_side + h / 2), arrowstyle="-|>",
                                         mutation_scale=8, lw=0.6, color="#A23B2A"))  # fmt: skip
            y_side += h + 0.12
        if y_side > fig_h:
            fig.set_size_inches(fig_w, y_side + 0.1)
            ax.set_ylim(y_side + 0.1, 0)
    return fig
