"""Subgroup analysis: one pooled analysis per subgroup and the test for subgroup differences.

Two conventions (Borenstein, Hedges, Higgins & Rothstein 2009, *Introduction to Meta-Analysis*,
ch. 19, doi:10.1002/9780470743386; Deeks, Higgins & Altman, Cochrane Handbook ch. 10.11):

* ``tau2="separate"`` (RevMan, meta's ``subgroup``): each subgroup is pooled on its own, with its own
  τ̂² (:func:`tpmeta.pool`), and ``Q_between = Σ_g w_g (μ̂_g − μ̄)²`` with ``w_g = 1/SE_g²`` and
  ``μ̄ = Σ w_g μ̂_g / Σ w_g``, referred to χ² on G − 1 df. SE_g is the standard error the subgroup's
  result reports (Knapp-Hartung-scaled under ``test="knha"``).
* ``tau2="common"``: one τ̂² for all subgroups, i.e. the mixed-effects model
  ``metafor::rma(yi, vi, mods = ~ factor(g))``; the test is its omnibus QM test (χ² on G − 1 df, or F
  on (G − 1, k − G) df with ``test="knha"``), see :func:`tpmeta.metareg.meta_regression`. Subgroup
  estimates are the cell means of the same model (Viechtbauer 2010, doi:10.18637/jss.v036.i03).

``Q_within = Σ_g Q_g`` (Cochran's Q within each subgroup, inverse-variance weights) on k − G df.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..errors import DataProblem, SingleStudyWarning, StudyDataError
from ..options import Method, Test, parse_option
from .metareg import MetaRegResult, meta_regression
from .pooling import PoolResult, _check_level, _study_inputs, pool

__all__ = ["subgroup_analysis", "SubgroupResult"]


@dataclass(frozen=True, repr=False)
class SubgroupResult(ResultMixin):
    """Subgroup analysis: per-subgroup :class:`~tpmeta.PoolResult` and the test for differences.

    Attributes
    ----------
    subgroups : tuple of (name, PoolResult), ready for ``forest_plot(subgroups=...)``
    q_between, df_between, df2_between, pvalue_between : the test for subgroup differences
        (χ² on df_between; F on (df_between, df2_between) for common τ² with knha, else df2 None)
    q_within, df_within, pvalue_within : Σ of the within-subgroup Cochran's Q on k − G df
    tau2_mode : "separate" or "common"; model : the meta-regression behind a common-τ² analysis
    """

    subgroups: tuple[tuple[str, PoolResult], ...]
    q_between: float
    df_between: int
    df2_between: int | None
    pvalue_between: float
    q_within: float
    df_within: int
    pvalue_within: float
    k: int
    n_groups: int
    tau2_mode: str
    method: Method
    test: Test
    level: float
    variable: str | None = None
    model: MetaRegResult | None = None

    _array_fields = ("subgroups", "model")

    def table(self) -> pd.DataFrame:
        """One row per subgroup: k, estimate, se, CI, τ², I², p."""
        rows = [{"subgroup": name, "k": r.k, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                 "ci_high": r.ci_high, "tau2": r.tau2, "i2": r.i2, "pvalue": r.pvalue}
                for name, r in self.subgroups]  # fmt: skip
        return pd.DataFrame(rows)

    @property
    def test_text(self) -> str:
        """The test for subgroup differences as one line, e.g. for ``forest_plot(subgroup_test=...)``."""
        if self.df2_between is not None:
            stat = f"F({self.df_between}, {self.df2_between}) = {self.q_between:.2f}"
        else:
            stat = f"Chi² = {self.q_between:.2f}, df = {self.df_between}"
        p = self.pvalue_between
        ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        return f"Test for subgroup differences: {stat} ({ptxt})"

    def __repr__(self) -> str:
        lines = [f"SubgroupResult(method={self.method.value}, test={self.test.value}, "
                 f"tau2={self.tau2_mode}, k={self.k}, groups={self.n_groups})"]  # fmt: skip
        for name, r in self.subgroups:
            lines.append(f"  {name}: k={r.k}  {format_number(r.estimate)} [{format_number(r.ci_low)}, "
                         f"{format_number(r.ci_high)}]  tau2 {format_number(r.tau2)}  "
                         f"I2 {format_number(r.i2, 1)}%")  # fmt: skip
        lines.append("  " + self.test_text)
        return "\n".join(lines)


def _groups(groups: Any, k: int, labels: list[str] | None) -> tuple[pd.Categorical, str | None]:
    name = groups.name if isinstance(groups, pd.Series) else None
    values = pd.Series(groups).reset_index(drop=True) if not isinstance(groups, pd.Categorical) else pd.Series(groups)
    if len(values) != k:
        raise StudyDataError(DataProblem(f"groups has {len(values)} entries for {k} studies", column="groups",
                                         fix="give one subgroup per study"))  # fmt: skip
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        raise StudyDataError([DataProblem(f"study '{labels[i] if labels else i + 1}': no subgroup", row=int(i),
                                          column=str(name or "groups"), value=None,
                                          fix="assign a subgroup or drop the study") for i in missing])  # fmt: skip
    cat = pd.Categorical(values.astype("category")).remove_unused_categories()
    if len(cat.categories) < 2:
        raise StudyDataError(DataProblem("fewer than two subgroups: nothing to compare", column=str(name or "groups")))
    return cat, name


def subgroup_analysis(
    yi: Any,
    vi: Any,
    groups: Any,
    *,
    method: Method | str = "REML",
    test: Test | str = "z",
    tau2: str = "separate",
    level: float = 0.95,
    labels: Any = None,
) -> SubgroupResult:
    """Pool each subgroup and test for subgroup differences (formulas in :mod:`tpmeta.models.subgroups`).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    groups : array_like or pandas Series/Categorical
        Subgroup of each study; levels in sorted order (or the categorical's order).
    method, test, level
        As in :func:`tpmeta.pool`.
    tau2 : {"separate", "common"}
        Estimate τ² within each subgroup, or one τ² shared by all (a meta-regression on the groups).
    labels : sequence of str, optional

    Examples
    --------
    >>> res = subgroup_analysis([0.1, 0.2, 0.15, 0.6, 0.7, 0.55], [0.02, 0.03, 0.02, 0.04, 0.03, 0.02],
    ...                         ["a", "a", "a", "b", "b", "b"], method="DL")
    >>> [name for name, _ in res.subgroups], res.df_between, round(res.q_between, 3)
    (['a', 'b'], 1, 12.865)
    """
    method = parse_option(Method, method, "method")
    test = parse_option(Test, test, "test")
    level = _check_level(level)
    if tau2 not in ("separate", "common"):
        raise ValueError(f"tau2={tau2!r} is not valid; choose one of 'separate', 'common'")
    y, v, labels = _study_inputs(yi, vi, labels)
    cat, variable = _groups(groups, y.size, labels)
    codes, levels = np.asarray(cat.codes), [str(c) for c in cat.categories]
    G, k = len(levels), y.size
    single = [levels[g] for g in range(G) if (codes == g).sum() == 1]
    if single:
        warnings.warn(f"subgroup(s) {', '.join(map(repr, single))} contain one study: the subgroup "
                      "estimate is that study's own", SingleStudyWarning, stacklevel=2)  # fmt: skip
    sub_labels = [None if labels is None else [labels[i] for i in np.flatnonzero(codes == g)] for g in range(G)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleStudyWarning)
        fe = [pool(y[codes == g], v[codes == g], "FE", "z", level, labels=sub_labels[g], tau2_ci=False)
              for g in range(G)]  # fmt: skip
        q_within = float(sum(r.q for r in fe))
        df_within = k - G
        p_within = float(special.chdtrc(df_within, q_within)) if df_within > 0 else 1.0
        model = None
        if tau2 == "separate":
            fits = [pool(y[codes == g], v[codes == g], method, test, level, labels=sub_labels[g])
                    for g in range(G)]  # fmt: skip
            est = np.array([r.estimate for r in fits])
            w = 1.0 / np.array([r.se for r in fits]) ** 2
            qb = float((w * (est - (w * est).sum() / w.sum()) ** 2).sum())
            df2, pb = None, float(special.chdtrc(G - 1, qb))
        else:
            frame = pd.DataFrame({variable or "group": pd.Categorical.from_codes(codes, levels)})
            model = meta_regression(y, v, frame, method=method, test=test, level=level, labels=labels)
            cells = meta_regression(y, v, frame, intercept=False, method=method, test=test, level=level,
                                    labels=labels)  # fmt: skip
            fits = [_common_tau2_result(cells, g, fe[g]) for g in range(G)]
            qb, df2, pb = model.qm, model.qm_df2, model.qm_pvalue
    return SubgroupResult(
        subgroups=tuple(zip(levels, fits)), q_between=qb, df_between=G - 1, df2_between=df2,
        pvalue_between=pb, q_within=q_within, df_within=df_within, pvalue_within=p_within, k=k,
        n_groups=G, tau2_mode=tau2, method=method, test=test, level=level, variable=variable, model=model,
    )  # fmt: skip


def _common_tau2_result(cells: MetaRegResult, g: int, fe: PoolResult) -> PoolResult:
    """The subgroup as a PoolResult under the common τ̂² of the cell-means model ``cells``."""
    tau2 = cells.tau2
    v = fe.vi
    w = 1.0 / (v + tau2)
    crit = (cells.ci_high[g] - cells.coef[g]) / cells.se[g]
    half = crit * np.sqrt(cells.se[g] ** 2 + tau2)
    df = fe.k - 1
    if df > 0 and cells.method is not Method.FE:
        sw, sw2 = (1 / v).sum(), (1 / v**2).sum()
        vt = df / (sw - sw2 / sw)
        i2, h2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
    else:
        i2, h2 = fe.i2, fe.h2
    weights = 100 * w / w.sum()
    weights.setflags(write=False)
    nan = float("nan")
    return dataclasses.replace(
        fe, estimate=float(cells.coef[g]), se=float(cells.se[g]), statistic=float(cells.statistic[g]),
        pvalue=float(cells.pvalue[g]), ci_low=float(cells.ci_low[g]), ci_high=float(cells.ci_high[g]),
        tau2=tau2, tau2_ci_low=nan, tau2_ci_high=nan, i2=float(i2), i2_ci_low=nan, i2_ci_high=nan,
        h2=float(h2), pi_low=float(cells.coef[g] - half), pi_high=float(cells.coef[g] + half),
        method=cells.method, test=cells.test, converged=cells.converged, n_iter=cells.n_iter,
        truncated=bool(tau2 == 0 and cells.method is not Method.FE), weights=weights,
    )  # fmt: skip
