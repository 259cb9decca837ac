"""The PEDro scale: totals, bands, item checks and the reported-total check."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

from tpmeta.appraisal import pedro
from tpmeta.appraisal.pedro import pedro_band, pedro_score, pedro_table
from tpmeta.errors import StudyDataError


def pedro_items(total: int, item1: str = "Y") -> dict[str, str]:
    """Item 1 as given, then ``total`` of items 2-11 answered Y."""
    return {"item1": item1} | {f"item{i}": "Y" if i - 2 < total else "N" for i in range(2, 12)}


@pytest.mark.parametrize(
    "total, band",
    [(0, "poor"), (1, "poor"), (3, "poor"), (4, "fair"), (5, "fair"), (6, "good"), (8, "good"),
     (9, "excellent"), (10, "excellent")],
)
def test_pedro_totals_and_bands(total: int, band: str) -> None:
    for item1 in ("Y", "N"):  # item 1 never counts
        score = pedro_score(pedro_items(total, item1))
        assert (score.total, score.band) == (total, band)
        assert score.items["item1"] is (item1 == "Y")
    assert pedro_band(total) == band


def test_pedro_item1_not_counted_and_value_types() -> None:
    assert pedro_score({f"item{i}": i == 1 for i in range(1, 12)}).total == 0
    assert pedro_score({f"item{i}": 1 for i in range(1, 12)}).total == 10
    mixed = {"item1": True, "item2": "Y", "item3": 0, "item4": 1} | {f"item{i}": "N" for i in range(5, 12)}
    assert pedro_score(mixed).total == 2
    frame = pedro_score(pedro_items(7)).to_frame()
    assert list(frame.columns) == [f"item{i}" for i in range(1, 12)] + ["total", "band"]
    with pytest.raises(ValueError):
        pedro_band(11)


def test_pedro_item_errors() -> None:
    items = pedro_items(5) | {"item3": "yes", "item7": None}
    del items["item11"]
    with pytest.raises(StudyDataError) as info:
        pedro_score(items)
    assert [p.column for p in info.value.problems] == ["item3", "item7", "item11"]


def test_pedro_table() -> None:
    frame = pd.DataFrame([pedro_items(7) | {"total_reported": 7}, pedro_items(3) | {"total_reported": None}])
    out = pedro_table(frame)
    assert out["total"].tolist() == [7, 3] and out["band"].tolist() == ["good", "poor"]
    assert "total" not in frame.columns  # input untouched


def test_pedro_table_mismatch_names_row_and_both_values() -> None:
    frame = pd.DataFrame([pedro_items(7) | {"total_reported": 7}, pedro_items(5, item1="Y") | {"total_reported": 6}])
    with pytest.raises(StudyDataError) as info:
        pedro_table(frame, source="pedro.csv")
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.column) == ("pedro.csv", 3, "total_reported")
    assert "reported as 6" in str(problem) and "sum to 5" in str(problem)


def test_pedro_table_column_errors() -> None:
    frame = pd.DataFrame([pedro_items(4)]).drop(columns="item9")
    frame["total"] = 4
    with pytest.raises(StudyDataError) as info:
        pedro_table(frame)
    assert sorted(p.column for p in info.value.problems) == ["item9", "total"]
    frame = pd.DataFrame([pedro_items(4) | {"total_reported": "four"}])
    with pytest.raises(StudyDataError, match="whole number"):
        pedro_table(frame)


def test_docstring_examples() -> None:
    result = doctest.testmod(pedro)
    assert result.failed == 0 and result.attempted > 0
