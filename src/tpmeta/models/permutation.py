"""Permutation tests for meta-regression, as metafor's ``permutest()`` (Higgins & Thompson 2004,
doi:10.1002/sim.1752; Viechtbauer et al. 2015, doi:10.1037/met0000023): all permutations refitted in
one batched call of the meta-regression engine.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._results import ResultMixin, format_number
from ..options import Method, Test
from .metareg import MetaRegResult, _fit_batch, meta_regression

__all__ = ["permutation_test", "PermutationResult"]


COMPTOL = float(np.sqrt(np.finfo(float).eps))
_MAX_EXACT = 1_000_000


@dataclass(frozen=True, repr=False)
class PermutationResult(ResultMixin):
    """Permutation p-values of a meta-regression (metafor's ``permutest()``).

    ``pvalue`` per coefficient (two-sided: the share of permutations with ``|z*| ≥ |z| − tol``),
    ``qm_pvalue`` (share with ``QM* ≥ QM − tol``); ``statistic``/``qm`` are the observed values and
    ``statistic_perm``/``qm_perm`` the permutation distributions. ``n_perm`` counts the permutations
    used (the observed arrangement included); ``exact`` says whether all distinct permutations (or,
    for an intercept-only model, all 2^k sign flips) were enumerated.
    """

    names: tuple[str, ...]
    statistic: np.ndarray
    pvalue: np.ndarray
    qm: float
    qm_pvalue: float
    n_perm: int
    n_failed: int
    exact: bool
    sign_flip: bool
    method: Method
    test: Test
    statistic_perm: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    qm_perm: np.ndarray = field(default_factory=lambda: np.empty(0))

    _array_fields = ("names", "statistic", "pvalue", "statistic_perm", "qm_perm")

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "random"
        what = "sign flips" if self.sign_flip else "permutations"
        body = ", ".join(f"{n} p = {format_number(p)}" for n, p in zip(self.names, self.pvalue))
        return (f"PermutationResult({self.n_perm} {kind} {what}; {body}; "
                f"QM p = {format_number(self.qm_pvalue)})")  # fmt: skip


def _n_distinct_perms(X: np.ndarray) -> tuple[int, np.ndarray]:
    """Number of distinct row arrangements of X (k!/Π n_j!) and the group id of each row."""
    _, groups, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    n = math.factorial(X.shape[0])
    for c in counts:
        n //= math.factorial(int(c))
    return n, groups.ravel()


def _multiset_perms(groups: np.ndarray) -> np.ndarray:
    """All distinct arrangements of the multiset ``groups`` as index permutations (n, k)."""
    k = groups.size
    counts = np.bincount(groups)
    labels = np.full((1, k), -1)
    remaining = k
    for g, c in enumerate(counts):
        combos = np.array(list(itertools.combinations(range(remaining), int(c))), int).reshape(-1, int(c))
        free = np.nonzero(labels < 0)[1].reshape(len(labels), remaining)
        new = np.repeat(labels, len(combos), axis=0)
        chosen = free[:, combos].reshape(len(new), int(c))
        np.put_along_axis(new, chosen, g, axis=1)
        labels, remaining = new, remaining - int(c)
    # position i gets a row of group labels[i]; give the rows of each group out in order
    order0 = np.argsort(groups, kind="stable")
    perm = np.empty_like(labels)
    np.put_along_axis(perm, np.argsort(labels, axis=1, kind="stable"), order0[None, :], axis=1)
    return perm


def permutation_test(
    result_or_inputs: MetaRegResult | tuple,
    *,
    n_perm: int = 1000,
    seed: Any = None,
    exact: bool | None = None,
    **fit_options: Any,
) -> PermutationResult:
    """Permutation test of a meta-regression, as ``metafor::permutest()`` (two-sided, test statistics).

    The rows of the design matrix are permuted against (yi, vi) and the model is refitted to every
    permutation in one batched call; for an intercept-only model the signs of yi are flipped
    instead. p-value = share of the permutations, the observed one included (so p ≥ 1/n_perm), with
    ``|z*_j| ≥ |z_j| − 1.49e-8`` (t under knha); for QM, ``QM* ≥ QM − 1.49e-8``. Exact mode enumerates
    every distinct permutation (k!/Π n_j! for groups of identical rows) or all 2^k sign flips; it is
    used when ``exact=True`` or, with ``exact=None``, whenever that number is ≤ ``n_perm``.
    Higgins & Thompson 2004, doi:10.1002/sim.1752; Viechtbauer 2010, doi:10.18637/jss.v036.i03.

    Parameters
    ----------
    result_or_inputs : MetaRegResult or (yi, vi[, mods])
        A fitted model, or inputs for :func:`meta_regression` with ``fit_options`` (method, test, …).
    n_perm : int
        Number of random permutations (the first is the observed arrangement, as in metafor).
    seed : int or numpy Generator, optional
    exact : bool, optional

    >>> res = meta_regression([0.1, 0.3, 0.35, 0.6, 0.7], [0.02, 0.03, 0.02, 0.04, 0.03], [1, 2, 3, 4, 5])
    >>> pt = permutation_test(res)
    >>> pt.exact, pt.n_perm, round(float(pt.pvalue[1]), 4)
    (True, 120, 0.0167)
    """
    res = result_or_inputs
    if not isinstance(res, MetaRegResult):
        res = meta_regression(*res, **fit_options)
    elif fit_options:
        raise TypeError("fit options apply only when inputs, not a fitted result, are given")
    n_perm = int(n_perm)
    if n_perm < 2:
        raise ValueError(f"n_perm={n_perm} must be at least 2")
    k, p = res.X.shape
    icol = 0 if res.intercept else None
    sign_flip = res.intercept and p == 1
    n_exact, groups = (2**k, None) if sign_flip else _n_distinct_perms(res.X)
    use_exact = bool(exact) or (exact is None and n_exact <= n_perm)
    if use_exact and n_exact > _MAX_EXACT:
        raise ValueError(f"exact test needs {n_exact} permutations (more than {_MAX_EXACT}); use exact=False")
    rng = np.random.default_rng(seed)
    if sign_flip:
        if use_exact:
            signs = 1.0 - 2.0 * ((np.arange(n_exact)[:, None] >> np.arange(k)[None, :]) & 1)
        else:
            signs = rng.choice([-1.0, 1.0], size=(n_perm, k))
            signs[0] = 1.0
        Y, V = signs * res.yi, np.broadcast_to(res.vi, signs.shape)
    else:
        if use_exact:
            perm = _multiset_perms(groups)
        else:
            perm = rng.permuted(np.tile(np.arange(k), (n_perm, 1)), axis=1)
            perm[0] = np.arange(k)
        inv = np.argsort(perm, axis=1)  # X[perm] against y  ≡  X against y[perm⁻¹]
        Y, V = res.yi[inv], res.vi[inv]
    stats, qms = [], []
    chunk = max(1, 4_000_000 // max(k * p, 1))
    for start in range(0, Y.shape[0], chunk):
        fit = _fit_batch(Y[start:start + chunk], V[start:start + chunk], res.X, method=res.method,
                         test=res.test, level=res.level, intercept_col=icol,
                         tau2=res.tau2 if res.tau2_fixed else None)  # a fixed τ² stays fixed, as permutest  # fmt: skip
        ok = fit.converged
        stats.append(np.where(ok[:, None], fit.statistic, np.nan))
        qms.append(np.where(ok, fit.qm, np.nan))
    z_perm, qm_perm = np.concatenate(stats), np.concatenate(qms)
    ok = ~np.isnan(z_perm)
    pval = ((np.abs(z_perm) >= np.abs(res.statistic) - COMPTOL) & ok).sum(axis=0) / ok.sum(axis=0)
    ok = ~np.isnan(qm_perm)
    qm_p = float(((qm_perm >= res.qm - COMPTOL) & ok).sum() / ok.sum())
    return PermutationResult(
        names=res.names, statistic=res.statistic, pvalue=np.minimum(pval, 1.0), qm=res.qm, qm_pvalue=qm_p,
        n_perm=int(Y.shape[0]), n_failed=int(np.isnan(qm_perm).sum()), exact=use_exact,
        sign_flip=sign_flip, method=res.method, test=res.test, statistic_perm=z_perm, qm_perm=qm_perm,
    )  # fmt: skip
