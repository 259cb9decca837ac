"""Profile-likelihood plot of τ² (metafor's ``plot(profile(res))``), from a
:class:`~tpmeta.models.profile.ProfileResult`: the (restricted) log-likelihood over its grid, the maximum
τ̂², the cut-off ``ℓ_max − χ²₁/2`` and the profile-likelihood interval where the curve lies above it.

Drawing only: every number (grid, maximum, interval, local maxima) comes from the result. A maximum on
the boundary τ² = 0 is drawn on the axis (not clipped) and labelled; further local maxima (a multi-modal
profile) are drawn as open circles and counted in a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .style import COLORS, axes_or_new, font_family, style

__all__ = ["profile_plot"]

_CI_FILL = "#D5E0ED"
_CI_EDGE = "#7F9CBF"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x != 0 else "0"


def profile_plot(profile: Any, ax: Any = None, *, width: str | float = "single", xlabel: str = "τ²",
                 ylabel: str | None = None) -> Any:  # fmt: skip
    """Draw the likelihood profile of τ²; return the Figure.

    Parameters
    ----------
    profile : ProfileResult
        From :func:`tpmeta.profile_tau2`.
    ax : matplotlib Axes, optional
        Draw into this Axes; otherwise a new figure of journal ``width``.
    xlabel, ylabel : str, optional
        Axis titles (default: "τ²" and "Restricted log-likelihood" or "Log-likelihood").

    Example
    -------
    >>> import tpmeta
    >>> res = tpmeta.pool([0.1, 0.5, 0.9, 0.2, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03])
    >>> fig = profile_plot(tpmeta.profile_tau2(res))
    >>> fig.axes[0].get_ylabel()
    'Restricted log-likelihood'
    """
    import matplotlib as mpl

    needed = ("tau2_grid", "loglik", "tau2", "loglik_max", "ci_low", "ci_high", "cutoff", "local_maxima",
              "local_maxima_loglik")
    if not all(hasattr(profile, a) for a in needed):
        raise TypeError(f"profile_plot draws the result of tpmeta.profile_tau2(), not {type(profile).__name__}")
    x = np.asarray(profile.tau2_grid, dtype=float)
    y = np.asarray(profile.loglik, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    family = font_family()
    reml = getattr(profile.method, "value", profile.method) == "REML"
    with mpl.rc_context(style()):
        fig, ax, own = axes_or_new(ax, width, lambda w: 0.85 * w)
        lo, hi = profile.ci_low, profile.ci_high
        ax.axvspan(lo, hi, facecolor=_CI_FILL, edgecolor=_CI_EDGE, lw=0.5, zorder=0, gid="profile-ci",
                   label=f"{profile.level:.0%} profile-likelihood CI [{_fmt(lo)}, {_fmt(hi)}]")  # fmt: skip
        # where the curve is above the cut-off: shows a region that is not one interval as such
        ax.fill_between(x, profile.cutoff, y, where=y >= profile.cutoff, interpolate=True, color=_CI_EDGE,
                        alpha=0.35, lw=0, zorder=1, gid="profile-region")  # fmt: skip
        ax.axhline(profile.cutoff, color=COLORS["prediction"], lw=0.6, ls=(0, (4, 2)), zorder=1,
                   gid="profile-cutoff", label="cut-off  ℓ$_{max}$ − χ²$_1$/2")  # fmt: skip
        ax.axhline(profile.loglik_max, color=COLORS["null"], lw=0.5, ls=":", zorder=1, gid="profile-maxline")
        ax.axvline(profile.tau2, color=COLORS["null"], lw=0.5, ls=":", zorder=1)
        ax.plot(x, y, color=COLORS["study"], lw=0.9, zorder=2, gid="profile-curve",
                marker="o" if x.size <= 40 else None, ms=2.2)  # fmt: skip
        mx, my = np.asarray(profile.local_maxima, float), np.asarray(profile.local_maxima_loglik, float)
        others = mx != profile.tau2
        if others.any():
            ax.plot(mx[others], my[others], "o", mfc="white", mec=COLORS["study"], ms=4, mew=0.8, zorder=3,
                    clip_on=False, gid="profile-local-max", label="other local maximum")  # fmt: skip
        ax.plot([profile.tau2], [profile.loglik_max], "o", color=COLORS["pooled"], ms=4, zorder=4, clip_on=False,
                gid="profile-max", label=f"maximum  τ² = {_fmt(profile.tau2)}")  # fmt: skip
        # the y-range shows the top of the profile (3 times the drop to the cut-off): a likelihood falling
        # steeply near τ² = 0 would otherwise squash the maxima, the valleys between them and the cut-off
        drop = max(profile.loglik_max - profile.cutoff, 1e-12)
        bottom = max(float(np.min(y)), profile.loglik_max - 3.0 * drop)
        span = profile.loglik_max - bottom
        ax.set_ylim(bottom - 0.04 * span, profile.loglik_max + 0.1 * span)
        ax.set_xlim(float(x.min()), float(x.max()))
        notes = []
        if getattr(profile, "boundary", profile.tau2 == 0):
            notes.append("maximum on the boundary τ² = 0")
        if others.any():
            notes.append(f"multi-modal: {mx.size} local maxima")
        if not getattr(profile, "ci_connected", True):
            notes.append("the region above the cut-off is not one interval: the CI is its hull")
        if notes:  # above the axes, where no curve can be
            ax.set_title("\n".join(notes), loc="left", family=family, color=COLORS["prediction"], gid="profile-note")
        ax.set_xlabel(xlabel, family=family)
        ax.set_ylabel(ylabel or ("Restricted log-likelihood" if reml else "Log-likelihood"), family=family)
        # below the axes: inside, it would cover the curve wherever the maximum happens to be
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, prop={"family": family},
                  handlelength=1.6, columnspacing=1.2)  # fmt: skip
        for t in ax.get_xticklabels() + ax.get_yticklabels():
            t.set_fontfamily(family)
    return fig
