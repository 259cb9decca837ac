"""Profile-likelihood plot of τ²: draws the result's grid, maximum, cut-off and interval as given; a
boundary maximum at 0 and a multi-modal profile are visible (marker on the axis, open circles, a note)."""

from __future__ import annotations

import numpy as np
import pytest

import tpmeta
from tpmeta.models.profile import profile_tau2
from tpmeta.plots.profile import profile_plot
from tpmeta.plots.style import get_renderer

BCG = ([-0.889, -1.585, -1.348, -1.442, -0.218, -0.786, -1.621, 0.012, -0.469, -1.371, -0.339, 0.446, -0.017],
       [0.326, 0.195, 0.415, 0.020, 0.051, 0.007, 0.223, 0.004, 0.056, 0.073, 0.012, 0.533, 0.071])  # fmt: skip
BIMODAL = ([-0.35, -0.18, 2.57, -0.44, 0.7, -0.08, -2.6], [0.002, 0.0016, 1.2565, 0.0011, 2.0657, 1.9122, 0.5358])


def _gid(fig, gid):
    return fig.findobj(lambda a: a.get_gid() == gid)


def test_draws_the_profile_as_given():
    prof = profile_tau2(tpmeta.pool(*BCG))
    fig = profile_plot(prof)
    ax = fig.axes[0]
    (curve,) = _gid(fig, "profile-curve")
    np.testing.assert_array_equal(curve.get_xdata(), prof.tau2_grid)
    np.testing.assert_array_equal(curve.get_ydata(), prof.loglik)
    (peak,) = _gid(fig, "profile-max")
    assert (peak.get_xdata()[0], peak.get_ydata()[0]) == (prof.tau2, prof.loglik_max)
    (cut,) = _gid(fig, "profile-cutoff")
    assert cut.get_ydata()[0] == prof.cutoff
    (band,) = _gid(fig, "profile-ci")
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((prof.ci_low, prof.ci_high))
    assert ax.get_ylabel() == "Restricted log-likelihood" and ax.get_xlabel() == "τ²"
    assert not _gid(fig, "profile-local-max") and not _gid(fig, "profile-note")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("95% profile-likelihood CI" in t for t in legend)
    # the legend sits below the axes, clear of the curve
    renderer = get_renderer(fig)
    fig.draw(renderer)
    assert ax.get_legend().get_window_extent(renderer).y1 < ax.get_window_extent(renderer).y0


def test_boundary_maximum_is_on_the_axis_and_labelled():
    y = [0.1, 0.12, 0.09, 0.11, 0.1, 0.13]
    prof = profile_tau2(tpmeta.pool(y, [0.01, 0.02, 0.015, 0.01, 0.02, 0.03], method="ML"))
    assert prof.boundary
    fig = profile_plot(prof)
    ax = fig.axes[0]
    (peak,) = _gid(fig, "profile-max")
    assert peak.get_xdata()[0] == 0.0 and not peak.get_clip_on() and ax.get_xlim()[0] == 0.0
    assert "boundary" in ax.get_title(loc="left") and ax.get_ylabel() == "Log-likelihood"


def test_multimodal_profile_is_visible():
    prof = profile_tau2(tpmeta.pool(*BIMODAL), level=0.5)
    fig = profile_plot(prof)
    ax = fig.axes[0]
    (others,) = _gid(fig, "profile-local-max")
    assert others.get_xdata().size == 1 and others.get_xdata()[0] == prof.local_maxima[0]
    title = ax.get_title(loc="left")
    assert "2 local maxima" in title and "not one interval" in title
    # the valley between the maxima lies inside the y-range (it is not squashed by the fall near 0)
    low = ax.get_ylim()[0]
    between = (prof.tau2_grid > prof.local_maxima[0]) & (prof.tau2_grid < prof.local_maxima[1])
    assert prof.loglik[between].min() > low


def test_into_given_axes_and_wrong_input():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert profile_plot(profile_tau2(tpmeta.pool(*BCG)), ax=ax) is fig
    with pytest.raises(TypeError, match="profile_tau2"):
        profile_plot(tpmeta.pool(*BCG))
