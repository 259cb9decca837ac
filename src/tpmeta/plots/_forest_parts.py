"""Building blocks of the forest plot: row/column records, result text, input alignment, x ticks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..models.pooling import PoolResult
from ..options import Judgement, Method, Test
from ._text import fmt_num, fmt_p, fmt_sig
from .style import COLORS

ARM_FIELDS = (("events", "Events"), ("mean", "Mean"), ("sd", "SD"), ("total", "Total"), ("n", "Total"))
ROB_STYLE = {
    "low": ("+", COLORS["rob_low"]),
    "some concerns": ("\u2212", COLORS["rob_some"]),
    "high": ("\u00d7", COLORS["rob_high"]),
    None: ("?", COLORS["rob_none"]),
}
ROB2_DOMAINS = {
    "d1": "randomisation process", "d2": "deviations from intended interventions",
    "d3": "missing outcome data", "d4": "measurement of the outcome",
    "d5": "selection of the reported result",
}  # fmt: skip
MODEL_FILLS = ("black", "white", "#9E9E9E")


@dataclass
class Study:
    label: str
    yi: float
    lo: float
    hi: float
    weights: list[float]
    data: dict[str, Any] | None = None
    rob: dict[str, Any] | None = None
    pos: int = 0


@dataclass
class Row:
    kind: str  # group | study | pooled | pi | text | space
    cells: dict[str, str] = field(default_factory=dict)
    bold: bool = False
    study: Study | None = None
    span: Any = ""  # text spanning the columns left of the panel: a header, or parts to pack into lines
    sep: str = "; "  # separator of the parts of a text row
    est: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    fill: str = "black"
    gid: str = ""
    height: float = 0.0
    y: float = 0.0


@dataclass
class Col:
    key: str
    header: str
    align: str
    group: str | None = None
    width: float = 0.0
    x: float = 0.0


def model_name(res: PoolResult) -> str:
    if res.method is Method.FE:
        return "Common effect model"
    knha = {Test.KNHA: ", HKSJ", Test.KNHA_ADHOC: ", HKSJ ad hoc"}.get(res.test, "")
    return f"Random effects ({res.method.value}{knha})"


def het_parts(res: PoolResult) -> list[str]:
    if res.df < 1 or not np.isfinite(res.q):
        return ["Heterogeneity: not applicable"]
    parts = [] if res.method is Method.FE else [f"\u03c4\u00b2 = {fmt_sig(res.tau2)}"]
    parts.append(f"I\u00b2 = {fmt_num(res.i2, 0)}%")
    parts.append(f"Q = {fmt_num(res.q, 2)} (df = {res.df}), {fmt_p(res.q_pvalue)}")
    parts[0] = "Heterogeneity: " + parts[0]
    return parts


def test_text(res: PoolResult, name: str | None = None) -> list[str]:
    which = f", {name}" if name else ""
    if res.test.knapp_hartung:
        stat = f"t = {fmt_num(res.statistic, 2)} (df = {res.df})"
    else:
        stat = f"z = {fmt_num(res.statistic, 2)}"
    return [f"Test for overall effect{which}:", f"{stat}, {fmt_p(res.pvalue)}"]


def judgement(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, Judgement):
        return value.value
    text = str(value).strip().lower()
    if text in ("", "nan", "none", "no information"):
        return None
    if text in ROB_STYLE:
        return text
    raise ValueError(f"risk-of-bias judgement {value!r} is not valid; use 'low', 'some concerns', "
                     "'high' or None (no information)")  # fmt: skip


def by_label(frame: pd.DataFrame | None, labels: list[str], what: str) -> list[dict | None]:
    """Rows of ``frame`` matched to ``labels`` (by a label/study/study_id column, the index, or position)."""
    if frame is None:
        return [None] * len(labels)
    frame = pd.DataFrame(frame)
    key = next((c for c in ("label", "study", "study_id") if c in frame.columns), None)
    if key or not isinstance(frame.index, pd.RangeIndex):  # a default RangeIndex is not a label index
        index = frame[key].astype(str) if key else pd.Index(frame.index.astype(str))
        lookup = dict(zip(index, frame.to_dict("records")))
        if all(lab in lookup for lab in labels) and len(lookup) == len(index):
            return [lookup[lab] for lab in labels]
    else:
        lookup = {}
    if key is None and len(frame) == len(labels):
        return frame.to_dict("records")
    missing = [lab for lab in labels if lab not in lookup]
    raise ValueError(f"{what} does not match the studies: no row for {missing[:5]} (index it by study "
                     "label, add a 'label' column, or align it row by row with result.labels)")  # fmt: skip


def labels_of(res: PoolResult) -> list[str]:
    """Study labels of a result ("1" … "k" when none were given)."""
    return [str(x) for x in res.labels] if len(res.labels) else [str(i + 1) for i in range(len(res.yi))]


def normalise_models(result: Any) -> list[tuple[str, PoolResult]]:
    if result is None:
        return []
    if isinstance(result, PoolResult):
        return [(model_name(result), result)]
    models = []
    for item in result:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], PoolResult)):
            raise TypeError("result must be a PoolResult or a list of (label, PoolResult) pairs")
        models.append((str(item[0]), item[1]))
    return models


def lin_candidates(lo: float, hi: float) -> Iterator[list[float]]:
    """Nice linear tick sets covering [lo, hi], densest first."""
    from matplotlib.ticker import MaxNLocator

    for n in range(7, 1, -1):
        yield [float(t) for t in MaxNLocator(n, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)]

def log_candidates(lo: float, hi: float) -> Iterator[list[float]]:
    """Tick sets (display scale) covering exp([lo, hi]) on a log axis: 1-2-5, decades, sparser."""
    dlo, dhi = math.exp(lo), math.exp(hi)
    k0, k1 = math.floor(math.log10(dlo)) - 3, math.ceil(math.log10(dhi)) + 3
    for mant, step in (((1, 2, 5), 1), ((1,), 1), ((1,), 2), ((1,), 3)):
        c = sorted(mm * 10.0**k for k in range(k0, k1 + 1) for mm in mant if (k * (step > 1)) % step == 0)
        a = max(v for v in c if v <= dlo * (1 + 1e-9))
        b = min(v for v in c if v >= dhi * (1 - 1e-9))
        yield [float(f"{v:.6g}") for v in c if a <= v <= b]
