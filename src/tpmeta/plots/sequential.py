"""Leave-one-out and cumulative forest plots, from the frames of :func:`tpmeta.leave_one_out` and
:func:`tpmeta.cumulative` and the full :class:`~tpmeta.PoolResult` (drawn as a reference line).
Drawing only; every number comes from those objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .style import COLORS, figure_width, font_family, get_renderer, new_figure, style

__all__ = ["leave_one_out_plot", "cumulative_plot"]


def _sequence_plot(frame: pd.DataFrame, label_col: str, prefix: str, result: Any, effect_label: str,
                   width: str | float, ratio: bool) -> Any:  # fmt: skip
    import matplotlib as mpl

    if frame.empty:
        raise ValueError("nothing to draw: the frame has no rows")
    family = font_family()
    labels = [f"{prefix}{s}" for s in frame[label_col]]
    est, lo, hi = (frame[c].to_numpy(float) for c in ("estimate", "ci_low", "ci_high"))
    if ratio:
        est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
    texts = [f"{e:.2f} [{a:.2f}, {b:.2f}]" for e, a, b in zip(est, lo, hi)]
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        row = 0.2
        n = len(labels)
        fig = new_figure(fig_w, row * (n + 1) + 0.75)
        renderer = get_renderer(fig)
        measure = lambda s: fig.text(0, 0, s, fontfamily=family).get_window_extent(renderer).width / fig.dpi  # noqa: E731
        label_w = max(measure(s) for s in labels + ["Study"])
        text_w = max(measure(s) for s in texts + [f"{effect_label} [95% CI]"])
        for t in list(fig.texts):
            t.remove()
        left = (label_w + 0.15) / fig_w
        right = (text_w + 0.2) / fig_w
        ax = fig.add_axes([left, 0.6 / fig.get_figheight(), 1 - left - right, row * n / fig.get_figheight()])
        y = np.arange(n)
        ax.hlines(y, lo, hi, color=COLORS["study"], lw=0.8)
        ax.plot(est, y, "s", color=COLORS["study"], ms=3.5)
        full = float(np.exp(result.estimate) if ratio else result.estimate)
        ax.axvline(full, color=COLORS["prediction"], lw=0.7, ls="--")
        ax.axvline(1.0 if ratio else 0.0, color=COLORS["null"], lw=0.6)
        if ratio:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(mpl.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_yticks(y, labels, fontfamily=family)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        for t in ax.get_xticklabels():
            t.set_fontfamily(family)
        ax.set_xlabel(f"{effect_label} (dashed: all studies)", fontfamily=family)
        trans = mpl.transforms.blended_transform_factory(fig.transFigure, ax.transData)
        for i, s in enumerate(texts):
            fig.text(1 - right + 0.1 / fig_w, i, s, transform=trans, va="center", fontsize=fs, fontfamily=family)
        fig.text(1 - right + 0.1 / fig_w, -1.0, f"{effect_label} [95% CI]", transform=trans, va="center",
                 fontsize=fs, fontweight="bold", fontfamily=family)  # fmt: skip
    return fig


def leave_one_out_plot(frame: pd.DataFrame, result: Any, *, effect_label: str = "Effect",
                       width: str | float = "double", ratio: bool = False) -> Any:  # fmt: skip
    """Forest plot of the pooled estimate with each study omitted in turn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _sequence_plot(frame, "omitted", "omitting ", result, effect_label, width, ratio)


def cumulative_plot(frame: pd.DataFrame, result: Any, *, effect_label: str = "Effect",
                    width: str | float = "double", ratio: bool = False) -> Any:  # fmt: skip
    """Forest plot of the cumulative meta-analysis (studies added one at a time).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _sequence_plot(frame, "added", "+ ", result, effect_label, width, ratio)
