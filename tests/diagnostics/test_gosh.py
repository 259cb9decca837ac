"""GOSH against metafor's gosh() on dat.bcg[1:8] (255 subsets), DL (closed form) and REML (iterative)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tpmeta.diagnostics.gosh import gosh, subset_masks

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_gosh.json").read_text())
TOL = {"DL": 1e-9, "REML": 1e-7}  # as in test_pooling_metafor


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: c["method"])
def test_gosh_matches_metafor(case):
    out = gosh(case["yi"], case["vi"], method=case["method"])
    assert sorted(out["members"]) == sorted(case["members"])  # the same 255 subsets (order may differ)
    assert out["converged"].all()
    out = out.set_index("members").loc[case["members"]]
    for name in ("k", "q", "i2", "h2", "tau2", "estimate"):
        expected = np.asarray(case[name], float)
        if name == "h2" and case["method"] == "DL":
            # metafor's gosh() takes a fast path for DL that reports H² = Q/(k−1) untruncated, while its
            # rma() (and tpmeta everywhere) reports H² = 1 + τ²/ṽ, which for DL is max(1, Q/(k−1)).
            expected = np.maximum(1.0, expected)
        np.testing.assert_allclose(out[name], expected, rtol=TOL[case["method"]], atol=TOL[case["method"]], err_msg=name)


def test_sampled_subsets_are_distinct_and_bounded():
    masks = subset_masks(25, max_subsets=5000, seed=1)
    assert masks.shape == (5000, 25) and masks.any(axis=1).all()
    assert len({m.tobytes() for m in masks}) == 5000
    assert (subset_masks(25, max_subsets=5000, seed=1) == masks).all()


def test_chunked_equals_unchunked():
    rng = np.random.default_rng(4)
    v = rng.uniform(0.01, 0.1, 9)
    y = rng.normal(0, 0.4, 9)
    a = gosh(y, v, "REML", chunk=37)
    b = gosh(y, v, "REML")
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-12)


def test_dask_engine_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    v = rng.uniform(0.01, 0.1, 10)
    y = rng.normal(0, 0.4, 10)
    expected = gosh(y, v, "REML")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            got = gosh(y, v, "REML", engine="dask", chunk=100)
    pd.testing.assert_frame_equal(got, expected)
    with pytest.raises(ValueError, match="engine"):
        gosh(y, v, engine="spark")


@pytest.mark.parametrize("k", range(1, 9))
def test_all_subsets_in_metafor_order(k):
    """Size first, then lexicographic (itertools.combinations), as metafor's gosh() lists them."""
    from itertools import combinations

    expected = [[i in combo for i in range(k)] for size in range(1, k + 1) for combo in combinations(range(k), size)]
    assert subset_masks(k).tolist() == expected


@pytest.mark.parametrize(("k", "n"), [(12, 3000), (12, 4095), (20, 1000), (70, 500)])
def test_random_subsets_are_distinct_and_non_empty(k, n):
    masks = subset_masks(k, max_subsets=min(n, 2**k - 2), seed=3)
    assert masks.shape == (min(n, 2**k - 2), k) and masks.any(axis=1).all()
    assert len({row.tobytes() for row in np.packbits(masks, axis=1)}) == masks.shape[0]
    np.testing.assert_array_equal(masks, subset_masks(k, max_subsets=min(n, 2**k - 2), seed=3))  # reproducible
