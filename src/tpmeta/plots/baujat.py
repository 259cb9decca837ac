"""Baujat plot (Baujat et al. 2002, doi:10.1002/sim.1221): each study's contribution to heterogeneity
(x) against its influence on the pooled estimate (y), points labelled with the study labels.

The coordinates come from :func:`tpmeta.influence.baujat`; this module only draws them. Labels are
placed greedily, most influential study first, at the nearest of a set of positions around the point
(rings of growing radius × 24 directions) where the text box overlaps no other label and stays inside
the axes, preferring positions whose leader line crosses no label and whose box covers no point. Labels
away from their point get a thin leader line. Labels are kept out of the layout engine, so the layout
they were placed for is the one drawn and saved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .style import COLORS, axes_or_new, font_family, get_renderer, style

__all__ = ["baujat_plot"]

#: Candidate label positions around a point: rings (offsets in points, nearest first) × 24 directions
#: (right, up, left, down first, then the diagonals and the directions in between). Labels beyond the
#: first ring get a thin leader line.
_RINGS = (3.5, 9.0, 16.0, 24.0, 34.0, 46.0, 60.0, 76.0, 95.0, 115.0, 140.0, 170.0, 200.0)
_ANGLES = np.deg2rad([0, 90, 180, 270, 45, 135, 225, 315] + [a for a in range(15, 360, 15) if a % 45])
_MARKER_SIZE = 14.0  # points², as the funnel plot


def _candidates(size: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]], np.ndarray]:
    """Offsets (points), ring numbers, alignments and box corners relative to the anchor, per unit of
    ``size`` — one row per candidate, nearest ring first."""
    c, s = np.cos(_ANGLES), np.sin(_ANGLES)
    fx = np.where(c > 0.3, 0.0, np.where(c < -0.3, 1.0, 0.5))  # fraction of the width left of the anchor
    fy = np.where(s > 0.3, 0.0, np.where(s < -0.3, 1.0, 0.5))
    align = [("left" if a == 0 else "right" if a == 1 else "center",
              "bottom" if b == 0 else "top" if b == 1 else "center") for a, b in zip(fx, fy)]  # fmt: skip
    rings = np.repeat(np.arange(len(_RINGS)), _ANGLES.size)
    radius = np.repeat(_RINGS, _ANGLES.size)[:, None]
    offsets = np.column_stack([np.tile(c, len(_RINGS)), np.tile(s, len(_RINGS))]) * radius
    lower = -np.column_stack([np.tile(fx, len(_RINGS)), np.tile(fy, len(_RINGS))]) * size
    return offsets, rings, align * len(_RINGS), lower


def _overlap(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Total overlap area of each row of ``boxes`` (x0, y0, x1, y1) with the rows of ``others``."""
    if others.size == 0:
        return np.zeros(len(boxes))
    ox = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(boxes[:, None, 0], others[None, :, 0])
    oy = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(boxes[:, None, 1], others[None, :, 1])
    return (np.clip(ox, 0, None) * np.clip(oy, 0, None)).sum(axis=1)


def _outside(boxes: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Area of each box lying outside the ``frame`` box."""
    ix = np.clip(np.minimum(boxes[:, 2], frame[2]) - np.maximum(boxes[:, 0], frame[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], frame[3]) - np.maximum(boxes[:, 1], frame[1]), 0, None)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - ix * iy


def _inside(samples: np.ndarray, boxes: np.ndarray) -> int:
    """How many of the (n, 2) ``samples`` lie inside any of ``boxes``."""
    if samples.size == 0 or boxes.size == 0:
        return 0
    sx, sy = samples[:, 0:1], samples[:, 1:2]
    hit = (sx > boxes[:, 0]) & (sx < boxes[:, 2]) & (sy > boxes[:, 1]) & (sy < boxes[:, 3])
    return int(hit.any(axis=1).sum())


def _leader(start: np.ndarray, box: np.ndarray, skip: float, step: float, pad: float) -> np.ndarray:
    """Points every ``step`` pixels along the leader line matplotlib draws from ``start`` towards the
    centre of the label ``box`` (clipped at the box), leaving out ``skip`` pixels at the start."""
    end = 0.5 * (box[:2] + box[2:])
    length = float(np.hypot(*(end - start)))
    if length <= skip:
        return np.empty((0, 2))
    line = start + (np.arange(skip, length, step) / length)[:, None] * (end - start)
    return line[~((line >= box[:2] - pad) & (line <= box[2:] + pad)).all(axis=1)]


def _place_labels(
    ax: Any, x: np.ndarray, y: np.ndarray, labels: list[str], family: str, fs: float
) -> list[Any]:
    """Greedy placement, most influential first. Candidate boxes come from each label's measured size,
    so only the chosen position becomes an artist. Priorities: a label never overlaps another label or
    leaves the axes; then no leader line crosses a label; then labels keep off the points."""
    fig = ax.figure
    renderer = get_renderer(fig)
    pts = ax.transData.transform(np.column_stack([x, y]))
    to_px = fig.dpi / 72.0
    r = (np.sqrt(_MARKER_SIZE) / 2.0 + 0.5) * to_px
    point_boxes = np.column_stack([pts[:, 0] - r, pts[:, 1] - r, pts[:, 0] + r, pts[:, 1] + r])
    point_boxes = point_boxes[np.isfinite(point_boxes).all(axis=1)]
    frame = np.asarray(ax.bbox.extents)
    pad = 1.0 * to_px  # keep a hairline of space between labels
    step = 2.0 * to_px
    placed = np.empty((0, 4))
    leaders = np.empty((0, 2))  # sample points on the leader lines drawn so far
    annotations: list[Any] = [None] * len(labels)
    for i in np.argsort(-np.nan_to_num(y, nan=-np.inf), kind="stable"):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        probe = ax.text(0, 0, labels[i], fontsize=fs, family=family, transform=None)
        ext = probe.get_window_extent(renderer)
        probe.remove()
        size = np.array([ext.width, ext.height])
        offsets, rings, align, lower = _candidates(size)
        corner = pts[i] + offsets * to_px + lower
        boxes = np.column_stack([corner, corner + size])
        grown = boxes + np.array([-pad, -pad, pad, pad])
        base = (1e4 * (_overlap(boxes, placed) + _outside(boxes, frame)) + 100.0 * _overlap(grown, placed)
                + 3.0 * _overlap(boxes, point_boxes))  # fmt: skip
        best: tuple[float, int, np.ndarray] | None = None
        for j in np.argsort(base, kind="stable"):  # nearest ring first among equal base scores
            if best is not None and base[j] >= best[0]:
                break
            line = _leader(pts[i], boxes[j], r, step, pad) if rings[j] else np.empty((0, 2))
            crossings = _inside(line, placed) + _inside(leaders, grown[j][None, :])
            score = base[j] + 2.0 * step * step * crossings
            if best is None or score < best[0]:
                best = (float(score), int(j), line)
            if score == 0.0:
                break
        _, j, line = best
        arrow = None
        if rings[j] > 0:
            arrow = {"arrowstyle": "-", "lw": 0.4, "color": "#777777", "shrinkA": 0.5, "shrinkB": r / to_px}
        ann = ax.annotate(labels[i], xy=(x[i], y[i]), xytext=tuple(offsets[j]), textcoords="offset points",
                          ha=align[j][0], va=align[j][1], fontsize=fs, family=family, color="black",
                          gid="baujat-label", annotation_clip=False, arrowprops=arrow)  # fmt: skip
        ann.set_in_layout(False)
        placed = np.vstack([placed, boxes[j]])
        leaders = np.vstack([leaders, line])
        annotations[i] = ann
    return annotations


def baujat_plot(
    frame: Any,
    *,
    ax: Any = None,
    width: str | float = "single",
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Any:
    """Baujat plot of the frame returned by :func:`tpmeta.influence.baujat`; returns the Figure.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``study``, ``x``, ``y`` (as from :func:`tpmeta.influence.baujat`); axis titles are taken
        from ``frame.attrs`` (``xlabel``, ``ylabel``) unless given.
    ax : Axes, optional
        Draw into this axes; otherwise a new figure of ``width``.
    width : "single", "double" or float inches
    xlabel, ylabel : str, optional

    Each point is labelled with its study label; labels avoid each other, the points and the axes
    edges where possible (see :mod:`tpmeta.plots.baujat`).

    Example
    -------
    >>> from tpmeta import pool
    >>> from tpmeta.diagnostics.influence import baujat
    >>> res = pool([0.2, 0.5, 0.1, 0.8, 0.3], [0.04, 0.03, 0.05, 0.02, 0.04], labels=list("ABCDE"))
    >>> fig = baujat_plot(baujat(res))
    >>> ax = fig.axes[0]
    >>> [t.get_text() for t in ax.texts], ax.get_xlabel()   # labelled most influential first
    (['D', 'C', 'A', 'B', 'E'], 'Squared Pearson Residual')
    """
    import matplotlib as mpl

    missing = {"study", "x", "y"} - set(getattr(frame, "columns", ()))
    if missing:
        raise ValueError(
            f"frame lacks column(s) {sorted(missing)}; pass the DataFrame from tpmeta.influence.baujat()"
        )
    x = np.asarray(frame["x"], dtype=float)
    y = np.asarray(frame["y"], dtype=float)
    labels = [str(s) for s in frame["study"]]
    attrs = getattr(frame, "attrs", {}) or {}
    with mpl.rc_context(style()):
        family = font_family()
        fs = mpl.rcParams["font.size"]
        fig, ax, own = axes_or_new(ax, width, lambda w: w * 0.8)
        ax.grid(True, color="#E3E3E3", lw=0.4, zorder=0)
        ax.set_axisbelow(True)
        ax.scatter(x, y, s=_MARKER_SIZE, facecolor=COLORS["study"], edgecolor="white", linewidths=0.4,
                   zorder=3, gid="baujat-points", clip_on=False)  # fmt: skip
        for set_lim, vals in ((ax.set_xlim, x), (ax.set_ylim, y)):
            finite = vals[np.isfinite(vals)]
            top = float(finite.max()) if finite.size else 1.0
            top = top if top > 0 else 1.0
            set_lim(-0.04 * top, 1.12 * top)
        xlabel = xlabel or attrs.get("xlabel", "Contribution to heterogeneity")
        ylabel = ylabel or attrs.get("ylabel", "Influence on overall result")
        ax.set_xlabel(xlabel, fontsize=fs, family=family)
        ax.set_ylabel(ylabel, fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        fig.canvas.draw()  # settle the layout before measuring label positions
        _place_labels(ax, x, y, labels, family, fs)  # labels are out of the layout: it stays as measured
        return fig
