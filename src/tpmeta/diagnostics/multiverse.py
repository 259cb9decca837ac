"""Multiverse (specification-curve) analysis: every combination of reasonable analytic choices pooled in
one batched run, and a summary of how robust the conclusion is.

Steegen et al. 2016 (doi:10.1177/1745691616658637) and Simonsohn, Simmons & Nelson 2020
(doi:10.1038/s41562-020-0912-z) describe the idea; Voracek et al. 2019 (doi:10.1027/2151-2604/a000357)
apply it to meta-analysis. Each *choice* (e.g. which comparators count, whether trials at high risk of
bias are kept) maps to a filter on the candidate studies; every combination of options with every τ²
estimator and test is one specification. All specifications sharing an estimator and test are fitted in
one :func:`tpmeta.pool_batch` call with a study mask per specification.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.pooling import pool_batch
from ..options import Method, Test, parse_option

__all__ = ["run_multiverse", "MultiverseSummary", "summarise_multiverse"]

Filter = Callable[[pd.DataFrame], "pd.Series"]


def run_multiverse(
    effects: pd.DataFrame,
    choices: Mapping[str, Mapping[str, Filter]],
    *,
    methods: Sequence[Method | str] = ("REML", "DL", "PM"),
    tests: Sequence[Test | str] = ("z", "knha"),
    level: float = 0.95,
    min_k: int = 2,
) -> pd.DataFrame:
    """Pool every specification.

    Parameters
    ----------
    effects : one row per candidate study with ``yi``, ``vi`` and the attributes the filters use.
    choices : ``{choice: {option: filter}}``; a filter returns a boolean Series (True = keep).
    methods, tests : τ² estimators and tests crossed with the choices.
    min_k : specifications with fewer studies are dropped.

    Returns
    -------
    DataFrame with one row per specification: a column per choice (the option), ``method``, ``test``,
    ``k``, ``estimate``, ``ci_low``, ``ci_high``, ``pvalue``, ``tau2``, ``i2`` and ``members`` (0/1 string).

    >>> import pandas as pd
    >>> fx = pd.DataFrame({"yi": [0.2, 0.5, 0.1, 0.8], "vi": [0.04, 0.03, 0.05, 0.02], "high_rob": [0, 1, 0, 1]})
    >>> out = run_multiverse(fx, {"rob": {"all": lambda d: d.yi == d.yi, "no high": lambda d: d.high_rob == 0}},
    ...                      methods=["DL"], tests=["z"])
    >>> out[["rob", "k"]].values.tolist()
    [['all', 4], ['no high', 2]]
    """
    names = list(choices)
    combos = list(product(*[list(choices[c].items()) for c in names]))
    masks = np.array([np.logical_and.reduce([np.asarray(f(effects), bool) for _, f in combo] + [np.ones(len(effects), bool)])
                      for combo in combos]) if combos else np.ones((1, len(effects)), bool)  # fmt: skip
    keep = masks.sum(axis=1) >= min_k
    masks = masks[keep]
    combos = [c for c, k in zip(combos, keep) if k]
    if not combos:
        return pd.DataFrame(columns=[*names, "method", "test", "k", "estimate", "ci_low", "ci_high", "pvalue", "tau2", "i2", "members"])
    y = np.broadcast_to(effects["yi"].to_numpy(float), masks.shape)
    v = np.broadcast_to(effects["vi"].to_numpy(float), masks.shape)
    members = ["".join("1" if b else "0" for b in row) for row in masks]
    frames = []
    for method in methods:
        for test in tests:
            m = parse_option(Method, method, "method")
            t = parse_option(Test, test, "test")
            res = pool_batch(y, v, masks, method=m, test=t, level=level, tau2_ci=False)
            frame = pd.DataFrame({c: [combo[i][0] for combo in combos] for i, c in enumerate(names)})
            frame["method"], frame["test"] = m.value, t.value
            for col in ("k", "estimate", "ci_low", "ci_high", "pvalue", "tau2", "i2"):
                frame[col] = getattr(res, col)
            frame["members"] = members
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class MultiverseSummary:
    """How robust a conclusion is across specifications."""

    n_specifications: int
    median_estimate: float
    min_estimate: float
    max_estimate: float
    share_same_sign: float  #: share of estimates with the sign of the median
    share_significant: float  #: share whose CI excludes 0
    share_significant_same_sign: float

    def sentence(self, measure: str = "SMD") -> str:
        if self.n_specifications == 0:
            return "No specification had enough studies to pool."
        return (
            f"Across {self.n_specifications} specifications the pooled {measure} ranged from "
            f"{self.min_estimate:.2f} to {self.max_estimate:.2f} (median {self.median_estimate:.2f}); "
            f"{self.share_same_sign:.0%} share the median's direction and {self.share_significant_same_sign:.0%} "
            f"also exclude no effect."
        )


def summarise_multiverse(frame: pd.DataFrame) -> MultiverseSummary:
    """Summary statistics of a :func:`run_multiverse` result."""
    if frame.empty:
        nan = float("nan")
        return MultiverseSummary(0, nan, nan, nan, nan, nan, nan)
    est = frame["estimate"].to_numpy(float)
    med = float(np.median(est))
    sign = np.sign(med) if med != 0 else 1.0
    same = np.sign(est) == sign
    sig = (frame["ci_low"].to_numpy() > 0) | (frame["ci_high"].to_numpy() < 0)
    return MultiverseSummary(len(frame), med, float(est.min()), float(est.max()), float(same.mean()),
                             float(sig.mean()), float((sig & same).mean()))  # fmt: skip
