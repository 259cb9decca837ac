"""Conversions to mean/SD, against the published formulas and worked identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tpmeta.models import conversions as cv


def test_sd_from_se_and_ci_roundtrip():
    for n in (12, 59, 60, 200):
        sd = 7.5
        se = sd / np.sqrt(n)
        crit = stats.t.ppf(0.975, n - 1) if n < 60 else stats.norm.ppf(0.975)
        lo, hi = 50 - crit * se, 50 + crit * se
        assert float(cv.sd_from_ci(lo, hi, n)) == pytest.approx(sd, rel=1e-12)
        assert float(cv.sd_from_se(se, n)) == pytest.approx(sd, rel=1e-12)


def test_wan_luo_formulas():
    n = 100
    eta = 2 * stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25))
    xi = 2 * stats.norm.ppf((n - 0.375) / (n + 0.25))
    m, s, how = cv.mean_sd_from_median(n, 15.0, q1=10.0, q3=22.0)
    w = 0.7 + 0.39 / n
    assert (float(m), float(s)) == pytest.approx((w * 16 + (1 - w) * 15, 12 / eta))
    assert "S2" in how
    m, s, how = cv.mean_sd_from_median(n, 15.0, minimum=0.0, maximum=50.0)
    w = 4 / (4 + n**0.75)
    assert (float(m), float(s)) == pytest.approx((w * 25 + (1 - w) * 15, 50 / xi))
    m, s, how = cv.mean_sd_from_median(n, 20.0, q1=15.0, q3=25.0, minimum=5.0, maximum=35.0)
    assert float(m) == pytest.approx(20.0)  # symmetric summary: mean = median
    assert float(s) == pytest.approx(30 / (2 * xi) + 10 / (2 * eta))
    with pytest.raises(ValueError, match="needs q1 and q3"):
        cv.mean_sd_from_median(n, 1.0)


def test_large_sample_iqr_gives_normal_sd():
    # for large n the IQR of a normal is 1.349 SD
    _, s, _ = cv.mean_sd_from_median(1_000_000, 0.0, q1=-0.6745, q3=0.6745)
    assert float(s) == pytest.approx(1.0, rel=1e-3)


def test_combine_arms_matches_pooled_raw_data():
    rng = np.random.default_rng(5)
    a, b = rng.normal(3, 2, 17), rng.normal(5, 1, 23)
    n, m, s = cv.combine_arms(17, a.mean(), a.std(ddof=1), 23, b.mean(), b.std(ddof=1))
    both = np.concatenate([a, b])
    assert (float(n), float(m), float(s)) == pytest.approx((40, both.mean(), both.std(ddof=1)))


def test_split_shared_control():
    n, e = cv.split_shared_control(31, 9, parts=2)
    assert (float(n), float(e)) == (15.5, 4.5)
    with pytest.raises(ValueError):
        cv.split_shared_control(30, parts=1)


def test_fill_mean_sd_records_derivation():
    frame = pd.DataFrame(
        dict(n=[20, 25, 30, 40, 10], mean=[5.0, 6.0, 7.0, np.nan, np.nan], sd=[1.0, np.nan, np.nan, np.nan, np.nan],
             se=[np.nan, 0.4, np.nan, np.nan, np.nan], ci_low=[np.nan, np.nan, 6.0, np.nan, np.nan],
             ci_high=[np.nan, np.nan, 8.0, np.nan, np.nan], median=[np.nan, np.nan, np.nan, 5.0, np.nan],
             q1=[np.nan, np.nan, np.nan, 3.0, np.nan], q3=[np.nan, np.nan, np.nan, 8.0, np.nan])
    )
    out = cv.fill_mean_sd(frame)
    assert out["derivation"].tolist()[0] == "reported"
    assert out["derivation"].tolist()[1].startswith("sd from se")
    assert out["sd"].iloc[1] == pytest.approx(2.0)
    assert out["derivation"].tolist()[2].startswith("sd from CI")
    assert "S2" in out["derivation"].tolist()[3]
    assert out["derivation"].tolist()[4] == "not enough statistics for mean and SD"
    assert np.isnan(out["mean"].iloc[4])
