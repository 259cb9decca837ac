"""Drawing of a laid-out forest plot: table text, squares, whiskers, diamonds and risk-of-bias lights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._forest_parts import ROB_STYLE, judgement
from .style import COLORS, readable_ink, tint

PT = 1.0 / 72.0


def draw_forest(lay: Any, fig: Any, ax: Any, x0: float, top: float, family: str) -> None:
    """Draw a laid-out forest plot (see :class:`tpmeta.plots.forest._Forest`) into ``fig``/``ax``.

    Positions are in inches from the left (``x0``) and top (``top``) of the region, downwards.
    """
    from matplotlib.collections import CircleCollection, LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon
    from matplotlib.path import Path
    from matplotlib.ticker import NullLocator

    fs, T = lay.fs, fig.dpi_scale_trans
    W, H = fig.get_size_inches()

    def text(x: float, y: float, s: str, **kw: Any) -> Any:
        kw.setdefault("va", "center")
        return fig.text(x0 + x, top - y, s, transform=T, fontsize=kw.pop("size", fs), family=family,
                        parse_math=False, **kw)  # fmt: skip

    def rule(xa: float, xb: float, y: float, lw: float = 0.6) -> None:
        fig.add_artist(Line2D([x0 + xa, x0 + xb], [top - y, top - y], transform=T, lw=lw,
                              color=COLORS["rule"], solid_capstyle="butt"))  # fmt: skip

    # header
    hb = lay.header[1]
    for c in lay.cols:
        xt = {"left": c.x, "right": c.x + c.width, "center": c.x + c.width / 2}[c.align]
        text(xt, hb, c.header, ha=c.align, va="bottom", fontweight="bold", gid="column-header",
             multialignment=c.align)  # fmt: skip
    for group in dict.fromkeys(c.group for c in lay.cols if c.group):
        members = [c for c in lay.cols if c.group == group]
        xa, xb = members[0].x, members[-1].x + members[-1].width
        sub_h = max(len(c.header.split("\n")) for c in members) * lay.line_h
        text((xa + xb) / 2, hb - sub_h - 0.3 * lay.line_h, group, ha="center", va="bottom",
             fontweight="bold", gid="group-header")  # fmt: skip
        rule(xa, xb, hb - sub_h - 0.2 * lay.line_h, 0.4)
    right_edge = max([lay.panel[1]] + [c.x + c.width for c in lay.cols])
    rule(3 * PT, right_edge, hb + 0.5 * (lay.body_top - hb), 0.6)

    # forest panel: data y is figure inches, so rows and texts share one vertical coordinate
    px0, px1 = lay.panel
    ax.set_position([(x0 + px0) / W, (top - lay.body_bottom) / H, (px1 - px0) / W,
                     (lay.body_bottom - lay.body_top) / H])  # fmt: skip
    if lay.ratio:
        ax.set_xscale("log")
    ax.set_xlim(*lay.xlim)
    ax.set_ylim(top - lay.body_bottom, top - lay.body_top)
    ax.set_xticks(lay.ticks, labels=lay.ticklabels)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="x", labelsize=fs, labelfontfamily=family, length=3.0, width=0.6)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(0.6)
    ax.patch.set_visible(False)
    null = 1.0 if lay.ratio else 0.0
    ax.axvline(null, color=COLORS["null"], lw=0.6, zorder=1, gid="null-line")
    disp = np.exp if lay.ratio else (lambda v: v)
    lo_lim, hi_lim = lay.xlim
    max_side = 0.75 * lay.pitch / PT
    # squares by the first model's weight; a single trial (no pooled model, no weights) gets the full size
    size = {id(s): (s.weights[0] if s.weights else 1.0) for s in lay.all_studies}
    wmax = max(max(size.values()), 1e-12)
    segs, sq_x, sq_y, sq_s, arrows = [], [], [], [], {"left": ([], []), "right": ([], [])}

    def whisker(lo: float, hi: float, y: float) -> tuple[float, float]:
        a, b = max(disp(lo), lo_lim), min(disp(hi), hi_lim)
        if disp(lo) < lo_lim:
            arrows["left"][0].append(lo_lim), arrows["left"][1].append(y)
        if disp(hi) > hi_lim:
            arrows["right"][0].append(hi_lim), arrows["right"][1].append(y)
        return a, b

    for r in lay.rows:
        ty = top - r.y
        if r.kind == "study":
            s = r.study
            a, b = whisker(s.lo, s.hi, ty)
            if b > a:
                segs.append([(a, ty), (b, ty)])
            if lo_lim <= disp(s.yi) <= hi_lim:
                sq_x.append(disp(s.yi)), sq_y.append(ty)
                sq_s.append((max_side * math.sqrt(max(size[id(s)], 0.0) / wmax)) ** 2)
        elif r.kind == "pooled":
            h = 0.32 * lay.pitch
            ax.add_patch(Polygon([(disp(r.lo), ty), (disp(r.est), ty + h), (disp(r.hi), ty),
                                  (disp(r.est), ty - h)], closed=True, facecolor=r.fill,
                                 edgecolor="black", lw=0.6, zorder=4, gid=r.gid))  # fmt: skip
        elif r.kind == "pi":
            a, b = whisker(r.lo, r.hi, ty)
            ax.plot([a, b], [ty, ty], color=COLORS["prediction"], lw=1.4, zorder=3, gid=r.gid,
                    solid_capstyle="butt")  # fmt: skip
    ax.add_collection(LineCollection(segs, colors=COLORS["line"], linewidths=0.8, zorder=2,
                                     gid="ci-whiskers"), autolim=False)  # fmt: skip
    ax.scatter(sq_x, sq_y, s=sq_s, marker="s", color=COLORS["study"], linewidths=0, zorder=3,
               gid="study-squares")  # fmt: skip
    for side, sign in (("left", 1), ("right", -1)):
        if arrows[side][0]:
            head = Path([(0, 0), (sign * 1.0, 0.55), (sign * 1.0, -0.55), (0, 0)], closed=True)
            ax.plot(*arrows[side], ls="none", marker=head, ms=4.5, color=COLORS["line"],
                    clip_on=False, zorder=3, gid="ci-arrows")  # fmt: skip

    # table cells
    for r in lay.rows:
        weight = "bold" if r.bold else "normal"
        if r.kind in ("group", "text"):
            text(3 * PT, r.y, r.text["span"], ha="left", fontweight=weight, gid=r.gid)
            continue
        for c in lay.cols:
            if c.key in r.text and r.text[c.key]:
                xt = {"left": c.x, "right": c.x + c.width, "center": c.x + c.width / 2}[c.align]
                text(xt, r.y, r.text[c.key], ha=c.align, fontweight=weight,
                     gid="study-label" if c.key == "label" and r.kind == "study" else None)  # fmt: skip
    _draw_rob(lay, fig, text, x0, top, CircleCollection)

    # footer
    for x, y, s in lay.favours_pos:
        text(x, y, s, ha="left", va="top", gid="favours")
    if lay.xlabel_pos:
        text(*lay.xlabel_pos, ha="left", va="top", gid="xlabel")
    if lay.legend_pos:
        text(*lay.legend_pos, ha="left", va="top", size=fs * 0.9, gid="rob-legend")
    if lay.derived_pos:
        text(*lay.derived_pos, ha="left", va="top", size=fs * 0.9, gid="derived-note")

def _draw_rob(lay: Any, fig: Any, text: Any, x0: float, top: float, CircleCollection: Any) -> None:
    """Traffic-light circles with symbols in the risk-of-bias columns."""
    rob_cols = [c for c in lay.cols if c.group == "Risk of bias"]
    if not rob_cols:
        return
    from matplotlib.transforms import IdentityTransform

    d = 0.82 * lay.pitch / PT
    offsets, fills, edges, widths = [], [], [], []
    for r in lay.rows:
        if r.kind != "study" or r.study.rob is None:
            continue
        for c in rob_cols:
            symbol, color = ROB_STYLE[judgement(r.study.rob.get(c.key))]
            # a judgement that rests only on what the abstract leaves out: a ring around a pale centre
            hollow = r.study.rob.get(f"{c.key}_assessable") is False
            fill = tint(color) if hollow else color
            xc = c.x + c.width / 2
            offsets.append((x0 + xc, top - r.y))
            fills.append(fill), edges.append(color if hollow else "#333333"), widths.append(1.2 if hollow else 0.3)
            text(xc, r.y, symbol, ha="center", size=lay.fs * 0.95, fontweight="bold", gid="rob-symbol",
                 color=readable_ink(fill))
    coll = CircleCollection([math.pi * (d / 2) ** 2] * len(offsets), offsets=offsets,
                            offset_transform=fig.dpi_scale_trans, facecolors=fills,
                            edgecolors=edges, linewidths=widths, gid="rob-circles")  # fmt: skip
    coll.set_transform(IdentityTransform())  # sizes are in points, offsets in figure inches
    fig.add_artist(coll)
