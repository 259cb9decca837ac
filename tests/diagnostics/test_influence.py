"""Influence diagnostics and Baujat coordinates against metafor's influence() and baujat(), their
properties, bad input, and the Baujat plot.

Reference values: tests/reference/metafor_bias.json, written by tests/reference/metafor_bias.R with
tightened controls (threshold = tol = 1e-12). Tolerances (relative, with the same absolute floor):

* CLOSED_FORM = 1e-9 for FE and DL: every quantity is a closed-form function of the data; only
  floating-point summation order differs.
* ITERATIVE = 1e-7 for REML: the k leave-one-out τ² come from Fisher scoring stopped at a relative
  change of 1e-10 (tpmeta) and 1e-12 (metafor); the diagnostics inherit that difference, amplified
  by at most the conditioning of the estimator.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from tpmeta import Method, Test, pool
from tpmeta.diagnostics.influence import (
    INFLUENCE_COLUMNS,
    baujat,
    influence_diagnostics,
)
from tpmeta.diagnostics.sensitivity import leave_one_out
from tpmeta.plots.baujat import baujat_plot
from tpmeta.plots.style import font_family

BIAS_REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "metafor_bias.json"
CLOSED_FORM = 1e-9
ITERATIVE = 1e-7
TOL = {"FE": CLOSED_FORM, "DL": CLOSED_FORM, "REML": ITERATIVE}

REF = json.loads(BIAS_REFERENCE.read_text())
DATA = {d["dataset"]: d for d in REF["datasets"]}


def _fit(case, labels=False):
    d = DATA[case["dataset"]]
    return pool(d["yi"], d["vi"], method=case["method"], test=case["test"],
                labels=d["labels"] if labels else None)  # fmt: skip


def _id(case):
    return f"{case['dataset']}-{case['method']}-{case['test']}"


# ------------------------------------------------------------------------------------ reference


def test_reference_provenance():
    assert REF["metafor_version"] == "3.8.1"
    assert REF["rma_control"] == "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
    for case in REF["influence"] + REF["baujat"]:
        assert REF["rma_control"] in case["call"]
        r_test = {"knha_adhoc": "adhoc"}.get(case["test"], case["test"])  # metafor's name for the ad hoc test
        assert f'method="{case["method"]}"' in case["call"] and f'test="{r_test}"' in case["call"]


@pytest.mark.parametrize("section", ["influence", "baujat"])
def test_grid_is_complete(section):
    grid = REF["grid"]["influence"]
    expected = set(itertools.product(grid["datasets"], grid["methods"], grid["tests"]))
    got = [(c["dataset"], c["method"], c["test"]) for c in REF[section]]
    assert len(got) == len(set(got)) and set(got) == expected
    assert set(grid["datasets"]) == {"dat.bcg", "dat.normand1999"}
    assert {"REML", "DL"} <= set(grid["methods"])


@pytest.mark.parametrize("case", REF["influence"], ids=_id)
def test_influence_matches_metafor(case):
    res = _fit(case)
    frame = influence_diagnostics(res)
    tol = TOL[case["method"]]
    assert list(frame.columns) == ["study", *INFLUENCE_COLUMNS]
    assert set(case["expected"]) == set(INFLUENCE_COLUMNS)
    for name in INFLUENCE_COLUMNS:
        expected = case["expected"][name]
        if name == "inf":
            assert frame["inf"].tolist() == expected
        else:
            np.testing.assert_allclose(frame[name].to_numpy(), expected, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("case", REF["baujat"], ids=_id)
def test_baujat_matches_metafor(case):
    res = _fit(case)
    frame = baujat(res)
    tol = TOL[case["method"]]
    np.testing.assert_allclose(frame["x"].to_numpy(), case["expected"]["x"], rtol=tol, atol=tol)
    np.testing.assert_allclose(frame["y"].to_numpy(), case["expected"]["y"], rtol=tol, atol=tol)
    fixed = case["method"] == "FE"
    xlabel = "Contribution to Overall Heterogeneity" if fixed else "Squared Pearson Residual"
    assert frame.attrs["xlabel"] == xlabel
    assert frame.attrs["ylabel"] == "Influence on Overall Result"


def test_some_reference_studies_are_flagged():
    # the reference exercises both values of the flag (dat.bcg has influential trials under FE)
    flags = [f for c in REF["influence"] for f in c["expected"]["inf"]]
    assert any(flags) and not all(flags)


# ------------------------------------------------------------------------------------ properties

studies = st.integers(min_value=3, max_value=14).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-2, 2, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 1.0, allow_nan=False), min_size=k, max_size=k),
    )
)


@settings(max_examples=40, deadline=None)
@given(studies, st.sampled_from(list(Method)), st.sampled_from(list(Test)))
# Q of a denormal-sized difference: (Q − df)/Q overflowed to −inf inside I² (found by hypothesis on CI)
@example(([0.0, 0.0, 1.9085692185206908e-162], [1.0, 1.0, 0.125]), Method.FE, Test.Z)
def test_one_row_per_study_and_consistent_with_leave_one_out(data, method, test):
    y, v = map(np.array, data)
    res = pool(y, v, method=method, test=test)
    frame = influence_diagnostics(res)
    assert len(frame) == res.k and frame["study"].tolist() == res.study_labels
    assert frame["hat"].sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(frame["weight"], res.weights, rtol=1e-12)
    loo = leave_one_out(res)
    np.testing.assert_allclose(frame["tau2_del"], loo["tau2"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(frame["qe_del"], loo["q"], rtol=1e-12, atol=1e-15)
    se2 = res.se**2
    np.testing.assert_allclose(frame["cov_r"], loo["se"] ** 2 / se2, rtol=1e-12)
    np.testing.assert_allclose(frame["cook_d"], (res.estimate - loo["estimate"]) ** 2 / se2, rtol=1e-12,
                               atol=1e-300)  # fmt: skip
    assert len(baujat(res)) == res.k


@settings(max_examples=30, deadline=None)
@given(studies)
def test_fixed_effect_identities(data):
    # FE, z test: hat_i v_i = 1/Σw, so dffits² = Cook's distance and dfbetas = dffits; Baujat's x sums to Q
    y, v = map(np.array, data)
    res = pool(y, v, method="FE")
    frame = influence_diagnostics(res)
    np.testing.assert_allclose(frame["dffits"] ** 2, frame["cook_d"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(frame["dfbetas"], frame["dffits"], rtol=1e-9, atol=1e-14)
    assert baujat(res)["x"].sum() == pytest.approx(res.q, rel=1e-9, abs=1e-12)


def test_labels_are_kept():
    res = pool([0.1, 0.4, 0.3, 0.9], [0.02, 0.03, 0.04, 0.05], labels=["W", "X", "Y", "Z"])
    assert influence_diagnostics(res)["study"].tolist() == ["W", "X", "Y", "Z"]
    assert baujat(res)["study"].tolist() == ["W", "X", "Y", "Z"]


@pytest.mark.parametrize("func", [influence_diagnostics, baujat])
def test_fewer_than_three_studies_is_a_clear_error(func):
    res = pool([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="at least 3 studies"):
        func(res)


# ------------------------------------------------------------------------------------ the plot


@pytest.fixture(scope="module")
def bcg_plot():
    case = next(c for c in REF["baujat"]
                if c["dataset"] == "dat.bcg" and c["method"] == "REML" and c["test"] == "z")  # fmt: skip
    res = _fit(case, labels=True)
    frame = baujat(res)
    return res, frame, baujat_plot(frame)


def _label_texts(ax):
    return [t for t in ax.texts if t.get_gid() == "baujat-label"]


def test_plot_elements(bcg_plot):
    res, frame, fig = bcg_plot
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (points,) = [c for c in ax.collections if c.get_gid() == "baujat-points"]
    np.testing.assert_allclose(points.get_offsets(), frame[["x", "y"]].to_numpy())
    labels = _label_texts(ax)
    assert sorted(t.get_text() for t in labels) == sorted(res.study_labels)
    by_text = {t.get_text(): t for t in labels}
    for study, x, y in frame[["study", "x", "y"]].itertuples(index=False):
        assert by_text[study].xy == pytest.approx((x, y))
    assert ax.get_xlabel() == "Squared Pearson Residual"
    assert ax.get_ylabel() == "Influence on Overall Result"
    family = font_family()
    for text in [*labels, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels()]:
        assert text.get_fontfamily() == [family]


def test_plot_labels_do_not_overlap_and_stay_inside(bcg_plot):
    _, _, fig = bcg_plot
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = _label_texts(ax) + [ax.xaxis.label, ax.yaxis.label]
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        texts += [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi and t.label1.get_text()]
    # Text.get_window_extent: the text alone (an annotation's extent would include its leader line)
    from matplotlib.text import Text

    boxes = np.array([Text.get_window_extent(t, renderer).extents for t in texts])
    W, H = fig.bbox.width, fig.bbox.height
    assert (boxes[:, 0] >= -0.5).all() and (boxes[:, 1] >= -0.5).all()
    assert (boxes[:, 2] <= W + 0.5).all() and (boxes[:, 3] <= H + 0.5).all()
    ox = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    oy = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    clash = np.triu((ox > 0.5) & (oy > 0.5), k=1)
    assert not clash.any(), [(texts[i].get_text(), texts[j].get_text()) for i, j in zip(*np.nonzero(clash))]
    # labels are inside the axes and off the points
    frame = ax.bbox.extents
    labels = boxes[: len(_label_texts(ax))]
    assert (labels[:, :2] >= frame[:2] - 0.5).all() and (labels[:, 2:] <= frame[2:] + 0.5).all()
    pts = ax.transData.transform(ax.collections[0].get_offsets())
    inside = ((pts[:, None, 0] > labels[None, :, 0]) & (pts[:, None, 0] < labels[None, :, 2])
              & (pts[:, None, 1] > labels[None, :, 1]) & (pts[:, None, 1] < labels[None, :, 3]))  # fmt: skip
    assert not inside.any()


def test_plot_into_given_axes_and_fixed_effect_titles():
    from tpmeta.plots.style import new_figure

    res = pool([0.2, 0.5, 0.1, 0.8, 0.3], [0.04, 0.03, 0.05, 0.02, 0.04], method="FE", labels=list("ABCDE"))
    fig = new_figure(4, 3)
    ax = fig.add_subplot()
    out = baujat_plot(baujat(res), ax=ax)
    assert out is fig
    assert ax.get_xlabel() == "Contribution to Overall Heterogeneity"
    assert len(_label_texts(ax)) == 5


def test_plot_rejects_a_frame_without_the_columns():
    with pytest.raises(ValueError, match="lacks column"):
        baujat_plot(pd.DataFrame({"x": [1.0], "y": [2.0]}))


def test_plot_saves(bcg_plot, tmp_path):
    from tpmeta.plots import save_figure

    _, _, fig = bcg_plot
    (svg,) = save_figure(fig, tmp_path / "baujat", formats=("svg",))
    text = svg.read_text()
    assert "Hart &amp; Sutherland 1977" in text
