"""Contour-enhanced funnel plot (Peters et al. 2008, doi:10.1016/j.jclinepi.2007.11.010).

Standard error on the inverted y axis; pseudo-confidence lines around the pooled estimate; shaded regions
where a study would be statistically significant against the null (contours around 0, or 1 for ratios).
An Egger regression line can be added from coefficients computed by the caller.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import special

from ..models.pooling import PoolResult
from .style import COLORS, axes_or_new, font_family, style

__all__ = ["funnel_plot"]

_SHADES = ("#EDEDED", "#D4D4D4", "#B3B3B3", "#949494")


def _pct(p: float) -> str:
    return f"{p:.2f}" if abs(round(p, 2) - p) < 1e-12 else f"{p:.3f}"


def funnel_plot(
    result: PoolResult,
    *,
    contours: Sequence[float] | None = (0.90, 0.95, 0.99),
    egger: tuple[float, float] | None = None,
    ax: Any = None,
    ratio: bool = False,
    width: str | float = "single",
    xlabel: str | None = None,
) -> Any:
    """Contour-enhanced funnel plot of ``result``; returns the Figure.

    Parameters
    ----------
    result : PoolResult
        Its ``yi``/``vi`` give the points (x = effect, y = standard error, inverted) and its ``estimate``
        and ``level`` the pseudo-confidence lines ``estimate ± z·SE``.
    contours : sequence of confidence levels, or None
        Shaded significance contours around the null: e.g. (0.90, 0.95, 0.99) shades the regions
        0.05 < p ≤ 0.10, 0.01 < p ≤ 0.05 and p ≤ 0.01 (two-sided z tests of each study).
    egger : (intercept, slope), optional
        Coefficients of Egger's regression of ``yi/SE`` on ``1/SE`` computed by the caller; drawn as
        the line ``effect = slope + intercept · SE``.
    ax : Axes, optional
        Draw into this axes (legend placed below it); otherwise a new figure of ``width``.
    ratio : bool
        Results are log ratios: exponentiate for display on a log axis (null at 1).
    width : "single", "double" or float inches
    xlabel : str, optional
    """
    import matplotlib as mpl

    yi, se = np.asarray(result.yi, float), np.sqrt(np.asarray(result.vi, float))
    levels = sorted(float(c) for c in (contours or ()))
    if any(not 0.0 < c < 1.0 for c in levels):
        raise ValueError(f"contours={contours!r} must be confidence levels in (0, 1), e.g. 0.95")
    with mpl.rc_context(style()):
        family = font_family()
        fs = mpl.rcParams["font.size"]
        fig, ax, own = axes_or_new(ax, width, lambda w: w * 0.95 + 0.5)
        disp = np.exp if ratio else (lambda v: v)
        top = float(se.max()) * 1.08 if se.size else 1.0
        grid = np.linspace(0.0, top, 200)
        zc = special.ndtri(1.0 - (1.0 - result.level) / 2.0)
        reach = max(np.abs(yi).max(initial=0.0), abs(result.estimate) + zc * top)
        if levels:
            reach = max(reach, special.ndtri(1.0 - (1.0 - levels[0]) / 2.0) * top)
        xr = 1.08 * reach
        handles = []
        if levels:
            zs = [special.ndtri(1.0 - (1.0 - c) / 2.0) for c in levels]
            edges = [z * grid for z in zs] + [np.full_like(grid, xr)]
            alphas = [1.0 - c for c in levels]
            for i in range(len(levels)):
                shade = _SHADES[min(i, len(_SHADES) - 1)]
                label = f"{_pct(alphas[i + 1])} < p \u2264 {_pct(alphas[i])}" if i + 1 < len(levels) else \
                    f"p \u2264 {_pct(alphas[i])}"
                for sign in (-1, 1):
                    h = ax.fill_betweenx(grid, disp(sign * edges[i]), disp(sign * edges[i + 1]), color=shade,
                                         linewidth=0, zorder=0, gid="funnel-contour",
                                         label=label if sign > 0 else None)  # fmt: skip
                    if sign > 0:
                        handles.append(h)
        est = result.estimate
        ax.plot(disp(est - zc * grid), grid, ls="--", color="#444444", lw=0.6, gid="funnel-pseudo-ci",
                label=f"Pseudo {result.level * 100:g}% CI")  # fmt: skip
        ax.plot(disp(est + zc * grid), grid, ls="--", color="#444444", lw=0.6, gid="funnel-pseudo-ci")
        ax.plot([disp(est), disp(est)], [0, top], color="black", lw=0.7, gid="funnel-estimate",
                label="Pooled estimate")  # fmt: skip
        handles += ax.get_lines()[0:1] + ax.get_lines()[2:3]
        if egger is not None:
            b0, b1 = (float(v) for v in egger)
            (line,) = ax.plot(disp(b1 + b0 * grid), grid, color=COLORS["prediction"], lw=0.9,
                              gid="funnel-egger", label="Egger regression")  # fmt: skip
            handles.append(line)
        pts = ax.scatter(disp(yi), se, s=14, facecolor=COLORS["study"], edgecolor="white", linewidths=0.4,
                         zorder=3, gid="funnel-points", label="Studies", clip_on=False)  # fmt: skip
        handles.append(pts)
        if ratio:
            ax.set_xscale("log")
        ax.set_xlim(disp(-xr), disp(xr))
        ax.set_ylim(top, 0.0)
        ax.set_ylabel("Standard error", fontsize=fs, family=family)
        ax.set_xlabel(xlabel or ("Ratio (log scale)" if ratio else "Effect size"), fontsize=fs, family=family)
        ax.tick_params(labelsize=fs, labelfontfamily=family)
        legend_kw = dict(handles=handles, ncols=2, frameon=False, prop={"family": family, "size": fs * 0.9})
        if own:
            fig.legend(loc="outside lower center", **legend_kw)
        else:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), **legend_kw)
        return fig
