"""A fitted model as inference sees it: the data, the design, τ̂², β̂ and Var(β̂), whether it came from
:func:`tpmeta.pool` (intercept only) or :func:`tpmeta.meta_regression`.

Private to :mod:`tpmeta.models.inference` and :mod:`tpmeta.models.profile`. A
:class:`~tpmeta.PoolResult` carries no design matrix and no log-likelihood; both are rebuilt here from
its ``yi``, ``vi``, ``method``, ``test`` and ``tau2`` (X = a column of ones; β̂ = the pooled estimate,
Var(β̂) = its squared, knha-scaled, standard error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from ..options import Method, Test
from .metareg import MetaRegResult
from .metareg_engine import _at_tau2, _Design, _fit_stats, _is_t
from .pooling import PoolResult


@dataclass(frozen=True)
class _Fitted:
    y: np.ndarray
    v: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    icol: int | None
    coef: np.ndarray
    vcov: np.ndarray
    tau2: float
    tau2_fixed: bool
    method: Method
    test: Test
    level: float
    qe: float
    labels: tuple[str, ...]
    pooled: bool
    #: the fit statistics the result already carries (metafor's ``fit.stats`` for its own likelihood)
    stored_stats: dict[str, float] | None = None

    @property
    def k(self) -> int:
        return int(self.X.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def parms(self) -> int:
        """Number of parameters: p, plus 1 for an estimated τ² (metafor's ``parms``)."""
        return self.p + (0 if (self.method is Method.FE or self.tau2_fixed) else 1)

    @property
    def t_test(self) -> bool:
        return _is_t(self.test)

    @property
    def df(self) -> int | None:
        """Residual df k − p of the t and F tests (None for z tests)."""
        return self.k - self.p if self.t_test else None

    def crit(self, level: float) -> float:
        """Two-sided critical value: t on k − p df (knha) or normal."""
        alpha = 1.0 - level
        if self.t_test:
            return float(special.stdtrit(self.k - self.p, 1.0 - alpha / 2)) if self.k > self.p else np.nan
        return float(special.ndtri(1.0 - alpha / 2))

    def pvalue(self, stat: np.ndarray) -> np.ndarray:
        """Two-sided p-values of z or t statistics."""
        if self.t_test:
            return 2.0 * special.stdtr(self.k - self.p, -np.abs(stat))
        return 2.0 * special.ndtr(-np.abs(stat))

    def loglik(self, tau2: Any, reml: bool) -> np.ndarray:
        """metafor's (restricted) log-likelihood of the model refitted at each τ² (constants included)."""
        at = _at_tau2(self.y, self.v, self.X, self.icol, tau2)
        return at.ll_reml if reml else at.ll_ml

    def fit_stats(self, reml: bool, tau2: float | None = None, parms: int | None = None) -> dict[str, float]:
        """metafor's ``fit.stats`` (REML or ML column) at the fitted τ² (or the one given)."""
        if tau2 is None and parms is None and self.stored_stats is not None and reml == (self.method is Method.REML):
            return dict(self.stored_stats)  # computed once by meta_regression, at this τ² and likelihood
        return _fit_stats(self.y, self.v, self.X, self.icol, self.tau2 if tau2 is None else tau2,
                          self.parms if parms is None else parms, reml)  # fmt: skip

    def typical_v(self) -> float:
        """ṽ = (k − p) / tr P_FE, the typical within-study variance of I² and H²."""
        w = 1.0 / self.v
        Xs = _Design(self.X, None, self.icol).X  # centred and scaled: tr P does not change
        xwx = Xs.T @ (w[:, None] * Xs)
        xw2x = Xs.T @ ((w * w)[:, None] * Xs)
        tr_p = w.sum() - np.trace(np.linalg.solve(xwx, xw2x))
        return (self.k - self.p) / tr_p


def fitted_view(result: Any) -> _Fitted:
    """The :class:`_Fitted` view of a :class:`MetaRegResult` or :class:`PoolResult`."""
    if isinstance(result, MetaRegResult):
        return _Fitted(y=result.yi, v=result.vi, X=result.X, names=result.names,
                       icol=0 if result.intercept else None, coef=np.asarray(result.coef, float),
                       vcov=np.asarray(result.vcov, float), tau2=float(result.tau2),
                       tau2_fixed=bool(result.tau2_fixed), method=result.method, test=result.test,
                       level=result.level, qe=float(result.qe), labels=tuple(result.labels),
                       pooled=False, stored_stats={k: float(getattr(result, k)) for k in
                                                   ("loglik", "deviance", "aic", "bic", "aicc")})  # fmt: skip
    if isinstance(result, PoolResult):
        k = len(result.yi)
        return _Fitted(y=np.asarray(result.yi, float), v=np.asarray(result.vi, float), X=np.ones((k, 1)),
                       names=("intrcpt",), icol=0, coef=np.array([result.estimate]),
                       vcov=np.array([[result.se**2]]), tau2=float(result.tau2),
                       tau2_fixed=bool(getattr(result, "tau2_fixed", False)),
                       method=result.method, test=result.test, level=result.level, qe=float(result.q),
                       labels=tuple(result.labels), pooled=True)  # fmt: skip
    raise TypeError(f"expected a PoolResult (tpmeta.pool) or MetaRegResult (tpmeta.meta_regression), "
                    f"got {type(result).__name__}")  # fmt: skip


def check_level(level: float | None, default: float) -> float:
    """``level`` as a proportion in (0, 1); the model's level when None."""
    if level is None:
        return default
    value = float(level)
    if not 0.0 < value < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    return value
