"""Bad input to effect_sizes: every problem named by row, column and value, all at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tpmeta


def _cont(**over):
    base = dict(m1i=[2.0, 2.5], sd1i=[1.0, 1.1], n1i=[20, 15], m2i=[3.0, 3.1], sd2i=[1.2, 1.0], n2i=[20, 16])
    base.update(over)
    return pd.DataFrame(base, index=[2, 3])


@pytest.mark.parametrize(
    "over, column, fragment",
    [
        (dict(sd1i=[1.0, -1.0]), "sd1i", "SD must be positive"),
        (dict(sd2i=[1.0, 0.0]), "sd2i", "SD must be positive"),
        (dict(n1i=[20, 1]), "n1i", "at least 2"),
        (dict(m1i=[2.0, np.nan]), "m1i", "missing"),
        (dict(m2i=[3.0, "abc"]), "m2i", "not a number"),
    ],
)
def test_continuous_problems_are_named(over, column, fragment):
    with pytest.raises(tpmeta.StudyDataError) as err:
        tpmeta.effect_sizes(_cont(**over), "SMD", source="arms.csv")
    text = str(err.value)
    assert "arms.csv" in text and "row 3" in text and f"'{column}'" in text and fragment in text


def test_missing_column_names_the_override():
    frame = _cont().rename(columns={"m1i": "mean_tx"})
    with pytest.raises(tpmeta.StudyDataError, match=r"column 'm1i' is missing.*m1i='your_column'"):
        tpmeta.effect_sizes(frame, "MD")
    out = tpmeta.effect_sizes(frame, "MD", m1i="mean_tx")
    assert out["yi"].tolist() == pytest.approx([-1.0, -0.6])


def test_events_above_n_and_negative_counts():
    frame = pd.DataFrame(dict(ai=[5, 12], n1i=[10, 10], ci=[3, 4], n2i=[10, 10]))
    with pytest.raises(tpmeta.StudyDataError, match="more events than participants"):
        tpmeta.effect_sizes(frame, "RR")
    frame = pd.DataFrame(dict(ai=[5, -1], bi=[5, 5], ci=[3, 4], di=[7, 6]))
    with pytest.raises(tpmeta.StudyDataError, match="counts cannot be negative"):
        tpmeta.effect_sizes(frame, "OR")


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="'SMD'"):
        tpmeta.effect_sizes(_cont(), "hedges_g")
    with pytest.raises(ValueError, match="unknown column option"):
        tpmeta.effect_sizes(_cont(), "SMD", ai="x")
    with pytest.raises(ValueError, match="'only0'"):
        tpmeta.effect_sizes(pd.DataFrame(dict(ai=[1], bi=[1], ci=[1], di=[1])), "OR", to="zeros")


def test_generic_from_ci_and_se():
    frame = pd.DataFrame(dict(estimate=[1.5, 2.0], ci_low=[1.0, np.nan], ci_high=[2.25, np.nan], sei=[np.nan, 0.1]))
    out = tpmeta.effect_sizes(frame, "GENERIC", ratio=True)
    se = (np.log(2.25) - np.log(1.0)) / (2 * 1.959963984540054)
    assert out["yi"].tolist() == pytest.approx([np.log(1.5), np.log(2.0)])
    assert out["vi"].tolist() == pytest.approx([se**2, 0.01])
    md = tpmeta.effect_sizes(pd.DataFrame(dict(estimate=[-5.0], ci_low=[-9.0], ci_high=[-1.0])), "GENERIC")
    assert md["vi"].iloc[0] == pytest.approx((8 / (2 * 1.959963984540054)) ** 2)
    with pytest.raises(tpmeta.StudyDataError, match="outside its CI"):
        tpmeta.effect_sizes(pd.DataFrame(dict(estimate=[5.0], ci_low=[-9.0], ci_high=[-1.0])), "GENERIC")


def test_smd_change_uses_change_sd():
    frame = pd.DataFrame(dict(m1i=[-2.0], sd1i_pre=[2.0], sd1i_post=[2.0], n1i=[30], m2i=[-1.0],
                              sd2i_pre=[2.0], sd2i_post=[2.0], n2i=[30], ri=[0.5]))
    out = tpmeta.effect_sizes(frame, "SMD_CHANGE")
    same = tpmeta.effect_sizes(pd.DataFrame(dict(m1i=[-2.0], sd1i=[2.0], n1i=[30], m2i=[-1.0], sd2i=[2.0], n2i=[30])), "SMD")
    # with r = 0.5 and equal SDs, the change SD equals the SD
    assert out["yi"].iloc[0] == pytest.approx(same["yi"].iloc[0])
    frame["ri"] = 1.5
    with pytest.raises(tpmeta.StudyDataError, match="correlation"):
        tpmeta.effect_sizes(frame, "SMD_CHANGE")


def test_infinite_and_huge_numbers_are_refused():
    with pytest.raises(tpmeta.StudyDataError, match="finite number of a usable size") as info:
        tpmeta.effect_sizes(_cont(sd1i=[np.inf, 1.1], m2i=[3.0, 1e300]), "SMD")
    assert {p.column for p in info.value.problems} == {"sd1i", "m2i"}


@pytest.mark.parametrize(("kwargs", "fragment"), [({"add": -0.5}, "add="), ({"level": 95}, "level=")])
def test_bad_options_are_refused(kwargs, fragment):
    data = pd.DataFrame({"estimate": [0.5], "ci_low": [0.1], "ci_high": [0.9], "ai": [1], "bi": [9], "ci": [0], "di": [10]})
    measure = "OR" if "add" in kwargs else "GENERIC"
    with pytest.raises(ValueError, match=fragment):
        tpmeta.effect_sizes(data, measure, **kwargs)


def test_zero_cells_without_correction_warn():
    data = pd.DataFrame({"ai": [0, 3], "bi": [10, 7], "ci": [2, 4], "di": [8, 6]})
    with pytest.warns(tpmeta.DataWarning, match="infinite"):
        out = tpmeta.effect_sizes(data, "OR", to="none")
    assert not np.isfinite(out["yi"].iloc[0])


def test_pool_refuses_effects_that_would_overflow():
    with pytest.raises(tpmeta.StudyDataError, match="usable size"):
        tpmeta.pool([1e300, 0.2, 0.3], [0.01, 0.02, 0.03])
