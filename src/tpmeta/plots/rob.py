"""Risk-of-bias figures: traffic-light plot and summary (stacked bar) plot.

Conventions popularised by robvis (McGuinness & Higgins 2021, doi:10.1002/jrsm.1411): one row per study,
one column per domain (D1–D5) plus Overall, a coloured circle with a symbol (low "+", some concerns "−",
high "×", no information "?"), in the Cochrane colours or a colour-blind-safe palette; the summary
plot has one horizontal bar per domain with the proportion of studies (or of meta-analysis weight) at
each level. Layout sizes come from the number of rows and the measured width of the longest label.
Drawing only: the judgements are computed in :mod:`tpmeta.appraisal.rob2`.

What a judgement rests on: a table with ``d1_assessable`` … ``overall_assessable`` (from
:func:`tpmeta.appraisal.rob2.rob2_table`) marks the judgements that are some concerns or high only
because an abstract leaves out how the trial was run. The traffic-light plot draws them hollow (a ring
in the judgement's colour around a pale centre); the summary plot gives them their own hatched segment,
"not assessable from the abstract", apart from "high: flaw reported".
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .style import font_family, get_renderer, new_figure, readable_ink, style, tint

__all__ = ["PALETTES", "traffic_light_plot", "rob_summary_plot", "DOMAIN_LABELS", "GAP_LABEL"]

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


#: Legend text for judgements that rest only on what an abstract leaves out.
GAP_LABEL = "Not assessable from the abstract"
_GAP_FILL, _GAP_HATCH, _GAP_EDGE = "#FFFFFF", "////", "#555555"


def _gaps(table: pd.DataFrame, col: str, levels: Sequence[str]) -> list[bool]:
    """Whether each row's judgement in ``col`` rests only on abstract gaps (needs ``{col}_assessable``)."""
    flags = table[f"{col}_assessable"] if f"{col}_assessable" in table else [True] * len(levels)
    return [lev in ("some concerns", "high") and flag is not None and not pd.isna(flag) and not bool(flag)
            for lev, flag in zip(levels, flags)]  # fmt: skip


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
    show_basis: bool = True,
) -> Any:
    """Traffic-light plot: studies × (D1–D5, Overall).

    Parameters
    ----------
    table : DataFrame with a label column and columns ``d1``…``d5``, ``overall`` holding
        ``"low"``, ``"some concerns"``, ``"high"`` (anything else is drawn as no information); optional
        ``d1_assessable`` … ``overall_assessable`` (False: judged only on what the abstract leaves out).
    label : name of the label column.
    palette : ``"cochrane"`` or ``"colourblind"``.
    width : figure width in inches (default: computed from the longest label).
    show_basis : draw judgements that rest only on abstract gaps hollow, with a legend line saying so.

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
        gap_cells = {col: _gaps(table, col, [_level(v) for v in (table[col] if col in table else [None] * n)])
                     for col in DOMAIN_COLUMNS} if show_basis else {}  # fmt: skip
        any_gap = any(any(v) for v in gap_cells.values())
        gap_h = 0.2 if any_gap else 0.0
        legend_h = 0.3 + gap_h + key_h + 0.1
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
            hollow = gap_cells.get(col, [False] * n)
            for i, lev in enumerate(levels):
                fill = tint(colours[lev]) if hollow[i] else colours[lev]
                if hollow[i]:  # a thick ring in the judgement's colour around a pale centre
                    ax.plot(x, i, "o", ms=2 * radius_pt - 2.2, mfc=fill, mec=colours[lev], mew=2.2)
                else:
                    ax.plot(x, i, "o", ms=2 * radius_pt, mfc=fill, mec="black", mew=0.4)
                ax.text(x, i, SYMBOLS[lev], ha="center", va="center_baseline", fontsize=fs, color=readable_ink(fill),
                        fontweight="bold", fontfamily=family)  # fmt: skip
            ax.text(x, -0.7, "Overall" if col == "overall" else col.upper(), ha="center", va="bottom", fontsize=fs,
                    fontweight="bold", fontfamily=family)  # fmt: skip
        for i, s in enumerate(labels):
            ax.text(-0.5 - 0.1 / cell, i, s, ha="right", va="center", fontsize=fs, fontfamily=family)
        ax.axvline((xs[-2] + xs[-1]) / 2, color="#999999", lw=0.5)
        handles = [Line2D([], [], marker="o", ls="", ms=7, mfc=colours[lev], mec="black", mew=0.4,
                          label=f"{SYMBOLS[lev]}  {lev.capitalize()}") for lev in LEVEL_ORDER]  # fmt: skip
        fig.legend(handles=handles, loc="lower center", ncol=4, prop={"family": family, "size": fs - 0.5}, frameon=False,
                   bbox_to_anchor=(0.5, (key_h + gap_h + 0.02) / fig_h), handletextpad=0.3, columnspacing=1.0,
                   borderaxespad=0.0)  # fmt: skip
        if any_gap:
            ring = "#666666"  # any judgement's colour: the ring is what matters
            gap_handle = Line2D([], [], marker="o", ls="", ms=6, mfc=tint(ring), mec=ring, mew=1.6,
                                label=f"Hollow: {GAP_LABEL.lower()}")  # fmt: skip
            fig.legend(handles=[gap_handle], loc="lower center", ncol=1, prop={"family": family, "size": fs - 0.5},
                       frameon=False, bbox_to_anchor=(0.5, (key_h + 0.02) / fig_h), handletextpad=0.3,
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
    show_basis: bool = True,
) -> Any:
    """Summary plot: one stacked horizontal bar per domain with the share of rows at each level or, given
    ``weights``, the share of weight: :func:`tpmeta.appraisal.rob2.study_weights` makes each study count
    once however many of its results were assessed; meta-analysis weights are the other common choice.

    ``unit`` names what the shares are of, for the axis label ("share of {unit}"); by default
    "assessments" without weights and "weight" with them. Percentages on dark segments are white.

    With ``show_basis`` and ``d1_assessable`` … ``overall_assessable`` columns, judgements of some
    concerns or high that rest only on what an abstract leaves out get their own hatched segment
    ("not assessable from the abstract"), and "high" becomes "high: flaw reported".

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl
    from matplotlib.patches import Patch

    from .style import figure_width

    colours = _palette(palette)
    n = len(table)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    if w.shape != (n,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be one non-negative number per study, not all zero")
    w = w / w.sum()
    split = show_basis and any(f"{c}_assessable" in table for c in DOMAIN_COLUMNS)
    gap = "gap"
    order = ("low", "some concerns", "high", gap, "no information") if split else LEVEL_ORDER
    names = {lev: lev.capitalize() for lev in LEVEL_ORDER} | {gap: GAP_LABEL}
    if split:
        names["high"] = "High: flaw reported"
    fills = dict(colours) | {gap: _GAP_FILL}
    family = font_family()
    handles = [Patch(facecolor=fills[lev], edgecolor=_GAP_EDGE if lev == gap else "black", linewidth=0.4,
                     hatch=_GAP_HATCH if lev == gap else None, label=names[lev]) for lev in order]  # fmt: skip
    with mpl.rc_context(style()):
        fs = mpl.rcParams["font.size"]
        fig_w = figure_width(width)
        rows = len(DOMAIN_COLUMNS)
        fig = new_figure(fig_w, 3.0)
        renderer = get_renderer(fig)
        label_w = max(fig.text(0, 0, s, fontfamily=family).get_window_extent(renderer).width for s in DOMAIN_LABELS.values()) / fig.dpi
        for t in list(fig.texts):
            t.remove()
        # as many legend columns as fit the figure width, measured
        for ncol in range(len(order), 0, -1):
            probe = fig.legend(handles=handles, ncol=ncol, frameon=False, prop={"family": family, "size": fs - 0.5})
            box = probe.get_window_extent(renderer)
            probe.remove()
            if box.width / fig.dpi <= fig_w - 0.1 or ncol == 1:
                break
        legend_w, legend_h = box.width / fig.dpi, box.height / fig.dpi
        bottom = legend_h + 0.45  # legend, then tick labels and the axis label
        fig_h = 0.32 * rows + bottom + 0.3
        fig.set_size_inches(fig_w, fig_h)
        left = (label_w + 0.15) / fig_w
        right = 1 - 0.2 / fig_w  # room for the "100%" tick label
        ax = fig.add_axes([left, bottom / fig_h, right - left, (0.32 * rows) / fig_h])
        for i, col in enumerate(DOMAIN_COLUMNS):
            levels = np.array([_level(v) for v in (table[col] if col in table else [None] * n)])
            if split:
                levels = np.where(_gaps(table, col, list(levels)), gap, levels)
            start = 0.0
            for lev in order:
                share = float(w[levels == lev].sum())
                if share > 0:
                    ax.barh(i, share, left=start, color=fills[lev], edgecolor=_GAP_EDGE if lev == gap else "black",
                            linewidth=0.4, height=0.7, hatch=_GAP_HATCH if lev == gap else None)  # fmt: skip
                    if share >= 0.08:
                        ink = readable_ink(fills[lev])
                        backing = {"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"} if lev == gap else None
                        ax.text(start + share / 2, i, f"{share:.0%}", ha="center", va="center", fontsize=fs - 1,
                                fontfamily=family, color=ink, bbox=backing)  # fmt: skip
                    start += share
        ax.set_yticks(range(rows), [DOMAIN_LABELS[c] for c in DOMAIN_COLUMNS], fontfamily=family)
        for tick in ax.get_xticklabels():
            tick.set_fontfamily(family)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        ax.set_xlabel("share of " + (unit or ("weight" if weights is not None else "assessments")), fontfamily=family)
        centre = (left + right) / 2 if legend_w <= (right - left) * fig_w else 0.5
        fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, prop={"family": family, "size": fs - 0.5},
                   bbox_to_anchor=(centre, 0.02 / fig_h), borderaxespad=0.0)  # fmt: skip
    return fig
