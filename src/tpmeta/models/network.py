"""Network meta-analysis: the contrast-based consistency model with one τ², the design-by-treatment
interaction test, node-splitting, league table and P-scores.

**Data.** Arm level (``events`` and ``n`` for OR, RR, RD; ``mean``, ``sd`` and ``n`` for MD, SMD) or
contrast level (``yi``, ``vi`` of treatment vs ``comparator`` and, for trials with several contrasts,
the covariance ``cov`` they share). Treatments are ordered reference first, then by code point; every
trial contributes the contrasts of its arms against its *baseline*, the arm earliest in that order
(the fit does not depend on the choice, except for SMD, whose value does). ``yi`` and ``vi`` are
``metafor::escalc``'s for each (arm, baseline) pair; the covariance of two contrasts sharing the
baseline arm is that arm's variance component (Gleser & Olkin 2009; metafor's tests of
dat.gleser2009): MD ``sd²/n``, OR ``1/a + 1/b``, RR ``1/a − 1/n``, RD ``p(1 − p)/n``, SMD
``1/n_b + y_j y_k/(2N)`` with N the trial's total sample size. A trial with a zero (or n) event count
in any arm gets ½ added to every cell of all its tables (escalc's correction, applied to the whole
trial so that its contrasts stay consistent); other trials none. Contrast-level trials given against
another arm are re-expressed exactly against their baseline (``y' = Ty``, ``V' = TVT'``).

**Model** (Salanti et al. 2008, doi:10.1177/0962280207080643; metafor's analysis examples for
dat.senn2013 and dat.hasselblad1998): ``y_i = X_i d + δ_i + ε_i`` for the contrasts of trial i, d the
effects of the T − 1 treatments against the reference (a row of X has +1 at the arm's treatment and −1
at the baseline's), ``ε_i ~ N(0, V_i)`` and ``δ_i ~ N(0, τ² R_i)`` with ``R_i = (I + J)/2`` (one τ²,
correlation ½ between contrasts of a multi-arm trial: metafor's ``random = ~ comp | study, rho = 1/2``).
With ``Σ = V + τ²R`` and ``W = Σ⁻¹``, ``d̂ = (X'WX)⁻¹X'Wy``, ``Var(d̂) = (X'WX)⁻¹``.

* ``method="FE"``: τ² = 0. ``"DL"``: the generalised DerSimonian–Laird estimator
  ``τ² = max(0, (Q − (N − p)) / tr(P₀R))``, ``P₀ = W₀ − W₀X(X'W₀X)⁻¹X'W₀`` at τ² = 0 (Jackson, White &
  Riley 2012, doi:10.1002/sim.5453; netmeta's estimator, Rücker 2012, doi:10.1002/jrsm.1058, which
  gives the same number). ``"REML"``: the global maximum over τ² ≥ 0 of
  ``ℓ_R = −½(N − p) log 2π + ½ log|X'X| − ½ log|Σ| − ½ log|X'WX| − ½ r'Wr`` (metafor's REMLf), by Fisher
  scoring checked against a scan of ``[0, U]`` (:mod:`tpmeta.models._tau2_global`); ``converged``,
  ``n_iter`` and ``loglik`` report it.
* ``Q = r'W₀r`` (generalised Cochran's Q) on N − (T − 1) df; ``i2 = max(0, (Q − df)/Q)``.
* Intervals: ``d̂ ± z se``; prediction ``d̂ ± z √(se² + τ²)`` (metafor's ``predict``). The league
  table holds every ordered pair ``d̂_a − d̂_b`` with ``Var = v_aa + v_bb − 2v_ab``.
* **P-scores** (Rücker & Schwarzer 2015, doi:10.1186/s12874-015-0060-8):
  ``P_a = mean_{b≠a} Φ((d̂_b − d̂_a)/se_ab)`` when small values are desirable (``Φ((d̂_a − d̂_b)/se_ab)``
  otherwise).
* **Design-by-treatment interaction** (Higgins et al. 2012, doi:10.1002/jrsm.1044; White et al. 2012,
  doi:10.1002/jrsm.1045): the consistency model plus one parameter per design (set of treatments of a
  trial) and non-baseline treatment, keeping the columns that raise the rank; τ² re-estimated in it by
  the same method (0 if it has no residual df); Wald χ² of the added parameters. For every method the
  fixed-effect decomposition ``Q = Q_within designs + Q_between designs`` is reported too.
* **Node-splitting**, side-splitting (Dias et al. 2010, doi:10.1002/sim.3767): for each comparison
  A–B (A earlier in the order) with direct evidence whose split model is identifiable, one parameter ω
  is added on the B arm of every trial holding both A and B, i.e. A plays the baseline of those trials
  and only their B–A contrast leaves the consistency relations (in a multi-arm trial the choice of A
  or B matters; van Valkenhoef et al. 2016, doi:10.1002/jrsm.1167, discuss it). τ² is re-estimated by
  the same method. ``direct = d̂_B − d̂_A + ω̂``, ``indirect = d̂_B − d̂_A``, ``difference = ω̂`` with
  its Wald test. Every comparison whose split model is identifiable (ω raises the rank of the design)
  is split, which can include comparisons that van Valkenhoef et al.'s rule skips; comparisons with
  direct evidence only (no loop) are left out.

Tested against metafor's ``rma.mv`` (``tests/reference/metafor_network.R``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .._results import ResultMixin, format_number
from ..errors import ConvergenceWarning
from ..options import Measure, Method, SmallValues, parse_option
from ._network_data import (
    BINARY,
    CONTINUOUS,
    Contrasts,
    arm_contrasts,
    check_connected,
    given_contrasts,
)
from ._network_fit import Engine
from .tau2 import DEFAULT_MAX_ITER, DEFAULT_TOL

__all__ = ["network_meta", "NetworkResult"]

_METHODS = (Method.FE, Method.DL, Method.REML)
_SPLIT_COLUMNS = ["treatment", "comparator", "n_studies", "direct", "direct_se", "direct_ci_low", "direct_ci_high",
                  "indirect", "indirect_se", "indirect_ci_low", "indirect_ci_high", "network", "network_se",
                  "network_ci_low", "network_ci_high", "difference", "difference_se", "pvalue", "tau2"]  # fmt: skip


@dataclass(frozen=True, repr=False)
class NetworkResult(ResultMixin):
    """A fitted network meta-analysis (definitions in :mod:`tpmeta.models.network`).

    Attributes
    ----------
    treatments, reference : the treatments (reference first) and the reference
    estimate, se, ci_low, ci_high, pi_low, pi_high : per treatment, against the reference (the
        reference's own row: estimate 0, the rest NaN); ``effects`` holds them as a DataFrame
    pscore : P-score per treatment (ranking; see ``small_values``)
    vcov : covariance of the T − 1 estimates against the reference
    league : every ordered pair (``treatment`` − ``comparator``): estimate, se, intervals, pvalue
    node_split : per split comparison: direct, indirect and network estimates, their difference and p
    tau2, q, q_df, q_pvalue, i2 : heterogeneity of the consistency model
    inconsistency_q, inconsistency_df, inconsistency_pvalue, inconsistency_tau2 : the design-by-treatment
        interaction Wald test and the τ² of that model
    q_within_designs, q_within_designs_df, q_between_designs : fixed-effect decomposition of Q
    loglik : restricted log-likelihood at τ̂² (REML; NaN otherwise); converged, n_iter : the solver
    k, n_contrasts, measure, method, level, small_values
    contrasts : the data as fitted (study, treatment, comparator, yi, vi, design)
    edges : treatment pairs compared directly and their number of trials; participants : per treatment
        (NaN for contrast-level input); zero_corrected : trials that got ½ in every cell
    """

    treatments: tuple[str, ...]
    reference: str
    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    pscore: np.ndarray
    vcov: np.ndarray
    league: pd.DataFrame
    node_split: pd.DataFrame
    tau2: float
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    inconsistency_q: float
    inconsistency_df: int
    inconsistency_pvalue: float
    inconsistency_tau2: float
    q_within_designs: float
    q_within_designs_df: int
    q_between_designs: float
    loglik: float
    k: int
    n_contrasts: int
    measure: Measure
    method: Method
    level: float
    small_values: SmallValues
    converged: bool
    n_iter: int
    contrasts: pd.DataFrame
    edges: pd.DataFrame
    participants: np.ndarray
    zero_corrected: tuple[str, ...]

    _array_fields = ("treatments", "estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "pscore",
                     "vcov", "league", "node_split", "contrasts", "edges", "participants", "zero_corrected")  # fmt: skip

    @property
    def effects(self) -> pd.DataFrame:
        """One row per treatment (index): estimate, se, ci_low, ci_high, pi_low, pi_high vs the reference."""
        return pd.DataFrame({k: getattr(self, k) for k in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high")},
                            index=pd.Index(self.treatments, name="treatment"))  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        """``effects`` with the P-score, one row per treatment."""
        return self.effects.assign(pscore=self.pscore)

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.to_frame().to_html(float_format=format_number)

    def __repr__(self) -> str:
        lines = [f"NetworkResult(measure={self.measure.value}, method={self.method.value}, k={self.k}, "
                 f"treatments={len(self.treatments)}, reference={self.reference!r})",
                 f"  tau2 {format_number(self.tau2)}  Q({self.q_df}) = {format_number(self.q)} "
                 f"(p = {format_number(self.q_pvalue)})  design-by-treatment chi2({self.inconsistency_df}) = "
                 f"{format_number(self.inconsistency_q)} (p = {format_number(self.inconsistency_pvalue)})",
                 self.to_frame().to_string(float_format=format_number)]  # fmt: skip
        if not self.converged:
            lines.append(f"  NOT CONVERGED after {self.n_iter} iterations")
        return "\n".join(lines)


def network_meta(
    data: Any,
    *,
    study: str = "study",
    treatment: str = "treatment",
    measure: Measure | str,
    reference: str,
    method: Method | str = "REML",
    level: float = 0.95,
    small_values: SmallValues | str = "desirable",
    events: str = "events",
    n: str = "n",
    mean: str = "mean",
    sd: str = "sd",
    comparator: str | None = None,
    yi: str = "yi",
    vi: str = "vi",
    cov: str = "cov",
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    source: str | None = None,
    inconsistency: bool = True,
) -> NetworkResult:
    """Fit a network meta-analysis (contrast-based consistency model; see :mod:`tpmeta.models.network`).

    Parameters
    ----------
    data : DataFrame
        One row per arm (arm level) or, with ``comparator=``, one row per contrast.
    study, treatment : str
        Columns naming the trial and the arm's treatment.
    measure : {"OR", "RR", "RD", "MD", "SMD"}
        Effect measure (ratios on the log scale). With contrast-level data it names the scale of ``yi``.
    reference : str
        The treatment every effect is expressed against.
    method : {"REML", "DL", "FE"}
        τ² estimator: restricted maximum likelihood, generalised DerSimonian–Laird, or none (τ² = 0).
    level : float
        Confidence level of the intervals.
    small_values : {"desirable", "undesirable"}
        Whether smaller effects are better, for the P-scores.
    events, n, mean, sd : str
        Arm-level columns (events and n for OR/RR/RD; mean, sd and n for MD/SMD).
    comparator, yi, vi, cov : str
        Contrast-level input: ``yi`` (treatment minus comparator), ``vi`` and, for trials with several
        contrasts (all against the same comparator), their shared covariance ``cov``.
    tol, max_iter : REML convergence tolerance (relative change of τ²) and iteration cap.
    source : str, optional
        File name for error messages.
    inconsistency : bool
        Fit the design-by-treatment and node-splitting models (default). ``False`` fits the consistency
        model alone (one ``rma.mv`` call; the inconsistency fields are NaN or empty), e.g. for large
        networks or many refits.

    Raises
    ------
    StudyDataError
        Missing columns or values, impossible counts, SD ≤ 0, a treatment twice in a trial, a
        single-arm trial, an unknown reference, a bad covariance, or a disconnected network (naming its
        sub-networks).
    ValueError
        An option outside its valid values.

    Examples
    --------
    >>> import pandas as pd
    >>> arms = pd.DataFrame({"study": ["s1", "s1", "s2", "s2", "s3", "s3"],
    ...                      "treatment": ["A", "B", "A", "C", "B", "C"],
    ...                      "mean": [1.0, 0.5, 1.1, 0.2, 0.4, 0.1], "sd": [1.0] * 6, "n": [50] * 6})
    >>> res = network_meta(arms, measure="MD", reference="A", method="FE")
    >>> res.effects["estimate"].round(4).tolist()
    [0.0, -0.5333, -0.8667]
    """
    measure = parse_option(Measure, measure, "measure")
    if measure not in (*BINARY, *CONTINUOUS):
        raise ValueError(f"measure={measure.value!r} is not available for network_meta; choose one of "
                         f"{', '.join(repr(m.value) for m in (*BINARY, *CONTINUOUS))}")  # fmt: skip
    method = parse_option(Method, method, "method")
    if method not in _METHODS:
        raise ValueError(f"method={method.value!r} is not available for network_meta; choose one of "
                         f"{', '.join(repr(m.value) for m in _METHODS)}")  # fmt: skip
    small_values = parse_option(SmallValues, small_values, "small_values")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} must be a proportion in (0, 1), e.g. 0.95")
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    cols = {"study": study, "treatment": treatment, "events": events, "n": n, "mean": mean, "sd": sd,
            "comparator": comparator, "yi": yi, "vi": vi, "cov": cov}  # fmt: skip
    reference = str(reference)
    if comparator is None:
        con = arm_contrasts(data, measure, reference, cols, source)
    else:
        con = given_contrasts(data, reference, cols, source)
    check_connected(con, source, treatment)
    return _fit(con, measure, method, level, small_values, tol, max_iter, inconsistency)


def _design(con: Contrasts) -> np.ndarray:
    f, order = con.frame, con.treatments
    X = np.zeros((len(f), len(order) - 1))
    pos = {t: i - 1 for i, t in enumerate(order)}
    for r, (t, b) in enumerate(zip(f["treatment"], f["comparator"])):
        if pos[t] >= 0:
            X[r, pos[t]] += 1.0
        if pos[b] >= 0:
            X[r, pos[b]] -= 1.0
    return X


def _tau2(eng: Engine, method: Method, tol: float, max_iter: int) -> tuple[float, bool, int]:
    if method is Method.FE:
        return 0.0, True, 0
    if method is Method.DL:
        return eng.dl(), True, 0
    return eng.reml(tol, max_iter)


def _fit(con: Contrasts, measure: Measure, method: Method, level: float, small_values: SmallValues,
         tol: float, max_iter: int, inconsistency: bool = True) -> NetworkResult:  # fmt: skip
    f = con.frame
    starts = np.flatnonzero(~f["study"].duplicated().to_numpy())
    X = _design(con)
    eng = Engine(f["yi"].to_numpy(float), X, con.blocks, starts)
    tau2, converged, n_iter = _tau2(eng, method, tol, max_iter)
    fit = eng.fit(tau2)
    b, vb = fit.beta[0], fit.vcov[0]
    crit = float(special.ndtri(1.0 - (1.0 - level) / 2.0))
    T = len(con.treatments)
    d = np.concatenate([[0.0], b])
    vd = np.zeros((T, T))
    vd[1:, 1:] = vb
    se = np.sqrt(np.diag(vd))
    se[0] = np.nan
    pi_se = np.sqrt(se**2 + tau2)
    q = eng.q_fixed()
    q_df = eng.N - eng.p
    q_p = float(special.chdtrc(q_df, q)) if q_df > 0 else 1.0
    dbt, splits, notes = (_inconsistency(eng, con, X, method, tol, max_iter, level, b, vb) if inconsistency
                          else _no_inconsistency(eng.N - eng.p))  # fmt: skip
    if not (converged and all(notes)):
        warnings.warn("network_meta: the REML iteration did not converge (main, design-by-treatment or "
                      f"node-splitting model) within max_iter={max_iter}", ConvergenceWarning, stacklevel=3)  # fmt: skip
    edges = _edges(con)
    return NetworkResult(
        treatments=con.treatments, reference=con.treatments[0], estimate=d, se=se,
        ci_low=d - crit * se, ci_high=d + crit * se, pi_low=d - crit * pi_se, pi_high=d + crit * pi_se,
        pscore=_pscores(d, vd, small_values), vcov=vb, league=_league(con.treatments, d, vd, tau2, crit),
        node_split=splits, tau2=float(tau2), q=q, q_df=int(q_df), q_pvalue=q_p,
        i2=100.0 * max(0.0, (q - q_df) / q) if q > 0 and q_df > 0 else 0.0, **dbt,
        loglik=float(fit.loglik[0]) if method is Method.REML else np.nan, k=int(starts.size),
        n_contrasts=int(len(f)), measure=measure, method=method, level=level, small_values=small_values,
        converged=bool(converged), n_iter=int(n_iter), contrasts=f.copy(), edges=edges,
        participants=np.array([con.participants[t] for t in con.treatments]), zero_corrected=con.zero_corrected,
    )  # fmt: skip


def _no_inconsistency(df: int) -> tuple[dict[str, Any], pd.DataFrame, list[bool]]:
    """The inconsistency fields when the models are not fitted (``inconsistency=False``)."""
    nan = float("nan")
    dbt = {"inconsistency_q": nan, "inconsistency_df": 0, "inconsistency_pvalue": nan, "inconsistency_tau2": nan,
           "q_within_designs": nan, "q_within_designs_df": int(df), "q_between_designs": nan}  # fmt: skip
    return dbt, pd.DataFrame(columns=_SPLIT_COLUMNS), []


def _pscores(d: np.ndarray, vd: np.ndarray, small_values: SmallValues) -> np.ndarray:
    """Rücker & Schwarzer's P-scores: the mean over the other treatments of the one-sided p-value."""
    T = d.size
    diff = d[:, None] - d[None, :]
    var = np.diag(vd)[:, None] + np.diag(vd)[None, :] - 2 * vd
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / np.sqrt(var)
    p = special.ndtr(-z if small_values is SmallValues.DESIRABLE else z)
    p[np.eye(T, dtype=bool)] = 0.0
    return p.sum(axis=1) / (T - 1)


def _league(order: tuple[str, ...], d: np.ndarray, vd: np.ndarray, tau2: float, crit: float) -> pd.DataFrame:
    a, c = np.nonzero(~np.eye(d.size, dtype=bool))
    est = d[a] - d[c]
    se = np.sqrt(vd[a, a] + vd[c, c] - 2 * vd[a, c])
    pis = np.sqrt(se**2 + tau2)
    return pd.DataFrame({"treatment": [order[i] for i in a], "comparator": [order[j] for j in c],
                         "estimate": est, "se": se, "ci_low": est - crit * se, "ci_high": est + crit * se,
                         "pi_low": est - crit * pis, "pi_high": est + crit * pis,
                         "pvalue": 2 * special.ndtr(-np.abs(est / se))})  # fmt: skip


def _arms_by_study(f: pd.DataFrame) -> dict[str, set[str]]:
    arms: dict[str, set[str]] = {}
    for s, t, c in zip(f["study"], f["treatment"], f["comparator"]):
        arms.setdefault(s, {c}).add(t)
    return arms


def _edges(con: Contrasts) -> pd.DataFrame:
    counts: dict[tuple[str, str], int] = {}
    rank = {t: i for i, t in enumerate(con.treatments)}
    for study_arms in _arms_by_study(con.frame).values():
        arms = sorted(study_arms, key=rank.__getitem__)
        for i, t1 in enumerate(arms):
            for t2 in arms[i + 1:]:
                counts[(t1, t2)] = counts.get((t1, t2), 0) + 1
    return pd.DataFrame([(a, b, k) for (a, b), k in counts.items()], columns=["treatment1", "treatment2", "n_studies"])


def _rank_extend(X: np.ndarray, candidates: list[np.ndarray]) -> np.ndarray:
    """The candidate columns that raise the rank of ``[X, chosen]``, in order (as R's greedy qr())."""
    cur, rank, keep = X, np.linalg.matrix_rank(X), []
    for col in candidates:
        trial = np.column_stack([cur, col])
        r = np.linalg.matrix_rank(trial)
        if r > rank:
            cur, rank = trial, r
            keep.append(col)
    return np.column_stack(keep) if keep else np.empty((X.shape[0], 0))


def _inconsistency(eng: Engine, con: Contrasts, X: np.ndarray, method: Method, tol: float, max_iter: int,
                   level: float, b: np.ndarray, vb: np.ndarray):  # fmt: skip
    """Design-by-treatment interaction test and node-splitting: ``(dbt fields, node_split, converged)``."""
    f = con.frame
    conv: list[bool] = []
    rank = {t: i for i, t in enumerate(con.treatments)}
    arms = _arms_by_study(f)
    row_keys = [(tuple(sorted(arms[s], key=rank.__getitem__)), t) for s, t in zip(f["study"], f["treatment"])]
    cand = [np.array([rk == key for rk in row_keys], float) for key in dict.fromkeys(row_keys)]
    Z = _rank_extend(X, cand)
    p = X.shape[1]
    nan = float("nan")
    dbt = {"inconsistency_q": nan, "inconsistency_df": 0, "inconsistency_pvalue": nan,
           "inconsistency_tau2": nan, "q_within_designs": nan, "q_within_designs_df": int(eng.N - p),
           "q_between_designs": nan}  # fmt: skip
    if Z.shape[1]:
        inc = eng.with_design(np.column_stack([X, Z]))
        t_inc, ok, _ = _tau2(inc, method, tol, max_iter)
        conv.append(ok)
        fi = inc.fit(t_inc)
        g, vg = fi.beta[0, p:], fi.vcov[0, p:, p:]
        stat = float(g @ np.linalg.solve(vg, g))
        q_within = inc.q_fixed()
        dbt.update(inconsistency_q=stat, inconsistency_df=int(Z.shape[1]),
                   inconsistency_pvalue=float(special.chdtrc(Z.shape[1], stat)), inconsistency_tau2=float(t_inc),
                   q_within_designs=q_within, q_within_designs_df=int(inc.N - inc.p),
                   q_between_designs=eng.q_fixed() - q_within)  # fmt: skip
    return dbt, _node_split(eng, con, X, method, tol, max_iter, level, b, vb, conv), conv


def _node_split(eng: Engine, con: Contrasts, X: np.ndarray, method: Method, tol: float, max_iter: int,
                level: float, b: np.ndarray, vb: np.ndarray, conv: list[bool]) -> pd.DataFrame:  # fmt: skip
    f, order = con.frame, con.treatments
    crit = float(special.ndtri(1.0 - (1.0 - level) / 2.0))
    arms_of = _arms_by_study(f)
    rank0 = np.linalg.matrix_rank(X)
    rows = []
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            A, B = order[i], order[j]
            studies = [s for s, arms in arms_of.items() if A in arms and B in arms]
            if not studies:
                continue
            # shift arm B in these trials: +1 on its contrast, −1 on every contrast if B were the baseline
            shift = (f["treatment"] == B).to_numpy(float) - (f["comparator"] == B).to_numpy(float)
            col = f["study"].isin(studies).to_numpy(float) * shift
            Xs = np.column_stack([X, col])
            if np.linalg.matrix_rank(Xs) <= rank0:
                continue
            sp = eng.with_design(Xs)
            t_s, ok, _ = _tau2(sp, method, tol, max_iter)
            conv.append(ok)
            fs = sp.fit(t_s)
            e = np.zeros(X.shape[1])
            if j > 0:
                e[j - 1] += 1.0
            if i > 0:
                e[i - 1] -= 1.0
            beta, V = fs.beta[0], fs.vcov[0]
            ed = np.append(e, 1.0)
            ind, ind_se = float(e @ beta[:-1]), float(np.sqrt(e @ V[:-1, :-1] @ e))
            dir_, dir_se = float(ed @ beta), float(np.sqrt(ed @ V @ ed))
            diff, diff_se = float(beta[-1]), float(np.sqrt(V[-1, -1]))
            net, net_se = float(e @ b), float(np.sqrt(e @ vb @ e))
            rows.append({"treatment": B, "comparator": A, "n_studies": len(studies),
                         "direct": dir_, "direct_se": dir_se, "direct_ci_low": dir_ - crit * dir_se,
                         "direct_ci_high": dir_ + crit * dir_se, "indirect": ind, "indirect_se": ind_se,
                         "indirect_ci_low": ind - crit * ind_se, "indirect_ci_high": ind + crit * ind_se,
                         "network": net, "network_se": net_se, "network_ci_low": net - crit * net_se,
                         "network_ci_high": net + crit * net_se, "difference": diff, "difference_se": diff_se,
                         "pvalue": float(2 * special.ndtr(-abs(diff / diff_se))), "tau2": float(t_s)})  # fmt: skip
    return pd.DataFrame(rows, columns=_SPLIT_COLUMNS)
