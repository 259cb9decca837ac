"""Likelihood-ratio tests of nested models, as metafor 3.8's ``anova(full, reduced)`` on ``rma.uni`` fits
(split from :mod:`tpmeta.models.inference`, which holds the Wald tests of a single model).

``LRT = −2 (ℓ_reduced − ℓ_full)`` (metafor: the difference of the deviances), on
``parms_full − parms_reduced`` df (χ²), with metafor's log-likelihoods and fit statistics
(:func:`tpmeta.models.metareg_engine._fit_stats`). Both models are compared on the likelihood of the
full model's method: REML if it is REML, else ML (a FE model has τ² = 0 and is scored by either). REML
likelihoods are only comparable between models with the same fixed effects (Welham & Thompson 1997,
doi:10.1111/1467-9868.00092), so REML fits of different designs are refused unless ``refit=True``,
which refits them by ML as metafor's ``refit=TRUE`` does. Testing τ² = 0 (a random-effects model
against its FE version) puts the null value on the boundary; the χ²₁ p-value is then conservative
(its correct reference is ½χ²₀ + ½χ²₁; metafor and tpmeta report the χ²₁ value).

Pseudo-R² as metafor prints it: ``100 max(0, (τ²_reduced − τ²_full)/τ²_reduced)`` (0 if τ²_reduced = 0);
for FE models the relative reduction of the weighted residual variance ``QE/(k − p)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..options import Method
from ._fitted import _Fitted, fitted_view
from .metareg_engine import _fit_batch

__all__ = ["anova", "LRTResult"]

_LIKELIHOOD = (Method.FE, Method.ML, Method.REML)


@dataclass(frozen=True, repr=False)
class LRTResult(ResultMixin):
    """Likelihood-ratio test of a reduced model against a full model (``anova.rma`` with two fits).

    Attributes
    ----------
    lrt, df, pvalue : the statistic, its df (difference in parameters) and χ² p-value
    likelihood : "REML" or "ML", the likelihood both models are scored on; refit : models refitted by ML
    parms_full, loglik_full, deviance_full, aic_full, bic_full, aicc_full : metafor's fit statistics of
        the full model; the same ``*_reduced`` for the reduced model
    qe_full, qe_reduced, tau2_full, tau2_reduced : residual heterogeneity tests and τ² of both
    r2 : pseudo-R² (percent) of the full relative to the reduced model
    """

    lrt: float
    df: int
    pvalue: float
    likelihood: str
    refit: bool
    parms_full: int
    loglik_full: float
    deviance_full: float
    aic_full: float
    bic_full: float
    aicc_full: float
    parms_reduced: int
    loglik_reduced: float
    deviance_reduced: float
    aic_reduced: float
    bic_reduced: float
    aicc_reduced: float
    qe_full: float
    qe_reduced: float
    tau2_full: float
    tau2_reduced: float
    r2: float

    def table(self) -> pd.DataFrame:
        """metafor's printed layout: rows Full and Reduced."""
        cols = ["parms", "loglik", "deviance", "aic", "bic", "aicc", "qe", "tau2"]
        frame = pd.DataFrame([[getattr(self, f"{c}_{m}") for c in cols] for m in ("full", "reduced")],
                             columns=cols, index=pd.Index(["Full", "Reduced"]))  # fmt: skip
        frame["lrt"], frame["pvalue"], frame["r2"] = [np.nan, self.lrt], [np.nan, self.pvalue], [np.nan, self.r2]
        return frame

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.table().to_html(float_format=format_number)

    def __repr__(self) -> str:
        return (f"LRTResult({self.likelihood}{', refitted by ML' if self.refit else ''}): LRT = "
                f"{format_number(self.lrt)} on {self.df} df, p = {format_number(self.pvalue)}\n"
                + self.table().to_string(float_format=format_number))  # fmt: skip


def _nested(small: np.ndarray, big: np.ndarray) -> bool:
    """Every column of ``small`` lies in the column space of ``big`` (to rounding)."""
    q, _ = np.linalg.qr(big / np.linalg.norm(big, axis=0))
    s = small / np.linalg.norm(small, axis=0)
    return bool(np.max(np.abs(s - q @ (q.T @ s))) < 1e-8)


def _ml_refit(f: _Fitted) -> _Fitted:
    if f.method is not Method.REML:
        return f
    if f.tau2_fixed:
        return replace(f, method=Method.ML, stored_stats=None)
    fit = _fit_batch(f.y, f.v, f.X, method=Method.ML, intercept_col=f.icol)
    return replace(f, method=Method.ML, tau2=float(fit.tau2[0]), stored_stats=None)  # stats of the new fit


def anova(full: Any, reduced: Any, *, refit: bool = False) -> LRTResult:
    """Likelihood-ratio test of two nested models, as ``anova(full, reduced)`` in metafor.

    ``LRT = 2 (ℓ_full − ℓ_reduced)`` on the difference in the number of parameters (coefficients, plus
    τ² where estimated), with the log-likelihood, deviance, AIC, BIC and AICc of both models
    (formulas in :mod:`tpmeta.models.comparison`; Viechtbauer 2010, doi:10.18637/jss.v036.i03). The
    model with more parameters is taken as the full one, whatever the order. For Wald tests of
    coefficients of one model see :func:`tpmeta.wald_test`.

    Parameters
    ----------
    full, reduced : MetaRegResult or PoolResult
        Fitted to the same yi and vi, by ML, REML or FE (not mixing ML and REML), the reduced model's
        design in the column space of the full one's.
    refit : bool
        When both are REML fits with different fixed effects, refit them by ML (metafor's
        ``refit=TRUE``); FE models stay FE and a fixed τ² stays fixed.

    Raises
    ------
    ValueError
        Different data, the same number of parameters, models that are not nested, methods other than
        ML/REML/FE or ML mixed with REML, a FE full model against a random-effects reduced one, or REML
        fits with different fixed effects without ``refit=True`` (metafor 3.8 only warns there: REML
        likelihoods of different designs are not comparable).

    Examples
    --------
    >>> import tpmeta
    >>> y, v, x = [0.1, 0.3, 0.35, 0.6, 0.7, 0.2], [0.02, 0.03, 0.02, 0.04, 0.03, 0.05], [1, 2, 3, 4, 5, 1]
    >>> lrt = anova(tpmeta.meta_regression(y, v, x, method="ML"), tpmeta.pool(y, v, method="ML"))
    >>> lrt.df, round(lrt.lrt, 3), round(lrt.pvalue, 4)
    (1, 8.116, 0.0044)
    """
    a, b = fitted_view(full), fitted_view(reduced)
    if a.parms == b.parms:
        raise ValueError(f"both models have {a.parms} parameters: a likelihood-ratio test needs nested "
                         "models of different size")  # fmt: skip
    if a.parms < b.parms:
        a, b = b, a
    if not (np.array_equal(a.y, b.y) and np.array_equal(a.v, b.v)):
        raise ValueError("the two models are not fitted to the same yi and vi")
    for f in (a, b):
        if f.method not in _LIKELIHOOD:
            raise ValueError(f"likelihood-ratio tests need fits by ML, REML or FE (got method="
                             f"{f.method.value!r}); refit the models with method='ML' or 'REML'")  # fmt: skip
    if a.method is Method.FE and b.method is not Method.FE:
        raise ValueError("the full model (more parameters) is a FE model and the reduced one a "
                         "random-effects model: they are not nested")  # fmt: skip
    if {a.method, b.method} == {Method.ML, Method.REML}:
        raise ValueError(f"the full model is fitted by {a.method.value} and the reduced one by "
                         f"{b.method.value}: use the same likelihood for both")  # fmt: skip
    if not _nested(b.X, a.X):
        raise ValueError("the reduced model's moderators are not in the span of the full model's: the "
                         "models are not nested")  # fmt: skip
    reml = a.method is Method.REML
    refitted = False
    if reml and not (a.X.shape == b.X.shape and np.array_equal(a.X, b.X)):
        if not refit:
            raise ValueError("REML likelihoods of models with different fixed effects are not comparable: "
                             "fit both with method='ML', or pass refit=True to refit them by ML")  # fmt: skip
        a, b, reml, refitted = _ml_refit(a), _ml_refit(b), False, True
    sf, sr = a.fit_stats(reml), b.fit_stats(reml)
    lrt = max(0.0, sr["deviance"] - sf["deviance"])
    df = a.parms - b.parms
    if a.method is Method.FE:
        s2f, s2r = a.qe / (a.k - a.p), b.qe / (b.k - b.p)
        r2 = 100 * max(0.0, (s2r - s2f) / s2r)
    elif b.tau2 == 0:
        r2 = 0.0
    else:
        r2 = 100 * max(0.0, (b.tau2 - a.tau2) / b.tau2)
    return LRTResult(lrt=lrt, df=df, pvalue=float(special.chdtrc(df, lrt)), likelihood="REML" if reml else "ML",
                     refit=refitted, parms_full=a.parms, **{f"{k}_full": v for k, v in sf.items()},
                     parms_reduced=b.parms, **{f"{k}_reduced": v for k, v in sr.items()}, qe_full=a.qe,
                     qe_reduced=b.qe, tau2_full=a.tau2, tau2_reduced=b.tau2, r2=r2)  # fmt: skip
