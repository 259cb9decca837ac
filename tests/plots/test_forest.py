"""Forest and funnel plots: structure, text layout (no overlaps, nothing clipped) and export."""

from __future__ import annotations

import subprocess
import sys

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from tpmeta.errors import TpmetaWarning
from tpmeta.models.pooling import pool
from tpmeta.plots import (
    HOUSE_STYLE,
    JOURNAL_WIDTHS,
    forest_plot,
    funnel_plot,
    save_figure,
)

LONG = "Trigger point dry needling versus sham needling in chronic neck"  # 60+ characters with a suffix


def synthetic(k: int, seed: int = 1, long: bool = False, mu: float = -0.4):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.3, k)
    yi = rng.normal(mu, np.sqrt(vi + 0.05))
    if long:
        labels = [f"{LONG[:52]} {2000 + i} {chr(65 + i % 26)}" for i in range(k)]
        assert all(len(lab) >= 59 for lab in labels)
    else:
        labels = [f"Author{chr(65 + i % 26)} {1990 + i}" for i in range(k)]
    return yi, vi, labels


def visible_texts(fig) -> list[Text]:
    fig.canvas.draw()
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += list(ax.texts)
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lo, hi), max(lo, hi)
            texts += [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    for legend in fig.legends:
        texts += legend.get_texts()
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def assert_clean_layout(fig) -> None:
    """No two text boxes overlap and every text lies inside the figure."""
    renderer = fig.canvas.get_renderer()
    texts = visible_texts(fig)
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts])  # x0, y0, x1, y1
    W, H = fig.bbox.width, fig.bbox.height
    tol = 0.5
    outside = (boxes[:, 0] < -tol) | (boxes[:, 1] < -tol) | (boxes[:, 2] > W + tol) | (boxes[:, 3] > H + tol)
    assert not outside.any(), [texts[i].get_text() for i in np.flatnonzero(outside)]
    ox = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    oy = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    clash = np.triu((ox > tol) & (oy > tol), k=1)
    pairs = [(texts[i].get_text(), texts[j].get_text()) for i, j in zip(*np.nonzero(clash))]
    assert not pairs, pairs[:5]


def by_gid(fig, gid: str) -> list:
    return fig.findobj(lambda a: a.get_gid() == gid)


def texts_with_gid(fig, gid: str) -> list[str]:
    return [t.get_text() for t in fig.texts if t.get_gid() == gid]


@pytest.fixture(scope="module", params=[2, 12, 60])
def built(request):
    k = request.param
    yi, vi, labels = synthetic(k, seed=k, long=True)
    res = pool(yi, vi, labels=labels)
    return res, forest_plot(res)


# ------------------------------------------------------------------------------------- structure


def test_every_element_present(built):
    res, fig = built
    squares = by_gid(fig, "study-squares")
    assert len(squares) == 1 and len(squares[0].get_offsets()) == res.k
    assert len(by_gid(fig, "pooled-diamond")) == 1
    assert len(by_gid(fig, "prediction-interval")) == 1
    assert len(by_gid(fig, "null-line")) == 1
    whiskers = by_gid(fig, "ci-whiskers")[0]
    arrows = sum(len(a.get_xdata()) for a in by_gid(fig, "ci-arrows"))
    assert len(whiskers.get_segments()) == res.k and arrows >= 0
    (het,) = texts_with_gid(fig, "heterogeneity")
    flat = het.replace("\n", " ")
    for piece in ("Heterogeneity: \u03c4\u00b2 = ", "I\u00b2 = ", "%", "Q = ", f"(df = {res.df})", "p "):
        assert piece in flat
    (test,) = texts_with_gid(fig, "overall-test")
    assert test.replace("\n", " ").startswith("Test for overall effect: z = ")
    favours = texts_with_gid(fig, "favours")
    assert [f.replace("\n", " ") for f in favours] == ["Favours intervention", "Favours control"]
    shown = [t.replace("\n", " ") for t in texts_with_gid(fig, "study-label")]
    assert shown == list(res.labels)


def test_layout_has_no_overlaps_or_clipping(built):
    _, fig = built
    assert fig.get_size_inches()[0] == pytest.approx(JOURNAL_WIDTHS["double"])
    assert_clean_layout(fig)


def test_height_grows_with_rows(built):
    res, fig = built
    assert fig.get_size_inches()[1] > 0.1 * res.k


def test_square_area_proportional_to_weight():
    yi, vi, labels = synthetic(8, seed=3)
    res = pool(yi, vi, labels=labels)
    fig = forest_plot(res)
    sizes = by_gid(fig, "study-squares")[0].get_sizes()
    np.testing.assert_allclose(sizes / res.weights, sizes[0] / res.weights[0], rtol=1e-9)


def test_effect_text_and_display_rounding():
    res = pool([0.123456, -0.5, 0.3], [0.04, 0.05, 0.03], labels=["A", "B", "C"])
    fig = forest_plot(res)
    frame = res.study_frame()
    expected = f"{0.123456:.2f} [{frame.ci_low[0]:.2f}, {frame.ci_high[0]:.2f}]".replace("-", "\u2212")
    assert expected in [t.get_text() for t in fig.texts]
    assert res.yi[0] == 0.123456  # nothing rounded in the result


def test_ratio_uses_log_axis_and_exponentiates():
    yi, vi, labels = synthetic(10, seed=5, mu=-0.5)
    res = pool(yi, vi, labels=labels)
    fig = forest_plot(res, ratio=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert by_gid(fig, "null-line")[0].get_xdata()[0] == 1.0
    x = by_gid(fig, "study-squares")[0].get_offsets()[:, 0]
    np.testing.assert_allclose(np.sort(x), np.sort(np.exp(res.yi)))
    assert f"{np.exp(res.estimate):.2f} [" in " ".join(t.get_text() for t in fig.texts)
    assert_clean_layout(fig)


def test_several_models_and_knha():
    yi, vi, labels = synthetic(12, seed=6)
    fe, re = pool(yi, vi, "FE", labels=labels), pool(yi, vi, "REML", "knha", labels=labels)
    fig = forest_plot([("Common effect", fe), ("Random effects", re)])
    assert len(by_gid(fig, "pooled-diamond")) == 2
    assert len(by_gid(fig, "prediction-interval")) == 1  # only under the random-effects diamond
    tests = [t.replace("\n", " ") for t in texts_with_gid(fig, "overall-test")]
    assert "z = " in tests[0] and "t = " in tests[1] and "(df = 11)" in tests[1]
    assert_clean_layout(fig)


def test_subgroups():
    rng = np.random.default_rng(7)
    subs = []
    for name, k, mu in [("Dry needling", 5, -0.6), ("Manual therapy", 4, -0.2), ("Laser", 3, 0.1)]:
        v = rng.uniform(0.02, 0.2, k)
        y = rng.normal(mu, np.sqrt(v + 0.03))
        subs.append((name, pool(y, v, labels=[f"{name} trial {i + 1}" for i in range(k)])))
    overall = pool(np.concatenate([r.yi for _, r in subs]), np.concatenate([r.vi for _, r in subs]),
                   labels=[lab for _, r in subs for lab in r.labels])  # fmt: skip
    note = "Test for subgroup differences: Q = 6.21 (df = 2), p = 0.04"
    fig = forest_plot(overall, subgroups=subs, subgroup_test=note)
    assert texts_with_gid(fig, "subgroup-header") == ["Dry needling", "Manual therapy", "Laser"]
    assert len(by_gid(fig, "pooled-diamond")) == 4
    assert len(by_gid(fig, "study-squares")[0].get_offsets()) == 12
    assert texts_with_gid(fig, "subgroup-test")[0].replace("\n", " ") == note
    assert len(texts_with_gid(fig, "subgroup-heterogeneity")) == 3
    # study weights come from the overall model when it is given
    assert "100.0%" in [t.get_text() for t in fig.texts]
    assert_clean_layout(fig)
    without_overall = forest_plot(None, subgroups=subs)
    assert len(by_gid(without_overall, "pooled-diamond")) == 3
    assert_clean_layout(without_overall)


@pytest.mark.parametrize("sort_by", ["weight", "effect", "year"])
def test_sorting_is_presentation_only(sort_by):
    yi, vi, labels = synthetic(9, seed=8)
    res = pool(yi, vi, labels=labels)
    years = pd.DataFrame({"label": labels, "year": [2005, 2001, 2010, 1999, 2003, 2008, 2000, 2007, 2002]})
    fig = forest_plot(res, sort_by=sort_by, study_data=years)
    texts = [t for t in fig.texts if t.get_gid() == "study-label"]
    shown = [t.get_text() for t in sorted(texts, key=lambda t: -t.get_position()[1])]
    key = {"weight": -res.weights, "effect": res.yi, "year": years["year"].to_numpy()}[sort_by]
    assert shown == [labels[i] for i in np.argsort(key, kind="stable")]
    assert list(res.labels) == labels


def test_study_data_and_risk_of_bias_columns():
    yi, vi, labels = synthetic(12, seed=9)
    res = pool(yi, vi, labels=labels)
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"mean1": rng.normal(3, 1, 12).round(1), "sd1": rng.uniform(1, 2, 12).round(2),
                         "n1": rng.integers(10, 80, 12), "mean2": rng.normal(4, 1, 12).round(1),
                         "sd2": rng.uniform(1, 2, 12).round(2), "n2": rng.integers(10, 80, 12)},
                        index=labels)  # fmt: skip
    levels = ["low", "some concerns", "high", None]
    rob = pd.DataFrame({d: [levels[(i + j) % 4] for i in range(12)]
                        for j, d in enumerate(["d1", "d2", "d3", "d4", "d5", "overall"])}, index=labels)
    fig = forest_plot(res, study_data=data, rob=rob)
    headers = [t.get_text() for t in fig.texts if t.get_gid() == "column-header"]
    for h in ("Mean", "SD", "Total", "D1", "D5", "Overall"):
        assert h in headers
    assert texts_with_gid(fig, "group-header") == ["Intervention", "Control", "Risk of bias"]
    circles = by_gid(fig, "rob-circles")[0]
    assert len(circles.get_offsets()) == 12 * 6
    colours = {mpl.colors.to_hex(c).upper() for c in circles.get_facecolors()}
    assert colours == {"#02C100", "#E2DF07", "#BF0000", "#4EA1F7"}
    assert set(texts_with_gid(fig, "rob-symbol")) == {"+", "\u2212", "\u00d7", "?"}
    assert str(int(data["n1"].sum())) in [t.get_text() for t in fig.texts]  # total row
    assert_clean_layout(fig)


def test_single_width_stays_85_mm_giving_up_default_columns_with_a_warning():
    """Too many columns for 85 mm: the default columns are given up (arm data first), with a warning
    naming them; the figure is never widened."""
    yi, vi, labels = synthetic(5, seed=10, long=True)
    res = pool(yi, vi, labels=labels)
    data = pd.DataFrame({c: np.arange(5) + 10.5 for c in ["mean1", "sd1", "n1", "mean2", "sd2", "n2"]})
    with pytest.warns(TpmetaWarning, match=r"left out the arms column\(s\) to fit the single width \(85 mm\)"):
        fig = forest_plot(res, study_data=data, width="single")
    assert fig.get_size_inches()[0] == pytest.approx(JOURNAL_WIDTHS["single"])
    headers = texts_with_gid(fig, "column-header")
    assert not any(h.startswith("Mean") for h in headers) and any(h.startswith("Weight") for h in headers)
    assert_clean_layout(fig)


def test_columns_asked_for_are_kept_or_a_clear_error_says_what_to_drop():
    yi, vi, labels = synthetic(5, seed=10, long=True)
    res = pool(yi, vi, labels=labels)
    data = pd.DataFrame({c: np.arange(5) + 10.5 for c in ["mean1", "sd1", "n1", "mean2", "sd2", "n2"]})
    with pytest.raises(ValueError, match=r"does not fit the single width \(85 mm\).*arms \d+ mm.*Drop some"):
        forest_plot(res, study_data=data, width="single", columns=["arms", "weight", "effect"])
    fig = forest_plot(res, study_data=data, width="single", columns=["effect"])
    headers = texts_with_gid(fig, "column-header")
    assert not any(h.startswith(("Mean", "Weight")) for h in headers) and any("CI" in h for h in headers)
    assert fig.get_size_inches()[0] == pytest.approx(JOURNAL_WIDTHS["single"])
    fig = forest_plot(res, study_data=data, width="double", columns="arms,effect")  # the CLI's form
    headers = texts_with_gid(fig, "column-header")
    assert any(h.startswith("Mean") for h in headers) and not any(h.startswith("Weight") for h in headers)
    with pytest.raises(ValueError, match=r"columns='weights' is not valid; choose one of 'arms', 'weight'"):
        forest_plot(res, columns=["weights"])


def test_single_width_long_labels_wrap():
    yi, vi, labels = synthetic(12, seed=11, long=True)
    fig = forest_plot(pool(yi, vi, labels=labels), width="single")
    assert fig.get_size_inches()[0] == pytest.approx(JOURNAL_WIDTHS["single"])
    assert any("\n" in t for t in texts_with_gid(fig, "study-label"))
    assert_clean_layout(fig)


def test_arrows_when_ci_leaves_the_axis():
    yi, vi, labels = synthetic(6, seed=12)
    vi = vi.copy()
    vi[0] = 25.0  # a very wide interval
    fig = forest_plot(pool(yi, vi, labels=labels))
    assert sum(len(a.get_xdata()) for a in by_gid(fig, "ci-arrows")) >= 2
    assert_clean_layout(fig)


def test_draw_into_given_axes():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # a bare Figure has no renderer to measure text with
    ax = fig.add_subplot()
    yi, vi, labels = synthetic(12, seed=13)
    out = forest_plot(pool(yi, vi, labels=labels), ax=ax)
    assert out is fig and fig.get_size_inches()[0] == 7
    assert len(by_gid(fig, "study-squares")[0].get_offsets()) == 12


def test_bad_options():
    res = pool([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="sort_by"):
        forest_plot(res, sort_by="size")
    with pytest.raises(ValueError, match="year"):
        forest_plot(res, sort_by="year")
    with pytest.raises(ValueError, match="judgement"):
        forest_plot(res, rob=pd.DataFrame({"d1": ["medium", "low"]}, index=["1", "2"]))
    with pytest.raises(ValueError, match="does not match"):
        forest_plot(res, study_data=pd.DataFrame({"n1": [1, 2, 3]}))
    with pytest.raises(ValueError, match="width"):
        forest_plot(res, width="triple")


# ---------------------------------------------------------------------------------- side effects


def test_no_pyplot_and_no_global_rcparams():
    code = "import sys, tpmeta.plots; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    before = {k: mpl.rcParams[k] for k in HOUSE_STYLE}
    fig = forest_plot(pool([0.1, 0.2, 0.5], [0.1, 0.1, 0.2]))
    save_figure  # noqa: B018 - imported above
    assert {k: mpl.rcParams[k] for k in HOUSE_STYLE} == before
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()
    assert fig.canvas.get_renderer() is not None


# -------------------------------------------------------------------------------------- export


def test_save_figure_formats(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    yi, vi, labels = synthetic(12, seed=14)
    fig = forest_plot(pool(yi, vi, labels=labels))
    before = {k: mpl.rcParams[k] for k in HOUSE_STYLE}
    paths = save_figure(fig, tmp_path / "sub" / "forest", formats=("pdf", "svg", "png", "tiff"), dpi=150)
    assert [p.suffix for p in paths] == [".pdf", ".svg", ".png", ".tiff"]
    assert {k: mpl.rcParams[k] for k in HOUSE_STYLE} == before
    pdf = paths[0].read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf
    svg = paths[1].read_text()
    assert "<text" in svg and "Heterogeneity" in svg
    for path in paths[2:]:
        with Image.open(path) as im:
            assert im.info["dpi"] == pytest.approx((150, 150), abs=0.05)  # PNG stores pixels per metre
            assert im.size[0] == pytest.approx(JOURNAL_WIDTHS["double"] * 150, abs=1)
    with pytest.raises(ValueError, match="unknown format"):
        save_figure(fig, tmp_path / "x", formats=("bmp",))


# -------------------------------------------------------------------------------------- funnel


def test_funnel_plot(tmp_path):
    yi, vi, labels = synthetic(15, seed=15)
    res = pool(yi, vi, labels=labels)
    fig = funnel_plot(res, egger=(0.5, -0.3))
    ax = fig.axes[0]
    assert ax.yaxis_inverted()
    assert len(by_gid(fig, "funnel-points")[0].get_offsets()) == 15
    assert len(by_gid(fig, "funnel-contour")) == 6  # three bands, both sides of the null
    assert len(by_gid(fig, "funnel-pseudo-ci")) == 2
    egger = by_gid(fig, "funnel-egger")[0]
    x, y = egger.get_data()
    np.testing.assert_allclose(x, -0.3 + 0.5 * y)
    assert_clean_layout(fig)
    ratio = funnel_plot(res, contours=None, ratio=True)
    assert ratio.axes[0].get_xscale() == "log" and not by_gid(ratio, "funnel-contour")
    assert save_figure(fig, tmp_path / "funnel", formats=("png",))[0].exists()


def test_a_single_trial_is_drawn_as_a_trial_not_a_meta_analysis():
    from tpmeta.errors import SingleStudyWarning

    with pytest.warns(SingleStudyWarning):
        res = pool([-0.48], [0.0625], labels=["Bron 2011"])
    fig = forest_plot(res, study_data={"label": ["Bron 2011"], "mean1": [29], "sd1": [18.4], "total1": [34],
                                       "mean2": [37.8], "sd2": [17.9], "total2": [31]})  # fmt: skip
    assert not by_gid(fig, "pooled-diamond") and not by_gid(fig, "prediction-interval")
    texts = [t.get_text() for t in fig.texts]
    assert not any(t.endswith("%") or t.startswith("Weight") for t in texts)  # no weight column
    assert not any(t.startswith(("Heterogeneity", "Test for overall effect", "Random effects")) for t in texts)
    assert texts_with_gid(fig, "single-trial-note")
    assert fig.axes[0].get_xlim()[0] <= -0.97  # the whole interval is visible
    assert_clean_layout(fig)


def test_derived_numbers_are_marked():
    yi, vi, labels = synthetic(3, seed=21)
    data = pd.DataFrame({"label": labels, "derivation": ["reported", "sd from se (SD = SE·√n)", ""]})
    fig = forest_plot(pool(yi, vi, labels=labels), study_data=data)
    marked = [t for t in texts_with_gid(fig, "study-label") if t.endswith("\u2020")]
    assert marked == [labels[1] + " \u2020"]
    assert texts_with_gid(fig, "derived-note")[0].startswith("\u2020 Derived, not reported as such: sd from se")
    assert_clean_layout(fig)


def test_tiff_is_rgb_and_eps_keeps_text(tmp_path):
    from PIL import Image

    yi, vi, labels = synthetic(6, seed=16)
    paths = save_figure(forest_plot(pool(yi, vi, labels=labels)), tmp_path / "f", formats=("tiff", "eps"), dpi=1200)
    with Image.open(paths[0]) as im:
        assert im.mode == "RGB" and round(im.info["dpi"][0]) == 1200  # no alpha channel: journals reject it
    eps = paths[1].read_bytes()
    assert eps.startswith(b"%!PS-Adobe") and b"EPSF" in eps[:40] and b"Type 3" not in eps


def test_rob_judgements_resting_on_abstract_gaps_are_rings_with_a_legend_line():
    """As in the traffic-light plot: a judgement that rests only on what the abstract leaves out is a ring
    in its colour around a pale centre, and the key says so; assessable ones stay solid."""
    from matplotlib.colors import to_hex

    yi, vi, labels = synthetic(2, seed=3)
    rob = pd.DataFrame({"d1": ["low", "high"], "overall": ["low", "high"], "d1_assessable": [True, False],
                        "overall_assessable": [True, False]}, index=labels)  # fmt: skip
    fig = forest_plot(pool(yi, vi, labels=labels), rob=rob)
    circles = next(c for c in fig.findobj() if getattr(c, "get_gid", lambda: None)() == "rob-circles")
    faces = [to_hex(c) for c in circles.get_facecolors()]
    widths = list(circles.get_linewidths())
    assert widths == [0.3, 0.3, 1.2, 1.2]  # study 1 solid, study 2 rings
    assert faces[2] != faces[0] and faces[2] == faces[3]
    assert any("not assessable from the abstract" in t.get_text() for t in fig.texts + fig.axes[0].texts)
