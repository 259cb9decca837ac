"""GOSH (graphical display of study heterogeneity): the model refitted to every subset of studies.

Olkin, Dahabreh & Trikalinos 2012 (doi:10.1002/jrsm.1043), as metafor's ``gosh()``: all 2^k − 1
non-empty subsets when that is at most ``max_subsets``, otherwise a random sample of subsets. The
fits run on the batched engine (:func:`tpmeta.pool_batch`) in bounded-memory chunks, so k = 16
(65,535 REML fits) takes well under a second where metafor needs minutes.

Written here rather than taken from a library: no maintained Python package offers GOSH.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pandas as pd

from ..errors import DataProblem, StudyDataError
from ..models.pooling import _validate_study_arrays, pool_batch
from ..options import Method, Test, parse_option

__all__ = ["gosh", "subset_masks", "DEFAULT_MAX_SUBSETS", "DEFAULT_CHUNK"]

#: metafor's default: all subsets up to 10^6, else a random sample of that many
DEFAULT_MAX_SUBSETS = 1_000_000
#: analyses per batched call (bounds memory: about chunk × k × 8 bytes per temporary array)
DEFAULT_CHUNK = 65_536


def subset_masks(k: int, max_subsets: int = DEFAULT_MAX_SUBSETS, seed: int | None = None) -> np.ndarray:
    """Boolean membership matrix, one row per subset.

    All 2^k − 1 non-empty subsets, ordered by size and then lexicographically,
    when that is at most ``max_subsets``; otherwise ``max_subsets`` distinct random subsets (each study
    in or out with probability ½, empty subsets redrawn).

    >>> subset_masks(3).astype(int).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]]
    """
    total = 2**k - 1
    if total <= max_subsets:
        # every non-empty subset as a bit pattern, study 0 the most significant bit; within one size,
        # itertools.combinations' lexicographic order is the descending order of these numbers
        codes = np.arange(1, total + 1, dtype=np.int64)
        rows = ((codes[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(bool)
        return rows[np.lexsort((-codes, rows.sum(axis=1)))]
    rng = np.random.default_rng(seed)
    if k <= 62:  # each subset is an integer code (study 0 the most significant bit)
        if total <= 4 * max_subsets:  # most subsets are wanted: a uniform sample without replacement
            codes = rng.permutation(total)[:max_subsets].astype(np.int64) + 1
        else:  # few are wanted: draw codes, keep the first occurrence of each
            codes = np.zeros(0, dtype=np.int64)
            while codes.size < max_subsets:
                both = np.concatenate([codes, rng.integers(1, total + 1, size=max_subsets, dtype=np.int64)])
                _, first = np.unique(both, return_index=True)
                codes = both[np.sort(first)]
        return ((codes[:max_subsets, None] >> np.arange(k - 1, -1, -1)) & 1).astype(bool)
    out = np.zeros((0, k), dtype=bool)
    while out.shape[0] < max_subsets:  # draw, drop empty and repeated subsets, keep first occurrences
        draw = rng.random((max_subsets, k)) < 0.5
        rows = np.concatenate([out, draw[draw.any(axis=1)]])
        keys = np.packbits(rows, axis=1)
        keys = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1]))).ravel()
        _, first = np.unique(keys, return_index=True)
        out = rows[np.sort(first)]
    return out[:max_subsets]


def _member_strings(masks: np.ndarray) -> np.ndarray:
    """One '0'/'1' string per row, built as bytes in one array operation (not a Python loop per row)."""
    chars = (masks.astype(np.uint8) + ord("0")).tobytes()
    return np.frombuffer(chars, dtype=f"S{masks.shape[1]}").astype(str)


def _chunks(masks: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, masks.shape[0], size):
        yield masks[start : start + size]


def _fit_chunk(y: np.ndarray, v: np.ndarray, block: np.ndarray, method: Method, test: Test) -> pd.DataFrame:
    n = block.shape[0]
    res = pool_batch(np.broadcast_to(y, (n, y.size)), np.broadcast_to(v, (n, v.size)), block,
                     method=method, test=test, tau2_ci=False)  # fmt: skip
    return pd.DataFrame({
        "k": res.k, "q": res.q, "i2": res.i2, "h2": res.h2, "tau2": res.tau2,
        "estimate": res.estimate, "converged": res.converged,
    })  # fmt: skip


def gosh(
    yi: Any,
    vi: Any,
    method: Method | str = "REML",
    *,
    test: Test | str = "z",
    max_subsets: int = DEFAULT_MAX_SUBSETS,
    seed: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    engine: str = "numpy",
) -> pd.DataFrame:
    """Fit the model to every subset of studies (or a random sample of subsets).

    Returns one row per subset with ``k, q, i2, h2, tau2, estimate`` (as metafor's ``gosh()$res``),
    ``converged`` and ``members`` (a string of 0/1, one character per study in input order).

    ``engine="dask"`` spreads the chunks over Dask: the active ``distributed`` client if there is one
    (e.g. a cluster), otherwise Dask's local scheduler. Results are identical to ``engine="numpy"``.

    >>> out = gosh([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], method="DL")
    >>> out[["k", "members"]].values.tolist()[-1]
    [3, '111']
    """
    method = parse_option(Method, method, "method")
    test = parse_option(Test, test, "test")
    y, v = _validate_study_arrays(yi, vi, None)  # the same checks as pool(): finite yi, positive vi
    if y.size < 2:
        raise StudyDataError(DataProblem("GOSH needs at least 2 studies", column="yi", fix="pass two or more studies"))
    masks = subset_masks(y.size, max_subsets, seed)
    if engine == "numpy":
        parts = [_fit_chunk(y, v, block, method, test) for block in _chunks(masks, chunk)]
    elif engine == "dask":
        parts = _dask_map(y, v, masks, chunk, method, test)
    else:
        raise ValueError(f"engine={engine!r} is not valid; choose 'numpy' or 'dask'")
    out = pd.concat(parts, ignore_index=True)
    out["members"] = _member_strings(masks)
    return out


def _dask_map(y: np.ndarray, v: np.ndarray, masks: np.ndarray, chunk: int, method: Method, test: Test) -> list:
    try:
        import dask
    except ImportError:  # pragma: no cover - optional dependency
        raise ImportError("engine='dask' needs Dask: pip install 'dask[distributed]'") from None
    tasks = [dask.delayed(_fit_chunk)(y, v, block, method, test) for block in _chunks(masks, chunk)]
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        return list(client.gather(client.compute(tasks)))
    return list(dask.compute(*tasks))
