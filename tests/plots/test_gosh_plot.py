"""GOSH plot: points up to 20,000 subsets, a density beyond; axes as metafor's plot(gosh())."""

from __future__ import annotations

import numpy as np

import tpmeta
from tpmeta.plots import gosh_plot


def _data(k: int):
    rng = np.random.default_rng(3)
    v = rng.uniform(0.01, 0.1, k)
    return rng.normal(0.3, np.sqrt(v + 0.05)), v


def test_points_then_density():
    y, v = _data(8)
    fig = gosh_plot(tpmeta.gosh(y, v, "DL"))
    ax = fig.axes[0]
    assert fig.findobj(lambda a: a.get_gid() == "gosh-points")
    assert ax.get_xlabel() == "Pooled estimate" and ax.get_ylabel() == "I² (%)"
    assert "255 subsets" in ax.get_title()
    y, v = _data(15)
    big = gosh_plot(tpmeta.gosh(y, v, "DL"))
    assert big.findobj(lambda a: a.get_gid() == "gosh-density") and "32,767 subsets" in big.axes[0].get_title()
