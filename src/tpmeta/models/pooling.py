"""Fixed- and random-effects pooling with nine τ² estimators, batched over many meta-analyses.

The engine, :func:`pool_batch`, fits ``n`` meta-analyses given as arrays shaped ``(..., k)`` with a mask
for absent studies, in one vectorised call. :func:`pool` is a thin single-analysis layer over it that
validates input and returns a :class:`PoolResult`.

Model: ``y_i = μ + u_i + e_i``, ``u_i ~ N(0, τ²)``, ``e_i ~ N(0, v_i)``. Given τ̂², the pooled estimate
is ``μ̂ = Σ w_i y_i / Σ w_i`` with ``w_i = 1/(v_i + τ̂²)`` and ``SE(μ̂) = (Σ w_i)^(−1/2)``. The τ² estimators are in :mod:`tpmeta.models.tau2`.

Tests: ``z`` uses ``SE`` and normal quantiles. ``knha`` (Hartung & Knapp 2001, doi:10.1002/sim.791;
Sidik & Jonkman 2002, doi:10.1002/sim.1262) multiplies the variance by
``s² = Σ w_i (y_i − μ̂)² / (k − 1)`` and uses t_{k−1} quantiles. ``knha_adhoc`` is metafor 3.8's
``test="adhoc"``: the same with ``max(1, s²)`` in place of ``s²``, so the standard error is never smaller
than the unadjusted ``SE`` (the "modified Knapp–Hartung" method, mKH, of Röver, Knapp & Friede 2015,
doi:10.1186/s12874-015-0091-1; metafor cites Jackson et al. 2017, doi:10.1002/sim.7411, section 4.3).
The interval still uses t_{k−1} quantiles: it is not the rule "never narrower than the z interval"
(another variant discussed by Jackson et al.), though with s² ≥ 1 it is always at least as wide.

τ² fixed by the user (``tau2=``, metafor's ``rma(yi, vi, tau2=)``): the estimator is skipped and the
given value used throughout (weights, SE, tests, I² = 100 τ²/(τ² + ṽ), H² = 1 + τ²/ṽ, prediction
interval); Q is Cochran's Q as always; there is no interval for τ² (nor I², H²: NaN), as metafor's
``confint`` refuses a model without an estimated τ²; ``converged`` is True, ``n_iter`` 0 and
``truncated`` False. ``method`` is kept as given but plays no part (``"FE"`` is refused: it means τ² = 0).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..errors import ConvergenceWarning, DataProblem, SingleStudyWarning, StudyDataError
from ..options import Method, Test, parse_option
from ._batched import Batch, rowsum, weighted_mean
from .heterogeneity import (
    cochran_q,
    i2_h2,
    prediction_interval,
    tau2_ci_qprofile,
    typical_within_variance,
)
from .tau2 import DEFAULT_MAX_ITER, DEFAULT_TOL, _estimate_tau2_batch, estimate_tau2

__all__ = ["pool", "pool_batch", "PoolResult", "BatchPoolResult", "estimate_tau2"]

# --------------------------------------------------------------------------------------------------
# The batched engine
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchPoolResult:
    """Results of many meta-analyses: every field is an array shaped like the batch (``yi.shape[:-1]``).

    Field meanings are those of :class:`PoolResult`.
    """

    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    tau2: np.ndarray
    tau2_ci_low: np.ndarray
    tau2_ci_high: np.ndarray
    i2: np.ndarray
    i2_ci_low: np.ndarray
    i2_ci_high: np.ndarray
    h2: np.ndarray
    q: np.ndarray
    q_pvalue: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    k: np.ndarray
    df: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    truncated: np.ndarray
    method: Method
    test: Test
    level: float
    tau2_fixed: bool = False

    def to_frame(self) -> "Any":
        """Long DataFrame, one row per analysis (flattened in C order)."""
        import pandas as pd

        cols = {
            f.name: np.ravel(getattr(self, f.name))
            for f in self.__dataclass_fields__.values()
            if f.name not in ("method", "test", "level", "tau2_fixed")
        }
        frame = pd.DataFrame(cols)
        frame["method"], frame["test"], frame["level"] = self.method.value, self.test.value, self.level
        frame["tau2_fixed"] = self.tau2_fixed
        return frame


def _check_fixed_tau2(tau2: Any, method: Method, shape: tuple[int, ...]) -> np.ndarray | None:
    """A user-given τ² as an array of the batch shape (None if not given)."""
    if tau2 is None:
        return None
    if method is Method.FE:
        raise ValueError("tau2 is given with method='FE', whose τ² is 0 by definition; drop one of them "
                         "(with tau2 fixed, method plays no part)")  # fmt: skip
    try:
        t = np.broadcast_to(np.asarray(tau2, dtype=float), shape)
    except (TypeError, ValueError):
        raise ValueError(f"tau2={tau2!r} must be a number ≥ 0 (or an array of the batch shape {shape})") from None
    if not np.all(np.isfinite(t) & (t >= 0)):
        raise ValueError(f"tau2={tau2!r} must be finite and ≥ 0")
    return t


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    return level


def pool_batch(
    yi: Any,
    vi: Any,
    mask: Any = None,
    *,
    method: Method | str = "REML",
    test: Test | str = "z",
    level: float = 0.95,
    tau2_ci: bool = True,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    tau2: Any = None,
) -> BatchPoolResult:
    """Fit many meta-analyses at once.

    Parameters
    ----------
    yi, vi : array_like, shape ``(..., k)``
        Effect sizes and sampling variances; the last axis indexes studies.
    mask : array_like of bool, optional
        ``True`` where a study is present. Absent entries may hold anything (NaN included).
    method, test, level
        As in :func:`pool`.
    tau2_ci : bool
        Compute the Q-profile interval for τ² (and I², H²); skip it for speed when not needed.
    tau2 : float or array_like of the batch shape, optional
        τ² fixed by the user instead of estimated (see :func:`pool`).

    No input validation is done beyond shapes: present entries must be finite with ``vi > 0``
    (use :func:`pool` for validated single analyses).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> vi = rng.uniform(0.01, 0.1, size=(1000, 12))
    >>> yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    >>> res = pool_batch(yi, vi, method="DL")
    >>> res.estimate.shape
    (1000,)
    """
    method = parse_option(Method, method, "method")
    test = parse_option(Test, test, "test")
    level = _check_level(level)
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    shape = np.broadcast_shapes(y.shape, v.shape)[:-1]
    fixed_tau2 = _check_fixed_tau2(tau2, method, shape)
    batch = Batch.from_arrays(y, v, mask)
    # one errstate for the whole fit: empty or single-study analyses produce 0/0 by design (→ NaN)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _pool_batch(batch, shape, method, test, level, tau2_ci, tol, max_iter, fixed_tau2)


def _pool_batch(
    batch: Batch,
    shape: tuple[int, ...],
    method: Method,
    test: Test,
    level: float,
    tau2_ci: bool,
    tol: float,
    max_iter: int,
    fixed_tau2: np.ndarray | None = None,
) -> BatchPoolResult:
    fixed = method is Method.FE

    if fixed_tau2 is None:
        tau2, converged, n_iter = _estimate_tau2_batch(batch, method, tol=tol, max_iter=max_iter)
        truncated = (tau2 == 0.0) & (batch.k > 1) & (method is not Method.FE)
    else:
        tau2 = np.array(fixed_tau2, dtype=float).reshape(-1)
        converged, n_iter = np.ones(tau2.shape, bool), np.zeros(tau2.shape, int)
        truncated = np.zeros(tau2.shape, bool)

    w, sw, mu = weighted_mean(batch, tau2)
    df = batch.k - 1
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        var = 1.0 / sw
        se = np.sqrt(var)
        stat = mu / se
        pvalue = 2.0 * special.ndtr(-np.abs(stat))
        crit = np.full(mu.shape, special.ndtri(1.0 - alpha / 2))
        if test.knapp_hartung:
            # with one study there is no residual df: metafor (and tpmeta) fall back to the z test
            multi = df > 0
            rss = rowsum(w * (batch.y - mu[:, None]) ** 2)
            s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / np.where(multi, df, 1))
            if test is Test.KNHA_ADHOC:
                s2w = np.maximum(s2w, 1.0)  # metafor's test="adhoc": s2w[s2w < 1] <- 1
            se = np.where(multi, np.sqrt(s2w * var), se)
            stat = mu / se
            dfc = np.where(multi, df, 1)
            pvalue = np.where(multi, 2.0 * special.stdtr(dfc, -np.abs(stat)), pvalue)
            crit = np.where(multi, special.stdtrit(dfc, 1.0 - alpha / 2), crit)
    ci_low, ci_high = mu - crit * se, mu + crit * se
    pi_low, pi_high = prediction_interval(mu, se, tau2, crit)

    q, _, q_pvalue = cochran_q(batch)
    vt = typical_within_variance(batch)
    i2, h2 = i2_h2(tau2, q, df, vt, fixed)
    nan = np.full(mu.shape, np.nan)
    if tau2_ci and not fixed and fixed_tau2 is None:
        t_lo, t_hi, ci_conv = tau2_ci_qprofile(batch, level, tol=tol, max_iter=max_iter)
        converged = converged & ci_conv
        i2_lo, _ = i2_h2(t_lo, q, df, vt, fixed=False)
        i2_hi, _ = i2_h2(t_hi, q, df, vt, fixed=False)
        i2_lo, i2_hi = np.where(df > 0, i2_lo, np.nan), np.where(df > 0, i2_hi, np.nan)
    else:
        t_lo = t_hi = i2_lo = i2_hi = nan

    def out(a: np.ndarray) -> np.ndarray:
        return np.asarray(a).reshape(shape)

    return BatchPoolResult(
        estimate=out(mu), se=out(se), statistic=out(stat), pvalue=out(pvalue),
        ci_low=out(ci_low), ci_high=out(ci_high), tau2=out(tau2),
        tau2_ci_low=out(t_lo), tau2_ci_high=out(t_hi), i2=out(i2),
        i2_ci_low=out(i2_lo), i2_ci_high=out(i2_hi), h2=out(h2), q=out(q),
        q_pvalue=out(q_pvalue), pi_low=out(pi_low), pi_high=out(pi_high),
        k=out(batch.k.astype(int)), df=out(df.astype(int)), converged=out(converged),
        n_iter=out(n_iter), truncated=out(truncated), method=method, test=test, level=level,
        tau2_fixed=fixed_tau2 is not None,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Single analysis
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PoolResult(ResultMixin):
    """A pooled meta-analysis.

    Attributes
    ----------
    estimate, se : pooled effect and its standard error (knha-scaled under ``test="knha"``)
    statistic, pvalue : z or t statistic of the test μ = 0 and its two-sided p-value
    ci_low, ci_high : confidence interval at ``level``
    tau2, tau2_ci_low, tau2_ci_high : between-study variance and its Q-profile interval (NaN for FE)
    i2, i2_ci_low, i2_ci_high : I² in percent with its interval; h2 : H²
    q, q_pvalue : Cochran's Q and its p-value (k − 1 df)
    pi_low, pi_high : prediction interval for the effect in a new study
    k, df : number of studies and k − 1
    method, test, level : the options used
    converged, n_iter, truncated : solver report; ``truncated`` means τ² was set to the boundary 0
    yi, vi, weights, labels : the per-study data and percentage weights, for plots and tables
    tau2_fixed : τ² was given by the user (``pool(..., tau2=)``), not estimated
    """

    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float
    tau2: float
    tau2_ci_low: float
    tau2_ci_high: float
    i2: float
    i2_ci_low: float
    i2_ci_high: float
    h2: float
    q: float
    q_pvalue: float
    pi_low: float
    pi_high: float
    k: int
    df: int
    method: Method
    test: Test
    level: float
    converged: bool
    n_iter: int
    truncated: bool
    yi: np.ndarray = field(default_factory=lambda: np.empty(0))
    vi: np.ndarray = field(default_factory=lambda: np.empty(0))
    weights: np.ndarray = field(default_factory=lambda: np.empty(0))
    labels: tuple[str, ...] = ()
    tau2_fixed: bool = False

    _array_fields = ("yi", "vi", "weights", "labels")

    @property
    def study_labels(self) -> list[str]:
        """The labels given, or "1" … "k"."""
        return list(self.labels) if self.labels else [str(i + 1) for i in range(len(self.yi))]

    @property
    def tau(self) -> float:
        """√τ², the between-study standard deviation."""
        return float(np.sqrt(self.tau2))

    def study_frame(self) -> "Any":
        """One row per study: label, yi, vi, CI at ``level`` (normal quantile) and weight in percent."""
        import pandas as pd

        z = special.ndtri(1.0 - (1.0 - self.level) / 2)
        se = np.sqrt(self.vi)
        return pd.DataFrame(
            {
                "label": self.study_labels,
                "yi": self.yi,
                "vi": self.vi,
                "ci_low": self.yi - z * se,
                "ci_high": self.yi + z * se,
                "weight": self.weights,
            }
        )

    def __repr__(self) -> str:
        pct = f"{self.level:.0%}"
        lines = [
            f"PoolResult(method={self.method.value}, test={self.test.value}, k={self.k})",
            f"  estimate {format_number(self.estimate)}  [{pct} CI {format_number(self.ci_low)}, "
            f"{format_number(self.ci_high)}]  p = {format_number(self.pvalue)}",
            f"  tau2 {format_number(self.tau2)}  "
            + ("(fixed)" if self.tau2_fixed else
               f"[{format_number(self.tau2_ci_low)}, {format_number(self.tau2_ci_high)}]")
            + f"  I2 {format_number(self.i2, 1)}%  "
            f"Q {format_number(self.q)} (p = {format_number(self.q_pvalue)})",
            f"  prediction interval [{format_number(self.pi_low)}, {format_number(self.pi_high)}]",
        ]
        if not self.converged:
            lines.append(f"  NOT CONVERGED after {self.n_iter} iterations")
        return "\n".join(lines)


def _as_float_array(values: Any, column: str, labels: list[str] | None) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        pass
    problems = []
    for i, value in enumerate(list(values)):
        try:
            float(value)
        except (TypeError, ValueError):
            label = labels[i] if labels is not None else str(i + 1)
            problems.append(DataProblem(f"study '{label}': not a number", row=i, column=column,
                                        value=value, fix="write a plain number"))  # fmt: skip
    raise StudyDataError(problems or f"{column} must be a sequence of numbers")


#: Largest |yi| or vi accepted: beyond it, the squares and sums of the estimators overflow.
_LARGEST = 1e100


def _study_inputs(yi: Any, vi: Any, labels: Any, unit: tuple[str, str] = ("studies", "study")
                  ) -> tuple[np.ndarray, np.ndarray, list[str] | None]:  # fmt: skip
    """Validated effect sizes, variances and labels, read the same way by every estimator: labels from
    the argument or from a pandas index of ``yi``, one per entry (``unit``: plural and singular name)."""
    if labels is None and isinstance(yi, pd.Series):
        labels = yi.index
    labels = None if labels is None else [str(x) for x in labels]
    y, v = _validate_study_arrays(yi, vi, labels)
    if labels is not None and len(labels) != y.size:
        raise StudyDataError(DataProblem(f"{len(labels)} labels for {y.size} {unit[0]}", column="labels",
                                         fix=f"give one label per {unit[1]}"))  # fmt: skip
    return y, v, labels


def _validate_study_arrays(
    yi: Any, vi: Any, labels: list[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    problems: list[DataProblem] = []
    y = _as_float_array(yi, "yi", labels)
    v = _as_float_array(vi, "vi", labels)
    if y.ndim != 1 or v.ndim != 1 or y.shape != v.shape:
        raise StudyDataError(
            DataProblem(
                f"yi and vi must be 1-D and of equal length (got shapes {y.shape} and {v.shape})",
                fix="pass one value per study, or use pool_batch for many analyses",
            )
        )
    if y.size == 0:
        raise StudyDataError(DataProblem("no studies to pool", fix="pass at least one study"))
    with np.errstate(over="ignore", invalid="ignore"):
        bad_y = ~np.isfinite(y) | (np.abs(y) > _LARGEST)  # beyond this, squares and sums overflow
        bad_v = ~(np.isfinite(v) & (v > 0)) | (v > _LARGEST)
    for i in np.flatnonzero(bad_y | bad_v):  # loops only over the offending studies
        label = labels[i] if labels is not None else str(i + 1)
        if bad_y[i]:
            problems.append(DataProblem(f"study '{label}': effect size is not a finite number of a usable size",
                                        row=int(i), column="yi", value=float(y[i]),
                                        fix="remove the study or supply its effect size"))
        if bad_v[i]:
            problems.append(DataProblem(f"study '{label}': sampling variance must be a positive number",
                                        row=int(i), column="vi", value=float(v[i]),
                                        fix="check the SD/n used to compute vi"))  # fmt: skip
    if problems:
        raise StudyDataError(problems)
    return y, v


def pool(
    yi: Any,
    vi: Any,
    method: Method | str = "REML",
    test: Test | str = "z",
    level: float = 0.95,
    *,
    labels: Any = None,
    tau2: float | None = None,
    tau2_ci: bool = True,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> PoolResult:
    """Pool effect sizes with a fixed- or random-effects model.

    ``μ̂ = Σ w_i y_i / Σ w_i``, ``w_i = 1/(v_i + τ̂²)``, ``SE = (Σ w_i)^(−1/2)`` (z test) or
    ``SE·s`` with ``s² = Σ w_i (y_i − μ̂)²/(k−1)`` (knha). τ̂² by ``method``; formulas and references
    in :mod:`tpmeta.models.pooling`. Numbers agree with ``metafor::rma(yi, vi, method=, test=)``
    (``test="knha_adhoc"`` is metafor's ``test="adhoc"``; ``tau2=`` is metafor's ``tau2=``).

    Parameters
    ----------
    yi, vi : array_like
        One effect size and sampling variance per study (``vi > 0``).
    method : {"REML", "FE", "DL", "ML", "PM", "HE", "SJ", "HS", "EB"}
    test : {"z", "knha", "knha_adhoc"}
        ``knha_adhoc``: Knapp–Hartung with the variance factor ``max(1, s²)`` (metafor's ``"adhoc"``).
    level : float
        Confidence level as a proportion (default 0.95).
    labels : sequence of str, optional
        Study labels, used in messages, tables and plots. Taken from a pandas index if not given.
    tau2 : float, optional
        τ² ≥ 0 fixed instead of estimated (e.g. for a sensitivity analysis); then the τ², I² and H²
        intervals are NaN and ``tau2_fixed`` is True. Not with ``method="FE"``.
    tau2_ci : bool
        Compute the Q-profile interval for τ², I² and H² (NaN otherwise).
    tol, max_iter
        Convergence tolerance (change in τ² relative to 1 + τ²) and iteration cap of the solvers.

    Returns
    -------
    PoolResult

    Raises
    ------
    StudyDataError
        Non-finite effect sizes or non-positive variances, naming each offending study.

    Warns
    -----
    SingleStudyWarning
        With one study the result is that study's own estimate.
    ConvergenceWarning
        An iterative estimator did not converge; ``converged`` is ``False`` in the result.

    Examples
    --------
    >>> res = pool([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], method="REML")
    >>> round(res.estimate, 3), res.k
    (0.429, 4)
    """
    method = parse_option(Method, method, "method")
    test = parse_option(Test, test, "test")
    level = _check_level(level)
    y, v, labels = _study_inputs(yi, vi, labels)
    if y.size == 1:
        warnings.warn(
            f"only one study ('{labels[0] if labels else 1}'): the pooled result is that study's own estimate",
            SingleStudyWarning,
            stacklevel=2,
        )
        test = Test.Z  # knha has no residual df with one study; metafor also reports the z test
    res = pool_batch(
        y, v, method=method, test=test, level=level, tau2_ci=tau2_ci, tol=tol, max_iter=max_iter,
        tau2=None if tau2 is None else float(_check_fixed_tau2(tau2, method, ())),
    )
    if not bool(res.converged):
        warnings.warn(
            f"{method.value} estimation of tau^2 did not converge in {int(res.n_iter)} iterations "
            f"(tol={tol}); the result is flagged converged=False",
            ConvergenceWarning,
            stacklevel=2,
        )
    tau2 = float(res.tau2)
    w = 1.0 / (v + tau2)
    weights = 100.0 * w / w.sum()
    for arr in (y, v, weights):
        arr.setflags(write=False)
    scalars = {
        name: float(getattr(res, name))
        for name in (
            "estimate", "se", "statistic", "pvalue", "ci_low", "ci_high", "tau2", "tau2_ci_low",
            "tau2_ci_high", "i2", "i2_ci_low", "i2_ci_high", "h2", "q", "q_pvalue", "pi_low",
            "pi_high",
        )
    }  # fmt: skip
    return PoolResult(
        **scalars,
        k=int(res.k),
        df=int(res.df),
        method=method,
        test=test,
        level=level,
        converged=bool(res.converged),
        n_iter=int(res.n_iter),
        truncated=bool(res.truncated),
        yi=y,
        vi=v,
        weights=weights,
        labels=tuple(labels) if labels is not None else (),
        tau2_fixed=res.tau2_fixed,
    )
