"""Figures of a Bayesian meta-analysis: layout (figure, axes labels, the drawn elements) and PNG export.

The plots draw only what the results carry, so the tests check that drawn coordinates are the result's
numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import tpmeta
from tpmeta.plots.bayes import posterior_plot, prior_sensitivity_plot, shrinkage_forest
from tpmeta.plots.style import save_figure

LABELS = ["Heffron 2003", "Gibelli 2004", "Schuller 2005", "Ganschow 2005", "Spada 2006", "Gras 2008"]
YI = [-2.3097026, -0.4595323, -2.3025851, -1.7578579, -1.2584610, -2.4178959]
VI = [0.3593718, 0.3095760, 0.7750000, 0.2078161, 0.4121591, 2.3372623]


@pytest.fixture(scope="module")
def result():
    return tpmeta.pool_bayes(YI, VI, mu_prior=("normal", 0, 4), labels=LABELS)


def by_gid(fig, gid: str) -> list:
    return fig.findobj(lambda a: a.get_gid() == gid)


def test_shrinkage_forest_layout(result, tmp_path):
    fig = shrinkage_forest(result, effect_label="log odds ratio")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "log odds ratio"
    assert [t.get_text() for t in ax.get_yticklabels()] == LABELS + ["μ (median, CrI)", "Prediction"]
    observed, = by_gid(fig, "observed")
    shrunk, = by_gid(fig, "shrinkage")
    np.testing.assert_allclose(observed.get_xdata(), result.yi)
    np.testing.assert_allclose(shrunk.get_xdata(), result.theta_median)
    diamond, = by_gid(fig, "mu-diamond")
    xs = diamond.get_xy()[:, 0]
    assert (xs.min(), xs.max()) == pytest.approx((result.mu_ci_low, result.mu_ci_high))
    segs = by_gid(fig, "prediction-interval")[0].get_segments()[0]
    assert (segs[0][0], segs[1][0]) == pytest.approx((result.pred_low, result.pred_high))
    assert len(by_gid(fig, "shrinkage-ci")[0].get_segments()) == result.k
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Observed (95% CI)", "Shrinkage (95% CrI)"]
    (path,) = save_figure(fig, tmp_path / "bayes_forest", formats=("png",))
    assert path.stat().st_size > 10_000
    ratio = shrinkage_forest(result, ratio=True)
    assert ratio.axes[0].get_xscale() == "log"


def test_posterior_plot_layout(result, tmp_path):
    fig = posterior_plot(result)
    ax_mu, ax_tau = fig.axes
    assert ax_mu.get_xlabel() == "Effect μ" and ax_tau.get_xlabel() == "Between-study SD τ"
    assert ax_mu.get_ylabel() == ax_tau.get_ylabel() == "Density"
    tau_post, = by_gid(fig, "tau-posterior")
    tau_prior, = by_gid(fig, "tau-prior")
    np.testing.assert_array_equal(tau_post.get_ydata(), result.tau_density)
    np.testing.assert_array_equal(tau_prior.get_ydata(), result.tau_prior_density)
    assert tau_prior.get_linestyle() == "--"
    assert len(by_gid(fig, "mu-prior")) == 1  # the normal μ prior is proper: drawn
    assert by_gid(fig, "mu-median")[0].get_segments()[0][0][0] == pytest.approx(result.mu_median)
    assert "Prior" in [t.get_text() for t in ax_tau.get_legend().get_texts()]
    assert fig._suptitle.get_text() == result.prior_label()
    (path,) = save_figure(fig, tmp_path / "bayes_posterior", formats=("png",))
    assert path.stat().st_size > 10_000
    flat = posterior_plot(tpmeta.pool_bayes(YI, VI))
    assert by_gid(flat, "mu-prior") == [] and len(by_gid(flat, "tau-prior")) == 1  # improper μ prior not drawn


def test_prior_sensitivity_plot_layout(tmp_path):
    scales = np.geomspace(0.05, 5.0, 25)
    batch = tpmeta.pool_bayes_batch(YI, VI, tau_scale=scales, mu_prior=("normal", 0, 4))
    fig = prior_sensitivity_plot(batch, effect_label="log odds ratio")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "log odds ratio"
    assert ax.get_xlabel() == "Scale of the half-normal prior on τ"
    median, = by_gid(fig, "mu-median")
    np.testing.assert_allclose(median.get_xdata(), scales)
    np.testing.assert_allclose(median.get_ydata(), batch.mu_median)
    assert len(by_gid(fig, "mu-interval")) == 1
    (path,) = save_figure(fig, tmp_path / "bayes_sensitivity", formats=("png",))
    assert path.stat().st_size > 10_000
    # a sequence of single results, given in any order, draws the same line
    singles = [tpmeta.pool_bayes(YI, VI, tau_scale=s, mu_prior=("normal", 0, 4)) for s in scales[::-4]]
    line, = by_gid(prior_sensitivity_plot(singles), "mu-median")
    np.testing.assert_allclose(line.get_xdata(), np.sort(scales[::-4]))
    with pytest.raises(ValueError, match="at least two"):
        prior_sensitivity_plot(singles[:1])


def test_sensitivity_plot_ticks_at_halvings_and_marks_the_scale_used():
    import numpy as np

    import tpmeta
    from tpmeta.plots.bayes import prior_sensitivity_plot

    sweep = tpmeta.pool_bayes_batch(np.broadcast_to([0.2, 0.5, 0.1], (9, 3)), np.broadcast_to([0.04, 0.03, 0.05], (9, 3)),
                                    tau_scale=np.geomspace(0.125, 2.0, 9))  # fmt: skip
    fig = prior_sensitivity_plot(sweep, mark=0.5)
    ax = fig.axes[0]
    assert [float(t) for t in ax.get_xticks()] == [0.125, 0.25, 0.5, 1.0, 2.0]
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_gid() == "chosen-scale"] == [0.5]
