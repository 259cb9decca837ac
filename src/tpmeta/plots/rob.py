"""Risk-of-bias figures: traffic-light plot and summary (stacked bar) plot.

Conventions popularised by robvis (McGuinness & Higgins 2021, doi:10.1002/jrsm.1411): one row per study,
one column per domain (D1–D5) plus Overall, a coloured circle with a symbol (low "+", some concerns "−",
high "×", no information "?"), in the Cochrane colours or a colour-blind-safe palette; the summary
plot has one horizontal bar per domain with the proportion of studies (or of meta-analysis weight) at
each level. Layout sizes come from the number of rows and the measured width of the longest label.
Drawing only: the judgements are computed in :mod:`tpmeta.appraisal.rob2`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .style import font_family, get_renderer, new_figure, readable_ink, style

__all__ = ["PALETTES", "traffic_light_plot", "rob_summary_plot", "DOMAIN_LABELS"]

#: Fill colours per judgement. "cochrane": the Cochrane/robvis colours; "colourblind": Okabe–Ito based,
#: distinguishable under the common colour-vision deficiencies.
PALETTES: dict[str, dict[str, str]] = {
    "cochrane": {"low": "#02C100", "some concerns": "#E2DF07", "high": "#BF0000", "no information": "#4EA1F7"},
    "colourblind": {"low": "#009E73", "some concerns": "#F0E442", "high": "#D55E00", "no information": "#56B4E9"},
}
SYMBOLS = {"low": "+", "some concerns": "−", "high": "×", "no information": "?"}
LEVEL_ORDER = ("low", "some concerns", "high", "no information")
DOMAIN_COLUMNS = ("d1", "d2", "d3", "d4", "d5", "overall")
DOMAIN_LABELS = {
    "d1": "D1 Randomisation process",
    "d2": "D2 Deviations from intended interventions",
    "d3": "D3 Missing outcome data",
    "d4": "D4 Measurement of the outcome",
    "d5": "D5 Selection of the reported result",
    "overall": "Overall risk of bias",
}


def _level(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "no information"
    text = str(value).strip().lower()
    return text if text in SYMBOLS else "no information"


def _palette(name: str) -> dict[str, str]:
    try:
        return PALETTES[name]
    except KeyError:
        raise ValueError(f"palette={name!r} is not valid; choose one of {sorted(PALETTES)}") from None


def traffic_light_plot(
    table: pd.DataFrame,
    *,
    label: str = "study",
    palette: str = "cochrane",
    width: float | None = None,
) -> Any:
    """Traffic-light plot: studies × (D1–D5, Overall).

    Parameters
    ----------
    table : DataFrame with a label column and columns ``d1``…``d5``, ``overall`` holding
        ``"low"``, ``"some concerns"``, ``"high"`` (anything else is drawn as no information).
    label : name of the label column.
    palette : ``"cochrane"`` or ``"colourblind"``.
    width : figure width in inches (default: computed from the longest label).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl
    from matplotlib.lines import Line2D

    colours = _palette(palette)
    labels = [str(x) for x in table[label]]
    n = len(labels)
    family = font_family()
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        probe = new_figure(4, 1)
        renderer = get_renderer(probe)
        text_w = max((probe.text(0, 0, s, fontfamily=family).get_window_extent(renderer).width for s in labels), default=0) / probe.dpi
        cell = 0.26  # inches per row/column
        xs = [0, 1, 2, 3, 4, 5.35]  # Overall set apart from the domains
        grid_w = cell * (xs[-1] + 1)
        key = [f"{c.upper()}: {DOMAIN_LABELS[c][3:]}" for c in DOMAIN_COLUMNS[:5]]
        fig_w = width or max(text_w + 0.35 + grid_w + 0.15, 3.2)
        # the domain key: as many entries per line as fit the figure width
        lines, current = [], ""
        for entry in key:
            trial = f"{current};  {entry}" if current else entry
            if current and probe.text(0, 0, trial, fontsize=fs - 1, fontfamily=family).get_window_extent(renderer).width / probe.dpi > fig_w - 0.2:
                lines.append(current)
                current = entry
            else:
                current = trial
        lines.append(current)
        key_h = 0.14 * len(lines)
        legend_h = 0.3 + key_h + 0.1
        header_h = 0.3
        fig_h = header_h + cell * n + legend_h
        fig = new_figure(fig_w, fig_h)
        left = fig_w - grid_w - 0.15
        ax = fig.add_axes([left / fig_w, legend_h / fig_h, grid_w / fig_w, (cell * n) / fig_h])
        ax.set_xlim(-0.5, xs[-1] + 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_axis_off()
        radius_pt = cell * 72 * 0.38
        for x, col in zip(xs, DOMAIN_COLUMNS):
            levels = [_level(v) for v in (table[col] if col in table else [None] * n)]
            for i, lev in enumerate(levels):
                ax.plot(x, i, "o", ms=2 * radius_pt, mfc=colours[lev], mec="black", mew=0.4)
                ax.text(x, i, SYMBOLS[lev], ha="center", va="center_baseline", fontsize=fs, color=readable_ink(colours[lev]),
                        fontweight="bold", fontfamily=family)  # fmt: skip
            ax.text(x, -0.7, "Overall" if col == "overall" else col.upper(), ha="center", va="bottom", fontsize=fs,
                    fontweight="bold", fontfamily=family)  # fmt: skip
        for i, s in enumerate(labels):
            ax.text(-0.5 - 0.1 / cell, i, s, ha="right", va="center", fontsize=fs, fontfamily=family)
        ax.axvline((xs[-2] + xs[-1]) / 2, color="#999999", lw=0.5)
        handles = [Line2D([], [], marker="o", ls="", ms=7, mfc=colours[lev], mec="black", mew=0.4,
                          label=f"{SYMBOLS[lev]}  {lev.capitalize()}") for lev in LEVEL_ORDER]  # fmt: skip
        fig.legend(handles=handles, loc="lower center", ncol=4, prop={"family": family, "size": fs - 0.5}, frameon=False,
                   bbox_to_anchor=(0.5, (key_h + 0.02) / fig_h), handletextpad=0.3, columnspacing=1.0,
                   borderaxespad=0.0)  # fmt: skip
        for k, line in enumerate(lines):
            fig.text(0.5, (0.05 + 0.14 * (len(lines) - 1 - k)) / fig_h, line, ha="center", va="bottom",
                     fontsize=fs - 1, color="#333333", fontfamily=family)  # fmt: skip
    return fig


def rob_summary_plot(
    table: pd.DataFrame,
    *,
    weights: Sequence[float] | None = None,
    palette: str = "cochrane",
    width: str | float = "double",
    unit: str | None = None,
) -> Any:
    """Summary plot: one stacked horizontal bar per domain with the share of rows at each level or, given
    ``weights``, the share of weight: :func:`tpmeta.appraisal.rob2.study_weights` makes each study count
    once however many of its results were assessed; meta-analysis weights are the other common choice.

    ``unit`` names what the shares are of, for the axis label ("share of {unit}"); by default
    "assessments" without weights and "weight" with them. Percentages on dark segments are white.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl

    from .style import figure_width

    colours = _palette(palette)
    n = len(table)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    if w.shape != (n,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be one non-negative number per study, not all zero")
    w = w / w.sum()
    family = font_family()
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        rows = len(DOMAIN_COLUMNS)
        fig_h = 0.32 * rows + 0.9
        fig = new_figure(fig_w, fig_h)
        renderer = get_renderer(fig)
        label_w = max(fig.text(0, 0, s, fontfamily=family).get_window_extent(renderer).width for s in DOMAIN_LABELS.values()) / fig.dpi
        for t in list(fig.texts):
            t.remove()
        left = (label_w + 0.15) / fig_w
        ax = fig.add_axes([left, 0.55 / fig_h, 0.97 - left, (0.32 * rows) / fig_h])
        for i, col in enumerate(DOMAIN_COLUMNS):
            levels = np.array([_level(v) for v in (table[col] if col in table else [None] * n)])
            start = 0.0
            for lev in LEVEL_ORDER:
                share = float(w[levels == lev].sum())
                if share > 0:
                    ax.barh(i, share, left=start, color=colours[lev], edgecolor="black", linewidth=0.4, height=0.7)
                    if share >= 0.08:
                        ax.text(start + share / 2, i, f"{share:.0%}", ha="center", va="center", fontsize=fs - 1,
                                fontfamily=family, color=readable_ink(colours[lev]))
                    start += share
        ax.set_yticks(range(rows), [DOMAIN_LABELS[c] for c in DOMAIN_COLUMNS], fontfamily=family)
        for tick in ax.get_xticklabels():
            tick.set_fontfamily(family)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        ax.set_xlabel("share of " + (unit or ("weight" if weights is not None else "assessments")), fontfamily=family)
        from matplotlib.patches import Patch

        fig.legend(handles=[Patch(facecolor=colours[lev], edgecolor="black", linewidth=0.4, label=lev.capitalize())
                            for lev in LEVEL_ORDER], loc="lower center", ncol=4, frameon=False,
                   prop={"family": family, "size": fs - 0.5},
                   bbox_to_anchor=(0.5 + left / 2, 0.0))  # fmt: skip
    return fig
