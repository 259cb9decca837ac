"""PRISMA 2020 flow diagram (Page et al. 2021, doi:10.1136/bmj.n71): phases down the left, the main
column of boxes, and beside each main box the box of what left the flow at that step.

Drawing only: the counts come from :func:`tpmeta.review.tables.flow_counts`. Box sizes are measured
with the figure's renderer, so long reasons wrap inside their box instead of overflowing it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._text import Measurer, wrap_to_width
from .style import figure_width, font_family, get_renderer, new_figure, style

__all__ = ["flow_diagram"]

_MAIN_FILL, _MAIN_EDGE = "#EEF3F8", "#1F3A5F"
_SIDE_FILL, _SIDE_EDGE = "#F8F0EE", "#A23B2A"
_PHASE_FILL = "#C9DAEA"
PT = 1.0 / 72.0


def _boxes(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """Main boxes in order, each with its details and its side box (or None)."""
    needed = {"phase", "kind", "step", "trials"}
    if not needed <= set(counts.columns):
        raise ValueError(f"flow_diagram needs the columns {sorted(needed)} of flow_counts(); got {list(counts.columns)}")
    rows: list[dict[str, Any]] = []
    target: dict[str, Any] | None = None
    for phase, kind, step, n in zip(counts["phase"], counts["kind"], counts["step"], counts["trials"]):
        count = None if pd.isna(n) else int(n)
        if kind == "main":
            rows.append({"phase": phase, "title": step, "n": count, "details": [], "side": None})
            target = rows[-1]
        elif kind == "side":
            if not rows:
                raise ValueError(f"flow_diagram: side box {step!r} comes before any main box")
            rows[-1]["side"] = {"title": step, "n": count, "details": []}
            target = rows[-1]["side"]
        elif kind == "detail":
            if target is None:
                raise ValueError(f"flow_diagram: detail {step!r} comes before any box")
            target["details"].append(step if count is None else f"{step}:\u00a0{count}")
        else:
            raise ValueError(f"flow_diagram: kind {kind!r} is not one of 'main', 'side', 'detail'")
    return rows


def _text(box: dict[str, Any], bullets: bool) -> tuple[str, list[str]]:
    title = box["title"] + ("" if box["n"] is None else f" (n\u00a0=\u00a0{box['n']})")  # never split "n = 13"
    return title, [("• " if bullets else "") + d for d in box["details"]]


def flow_diagram(counts: pd.DataFrame, *, width: str | float = "double") -> Any:
    """Draw the PRISMA 2020 flow of trials and return the Figure.

    Parameters
    ----------
    counts : DataFrame
        As :func:`tpmeta.review.tables.flow_counts` returns it: ``phase``, ``kind`` (main / side /
        detail), ``step`` and ``trials`` (NA: not recorded, drawn without a count).
    width : "single", "double" or inches

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    rows = _boxes(counts)
    family = font_family()
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        fig = new_figure(fig_w, 2.0)
        m = Measurer(fig, get_renderer(fig), family)
        margin, phase_w, gap_x, gap_y, pad = 0.05, 0.22, 0.35, 0.22, 0.07
        main_x = margin + phase_w + 0.1
        main_w = (fig_w - main_x - margin - gap_x) * 0.5
        side_x = main_x + main_w + gap_x
        side_w = fig_w - side_x - margin
        line_h = m.size("Ag", fs)[1] * 1.25

        def layout(box: dict[str, Any] | None, w: float, bullets: bool, align_center: bool) -> dict[str, Any] | None:
            if box is None:
                return None
            title, details = _text(box, bullets)
            inner = w - 2 * pad
            lines = wrap_to_width(title, inner, m, fs, "bold").split("\n")
            n_title = len(lines)
            lines += [ln for d in details for ln in wrap_to_width(d, inner, m, fs - 0.5).split("\n")]
            return {"lines": lines, "n_title": n_title, "h": len(lines) * line_h + 2 * pad, "center": align_center}

        sized = []
        for row in rows:
            main = layout(row, main_w, False, True)
            side = layout(row["side"], side_w, True, False)
            sized.append([row, main, side, max(main["h"], side["h"] if side else 0.0)])
        # a phase bar is at least as tall as its rotated name: stretch the phase's rows evenly if not
        for phase in dict.fromkeys(r[0]["phase"] for r in sized):
            members = [r for r in sized if r[0]["phase"] == phase]
            span = sum(r[3] for r in members) + gap_y * (len(members) - 1)
            short = m.width(phase, fs, "bold") + 2 * pad - span
            for r in members:
                r[3] += max(0.0, short) / len(members)
        placed, y = [], margin
        for row, main, side, h in sized:
            placed.append((row, main, side, y, h))
            y += h + gap_y
        fig_h = y - gap_y + margin
        fig.set_size_inches(fig_w, fig_h)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_xlim(0, fig_w)
        ax.set_ylim(fig_h, 0)
        ax.set_axis_off()

        def draw(box: dict[str, Any], x: float, y0: float, w: float, fill: str, edge: str) -> None:
            ax.add_patch(FancyBboxPatch((x, y0), w, box["h"], boxstyle="round,pad=0,rounding_size=0.04", fc=fill,
                                        ec=edge, lw=0.8))  # fmt: skip
            for i, line in enumerate(box["lines"]):
                bold = i < box["n_title"]
                ax.text(x + (w / 2 if box["center"] else pad), y0 + pad + (i + 0.5) * line_h, line,
                        ha="center" if box["center"] else "left", va="center", fontsize=fs if bold else fs - 0.5,
                        fontweight="bold" if bold else "normal", fontfamily=family)  # fmt: skip

        for i, (row, main, side, y0, h) in enumerate(placed):
            top = y0 + (h - main["h"]) / 2
            draw(main, main_x, top, main_w, _MAIN_FILL, _MAIN_EDGE)
            if side:
                s_top = y0 + (h - side["h"]) / 2
                draw(side, side_x, s_top, side_w, _SIDE_FILL, _SIDE_EDGE)
                ax.add_patch(FancyArrowPatch((main_x + main_w, y0 + h / 2), (side_x, y0 + h / 2), arrowstyle="-|>",
                                             mutation_scale=8, lw=0.7, color=_SIDE_EDGE, shrinkA=0, shrinkB=0))
            if i + 1 < len(placed):
                nxt = placed[i + 1]
                ax.add_patch(FancyArrowPatch((main_x + main_w / 2, top + main["h"]),
                                             (main_x + main_w / 2, nxt[3] + (nxt[4] - nxt[1]["h"]) / 2),
                                             arrowstyle="-|>", mutation_scale=8, lw=0.8, color=_MAIN_EDGE,
                                             shrinkA=0, shrinkB=0))  # fmt: skip
        # the phase bars: one per run of rows in the same phase
        runs: list[tuple[str, float, float]] = []
        for row, _, _, y0, h in placed:
            if runs and runs[-1][0] == row["phase"]:
                runs[-1] = (row["phase"], runs[-1][1], y0 + h)
            else:
                runs.append((row["phase"], y0, y0 + h))
        for phase, y0, y1 in runs:
            ax.add_patch(FancyBboxPatch((margin, y0), phase_w, y1 - y0, boxstyle="round,pad=0,rounding_size=0.04",
                                        fc=_PHASE_FILL, ec="none"))  # fmt: skip
            ax.text(margin + phase_w / 2, (y0 + y1) / 2, phase, rotation=90, ha="center", va="center", fontsize=fs,
                    fontweight="bold", fontfamily=family)  # fmt: skip
    return fig
