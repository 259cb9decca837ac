"""Bayesian random-effects meta-analysis by numerical integration (no MCMC).

Model (normal-normal hierarchical model): ``y_i | θ_i ~ N(θ_i, v_i)``, ``θ_i | μ, τ ~ N(μ, τ²)``, priors
``p(μ, τ) = p(μ) p(τ)``. Given τ, with a uniform or a normal prior on μ, the posterior of μ is normal
(Röver 2020, J Stat Softw 93(6), doi:10.18637/jss.v093.i06, Sect. 2.4-2.5)::

    w_i = 1 / (v_i + τ²),   V(τ) = 1 / (Σ w_i + 1/s₀²),   μ̂(τ) = V(τ) (Σ w_i y_i + m₀/s₀²)

(``1/s₀² = 0`` for the uniform prior), and the marginal likelihood of τ is
``p(y | τ) = N_k(y; m₀·1, diag(v + τ²) + s₀² 11ᵀ)`` for the normal prior and
``(2π)^(-(k-1)/2) Π w_i^½ (Σ w_i)^-½ exp(-½ Σ w_i (y_i - μ̂)²)`` for the uniform one. The marginal
posterior ``p(τ | y) ∝ p(τ) p(y | τ)`` is integrated numerically and every other marginal is a mixture of
normals over it:

* effect μ: ``N(μ̂(τ), V(τ))``; a new trial's θ (prediction): ``N(μ̂(τ), V(τ) + τ²)``;
* shrinkage θ_i (Sect. 2.8): ``N(y_i + B_i (μ̂(τ) - y_i), B_i τ² + B_i² V(τ))`` with ``B_i = v_i / (v_i + τ²)``.

The quadrature (and why it was chosen) is described in :mod:`tpmeta.models._bayes_quadrature`; every
reported number is within 1e-6 of an independent adaptive quadrature (``tests/reference/bayes_reference.R``,
R's ``integrate`` at rel.tol 1e-12), typically within 1e-10. Priors on τ: half-normal and half-Cauchy
(weakly informative priors for few studies: Friede et al. 2017, Biom J 59:658, doi:10.1002/bimj.201500224,
for two studies; their companion paper "Meta-analysis of few small studies in orphan diseases", Res Synth
Methods 2017, recommends half-normal scales 0.5 or 1.0 for log odds ratios), uniform on [0, scale], and the
log-normal predictive distributions for τ² of Turner et al. 2015 (Stat Med 34:984, doi:10.1002/sim.6381),
see :func:`turner_prior`.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..errors import ConvergenceWarning, SingleStudyWarning
from ..options import _Option, parse_option
from ._bayes_quadrature import (
    PriorSpec,
    fit_rows,
    log_tau_prior,
    mixture_cdf,
    mixture_pdf,
    tau_cdf,
    tau_log_density,
)
from .pooling import _check_level, _study_inputs

__all__ = [
    "BayesBatchResult", "BayesPoolResult", "MuPrior", "TauPrior", "TurnerComparison", "TurnerOutcome",
    "pool_bayes", "pool_bayes_batch", "turner_prior",
]  # fmt: skip


class TauPrior(_Option):
    """Prior on the between-study SD τ."""

    HALFNORMAL = "halfnormal"  #: half-normal with SD ``tau_scale``
    HALFCAUCHY = "halfcauchy"  #: half-Cauchy with scale ``tau_scale``
    UNIFORM = "uniform"  #: uniform on [0, ``tau_scale``]
    LOGNORMAL = "lognormal"  #: log-normal on τ²: ``("lognormal", mean, sd)`` of log τ², or :func:`turner_prior`


class MuPrior(_Option):
    """Prior on the overall effect μ."""

    UNIFORM = "uniform"  #: improper uniform on the real line
    NORMAL = "normal"  #: ``("normal", mean, sd)``


class TurnerOutcome(_Option):
    """Outcome types of Turner et al. (2015), Table IV."""

    ALL_CAUSE_MORTALITY = "all-cause mortality"
    OBSTETRIC = "obstetric outcomes"
    CAUSE_SPECIFIC_MORTALITY = "cause-specific mortality / major morbidity / composite"
    RESOURCE_USE = "resource use / hospital stay / process"
    SURGICAL = "surgical / device related success / failure"
    WITHDRAWALS = "withdrawals / drop-outs"
    INTERNAL_STRUCTURE = "internal / structure-related outcomes"
    GENERAL_PHYSICAL_HEALTH = "general physical health indicators"
    ADVERSE_EVENTS = "adverse events"
    INFECTION = "infection / onset of new disease"
    SIGNS_SYMPTOMS = "signs / symptoms reflecting continuation / end of condition"
    PAIN = "pain"
    QUALITY_OF_LIFE = "quality of life / functioning (dichotomized)"
    MENTAL_HEALTH = "mental health indicators"
    BIOLOGICAL_MARKERS = "biological markers (dichotomized)"
    SUBJECTIVE = "subjective outcomes (various)"


class TurnerComparison(_Option):
    """Intervention comparison types of Turner et al. (2015), Table IV."""

    PHARMA_VS_PLACEBO = "pharmacological vs placebo / control"
    PHARMA_VS_PHARMA = "pharmacological vs pharmacological"
    NONPHARMA_VS_PLACEBO = "non-pharmacological vs placebo / control"
    NONPHARMA_VS_PHARMA = "non-pharmacological vs pharmacological"
    NONPHARMA_VS_NONPHARMA = "non-pharmacological vs non-pharmacological"


# Turner et al. 2015 (doi:10.1002/sim.6381), Table IV: log-normal predictive distributions for τ² in
# meta-analyses of log odds ratios, log τ² ~ N(mean, sd²), one row per outcome type, one column per
# comparison type in the order of TurnerComparison. Transcribed from the copy of Table IV in the bayesmeta
# package 3.4 (R/bayesmeta.R, objects ``meanmat`` and ``sdmat`` used by TurnerEtAlPrior(), which cite
# "Table IV"; read via the cran/bayesmeta mirror); one cell is checked against a figure printed in
# Röver 2020 (tests/models/test_bayes.py::test_turner_prior_matches_printed_quantiles).
_TURNER_MEAN = np.array([
    [-3.95, -4.18, -4.17, -2.92, -3.50], [-3.52, -3.75, -3.74, -2.49, -3.08],
    [-3.71, -3.95, -3.93, -2.68, -3.27], [-2.34, -2.58, -2.56, -1.31, -1.90],
    [-2.14, -2.37, -2.36, -1.11, -1.69], [-2.99, -3.23, -3.21, -1.96, -2.55],
    [-2.71, -2.94, -2.93, -1.67, -2.26], [-2.29, -2.53, -2.51, -1.26, -1.85],
    [-1.87, -2.10, -2.10, -0.84, -1.43], [-2.49, -2.73, -2.71, -1.46, -2.05],
    [-2.06, -2.29, -2.28, -1.03, -1.61], [-1.83, -2.06, -2.05, -0.80, -1.38],
    [-2.54, -2.78, -2.77, -1.51, -2.10], [-2.12, -2.35, -2.34, -1.09, -1.67],
    [-1.77, -2.00, -1.99, -0.74, -1.33], [-2.70, -2.93, -2.92, -1.67, -2.26],
])  # fmt: skip
_TURNER_SD = np.array([
    [1.34, 1.41, 1.55, 1.02, 1.26], [1.74, 1.79, 1.91, 1.50, 1.68],
    [1.74, 1.79, 1.91, 1.51, 1.68], [1.74, 1.79, 1.91, 1.50, 1.68],
    [1.74, 1.79, 1.91, 1.50, 1.68], [1.74, 1.79, 1.91, 1.51, 1.68],
    [1.74, 1.79, 1.92, 1.51, 1.68], [1.53, 1.58, 1.72, 1.25, 1.46],
    [1.52, 1.58, 1.71, 1.24, 1.45], [1.52, 1.58, 1.71, 1.24, 1.45],
    [1.51, 1.58, 1.71, 1.24, 1.45], [1.52, 1.58, 1.71, 1.25, 1.45],
    [1.54, 1.60, 1.73, 1.27, 1.47], [1.53, 1.60, 1.72, 1.27, 1.47],
    [1.52, 1.58, 1.71, 1.24, 1.45], [1.52, 1.58, 1.71, 1.25, 1.45],
])  # fmt: skip


def turner_prior(outcome: TurnerOutcome | str, comparison: TurnerComparison | str) -> tuple[str, float, float]:
    """The log-normal prior for τ² of Turner et al. (2015, Table IV) as ``("lognormal", mean, sd)`` of
    log τ², to pass as ``tau_prior``. The table is for log odds ratios.

    >>> turner_prior("pain", "non-pharmacological vs placebo / control")
    ('lognormal', -2.05, 1.71)
    """
    o = list(TurnerOutcome).index(parse_option(TurnerOutcome, outcome, "outcome"))
    c = list(TurnerComparison).index(parse_option(TurnerComparison, comparison, "comparison"))
    return ("lognormal", float(_TURNER_MEAN[o, c]), float(_TURNER_SD[o, c]))


# --------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------


def _positive(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a positive number") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a positive finite number")
    return value


def _finite(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a finite number") from None
    if not np.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return value


def _split_prior(prior: Any, what: str, example: str) -> tuple[Any, tuple]:
    """A prior given as a name or as (name, parameters...): the name and the parameters."""
    if isinstance(prior, (tuple, list)):
        if not prior:
            raise ValueError(f"{what}=() is empty; give e.g. {example}")
        return prior[0], tuple(prior[1:])
    return prior, ()


def _parse_tau_prior(tau_prior: Any, tau_scale: Any) -> tuple[TauPrior, np.ndarray, float, float]:
    """(kind, scales as an array, mean and sd of log τ² or NaN)."""
    name, params = _split_prior(tau_prior, "tau_prior", "'halfnormal' or ('lognormal', mean, sd)")
    kind = parse_option(TauPrior, name, "tau_prior")
    if kind is TauPrior.LOGNORMAL:
        if len(params) != 2:
            raise ValueError("tau_prior='lognormal' needs its parameters: ('lognormal', mean, sd) of log τ², "
                             "or turner_prior(outcome, comparison)")  # fmt: skip
        if not np.all(np.asarray(tau_scale, dtype=float) == 0.5):
            raise ValueError("tau_scale does not apply to the log-normal prior (its parameters are in the tuple)")
        return kind, np.array([np.nan]), _finite(params[0], "log-normal mean"), _positive(params[1], "log-normal sd")
    if params:
        raise ValueError(f"tau_prior={kind.value!r} takes its scale from tau_scale, not from a tuple")
    scales = np.asarray(tau_scale, dtype=float)
    if scales.size == 0 or not np.all(np.isfinite(scales) & (scales > 0)):
        raise ValueError(f"tau_scale={tau_scale!r} must be positive and finite")
    return kind, scales, np.nan, np.nan


def _parse_mu_prior(mu_prior: Any) -> tuple[MuPrior, float, float | None]:
    name, params = _split_prior(mu_prior, "mu_prior", "'uniform' or ('normal', mean, sd)")
    kind = parse_option(MuPrior, name, "mu_prior")
    if kind is MuPrior.NORMAL:
        if len(params) != 2:
            raise ValueError("mu_prior='normal' needs its parameters: ('normal', mean, sd)")
        return kind, _finite(params[0], "normal prior mean"), _positive(params[1], "normal prior sd")
    if params:
        raise ValueError("mu_prior='uniform' takes no parameters")
    return kind, np.nan, None


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class BayesPoolResult(ResultMixin):
    """Posterior of a Bayesian random-effects meta-analysis (see :func:`pool_bayes`).

    Attributes
    ----------
    mu_median, mu_mean, mu_sd : posterior median, mean and SD of μ. ``mu_mean`` is NaN and ``mu_sd`` is inf
        where the posterior moment does not exist (half-Cauchy τ prior with the uniform μ prior: the mean
        needs k ≥ 2 and the SD k ≥ 3, as the tail of p(τ | y) decays like τ^-(k+1)).
    mu_ci_low, mu_ci_high : equal-tailed credible interval for μ at ``level``
    tau_median, tau_ci_low, tau_ci_high : posterior median and equal-tailed interval of τ
    pred_low, pred_high : equal-tailed posterior predictive interval for a new trial's θ
    prob_mu_below_0 : posterior probability P(μ < 0 | y)
    marginal_likelihood : natural log of p(y); NaN with the improper uniform μ prior (defined only up to
        the arbitrary constant of that prior)
    bf_tau0 : Bayes factor against τ = 0, p(y) / p(y | τ = 0) (> 1 favours heterogeneity); the reciprocal
        of bayesmeta's ``bayesfactor["tau=0"]``. Defined for every τ prior here (all are proper); with the
        uniform μ prior its constant cancels.
    bf_mu0 : Bayes factor against μ = 0, p(y) / p(y | μ = 0) = p(μ = 0) / p(μ = 0 | y) (Savage-Dickey); NaN
        with the uniform μ prior, under which p(y) is not defined (an improper prior makes any Bayes factor
        on μ arbitrary).
    tau_prior, tau_scale, tau2_log_mean, tau2_log_sd : the τ prior (scale NaN for the log-normal, whose
        mean and SD of log τ² are given instead)
    mu_prior, mu_prior_mean, mu_prior_sd : the μ prior (NaN parameters for the uniform)
    level, k, n_nodes, converged : the level, number of studies, quadrature nodes in τ, and whether the
        accuracy check and every quantile iteration succeeded
    yi, vi, labels : the data
    theta_mean, theta_sd, theta_median, theta_low, theta_high : per-study shrinkage posteriors (θ_i | y)
    tau_grid, tau_density, tau_prior_density : posterior and prior density of τ on a grid (for plots)
    mu_grid, mu_density, mu_prior_density : posterior and prior density of μ (prior NaN if improper)
    """

    mu_median: float
    mu_mean: float
    mu_sd: float
    mu_ci_low: float
    mu_ci_high: float
    tau_median: float
    tau_ci_low: float
    tau_ci_high: float
    pred_low: float
    pred_high: float
    prob_mu_below_0: float
    marginal_likelihood: float
    bf_tau0: float
    bf_mu0: float
    tau_prior: TauPrior
    tau_scale: float
    tau2_log_mean: float
    tau2_log_sd: float
    mu_prior: MuPrior
    mu_prior_mean: float
    mu_prior_sd: float
    level: float
    k: int
    n_nodes: int
    converged: bool
    yi: np.ndarray = field(default_factory=lambda: np.empty(0))
    vi: np.ndarray = field(default_factory=lambda: np.empty(0))
    labels: tuple[str, ...] = ()
    theta_mean: np.ndarray = field(default_factory=lambda: np.empty(0))
    theta_sd: np.ndarray = field(default_factory=lambda: np.empty(0))
    theta_median: np.ndarray = field(default_factory=lambda: np.empty(0))
    theta_low: np.ndarray = field(default_factory=lambda: np.empty(0))
    theta_high: np.ndarray = field(default_factory=lambda: np.empty(0))
    tau_grid: np.ndarray = field(default_factory=lambda: np.empty(0))
    tau_density: np.ndarray = field(default_factory=lambda: np.empty(0))
    tau_prior_density: np.ndarray = field(default_factory=lambda: np.empty(0))
    mu_grid: np.ndarray = field(default_factory=lambda: np.empty(0))
    mu_density: np.ndarray = field(default_factory=lambda: np.empty(0))
    mu_prior_density: np.ndarray = field(default_factory=lambda: np.empty(0))
    _mixture: tuple = ()
    _tau_fit: Any = None
    _log_z: float = np.nan

    _array_fields = ("yi", "vi", "labels", "theta_mean", "theta_sd", "theta_median", "theta_low", "theta_high",
                     "tau_grid", "tau_density", "tau_prior_density", "mu_grid", "mu_density", "mu_prior_density")  # fmt: skip

    @property
    def estimate(self) -> float:
        """The posterior median of μ."""
        return self.mu_median

    @property
    def ci_low(self) -> float:
        return self.mu_ci_low

    @property
    def ci_high(self) -> float:
        return self.mu_ci_high

    @property
    def study_labels(self) -> list[str]:
        """The labels given, or "1" … "k"."""
        return list(self.labels) if self.labels else [str(i + 1) for i in range(len(self.yi))]

    def _spec(self) -> PriorSpec:
        sd = None if self.mu_prior is MuPrior.UNIFORM else self.mu_prior_sd
        return PriorSpec(self.tau_prior.value, np.array([self.tau_scale]), self.tau2_log_mean, self.tau2_log_sd,
                         self.mu_prior_mean, sd)  # fmt: skip

    def tau_pdf(self, tau: Any) -> np.ndarray:
        """Posterior density p(τ | y), evaluated exactly (prior × likelihood / normalising constant)."""
        t = np.asarray(tau, dtype=float)
        lp = tau_log_density(self.yi, self.vi, self._spec(), np.maximum(t.ravel(), 0.0))
        with np.errstate(under="ignore"):
            return np.where(t.ravel() >= 0, np.exp(lp - self._log_z), 0.0).reshape(t.shape)

    def tau_cdf(self, tau: Any) -> np.ndarray:
        """Posterior CDF of τ (from the quadrature's interpolant of the density)."""
        t = np.asarray(tau, dtype=float)
        return tau_cdf(np.maximum(t.ravel(), 0.0)[None, :], self._tau_fit)[0].reshape(t.shape)

    def mu_pdf(self, mu: Any) -> np.ndarray:
        """Posterior density of μ (the normal mixture)."""
        w, m, var, _ = self._mixture
        x = np.asarray(mu, dtype=float)
        return mixture_pdf(x.ravel(), w, m, np.sqrt(var)).reshape(x.shape)

    def mu_cdf(self, mu: Any) -> np.ndarray:
        """Posterior CDF of μ (the normal mixture)."""
        w, m, var, _ = self._mixture
        x = np.asarray(mu, dtype=float)
        return mixture_cdf(x.ravel(), w, m, np.sqrt(var)).reshape(x.shape)

    def study_frame(self) -> pd.DataFrame:
        """One row per study: observed yi with its CI at ``level`` (normal quantile) beside the shrinkage
        posterior of θ_i (mean, median and equal-tailed interval)."""
        z = special.ndtri(1.0 - (1.0 - self.level) / 2)
        se = np.sqrt(self.vi)
        return pd.DataFrame({"label": self.study_labels, "yi": self.yi, "vi": self.vi,
                             "ci_low": self.yi - z * se, "ci_high": self.yi + z * se,
                             "theta_mean": self.theta_mean, "theta_median": self.theta_median,
                             "theta_low": self.theta_low, "theta_high": self.theta_high})  # fmt: skip

    def prior_label(self) -> str:
        """The priors in words, e.g. ``τ ~ half-normal(0.5), μ ~ uniform``."""
        if self.tau_prior is TauPrior.LOGNORMAL:
            tau = f"log τ² ~ N({self.tau2_log_mean:g}, {self.tau2_log_sd:g}²)"
        elif self.tau_prior is TauPrior.UNIFORM:
            tau = f"τ ~ uniform(0, {self.tau_scale:g})"
        else:
            tau = f"τ ~ {'half-normal' if self.tau_prior is TauPrior.HALFNORMAL else 'half-Cauchy'}({self.tau_scale:g})"
        if self.mu_prior is MuPrior.UNIFORM:
            return f"{tau}, μ ~ uniform"
        return f"{tau}, μ ~ N({self.mu_prior_mean:g}, {self.mu_prior_sd:g}²)"

    def __repr__(self) -> str:
        pct = f"{self.level:.0%}"
        f = format_number
        lines = [
            f"BayesPoolResult(k={self.k}; {self.prior_label()})",
            f"  mu median {f(self.mu_median)}  [{pct} CrI {f(self.mu_ci_low)}, {f(self.mu_ci_high)}]  "
            f"mean {f(self.mu_mean)}  sd {f(self.mu_sd)}  P(mu<0) {f(self.prob_mu_below_0)}",
            f"  tau median {f(self.tau_median)}  [{f(self.tau_ci_low)}, {f(self.tau_ci_high)}]",
            f"  prediction interval [{f(self.pred_low)}, {f(self.pred_high)}]",
            f"  BF vs tau=0 {f(self.bf_tau0)}  BF vs mu=0 {f(self.bf_mu0)}  log marginal likelihood "
            f"{f(self.marginal_likelihood)}",
        ]
        if not self.converged:
            lines.append("  NOT CONVERGED: the accuracy check or a quantile iteration failed")
        return "\n".join(lines)


_BATCH_SCALARS = ("mu_median", "mu_mean", "mu_sd", "mu_ci_low", "mu_ci_high", "tau_median", "tau_ci_low",
                  "tau_ci_high", "pred_low", "pred_high", "prob_mu_below_0", "marginal_likelihood", "bf_tau0",
                  "bf_mu0", "tau_scale", "converged")  # fmt: skip
_THETA = ("theta_mean", "theta_sd", "theta_median", "theta_low", "theta_high")


@dataclass(frozen=True)
class BayesBatchResult:
    """Many Bayesian meta-analyses: scalar fields are arrays shaped like the batch, the ``theta_*`` fields
    (None unless ``shrinkage=True``) have the studies on a last axis. Meanings as in
    :class:`BayesPoolResult`; ``tau_scale`` holds each analysis' prior scale (for sensitivity plots)."""

    mu_median: np.ndarray
    mu_mean: np.ndarray
    mu_sd: np.ndarray
    mu_ci_low: np.ndarray
    mu_ci_high: np.ndarray
    tau_median: np.ndarray
    tau_ci_low: np.ndarray
    tau_ci_high: np.ndarray
    pred_low: np.ndarray
    pred_high: np.ndarray
    prob_mu_below_0: np.ndarray
    marginal_likelihood: np.ndarray
    bf_tau0: np.ndarray
    bf_mu0: np.ndarray
    tau_scale: np.ndarray
    converged: np.ndarray
    tau_prior: TauPrior
    tau2_log_mean: float
    tau2_log_sd: float
    mu_prior: MuPrior
    mu_prior_mean: float
    mu_prior_sd: float
    level: float
    k: int
    theta_mean: np.ndarray | None = None
    theta_sd: np.ndarray | None = None
    theta_median: np.ndarray | None = None
    theta_low: np.ndarray | None = None
    theta_high: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """Long DataFrame, one row per analysis (flattened in C order)."""
        frame = pd.DataFrame({name: np.ravel(getattr(self, name)) for name in _BATCH_SCALARS})
        for name in ("tau_prior", "tau2_log_mean", "tau2_log_sd", "mu_prior", "mu_prior_mean", "mu_prior_sd",
                     "level", "k"):  # fmt: skip
            value = getattr(self, name)
            frame[name] = value.value if isinstance(value, (TauPrior, MuPrior)) else value
        return frame


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------


def _scalars(out: dict, spec: PriorSpec) -> dict[str, np.ndarray]:
    """The reported scalar fields from the engine's output (rows)."""
    with np.errstate(over="ignore", under="ignore"):
        bf_tau0 = np.exp(out["log_z"] - out["log_lik0"])
    proper = spec.mu_sd is not None
    res = {name: out[name] for name in _BATCH_SCALARS if name in out}
    res.update(marginal_likelihood=out["log_z"] if proper else np.full(len(bf_tau0), np.nan), bf_tau0=bf_tau0)
    return res


#: Rows per block: the batch is split into blocks (cache-sized arrays) fitted on ``threads`` threads.
BLOCK = 512


def pool_bayes_batch(yi: Any, vi: Any, *, tau_prior: Any = "halfnormal", tau_scale: Any = 0.5,
                     mu_prior: Any = "uniform", level: float = 0.95, shrinkage: bool = False,
                     threads: int | None = None) -> BayesBatchResult:  # fmt: skip
    """Fit many Bayesian meta-analyses at once (same model as :func:`pool_bayes`).

    ``yi`` and ``vi`` are arrays shaped ``(..., k)`` (studies on the last axis, every analysis with the
    same k); ``tau_scale`` may be an array broadcast against the batch shape ``(...)``, e.g. a vector of
    prior scales for a sensitivity analysis of one data set. ``shrinkage=True`` also returns the
    per-study posteriors (several times slower: 3 quantiles per study). Blocks of :data:`BLOCK` analyses are fitted on
    ``threads`` threads (default: the number of CPUs). Entries must be finite with ``vi > 0``.

    >>> import numpy as np
    >>> res = pool_bayes_batch([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], tau_scale=np.geomspace(0.1, 2, 5))
    >>> res.mu_median.shape
    (5,)
    """
    kind, scales, lmean, lsd = _parse_tau_prior(tau_prior, tau_scale)
    mu_kind, mu_mean, mu_sd = _parse_mu_prior(mu_prior)
    level = _check_level(level)
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    if y.ndim == 0 or v.ndim == 0:
        raise ValueError("yi and vi must have the studies on a last axis")
    shape = np.broadcast_shapes(y.shape[:-1], v.shape[:-1], scales.shape if kind is not TauPrior.LOGNORMAL else ())
    k = np.broadcast_shapes(y.shape[-1:], v.shape[-1:])[0]
    y = np.broadcast_to(y, shape + (k,)).reshape(-1, k)
    v = np.broadcast_to(v, shape + (k,)).reshape(-1, k)
    if y.size == 0 or k == 0:
        raise ValueError("nothing to fit: the batch is empty")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        raise ValueError("every yi must be finite and every vi finite and positive (no NaN padding)")
    scale = np.broadcast_to(scales if kind is not TauPrior.LOGNORMAL else np.array(np.nan), shape).reshape(-1)
    spec = PriorSpec(kind.value, np.ascontiguousarray(scale, dtype=float), lmean, lsd, mu_mean, mu_sd)
    blocks = [slice(i, min(i + BLOCK, len(y))) for i in range(0, len(y), BLOCK)]

    def fit(block: slice) -> dict:
        part = spec._replace(scale=spec.scale[block])
        out = fit_rows(y[block], v[block], part, level, shrinkage)
        res = _scalars(out, part)
        res["tau_scale"] = part.scale
        res.update({name: out[name] for name in _THETA if shrinkage})
        return res

    workers = max(1, min(len(blocks), threads if threads is not None else (os.cpu_count() or 1)))
    if workers == 1:
        parts = [fit(b) for b in blocks]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(fit, blocks))
    joined = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    fields = {name: joined[name].reshape(shape) for name in _BATCH_SCALARS}
    fields.update({name: joined[name].reshape(shape + (k,)) for name in _THETA if shrinkage})
    return BayesBatchResult(**fields, tau_prior=kind, tau2_log_mean=lmean, tau2_log_sd=lsd, mu_prior=mu_kind,
                            mu_prior_mean=mu_mean, mu_prior_sd=mu_sd if mu_sd is not None else np.nan,
                            level=level, k=int(k))  # fmt: skip


def pool_bayes(yi: Any, vi: Any, *, tau_prior: Any = "halfnormal", tau_scale: float = 0.5,
               mu_prior: Any = "uniform", level: float = 0.95, labels: Any = None) -> BayesPoolResult:  # fmt: skip
    """Bayesian random-effects meta-analysis, computed exactly by numerical integration over τ.

    Conditional on τ the posterior of μ is ``N(μ̂(τ), V(τ))``, so the marginal posterior of μ is the
    mixture ``p(μ | y) = ∫ N(μ; μ̂(τ), V(τ)) p(τ | y) dτ`` with ``p(τ | y) ∝ p(τ) p(y | τ)``; formulas in
    :mod:`tpmeta.models.bayes`, the quadrature in :mod:`tpmeta.models._bayes_quadrature`. Quantiles are
    roots of the mixture CDFs. Intervals are equal-tailed (bayesmeta prints shortest intervals by default).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (``vi > 0``), one per study.
    tau_prior : {"halfnormal", "halfcauchy", "uniform"} or ("lognormal", mean, sd)
        Prior on τ. Half-normal or half-Cauchy with scale ``tau_scale`` or uniform on [0, ``tau_scale``];
        log-normal on τ² with the given mean and SD of log τ², e.g. ``turner_prior("pain",
        "non-pharmacological vs placebo / control")`` (Turner et al. 2015, doi:10.1002/sim.6381).
    tau_scale : float
        Scale of the τ prior (not used by the log-normal prior; leave it at its default there).
    mu_prior : "uniform" or ("normal", mean, sd)
        Improper uniform prior on μ, or a normal prior.
    level : float
        Credibility level of the equal-tailed intervals.
    labels : sequence of str, optional
        Study labels (taken from a pandas index if not given).

    Returns
    -------
    BayesPoolResult

    Raises
    ------
    StudyDataError
        Non-finite effects or non-positive variances, naming each study.
    ValueError
        An unknown prior or an invalid parameter (the message lists the valid values).

    Warns
    -----
    SingleStudyWarning
        With k = 1 the data cannot inform τ: with the uniform μ prior p(τ | y) is the prior itself, and
        the posterior of μ is the study's estimate widened by the prior on τ.
    ConvergenceWarning
        The accuracy check or a quantile iteration failed (``converged=False``).

    References
    ----------
    - Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package. J Stat Softw
      93(6):1-51, doi:10.18637/jss.v093.i06.
    - Friede T, Röver C, Wandel S, Neuenschwander B (2017). Meta-analysis of two studies in the presence
      of heterogeneity with applications in rare diseases. Biom J 59:658-671, doi:10.1002/bimj.201500224.
    - Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT (2015). Predictive distributions for
      between-study heterogeneity and simple methods for their application in Bayesian meta-analysis.
      Stat Med 34:984-998, doi:10.1002/sim.6381.

    Examples
    --------
    >>> res = pool_bayes([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], tau_prior="halfnormal", tau_scale=0.5)
    >>> round(res.mu_median, 3), round(res.tau_median, 3), res.k
    (0.438, 0.302, 4)
    """
    kind, scales, lmean, lsd = _parse_tau_prior(tau_prior, tau_scale)
    if scales.size != 1:
        raise ValueError("tau_scale must be one number here; use pool_bayes_batch for several")
    mu_kind, mu_mean, mu_sd = _parse_mu_prior(mu_prior)
    level = _check_level(level)
    y, v, labels = _study_inputs(yi, vi, labels)
    if y.size == 1:
        warnings.warn(f"only one study ('{labels[0] if labels else 1}'): the data cannot inform tau, so its "
                      "posterior is driven by the prior", SingleStudyWarning, stacklevel=2)  # fmt: skip
    scale = float(scales.ravel()[0])
    spec = PriorSpec(kind.value, np.array([scale]), lmean, lsd, mu_mean, mu_sd)
    out = fit_rows(y[None, :], v[None, :], spec, level, True, extra_mu=(0.0005, 0.9995), extra_tau=(0.995,))
    res = {name: float(val[0]) for name, val in _scalars(out, spec).items() if name not in ("tau_scale", "converged")}
    converged = bool(out["converged"][0])
    if not converged:
        warnings.warn("the Bayesian posterior did not meet its accuracy check (or a quantile iteration did "
                      "not converge); the result is flagged converged=False", ConvergenceWarning, stacklevel=2)  # fmt: skip
    log_z = float(out["log_z"][0])
    w, m, var, tau = out["mix_w"][0], out["mix_m"][0], out["mix_var"][0], out["mix_tau"][0]
    t_hi = float(out["tau_extra"][0, 0]) * 1.25
    if kind is TauPrior.UNIFORM:
        t_hi = min(t_hi, scale)
    tau_grid = np.linspace(0.0, t_hi, 201)
    lo, hi = out["mu_extra"][0]
    mu_grid = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 201)
    with np.errstate(under="ignore"):
        tau_density = np.exp(tau_log_density(y, v, spec, tau_grid) - log_z)
        tau_prior_density = np.exp(log_tau_prior(kind.value, tau_grid, scale, lmean, lsd))
        mu_prior_density = (np.exp(-0.5 * ((mu_grid - mu_mean) / mu_sd) ** 2) / (mu_sd * np.sqrt(2 * np.pi))
                            if mu_sd is not None else np.full(mu_grid.shape, np.nan))  # fmt: skip
    arrays = dict(yi=y, vi=v, theta_mean=out["theta_mean"][0], theta_sd=out["theta_sd"][0],
                  theta_median=out["theta_median"][0], theta_low=out["theta_low"][0],
                  theta_high=out["theta_high"][0], tau_grid=tau_grid, tau_density=tau_density,
                  tau_prior_density=tau_prior_density, mu_grid=mu_grid,
                  mu_density=mixture_pdf(mu_grid, w, m, np.sqrt(var)), mu_prior_density=mu_prior_density)  # fmt: skip
    for arr in (*arrays.values(), w, m, var, tau):
        arr.setflags(write=False)
    return BayesPoolResult(
        **res, tau_prior=kind, tau_scale=scale if kind is not TauPrior.LOGNORMAL else np.nan,
        tau2_log_mean=lmean, tau2_log_sd=lsd, mu_prior=mu_kind, mu_prior_mean=mu_mean,
        mu_prior_sd=mu_sd if mu_sd is not None else np.nan, level=level, k=int(y.size),
        n_nodes=int(out["n_nodes"][0]), converged=converged, labels=tuple(labels) if labels else (),
        _mixture=(w, m, var, tau), _tau_fit=out["fit"], _log_z=log_z, **arrays,
    )  # fmt: skip
