"""Network meta-analysis figures, drawn from a :class:`tpmeta.models.network.NetworkResult`:

* :func:`network_graph`: treatments on a circle (in the result's order, reference at the top), node
  area proportional to the participants randomised to the treatment (to the number of trials for
  contrast-level input), edge width to the number of trials comparing the two, that number on the edge.
* :func:`league_heatmap`: every pair, row treatment vs column treatment, the estimate and its CI in the
  cell, the cell coloured by the Wald statistic ``estimate/se`` (clipped at ±4).
* :func:`pscore_plot`: P-scores as horizontal bars, best first.
* :func:`node_split_plot`: direct, indirect and network estimates with CIs for every split comparison
  and the p-value of their difference.

Ratio measures are drawn on the log scale with ratios as labels. Nothing here is computed from the
data: every number comes from the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models.network import NetworkResult
from ..options import SmallValues
from .style import COLORS, axes_or_new, font_family, readable_ink, style

__all__ = ["network_graph", "league_heatmap", "pscore_plot", "node_split_plot"]

_SPLIT_COLORS = {"direct": "#1F3A5F", "indirect": "#C77C2E", "network": "black"}


def _check(result: Any) -> NetworkResult:
    if not isinstance(result, NetworkResult):
        raise TypeError(f"expected a NetworkResult from tpmeta.network_meta, got {type(result).__name__}")
    return result


def _fmt(result: NetworkResult, value: float, digits: int) -> str:
    v = float(np.exp(value)) if result.measure.is_ratio else float(value)
    text = f"{v:.{digits}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")  # no "−0.00"
    return text.replace("-", "−")


def network_graph(result: NetworkResult, *, ax: Any = None, width: str | float = "single") -> Any:
    """Draw the network: nodes sized by participants, edges by trials; returns the Figure."""
    import matplotlib as mpl

    res = _check(result)
    names = res.treatments
    T = len(names)
    angle = np.pi / 2 - 2 * np.pi * np.arange(T) / T
    xy = np.column_stack([np.cos(angle), np.sin(angle)])
    size_by = res.participants if np.all(np.isfinite(res.participants)) else None
    if size_by is None:  # contrast-level input: trials per treatment
        size_by = np.array([res.contrasts.loc[(res.contrasts["treatment"] == t) | (res.contrasts["comparator"] == t),
                                              "study"].nunique() for t in names], float)  # fmt: skip
    with mpl.rc_context(style()):
        family, fs = font_family(), mpl.rcParams["font.size"]
        fig, ax, own = axes_or_new(ax, width, lambda w: 0.8 * w)
        pos = {t: xy[i] for i, t in enumerate(names)}
        kmax = max(int(res.edges["n_studies"].max()), 1)
        placed: list[np.ndarray] = []
        for t1, t2, k in res.edges[["treatment1", "treatment2", "n_studies"]].itertuples(index=False):
            p1, p2 = pos[t1], pos[t2]
            ax.plot([p1[0], p2[0]], [p1[1], p2[1]], color="#8A8A8A", lw=0.6 + 4.4 * k / kmax,
                    solid_capstyle="round", zorder=1, gid="network-edge")  # fmt: skip
            # the number at the midpoint, or along the edge where it keeps clear of the numbers placed
            # (edges crossing at the centre would stack them)
            spots = [p1 + f * (p2 - p1) for f in (0.5, 0.38, 0.62, 0.3, 0.7, 0.22, 0.78)]
            gap = [min((float(np.hypot(*(q - o))) for o in placed), default=np.inf) for q in spots]
            at = next((q for q, g in zip(spots, gap) if g > 0.22), spots[int(np.argmax(gap))])
            placed.append(at)
            ax.text(at[0], at[1], str(k), ha="center", va="center", fontsize=fs * 0.85, family=family, zorder=3,
                    gid="network-edge-label", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))  # fmt: skip
        area = 40.0 + 360.0 * size_by / size_by.max()
        ax.scatter(xy[:, 0], xy[:, 1], s=area, color=COLORS["study"], edgecolor="white", linewidths=0.6,
                   zorder=2, gid="network-node")  # fmt: skip
        for i, t in enumerate(names):
            c, s = np.cos(angle[i]), np.sin(angle[i])
            ha = "left" if c > 0.2 else "right" if c < -0.2 else "center"
            va = "bottom" if s > 0.2 else "top" if s < -0.2 else "center"
            ax.text(1.2 * c, 1.2 * s, t, ha=ha, va=va, fontsize=fs, family=family, gid="network-label")
        ax.set_aspect("equal")
        ax.set_xlim(-1.9, 1.9)
        ax.set_ylim(-1.45, 1.45)
        ax.axis("off")
        what = "participants" if np.all(np.isfinite(res.participants)) else "trials"
        ax.set_title(f"Node area: {what}; edge width and number: trials", fontsize=fs * 0.9, family=family)
        return fig


def league_heatmap(result: NetworkResult, *, ax: Any = None, width: str | float = "double", digits: int = 2,
                   order: str = "pscore") -> Any:  # fmt: skip
    """League table as a heat map: cell (row a, column b) = a vs b with its CI, coloured by estimate/se.

    ``order="pscore"`` sorts the treatments by P-score (best first), ``"treatments"`` keeps the
    result's order.
    """
    import matplotlib as mpl
    from matplotlib import colormaps

    res = _check(result)
    if order not in ("pscore", "treatments"):
        raise ValueError(f"order={order!r} is not valid; choose one of 'pscore', 'treatments'")
    idx = np.argsort(-res.pscore, kind="stable") if order == "pscore" else np.arange(len(res.treatments))
    names = [res.treatments[i] for i in idx]
    T = len(names)
    lg = {(a, b): v for a, b, *v in res.league[["treatment", "comparator", "estimate", "se", "ci_low", "ci_high"]]
          .itertuples(index=False)}  # fmt: skip
    cmap = colormaps["RdBu_r"]
    with mpl.rc_context(style()):
        family = font_family()
        fs = float(np.clip(6.5 * 7 / T, 3.8, 6.5))
        fig, ax, own = axes_or_new(ax, width, lambda w: w * 0.8)
        for r, a in enumerate(names):
            for c, b in enumerate(names):
                # cells and their text lie inside the axes: kept out of the layout engine (much faster)
                if a == b:
                    ax.add_artist(mpl.patches.Rectangle((c, r), 1, 1, fc="#EDEDED", ec="white", lw=0.8,
                                                        transform=ax.transData))  # fmt: skip
                    ax.text(c + 0.5, r + 0.5, a, ha="center", va="center", fontsize=fs, family=family,
                            weight="bold", gid="league-name", in_layout=False)  # fmt: skip
                    continue
                est, se, lo, hi = lg[(a, b)]
                fill = cmap(0.5 + float(np.clip(est / se, -4, 4)) / 8)
                ax.add_artist(mpl.patches.Rectangle((c, r), 1, 1, fc=fill, ec="white", lw=0.8, gid="league-cell",
                                                    transform=ax.transData))  # fmt: skip
                text = f"{_fmt(res, est, digits)}\n({_fmt(res, lo, digits)}, {_fmt(res, hi, digits)})"
                ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=fs, family=family,
                        color=readable_ink(fill), linespacing=1.1, gid="league-text", in_layout=False)  # fmt: skip
        ax.set_xlim(0, T)
        ax.set_ylim(T, 0)
        ax.set_aspect("equal")
        ax.axis("off")
        sm = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(-4, 4), cmap=cmap)
        cb = fig.colorbar(sm, ax=ax, shrink=0.6, pad=0.02)
        cb.set_label("estimate / se (row vs column)", fontsize=6.5, family=family)
        cb.ax.tick_params(labelsize=6.5, labelfontfamily=family)
        ax.set_title(f"{res.measure.value}, row vs column [{100 * res.level:g}% CI]; "
                     f"{res.method.value}", fontsize=6.5, family=family)  # fmt: skip
        return fig


def pscore_plot(result: NetworkResult, *, ax: Any = None, width: str | float = "single") -> Any:
    """P-scores as horizontal bars, best at the top; returns the Figure."""
    import matplotlib as mpl

    res = _check(result)
    idx = np.argsort(-res.pscore, kind="stable")
    names = [res.treatments[i] for i in idx]
    vals = res.pscore[idx]
    with mpl.rc_context(style()):
        family, fs = font_family(), mpl.rcParams["font.size"]
        fig, ax, own = axes_or_new(ax, width, lambda w: 0.5 + 0.18 * len(names))
        y = np.arange(len(names))
        ax.barh(y, vals, height=0.65, color=COLORS["study"], gid="pscore-bar")
        for yi, v in zip(y, vals):
            ax.text(v + 0.015, yi, f"{v:.2f}", ha="left", va="center", fontsize=fs, family=family, gid="pscore-label")
        ax.set_yticks(y, names, fontsize=fs, family=family)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlim(0, 1.1)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.spines["bottom"].set_bounds(0, 1)
        better = "smaller" if res.small_values is SmallValues.DESIRABLE else "larger"
        ax.set_xlabel(f"P-score ({better} effects better)", fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        return fig


def node_split_plot(result: NetworkResult, *, ax: Any = None, width: str | float = "single", digits: int = 2) -> Any:
    """Direct, indirect and network estimates (with CIs) of every split comparison; returns the Figure."""
    import matplotlib as mpl
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    res = _check(result)
    ns = res.node_split
    if ns.empty:
        raise ValueError("the network has no comparison with both direct and indirect evidence to split")
    n_rows = 4 * len(ns) - 1
    with mpl.rc_context(style()):
        family, fs = font_family(), mpl.rcParams["font.size"]
        fig, ax, own = axes_or_new(ax, width, lambda w: 0.75 + 0.1 * n_rows)
        ticks, labels = [], []
        for g, row in enumerate(ns.itertuples(index=False)):
            base = 4 * g
            for k, kind in enumerate(("direct", "indirect", "network")):
                y = base + k
                est, lo, hi = getattr(row, kind), getattr(row, f"{kind}_ci_low"), getattr(row, f"{kind}_ci_high")
                ax.plot([lo, hi], [y, y], color=_SPLIT_COLORS[kind], lw=0.8, gid=f"split-{kind}-ci")
                ax.plot([est], [y], marker="D" if kind == "network" else "s", ms=3.5, color=_SPLIT_COLORS[kind],
                        lw=0, gid=f"split-{kind}")  # fmt: skip
            ticks.append(base + 1)
            labels.append(f"{row.treatment} vs {row.comparator}")
            ax.text(1.01, base + 1, f"p = {row.pvalue:.3f}" if row.pvalue >= 0.001 else "p < 0.001",
                    transform=mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData),
                    ha="left", va="center", fontsize=fs, family=family, gid="split-pvalue")  # fmt: skip
        ax.axvline(0.0, color=COLORS["null"], lw=0.6, ls=":", zorder=0)
        ax.set_yticks(ticks, labels, fontsize=fs, family=family)
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(n_rows - 0.4, -0.6)
        if res.measure.is_ratio:  # ratio labels at round values of the log axis
            lo, hi = ax.get_xlim()
            nice = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100])
            inside = nice[(np.log(nice) >= lo) & (np.log(nice) <= hi)]
            if inside.size > 5:
                inside = inside[np.isin(inside, [0.01, 0.1, 0.25, 0.5, 1, 2, 4, 10, 100])]
            ax.set_xticks(np.log(inside))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{np.exp(v):.{digits}g}"))
            ax.set_xlim(lo, hi)
        scale = f"{res.measure.value} (log scale)" if res.measure.is_ratio else res.measure.value
        ax.set_xlabel(f"{scale}, treatment vs comparator [{100 * res.level:g}% CI]", fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        handles = [Line2D([], [], color=c, marker="D" if k == "network" else "s", ms=3.5, lw=0.8, label=k)
                   for k, c in _SPLIT_COLORS.items()]  # fmt: skip
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3,
                  prop={"family": family, "size": fs * 0.9})  # fmt: skip
        if own:
            fig.get_layout_engine().set(rect=(0.0, 0.0, 0.88, 1.0))
        return fig
