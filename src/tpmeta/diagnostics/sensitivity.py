"""Sensitivity analyses on the batched engine: leave-one-out, cumulative, and subsets by a study
attribute (e.g. risk of bias). Each fits all its meta-analyses in one :func:`tpmeta.pool_batch` call.

Leave-one-out and cumulative meta-analysis follow metafor's ``leave1out()`` and ``cumul()``
(Viechtbauer 2010, doi:10.18637/jss.v036.i03): the same model (method, test, level) refitted to the
k subsets that omit one study, or to the first 1, 2, …, k studies in the given order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..models.pooling import PoolResult, pool, pool_batch

__all__ = ["leave_one_out", "cumulative", "restrict"]

_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "pvalue", "tau2", "i2", "h2", "q", "q_pvalue",
            "pi_low", "pi_high", "k", "converged"]  # fmt: skip


def _frame(batch, labels: Sequence[str], first: str) -> pd.DataFrame:
    data = {first: list(labels)}
    data.update({c: np.asarray(getattr(batch, c)) for c in _COLUMNS})
    return pd.DataFrame(data)


def leave_one_out(result: PoolResult) -> pd.DataFrame:
    """Refit the model k times, each time without one study: one row per omitted study.

    Example
    -------
    >>> res = pool([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], method="DL")
    >>> leave_one_out(res)["k"].tolist()
    [3, 3, 3, 3]
    """
    k = result.k
    y = np.broadcast_to(result.yi, (k, k))
    v = np.broadcast_to(result.vi, (k, k))
    mask = ~np.eye(k, dtype=bool)
    batch = pool_batch(y, v, mask, method=result.method, test=result.test, level=result.level, tau2_ci=False,
                      tau2=result.tau2 if result.tau2_fixed else None)  # a fixed τ² stays fixed, as metafor's refits
    return _frame(batch, result.study_labels, "omitted")


def cumulative(result: PoolResult, order: Sequence[int] | None = None) -> pd.DataFrame:
    """Cumulative meta-analysis: the model fitted to the first 1, 2, …, k studies of ``order``
    (default: the order of the result, e.g. by year). One row per added study.

    >>> res = pool([0.2, 0.5, 0.1, 0.8], [0.04, 0.03, 0.05, 0.02], method="DL")
    >>> cumulative(res)["k"].tolist()
    [1, 2, 3, 4]
    """
    k = result.k
    idx = np.arange(k) if order is None else np.asarray(order)
    y = np.broadcast_to(result.yi[idx], (k, k))
    v = np.broadcast_to(result.vi[idx], (k, k))
    mask = np.tril(np.ones((k, k), dtype=bool))
    batch = pool_batch(y, v, mask, method=result.method, test=result.test, level=result.level, tau2_ci=False,
                      tau2=result.tau2 if result.tau2_fixed else None)  # a fixed τ² stays fixed, as metafor's refits
    labels = [result.study_labels[i] for i in idx]
    return _frame(batch, labels, "added")


def restrict(result: PoolResult, keep: Sequence[bool]) -> PoolResult | None:
    """The same model refitted to the studies where ``keep`` is True (None if none remain)."""
    keep = np.asarray(keep, dtype=bool)
    if not keep.any():
        return None
    labels = [lab for lab, k in zip(result.study_labels, keep) if k]
    import warnings

    from ..errors import SingleStudyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleStudyWarning)
        return pool(result.yi[keep], result.vi[keep], method=result.method, test=result.test,
                    level=result.level, labels=labels)  # fmt: skip
