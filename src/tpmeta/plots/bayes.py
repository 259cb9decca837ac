"""Figures of a Bayesian meta-analysis (:func:`tpmeta.pool_bayes`): shrinkage forest plot, posterior
densities of μ and τ with the τ prior, and a prior-sensitivity plot over the τ prior's scale.

Drawing only: every number (densities on grids, quantiles, shrinkage intervals, observed intervals from
``study_frame()``) comes from the result objects.

>>> import tpmeta
>>> from tpmeta.plots.bayes import posterior_plot
>>> res = tpmeta.pool_bayes([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02])
>>> [ax.get_xlabel() for ax in posterior_plot(res).axes]
['Effect μ', 'Between-study SD τ']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models.bayes import BayesBatchResult, BayesPoolResult
from .style import COLORS, axes_or_new, figure_width, font_family, new_figure, style

__all__ = ["posterior_plot", "prior_sensitivity_plot", "shrinkage_forest"]

_SHRINK = COLORS["prediction"]


def _pct(level: float) -> str:
    return f"{level * 100:g}%"


def _set_fonts(ax: Any) -> None:
    family = font_family()
    for text in (*ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label, ax.yaxis.label, ax.title):
        text.set_fontfamily(family)
    if ax.get_legend() is not None:
        for text in ax.get_legend().get_texts():
            text.set_fontfamily(family)


def _null_line(ax: Any, ratio: bool, vertical: bool = True) -> None:
    line = ax.axvline if vertical else ax.axhline
    line(1.0 if ratio else 0.0, color=COLORS["null"], lw=0.6, zorder=0, gid="null-line")


def shrinkage_forest(result: BayesPoolResult, ax: Any = None, *, width: str | float = "single",
                     effect_label: str = "Effect", ratio: bool = False) -> Any:  # fmt: skip
    """Forest plot of each study's observed estimate (square, confidence interval) beside its shrinkage
    estimate (circle: posterior median of θ_i with its credible interval), with the posterior of μ
    (diamond) and the prediction interval for a new trial at the bottom; returns the Figure.

    ``ratio=True`` shows exp(·) of log ratios on a log axis.
    """
    import matplotlib as mpl

    frame = result.study_frame()
    f = np.exp if ratio else (lambda a: np.asarray(a, dtype=float))
    k = len(frame)
    with mpl.rc_context(style()):
        fig, ax, own = axes_or_new(ax, width, lambda w: 0.3 + 0.24 * (k + 2.5))
        y = np.arange(k, dtype=float)
        obs, shr = y - 0.17, y + 0.17  # y axis inverted: observed above, shrinkage below
        ax.hlines(obs, f(frame["ci_low"]), f(frame["ci_high"]), color=COLORS["study"], lw=0.8, gid="observed-ci")
        ax.plot(f(frame["yi"]), obs, "s", color=COLORS["study"], ms=3.2, gid="observed",
                label=f"Observed ({_pct(result.level)} CI)")  # fmt: skip
        ax.hlines(shr, f(frame["theta_low"]), f(frame["theta_high"]), color=_SHRINK, lw=0.8, gid="shrinkage-ci")
        ax.plot(f(frame["theta_median"]), shr, "o", color=_SHRINK, ms=3.2, gid="shrinkage",
                label=f"Shrinkage ({_pct(result.level)} CrI)")  # fmt: skip
        row = k + 0.4
        lo, mid, hi = f(result.mu_ci_low), f(result.mu_median), f(result.mu_ci_high)
        ax.fill([lo, mid, hi, mid], [row, row - 0.3, row, row + 0.3], color=COLORS["pooled"], lw=0,
                gid="mu-diamond")  # fmt: skip
        ax.hlines(row + 1, f(result.pred_low), f(result.pred_high), color=COLORS["pooled"], lw=2.0,
                  gid="prediction-interval")  # fmt: skip
        _null_line(ax, ratio)
        if ratio:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(mpl.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        ax.set_yticks([*y, row, row + 1], [*frame["label"], "μ (median, CrI)", "Prediction"])
        ax.set_ylim(row + 1.6, -0.8)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(effect_label)
        if own:  # below the axes, outside them: the constrained layout makes room
            legend = fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
                                handlelength=1.2, columnspacing=1.0)  # fmt: skip
        else:
            legend = ax.legend(loc="best", handlelength=1.2)
        for text in legend.get_texts():
            text.set_fontfamily(font_family())
        _set_fonts(ax)
    return fig


def posterior_plot(result: BayesPoolResult, *, width: str | float = "double", effect_label: str = "Effect μ") -> Any:
    """Posterior densities of μ (left) and τ (right), each with its median (line) and equal-tailed
    credible interval (shaded); the τ prior (dashed) is drawn for comparison, and the μ prior when it is
    proper. Returns the Figure."""
    import matplotlib as mpl

    with mpl.rc_context(style()):
        w = figure_width(width)
        fig = new_figure(w, 0.42 * w if w > 4 else 0.8 * w)
        fig.set_layout_engine("constrained", h_pad=2 / 72, w_pad=2 / 72)
        ax_mu, ax_tau = fig.subplots(1, 2)
        panels = (
            (ax_mu, result.mu_grid, result.mu_density, result.mu_prior_density, result.mu_median,
             result.mu_ci_low, result.mu_ci_high, effect_label, "mu"),
            (ax_tau, result.tau_grid, result.tau_density, result.tau_prior_density, result.tau_median,
             result.tau_ci_low, result.tau_ci_high, "Between-study SD τ", "tau"),
        )  # fmt: skip
        for ax, grid, dens, prior, med, lo, hi, xlabel, name in panels:
            ax.plot(grid, dens, color=COLORS["study"], lw=1.0, gid=f"{name}-posterior", label="Posterior")
            inside = (grid >= lo) & (grid <= hi)
            ax.fill_between(grid[inside], 0.0, dens[inside], color=COLORS["study"], alpha=0.18, lw=0,
                            gid=f"{name}-interval", label=f"{_pct(result.level)} CrI")  # fmt: skip
            ax.vlines(med, 0.0, np.interp(med, grid, dens), color=COLORS["study"], lw=0.8, gid=f"{name}-median",
                      label="Median")  # fmt: skip
            if np.all(np.isfinite(prior)):
                ax.plot(grid, prior, color=COLORS["prediction"], lw=0.9, ls="--", gid=f"{name}-prior", label="Prior")
            ax.set_xlim(grid[0], grid[-1])
            ax.set_ylim(0.0, None)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("Density")
            ax.legend(loc="best")
            _set_fonts(ax)
        fig.suptitle(result.prior_label(), fontsize=mpl.rcParams["font.size"], fontfamily=font_family())
    return fig


def prior_sensitivity_plot(results: BayesBatchResult | Sequence[BayesPoolResult], ax: Any = None, *,
                           width: str | float = "single", effect_label: str = "Effect μ", ratio: bool = False,
                           log_x: bool = True, mark: float | None = None) -> Any:  # fmt: skip
    """Posterior median and credible interval of μ (band) against the scale of the τ prior; returns the
    Figure. ``results`` is a :class:`~tpmeta.models.bayes.BayesBatchResult` fitted over a vector of
    ``tau_scale`` values or a sequence of :class:`BayesPoolResult` with different ``tau_scale``.
    ``mark`` draws a dotted vertical line at the scale used for the main analysis."""
    import matplotlib as mpl

    if isinstance(results, BayesBatchResult):
        scale, med, lo, hi = (np.ravel(getattr(results, n)) for n in ("tau_scale", "mu_median", "mu_ci_low", "mu_ci_high"))
        kind, level = results.tau_prior, results.level
    else:
        results = list(results)
        if not results:
            raise ValueError("nothing to draw: no results")
        scale, med, lo, hi = (np.array([getattr(r, n) for r in results], dtype=float)
                              for n in ("tau_scale", "mu_median", "mu_ci_low", "mu_ci_high"))  # fmt: skip
        kind, level = results[0].tau_prior, results[0].level
    if scale.size < 2 or not np.all(np.isfinite(scale)):
        raise ValueError("a sensitivity plot needs at least two analyses with finite tau_scale values")
    order = np.argsort(scale)
    scale, med, lo, hi = scale[order], med[order], lo[order], hi[order]
    f = np.exp if ratio else (lambda a: a)
    with mpl.rc_context(style()):
        fig, ax, _ = axes_or_new(ax, width, lambda w: 0.75 * w)
        ax.fill_between(scale, f(lo), f(hi), color=COLORS["study"], alpha=0.2, lw=0, gid="mu-interval",
                        label=f"{_pct(level)} CrI")  # fmt: skip
        ax.plot(scale, f(med), color=COLORS["study"], lw=1.0, marker="o" if scale.size <= 30 else None, ms=2.0,
                gid="mu-median", label="Median")  # fmt: skip
        _null_line(ax, ratio, vertical=False)
        if log_x:
            ax.set_xscale("log")
            # ticks at powers of 2 (0.125, 0.25, 0.5, 1, 2, ...): prior scales are read as halvings/doublings
            lo2, hi2 = np.floor(np.log2(scale[0])), np.ceil(np.log2(scale[-1]))
            ticks = [t for t in 2.0 ** np.arange(lo2, hi2 + 1) if scale[0] <= t <= scale[-1]]
            if len(ticks) >= 2:
                ax.xaxis.set_major_locator(mpl.ticker.FixedLocator(ticks))
            ax.xaxis.set_major_formatter(mpl.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        if mark is not None:
            ax.axvline(mark, color=COLORS["null"], lw=0.6, ls=":", gid="chosen-scale", label=f"scale used ({mark:g})")
        if ratio:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(mpl.ticker.FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(mpl.ticker.FormatStrFormatter("%g"))
        names = {"halfnormal": "half-normal", "halfcauchy": "half-Cauchy", "uniform": "uniform (upper bound)"}
        ax.set_xlabel(f"Scale of the {names.get(kind.value, kind.value)} prior on τ")
        ax.set_ylabel(effect_label)
        ax.legend(loc="best")
        _set_fonts(ax)
    return fig
