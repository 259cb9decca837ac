"""Radial (Galbraith), L'Abbé and normal QQ plots: the numbers drawn (tpmeta.diagnostics.graphical)
against metafor's radial(), labbe() and qqnorm.rma.uni(), and the layout of the figures.

Reference: tests/reference/metafor_regtest.json ("plots", "labbe"), written by
tests/reference/metafor_regtest.R. Tolerances: CLOSED_FORM = 1e-9 for coordinates of FE models and
L'Abbé arms (closed form); ITERATIVE = 1e-7 for those depending on a REML τ² (tpmeta stops at a
relative change of 1e-10, the reference at 1e-12). The QQ envelope is random (and metafor smooths
it with supsmu, tpmeta does not), so it is checked by its properties, not against metafor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tpmeta
from tpmeta import pool
from tpmeta.diagnostics.graphical import labbe_data, qq_residuals, radial_data
from tpmeta.plots.labbe import labbe_plot
from tpmeta.plots.qq import qq_plot
from tpmeta.plots.radial import radial_plot

CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_regtest.json").read_text())


def _gid(fig, gid):
    return fig.findobj(lambda a: a.get_gid() == gid)


def _model(case):
    return pool(case["yi"], case["vi"], method=case["method"])


@pytest.mark.parametrize("case", REF["plots"], ids=lambda c: f"{c['dataset']}-{c['method']}")
def test_radial_and_qq_data_match_metafor(case):
    tol = ITERATIVE if case["method"] == "REML" else CLOSED_FORM
    res = _model(case)
    rd = radial_data(res)
    np.testing.assert_allclose(rd.x, case["radial"]["x"], rtol=tol, atol=tol)
    np.testing.assert_allclose(rd.z, case["radial"]["z"], rtol=tol, atol=tol)
    qq = qq_residuals(res, envelope=False)
    np.testing.assert_allclose(qq.sample, case["qqnorm"]["z"], rtol=tol, atol=tol)  # rstandard()$z
    np.testing.assert_allclose(qq.sample, case["qqnorm"]["sample"], rtol=tol, atol=tol)
    np.testing.assert_allclose(qq.theoretical, case["qqnorm"]["theoretical"], rtol=CLOSED_FORM, atol=CLOSED_FORM)
    assert rd.random == (case["method"] != "FE") and qq.envelope_x.size == 0


@pytest.mark.parametrize("case", REF["labbe"], ids=lambda c: f"{c['dataset']}-{c['measure']}")
def test_labbe_data_match_metafor(case):
    res = pool(case["yi"], case["vi"])
    lb = labbe_data(res, pd.DataFrame(case["counts"]), case["measure"])
    exp = case["expected"]
    for name, key in (("x", "x"), ("y", "y"), ("size", "cex")):
        np.testing.assert_allclose(getattr(lb, name), exp[key], rtol=CLOSED_FORM, atol=CLOSED_FORM, err_msg=name)
    np.testing.assert_allclose(lb.line_y - lb.line_x, res.estimate, rtol=1e-12)
    assert res.estimate == pytest.approx(case["estimate"], abs=1e-6)  # R's fit used metafor's default control


def test_envelope_properties():
    case = next(c for c in REF["plots"] if c["dataset"] == "dat.bcg" and c["method"] == "REML")
    res = _model(case)
    a = qq_residuals(res, seed=3, reps=400)
    b = qq_residuals(res, seed=3, reps=400)
    assert np.array_equal(a.envelope_low, b.envelope_low) and a.reps == 400  # reproducible with a seed
    assert np.all(np.diff(a.envelope_x) > 0) and np.all(a.envelope_low < a.envelope_high)
    wide = qq_residuals(res, seed=3, reps=400, bonferroni=True)
    assert np.all(wide.envelope_low <= a.envelope_low) and np.all(wide.envelope_high >= a.envelope_high)
    with pytest.raises(ValueError, match="reps"):
        qq_residuals(res, reps=1)


def test_bad_input_to_plot_data():
    case = next(c for c in REF["labbe"] if c["measure"] == "OR")
    res = pool(case["yi"], case["vi"])
    counts = pd.DataFrame(case["counts"])
    with pytest.raises(ValueError, match="'OR', 'RR' or 'RD'"):
        labbe_data(res, counts, "SMD")
    with pytest.raises(ValueError, match="rows but the model"):
        labbe_data(res, counts.iloc[:-1], "OR")
    with pytest.warns(tpmeta.SingleStudyWarning):
        one = pool([0.1], [0.1])
    with pytest.raises(ValueError, match="at least 2 studies"):
        qq_residuals(one, envelope=False)


# ------------------------------------------------------------------------------------ layout


def _inside_figure(fig, artists):
    renderer = fig.canvas.get_renderer()
    fb = fig.bbox
    for a in artists:
        bb = a.get_window_extent(renderer)
        assert bb.x0 >= fb.x0 - 1 and bb.x1 <= fb.x1 + 1 and bb.y0 >= fb.y0 - 1 and bb.y1 <= fb.y1 + 1, a


def test_radial_layout():
    case = next(c for c in REF["plots"] if c["dataset"] == "dat.bcg" and c["method"] == "REML")
    rd = radial_data(_model(case))
    fig = radial_plot(rd, ratio=True)
    fig.canvas.draw()
    ax = fig.axes[0]
    pts = _gid(fig, "radial-points")[0]
    assert np.allclose(pts.get_offsets(), np.column_stack([rd.x, rd.z]))
    est = _gid(fig, "radial-estimate")[0]
    (x0, x1), (z0, z1) = est.get_data()
    assert x0 == 0 and z0 == 0 and (z1 - z0) / (x1 - x0) == pytest.approx(rd.estimate)
    assert len(_gid(fig, "radial-limits")) == 2 and _gid(fig, "radial-band")
    labels = _gid(fig, "radial-arc-label")
    assert len(labels) == 7
    values = [float(t.get_text()) for t in labels]
    assert values[0] == pytest.approx(np.exp(rd.yi.min()), abs=0.005)
    assert values[-1] == pytest.approx(np.exp(rd.yi.max()), abs=0.005)
    _inside_figure(fig, labels + [ax.xaxis.label, ax.yaxis.label])
    # the arc lies right of the axes, on a circle of the square axes
    arc = _gid(fig, "radial-arc")[0]
    disp = ax.transData.transform(np.column_stack(arc.get_data()))
    centre = ax.transData.transform((0, 0))
    radius = np.hypot(*(disp - centre).T)
    assert np.ptp(radius) / radius.mean() < 1e-6 and disp[:, 0].min() > ax.bbox.x1
    assert "τ²" in ax.get_xlabel()
    fe = radial_plot(radial_data(pool(case["yi"], case["vi"], method="FE")))
    assert "τ²" not in fe.axes[0].get_xlabel()


def test_labbe_layout():
    case = next(c for c in REF["labbe"] if c["dataset"] == "dat.bcg" and c["measure"] == "OR")
    lb = labbe_data(pool(case["yi"], case["vi"]), pd.DataFrame(case["counts"]), "OR")
    fig = labbe_plot(lb, groups=("BCG", "control"))
    fig.canvas.draw()
    ax = fig.axes[0]
    pts = _gid(fig, "labbe-points")[0]
    order = np.argsort(-lb.size, kind="stable")
    assert np.allclose(pts.get_offsets(), np.column_stack([lb.x[order], lb.y[order]]))
    sizes = pts.get_sizes()
    assert np.all(np.diff(sizes) <= 0)  # the biggest drawn first, small points stay visible
    (dx, dy) = _gid(fig, "labbe-diagonal")[0].get_data()
    assert np.allclose(dx, dy)
    assert ax.get_xlim() == ax.get_ylim()
    assert ax.get_xlabel() == "Log odds (control)" and ax.get_ylabel() == "Log odds (BCG)"
    _inside_figure(fig, [ax.xaxis.label, ax.yaxis.label, ax.get_legend()])


def test_qq_layout():
    case = next(c for c in REF["plots"] if c["dataset"] == "dat.bcg" and c["method"] == "REML")
    qq = qq_residuals(_model(case), seed=1, reps=200)
    fig = qq_plot(qq)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert np.allclose(_gid(fig, "qq-points")[0].get_offsets(), np.column_stack([qq.theoretical, qq.sample]))
    assert len(_gid(fig, "qq-envelope")) == 2
    lx, ly = _gid(fig, "qq-line")[0].get_data()
    assert np.allclose(lx, ly)
    lo, hi = ax.get_ylim()
    assert lo <= min(qq.sample.min(), qq.envelope_low.min()) and hi >= max(qq.sample.max(), qq.envelope_high.max())
    _inside_figure(fig, [ax.xaxis.label, ax.yaxis.label])
    bare = qq_plot(qq_residuals(_model(case), envelope=False))
    assert not _gid(bare, "qq-envelope")


def test_plots_draw_into_given_axes():
    from tpmeta.plots.style import new_figure

    case = next(c for c in REF["plots"] if c["method"] == "FE")
    res = _model(case)
    fig = new_figure(7, 2.5)
    axes = fig.subplots(1, 2)
    assert radial_plot(radial_data(res), ax=axes[0]) is fig
    assert qq_plot(qq_residuals(res, envelope=False), ax=axes[1]) is fig
    assert _gid(fig, "radial-points") and _gid(fig, "qq-points")
