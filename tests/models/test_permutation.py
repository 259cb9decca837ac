"""Permutation tests against metafor 3.8's permutest(); tolerances in metareg_reference."""

from __future__ import annotations

import numpy as np
import pytest
from metareg_reference import BCG, EXACT_COUNT, ITERATIVE, REF, _case_id, _close

from tpmeta.models.metareg import meta_regression
from tpmeta.models.permutation import permutation_test


@pytest.mark.parametrize("case", REF["permutest"], ids=_case_id)
def test_permutest_exact_matches_metafor(case):
    e = case["expected"]
    rows = np.asarray(case["rows"]) - 1
    mods = BCG["ablat"].to_numpy()[rows] if case["model"] == "ablat" else None
    res = meta_regression(BCG["yi"].to_numpy()[rows], BCG["vi"].to_numpy()[rows], mods,
                          method=case["method"], test=case["test"])  # fmt: skip
    pt = permutation_test(res, exact=True)
    assert pt.exact and pt.n_perm == e["n_perm"] and pt.n_failed == e["n_failed"]
    assert pt.sign_flip == (case["model"] == "intercept")
    _close(pt.statistic, e["statistic"], ITERATIVE, "statistic")
    _close(pt.pvalue, e["pvalue"], EXACT_COUNT, "pvalue")
    _close(pt.qm_pvalue, e["qm_pvalue"], EXACT_COUNT, "qm_pvalue")


def test_permutation_pvalues_bounds_and_reproducibility():
    res = meta_regression(BCG["yi"], BCG["vi"], BCG[["ablat"]], method="DL")
    n = 199
    a = permutation_test(res, n_perm=n, seed=11)
    b = permutation_test(res, n_perm=n, seed=11)
    assert not a.exact and a.n_perm == n
    assert np.all((a.pvalue >= 1 / n) & (a.pvalue <= 1)) and 1 / n <= a.qm_pvalue <= 1
    np.testing.assert_array_equal(a.pvalue, b.pvalue)
    assert a.statistic_perm.shape == (n, 2) and a.qm_perm.shape == (n,)
    # the observed arrangement is the first permutation, as in metafor
    np.testing.assert_allclose(a.statistic_perm[0], res.statistic, rtol=1e-12)
    # inputs instead of a result
    c = permutation_test((BCG["yi"], BCG["vi"], BCG[["ablat"]]), n_perm=n, seed=11, method="DL")
    np.testing.assert_array_equal(a.pvalue, c.pvalue)
    with pytest.raises(TypeError):
        permutation_test(res, method="DL")
    with pytest.raises(ValueError, match="exact"):
        permutation_test(res, exact=True)  # 13! distinct arrangements
    with pytest.raises(ValueError, match="n_perm"):
        permutation_test(res, n_perm=1)


def test_permutation_exact_auto_and_sign_flips():
    y, v = BCG["yi"].to_numpy()[:6], BCG["vi"].to_numpy()[:6]
    res = meta_regression(y, v, [1, 1, 2, 2, 3, 3], method="FE")
    pt = permutation_test(res, n_perm=1000)  # 6!/(2!2!2!) = 90 <= 1000: exact
    assert pt.exact and pt.n_perm == 90
    assert np.all(pt.pvalue >= 1 / 90)
    flips = permutation_test(meta_regression(y, v, method="DL"), n_perm=64)
    assert flips.sign_flip and flips.exact and flips.n_perm == 64
    rand = permutation_test(meta_regression(y, v, method="DL"), n_perm=20, seed=1)
    assert rand.sign_flip and not rand.exact and rand.pvalue[0] >= 1 / 20
