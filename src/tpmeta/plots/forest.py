"""Journal-quality forest plot.

The layout is computed, not tuned: every text is measured with the figure's renderer, columns are as wide
as their widest cell, rows as tall as their tallest cell, and the figure as tall as its rows. When the
columns do not fit the journal width, study labels are wrapped, then the font shrinks (to 6 pt), and only
then is the figure widened (with a warning). The plot computes no statistics: every number comes from
the result objects or from the caller.
"""

from __future__ import annotations

import math
import warnings
from enum import Enum
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import TpmetaWarning
from ..models.pooling import PoolResult
from ..options import Method, parse_option
from ._forest_draw import draw_forest
from ._forest_parts import (
    ARM_FIELDS,
    MODEL_FILLS,
    ROB2_DOMAINS,
    Col,
    Row,
    Study,
    by_label,
    het_parts,
    judgement,
    labels_of,
    lin_candidates,
    log_candidates,
    model_name,
    normalise_models,
    test_text,
)
from ._text import Measurer, fmt_data, fmt_num, pack_parts, wrap_to_width
from .style import figure_width, font_family, get_renderer, new_figure, style

__all__ = ["ForestColumn", "forest_plot"]

PT = 1.0 / 72.0
_MIN_FONT = 6.0
_PANEL_MIN = 1.1  # inches: the forest panel is never narrower


def _forest_min(width: float) -> float:
    """Narrowest forest panel (inches) before labels wrap or the font shrinks."""
    return max(_PANEL_MIN, 0.2 * width)


class ForestColumn(str, Enum):
    """Optional columns of a forest plot, beside the study labels."""

    ARMS = "arms"  #: per-arm data (events/total or mean/SD/total)
    WEIGHT = "weight"  #: percentage weight in the pooled model(s)
    EFFECT = "effect"  #: effect and its confidence interval as text
    ROB = "rob"  #: risk-of-bias traffic lights


COLUMNS = tuple(c.value for c in ForestColumn)
_DROP_ORDER = ("rob", "arms", "weight", "effect")  # given up in this order when the default does not fit


def _parse_columns(columns: Sequence[str] | None) -> tuple[str, ...]:
    if columns is None:
        return COLUMNS
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    return tuple(parse_option(ForestColumn, c, "columns").value for c in columns)


class _Forest:
    """Rows, columns and their measured geometry; :func:`draw_forest` turns it into artists.

    Coordinates are inches from the left and top of the plot region, y pointing down.
    """

    def __init__(self, models, subgroups, subgroup_test, study_data, rob, sort_by, favours, ratio,
                 show_prediction, effect_label, arm_labels, xlim, xlabel, digits, fontsize,
                 columns=COLUMNS):  # fmt: skip
        self.show = frozenset(columns)
        if not models and not subgroups:
            raise ValueError("nothing to plot: pass a PoolResult, or subgroups")
        if sort_by not in (None, "weight", "effect", "year"):
            raise ValueError(f"sort_by={sort_by!r} is not valid; choose None, 'weight', 'effect' or 'year'")
        self.models, self.ratio, self.digits = models, ratio, digits
        self.favours, self.xlabel, self.user_xlim = favours, xlabel, xlim
        self.show_prediction, self.subgroup_test = show_prediction, subgroup_test
        self.base_fs = float(fontsize)
        first = models[0][1] if models else subgroups[0][1]
        self.level = first.level
        sections = [(None, None, models[0][1])] if not subgroups else [(n, r, r) for n, r in subgroups]
        labels = [lab for *_, r in sections for lab in labels_of(r)]
        if not subgroups:
            for name, res in models[1:]:
                if labels_of(res) != labels_of(first) or not np.allclose(res.yi, first.yi):
                    raise ValueError(f"model '{name}' was fitted to other studies than the first model")
        data_rows = by_label(study_data, labels, "study_data")
        rob_rows = by_label(rob, labels, "rob")
        if sort_by == "year" and (study_data is None or "year" not in pd.DataFrame(study_data).columns):
            raise ValueError("sort_by='year' needs a 'year' column in study_data")
        # weights: the overall model(s) when every study is found in them, else the subgroup's own
        wmodels = [r for _, r in models] if (not subgroups or self._unique_in(models, labels)) else []
        self.own_weights = not wmodels  # subgroup studies weighted within their subgroup
        self.wheaders = ([f"Weight\n({'common' if r.method is Method.FE else 'random'})" for r in wmodels]
                         if len(wmodels) > 1 else ["Weight"])  # fmt: skip
        self.sections: list[tuple[str | None, PoolResult | None, list[Study]]] = []
        pos = 0
        for name, sub, res in sections:
            frame = res.study_frame()
            studies = []
            for i, lab in enumerate(labels_of(res)):
                if not subgroups:
                    w = [float(m.weights[i]) for m in wmodels]
                elif wmodels:
                    w = [float(m.weights[labels_of(m).index(lab)]) for m in wmodels]
                else:
                    w = [float(res.weights[i])]
                studies.append(Study(lab, float(res.yi[i]), float(frame.ci_low[i]), float(frame.ci_high[i]),
                                      w, data_rows[pos], rob_rows[pos], pos))  # fmt: skip
                pos += 1
            studies = self._sorted(studies, sort_by)
            self.sections.append((name, sub, studies))
        self.all_studies = [s for *_, st in self.sections for s in st]
        # one trial is shown as that trial: no pooled diamond, no 100 % weight, no prediction interval
        self.single_trial = not subgroups and len(self.all_studies) == 1
        if self.single_trial:
            self.models, self.wheaders = [], []
            for s in self.all_studies:
                s.weights = []
        # numbers derived rather than reported (SD from SE, CI or median/IQR, ...): marked with a dagger
        self.derived = {id(st): st.data["derivation"].strip() for st in self.all_studies
                        if st.data and isinstance(st.data.get("derivation"), str)
                        and st.data["derivation"].strip() not in _AS_REPORTED}  # fmt: skip
        self.arm_cols = self._arm_columns(study_data, arm_labels)
        self.rob_keys = self._rob_columns(rob)
        for s in self.all_studies:  # validate judgements before drawing anything
            for k in self.rob_keys if s.rob is not None else ():
                judgement(s.rob.get(k))
        self.effect_header = f"{effect_label}\n[{self.level * 100:g}% CI]"

    @staticmethod
    def _unique_in(models, labels) -> bool:
        return all(labels_of(r).count(lab) == 1 for _, r in models for lab in labels)

    @staticmethod
    def _sorted(studies: list[Study], sort_by: str | None) -> list[Study]:
        if sort_by == "weight":
            return sorted(studies, key=lambda s: (-(s.weights[0] if s.weights else 0.0), s.pos))
        if sort_by == "effect":
            return sorted(studies, key=lambda s: (s.yi, s.pos))
        if sort_by == "year":
            def year(s: Study) -> float:
                value = pd.to_numeric(s.data.get("year"), errors="coerce") if s.data else math.nan
                return math.inf if pd.isna(value) else float(value)
            return sorted(studies, key=lambda s: (year(s), s.pos))
        return studies

    def _arm_columns(self, study_data, arm_labels) -> list[Col]:
        if study_data is None:
            return []
        present = set(pd.DataFrame(study_data).columns)
        cols: list[Col] = []
        for arm, group in zip((1, 2), arm_labels):
            for name, title in ARM_FIELDS:
                if f"{name}{arm}" in present and not (name == "n" and f"total{arm}" in present):
                    cols.append(Col(f"{name}{arm}", title, "right", group))
        return cols

    def _rob_columns(self, rob) -> list[str]:
        if rob is None:
            return []
        cols = [c for c in pd.DataFrame(rob).columns if str(c).lower() == "overall"
                or (str(c).lower().startswith("d") and str(c)[1:].isdigit())]  # fmt: skip
        return sorted(cols, key=lambda c: (str(c).lower() == "overall", str(c)))

    # ---------------------------------------------------------------------------------------- rows
    def _effect_text(self, est: float, lo: float, hi: float) -> str:
        f = np.exp if self.ratio else (lambda v: v)
        d = self.digits
        if not np.isfinite(est):
            return f"[{fmt_num(f(lo), d)}, {fmt_num(f(hi), d)}]"
        return f"{fmt_num(f(est), d)} [{fmt_num(f(lo), d)}, {fmt_num(f(hi), d)}]"

    def _totals(self, studies: list[Study]) -> dict[str, str]:
        out = {}
        for col in self.arm_cols:
            if col.key.rstrip("12") in ("n", "total"):
                vals = pd.to_numeric(pd.Series([(s.data or {}).get(col.key) for s in studies]),
                                     errors="coerce")
                if vals.notna().all():
                    out[col.key] = fmt_data([vals.sum()])[0]
        return out

    def _pooled_rows(self, label: str, res: PoolResult, studies, weights: list[str], fill: str,
                     totals: bool) -> list[Row]:  # fmt: skip
        cells = {"label": label, "effect": self._effect_text(res.estimate, res.ci_low, res.ci_high)}
        cells.update({f"weight{j}": w for j, w in enumerate(weights)})
        if totals:
            cells.update(self._totals(studies))
        rows = [Row("pooled", cells, True, est=res.estimate, lo=res.ci_low, hi=res.ci_high, fill=fill,
                     gid="pooled-diamond")]  # fmt: skip
        if (self.show_prediction and res.method is not Method.FE and np.isfinite(res.pi_low)
                and np.isfinite(res.pi_high)):  # fmt: skip
            rows.append(Row("pi", {"label": "Prediction interval",
                                    "effect": self._effect_text(math.nan, res.pi_low, res.pi_high)},
                             lo=res.pi_low, hi=res.pi_high, gid="prediction-interval"))  # fmt: skip
        return rows

    def build_rows(self) -> None:
        rows: list[Row] = []
        data_fmt = {c.key: fmt_data(pd.to_numeric(pd.Series([(s.data or {}).get(c.key) for s in
                                                             self.all_studies]), errors="coerce"))
                    for c in self.arm_cols}  # fmt: skip
        index = {id(s): i for i, s in enumerate(self.all_studies)}
        nw = len(self.wheaders)
        for name, sub, studies in self.sections:
            if name is not None:
                rows.append(Row("group", span=str(name), bold=True, gid="subgroup-header"))
            for s in studies:
                cells = {"label": s.label + (" †" if id(s) in self.derived else ""),
                         "effect": self._effect_text(s.yi, s.lo, s.hi)}
                cells.update({f"weight{j}": f"{w:.1f}%" for j, w in enumerate(s.weights)})
                cells.update({c.key: data_fmt[c.key][index[id(s)]] for c in self.arm_cols})
                rows.append(Row("study", cells, study=s, gid="study"))
            if sub is not None and len(studies) == 1:  # a one-trial subgroup: the trial, not a subtotal
                rows.append(Row("text", span="One trial: not pooled".split(" "), sep=" ", gid="subgroup-single-trial"))
                rows.append(Row("space"))
            elif sub is not None:
                wsum = (["100.0%"] if self.own_weights
                        else [f"{sum(s.weights[j] for s in studies):.1f}%" for j in range(nw)])  # fmt: skip
                label = f"Subtotal: {model_name(sub)[0].lower()}{model_name(sub)[1:]}"
                rows += self._pooled_rows(label, sub, studies, wsum, MODEL_FILLS[0], True)
                rows.append(Row("text", span=het_parts(sub), gid="subgroup-heterogeneity"))
                rows.append(Row("text", span=test_text(sub), sep=" ", gid="subgroup-test-effect"))
                rows.append(Row("space"))
        for j, (label, res) in enumerate(self.models):
            weights = ["" for _ in range(nw)]
            if j < nw and not self.own_weights:
                weights[j] = "100.0%"
            rows += self._pooled_rows(label, res, self.all_studies, weights,
                                      MODEL_FILLS[j % len(MODEL_FILLS)], j == 0)  # fmt: skip
        if self.models:
            het = next((r for _, r in self.models if r.method is not Method.FE), self.models[0][1])
            parts = het_parts(het)
            names = len(self.models) > 1
            tests = [test_text(r, lab if names else None) for lab, r in self.models]
            rows.append(Row("text", span=parts, gid="heterogeneity"))
            rows += [Row("text", span=t, sep=" ", gid="overall-test") for t in tests]
        if self.single_trial:
            rows.append(Row("text", span="One trial: its own result, not a pooled estimate".split(" "), sep=" ",
                            gid="single-trial-note"))  # fmt: skip
        if self.subgroup_test:
            rows.append(Row("text", span=str(self.subgroup_test).split(" "), sep=" ", gid="subgroup-test"))
        while rows and rows[-1].kind == "space":
            rows.pop()
        self.rows = rows

    # -------------------------------------------------------------------------------------- layout
    def columns(self) -> tuple[list[Col], list[Col]]:
        single = len(self.sections) == 1 and self.sections[0][0] is None
        left = [Col("label", "Study" if single else "Study or subgroup", "left")]
        if "arms" in self.show:
            left += [Col(c.key, c.header, c.align, c.group) for c in self.arm_cols]
        if "weight" in self.show:
            left += [Col(f"weight{j}", h, "right") for j, h in enumerate(self.wheaders)]
        if "effect" in self.show:
            left += [Col("effect", self.effect_header, "right")]
        right = [Col(str(k), "Overall" if str(k).lower() == "overall" else str(k).upper(), "center",
                      "Risk of bias") for k in self.rob_keys if "rob" in self.show]  # fmt: skip
        return left, right

    def _cell_width(self, m: Measurer, fs: float, key: str) -> float:
        return max((m.width(r.cells[key], fs, "bold" if r.bold else "normal")
                    for r in self.rows if key in r.cells), default=0.0)  # fmt: skip

    def _measure_columns(self, m: Measurer, fs: float) -> dict[str, Any]:
        g = 0.8 * fs * PT
        line_h = m.size("Ag", fs)[1]
        pitch = line_h + 0.35 * fs * PT
        left, right = self.columns()
        for c in left[1:] + right:
            c.width = max(m.width(c.header, fs, "bold"), self._cell_width(m, fs, c.key))
        for c in right:
            c.width = max(c.width, 0.9 * pitch)
        gaps = {c.key: (1.6 * g if i and c.group != left[i - 1].group else g) for i, c in enumerate(left)}
        gaps.update({c.key: 0.3 * g for c in right})
        for cols in (left, right):
            for group in dict.fromkeys(c.group for c in cols if c.group):
                members = [c for c in cols if c.group == group]
                span = sum(c.width for c in members) + sum(gaps[c.key] for c in members[1:])
                members[0].width += max(0.0, m.width(group, fs, "bold") - span)
        pad = 3 * PT
        pad_r = pad + (0.0 if right else 0.5 * m.width("\u22120.00", fs))
        rob_w = sum(c.width + gaps[c.key] for c in right) + (g if right else 0.0)
        fixed = pad + sum(c.width + gaps[c.key] for c in left[1:]) + 1.5 * g + rob_w + pad_r
        labels = [r.cells["label"] for r in self.rows if "label" in r.cells]
        need = max([m.width(lab, fs, "bold") for lab in labels] + [m.width(left[0].header, fs, "bold")])
        return dict(left=left, right=right, gaps=gaps, pad=pad, pad_r=pad_r, fixed=fixed, need=need,
                    g=g, line_h=line_h, pitch=pitch, min_label=m.width("Abcdefghijkl", fs))

    def _max_lines(self, m: Measurer, fs: float, width: float) -> int:
        wrapped = [wrap_to_width(r.cells["label"], width, m, fs, "bold" if r.bold else "normal")
                   for r in self.rows if "label" in r.cells]  # fmt: skip
        return max(w.count("\n") + 1 for w in wrapped)

    def present_columns(self) -> list[str]:
        """The optional columns this figure has data for, in the order they are given up to fit."""
        have = {"rob": bool(self.rob_keys), "arms": bool(self.arm_cols), "weight": bool(self.wheaders),
                "effect": True}  # fmt: skip
        return [c for c in _DROP_ORDER if have[c] and c in self.show]

    def column_widths(self, m: Measurer) -> dict[str, float]:
        """Width (inches, at the smallest font) each optional column takes: for the error message."""
        geo = self._measure_columns(m, _MIN_FONT)
        out: dict[str, float] = {}
        for c in geo["left"][1:] + geo["right"]:
            kind = ("rob" if c.group == "Risk of bias" else "weight" if c.key.startswith("weight")
                    else "effect" if c.key == "effect" else "arms")  # fmt: skip
            out[kind] = out.get(kind, 0.0) + c.width + geo["gaps"][c.key]
        return out

    def fit(self, m: Measurer, width: float, can_widen: bool) -> tuple[float, float, dict[str, Any]]:
        """Font size, figure width and column geometry, and (in ``self.fits``) whether they fit.

        In order of preference: labels on one line, or wrapped to two lines, at the base font and then
        at smaller fonts down to 6 pt; three or four lines at 6 pt. If even that is too wide, the
        figure is not widened: ``self.fits`` is False and the caller gives up a column or says which.
        """
        self.fits = True
        sizes = [self.base_fs] + [s for s in np.arange(self.base_fs - 0.5, _MIN_FONT - 0.01, -0.5)]
        plan = [(fs, n) for fs in sizes for n in (1, 2)] + [(sizes[-1], 3), (sizes[-1], 4)]
        geos: dict[float, dict[str, Any]] = {}
        for fs, n in plan:
            if fs not in geos:
                geos[fs] = self._measure_columns(m, fs)
            geo = geos[fs]
            avail = width - geo["fixed"] - _forest_min(width)
            if n == 1 and avail >= geo["need"]:
                geo["label_w"] = geo["need"]
                return fs, width, geo
            if n > 1 and avail >= geo["min_label"] and self._max_lines(m, fs, avail) <= n:
                geo["label_w"] = avail
                return fs, width, geo
        fs = sizes[-1]
        geo = self._measure_columns(m, fs)
        lo, hi = geo["min_label"], max(geo["need"], geo["min_label"])
        for _ in range(12):  # narrowest label column with at most two lines
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if self._max_lines(m, fs, mid) <= 2 else (mid, hi)
        avail = width - geo["fixed"] - _PANEL_MIN
        geo["label_w"] = max(hi, avail)
        needed = geo["fixed"] + geo["label_w"] + _PANEL_MIN
        if can_widen and needed > width:
            self.fits, self.needed = False, needed
        return fs, width, geo

    def geometry(self, m: Measurer, fs: float, width: float, geo: dict[str, Any]) -> float:
        """Place every column and row; return the height needed (inches)."""
        left, right, gaps, g = geo["left"], geo["right"], geo["gaps"], geo["g"]
        line_h, pitch, vpad = geo["line_h"], geo["pitch"], 0.35 * fs * PT
        left[0].width = geo["label_w"]
        x = geo["pad"]
        for c in left:
            x += gaps[c.key] if c is not left[0] else 0.0
            c.x, x = x, x + c.width
        self.table_right = x
        self.panel = (x + 1.5 * g, width - geo["pad_r"] - sum(c.width + gaps[c.key] for c in right)
                      - (g if right else 0.0))  # fmt: skip
        x = self.panel[1] + (g if right else 0.0)
        for c in right:
            x += gaps[c.key]
            c.x, x = x, x + c.width
        span_w = self.table_right - geo["pad"]
        for r in self.rows:
            if r.kind == "space":
                r.height, r.text = 0.5 * pitch, {}
                continue
            if r.kind == "group":
                r.text = {"span": wrap_to_width(r.span, span_w, m, fs, "bold")}
            elif r.kind == "text":
                r.text = {"span": pack_parts(list(r.span), span_w, m, fs, r.sep)}
            else:
                r.text = dict(r.cells)
                if "label" in r.text:
                    r.text["label"] = wrap_to_width(r.cells["label"], left[0].width, m, fs,
                                                    "bold" if r.bold else "normal")  # fmt: skip
            weight = "bold" if r.bold else "normal"
            r.height = max([pitch] + [m.size(t, fs, weight)[1] + vpad for t in r.text.values()])
        self.cols, self.fs, self.line_h, self.pitch, self.width = left + right, fs, line_h, pitch, width
        groups = any(c.group for c in self.cols)
        sub_h = max(m.size(c.header, fs, "bold")[1] for c in self.cols)
        self.header = (3 * PT, 3 * PT + (1.3 * line_h if groups else 0.0) + sub_h)  # top, bottom
        y = self.header[1] + vpad
        self.body_top = y
        for r in self.rows:
            r.y, y = y + r.height / 2, y + r.height
        self.body_bottom = y
        self._ticks(m)
        self._footer(m)
        return self.footer_bottom + 3 * PT

    def _ticks(self, m: Measurer) -> None:
        """x-limits (display scale) and tick labels that fit the panel width."""
        xs = [s.yi for s in self.all_studies] + [0.0]
        xs += [v for r in self.rows if r.kind in ("pooled", "pi") for v in (r.lo, r.hi)]
        if self.single_trial:  # nothing pooled to scale by: show the trial's whole interval
            xs += [v for s in self.all_studies for v in (s.lo, s.hi)]
        ext = xs + [v for s in self.all_studies for v in (s.lo, s.hi)]
        lo_c, hi_c = min(xs), max(xs)
        span = max(hi_c - lo_c, 1e-9)
        lo, hi = max(min(ext), lo_c - 0.5 * span), min(max(ext), hi_c + 0.5 * span)
        a, b = -lo, hi
        a, b = max(a, 0.4 * b), max(b, 0.4 * a)  # room on both sides of the null (favours labels)
        if min(a, b) >= 0.75 * max(a, b):  # nearly balanced: make it symmetric
            a = b = max(a, b)
        lo, hi = -a, b
        if self.user_xlim is not None:
            lo, hi = (np.log(v) if self.ratio else float(v) for v in self.user_xlim)
        pw = self.panel[1] - self.panel[0]
        for ticks in (log_candidates(lo, hi) if self.ratio else lin_candidates(lo, hi)):
            lim = (self.user_xlim or (ticks[0], ticks[-1]))
            ticks = [t for t in ticks if lim[0] * (1 - 1e-9) <= t <= lim[1] * (1 + 1e-9)] if self.ratio else \
                [t for t in ticks if lim[0] - 1e-9 <= t <= lim[1] + 1e-9]
            labels = [f"{t:g}".replace("-", "\u2212") for t in ticks]
            pos = [self.xfrac(t, lim) * pw for t in ticks]
            widths = [m.width(s, self.fs) for s in labels]
            if len(ticks) <= 8 and all(pos[i + 1] - pos[i] >= (widths[i] + widths[i + 1]) / 2
                                       + 1.5 * self.fs * PT for i in range(len(ticks) - 1)):  # fmt: skip
                break
        self.xlim, self.ticks, self.ticklabels = tuple(lim), ticks, labels

    def xfrac(self, v: float, lim: Sequence[float] | None = None) -> float:
        lo, hi = lim or self.xlim
        if self.ratio:
            return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (v - lo) / (hi - lo)

    def _footer(self, m: Measurer) -> None:
        fs, lh = self.fs, self.line_h
        y = self.body_bottom + (3.0 + 3.5) * PT + m.size("0123456789", fs)[1] + 0.3 * lh
        x_null = self.panel[0] + self.xfrac(1.0 if self.ratio else 0.0) * (self.panel[1] - self.panel[0])
        self.favours_pos, fav_h = [], 0.0
        if self.favours:
            gap = 0.5 * fs * PT
            room = min(x_null - self.panel[0], self.panel[1] - x_null) - gap  # same for both: balanced
            for side, text in enumerate(self.favours[:2]):
                words = max((m.width(w, fs) for w in str(text).split()), default=0.0)
                s = wrap_to_width(str(text), max(room, words), m, fs)
                w, h = m.size(s, fs)
                x = x_null - gap - w if side == 0 else x_null + gap
                x = min(max(x, 3 * PT), self.width - 3 * PT - w)
                self.favours_pos.append((x, y, s))
                fav_h = max(fav_h, h)
        y += fav_h
        self.xlabel_pos = None
        if self.xlabel:
            y += 0.2 * lh
            s = wrap_to_width(str(self.xlabel), self.panel[1] - self.panel[0], m, fs)
            w, h = m.size(s, fs)
            x = min(max((self.panel[0] + self.panel[1] - w) / 2, 3 * PT), self.width - 3 * PT - w)
            self.xlabel_pos, y = (x, y, s), y + h
        self.legend_pos = None
        if self.rob_keys and "rob" in self.show:
            names = [f"{str(k).upper()} {ROB2_DOMAINS[str(k).lower()]}" for k in self.rob_keys
                     if str(k).lower() in ROB2_DOMAINS]  # fmt: skip
            key = ["Judgement: + low", "\u2212 some concerns", "\u00d7 high", "? no information"]
            if any(s.rob is not None and any(s.rob.get(f"{k}_assessable") is False for k in self.rob_keys)
                   for s in self.all_studies):  # fmt: skip
                key.append("ring with pale centre: not assessable from the abstract")
            paragraphs = ([["Risk of bias domains: " + names[0], *names[1:]]] if names else []) + [key]
            s = "\n".join(pack_parts(p, self.width - 6 * PT, m, fs * 0.9) for p in paragraphs)
            y += 0.4 * lh
            self.legend_pos, y = (3 * PT, y, s), y + m.size(s, fs * 0.9)[1]
        self.derived_pos = None
        if self.derived:
            kinds = sorted(set(self.derived.values()))
            s = pack_parts(["† Derived, not reported as such: " + kinds[0], *kinds[1:]], self.width - 6 * PT, m, fs * 0.9)
            y += 0.4 * lh
            self.derived_pos, y = (3 * PT, y, s), y + m.size(s, fs * 0.9)[1]
        self.footer_bottom = y

#: ``derivation`` values of numbers used as reported (no dagger).
_AS_REPORTED = frozenset({"", "reported", "between-group difference as reported"})


def _fit_or_drop(builder: _Forest, make: Any, m: Measurer, width_in: float, width: Any,
                 explicit: bool) -> tuple[_Forest, tuple[float, float, dict[str, Any]]]:  # fmt: skip
    """Fit the columns into the width; give up default columns in ``_DROP_ORDER`` (with a warning) or,
    for columns asked for by name, raise a ValueError that says what each costs and what to drop."""
    dropped: list[str] = []
    while True:
        fitted = builder.fit(m, width_in, can_widen=True)
        if builder.fits:
            if dropped:
                warnings.warn(f"forest plot: left out the {', '.join(dropped)} column(s) to fit the {width} "
                              f"width ({width_in * 25.4:.0f} mm); choose them with columns= (CLI: --columns) or use a wider width",
                              TpmetaWarning, stacklevel=3)  # fmt: skip
            return builder, fitted
        present = builder.present_columns()
        droppable = [c for c in present if c != "effect"]
        if explicit or not droppable:
            costs = builder.column_widths(m)
            parts = ", ".join(f"{c} {costs[c] * 25.4:.0f} mm" for c in present if c in costs)
            raise ValueError(f"the forest plot does not fit the {width} width ({width_in * 25.4:.0f} mm): it needs "
                             f"{builder.needed * 25.4:.0f} mm with labels wrapped at 6 pt. Columns: {parts}. "
                             f"Drop some (columns={[c for c in present if c not in droppable[:1]]!r}), "
                             "shorten the study labels, or use width='double'")  # fmt: skip
        dropped.append(droppable[0])
        builder = make([c for c in builder.show if c not in dropped])


def forest_plot(
    result: PoolResult | Sequence[tuple[str, PoolResult]] | None,
    *,
    study_data: pd.DataFrame | None = None,
    subgroups: Sequence[tuple[str, PoolResult]] | None = None,
    subgroup_test: str | None = None,
    rob: pd.DataFrame | None = None,
    sort_by: str | None = None,
    favours: tuple[str, str] | None = ("Favours intervention", "Favours control"),
    ratio: bool = False,
    show_prediction: bool = True,
    width: str | float = "double",
    ax: Any = None,
    effect_label: str = "Effect",
    arm_labels: tuple[str, str] = ("Intervention", "Control"),
    xlim: tuple[float, float] | None = None,
    xlabel: str | None = None,
    digits: int = 2,
    fontsize: float | None = None,
    columns: Sequence[str] | None = None,
) -> Any:
    """Draw a forest plot of one or more pooled analyses and return the :class:`~matplotlib.figure.Figure`.

    Parameters
    ----------
    result : PoolResult, list of (label, PoolResult), or None
        The overall analysis. Several models (e.g. ``[("Common effect", fe), ("Random effects", re)]``)
        are drawn as separate diamonds with one weight column each; squares are sized by the first
        model's weights. ``None`` with ``subgroups`` omits the overall diamond.
    study_data : DataFrame, optional
        Per-arm statistics shown as columns, matched to the studies by a ``label``/``study``/``study_id``
        column, by the index, or row by row. Recognised columns: ``events1``, ``mean1``, ``sd1``,
        ``total1`` (or ``n1``) and the same with ``2``; ``year`` is used by ``sort_by="year"``;
        ``derivation`` (e.g. "sd from se") marks the study with † and says how in a footnote.
    subgroups : list of (name, PoolResult), optional
        One analysis per subgroup: a header row, its studies and its own diamond and heterogeneity.
    subgroup_test : str, optional
        Text of the test for subgroup differences, computed by the caller (the plot computes nothing).
    rob : DataFrame, optional
        Risk-of-bias judgements (columns ``d1`` … ``d5``, ``overall``: ``"low"``, ``"some concerns"``,
        ``"high"`` or None for no information) indexed by study label, drawn as Cochrane traffic lights.
    sort_by : {None, "weight", "effect", "year"}
        Order of the studies (within each subgroup); presentation only.
    favours : (str, str) or None
        Labels under the axis, left and right of the line of no effect.
    ratio : bool
        The results are log ratios: show exponentiated values on a log axis with the null at 1.
    show_prediction : bool
        Draw the prediction interval under each random-effects diamond.
    width : "single", "double" or float
        Figure width (85 mm, 170 mm, or inches). The height follows from the number of rows.
    ax : Axes, optional
        Draw into this axes' area of an existing figure instead (fonts shrink to fit its height).
    effect_label, arm_labels, xlim, xlabel, digits, fontsize
        Header of the effect column, names of the two arms, x-limits (display scale), axis label,
        decimals of effects, and base font size (default: the house style's 7 pt).
    columns : sequence of {"arms", "weight", "effect", "rob"}, optional
        The columns beside the study labels. Default: every column there are data for; if they do not
        fit the width even with wrapped labels at 6 pt, columns are given up in the order
        risk of bias, arm data, weights, with a :class:`~tpmeta.errors.TpmetaWarning` naming them.
        Columns asked for explicitly are never dropped: if they do not fit, a :class:`ValueError`
        names each column's width and what to drop. The figure is never wider than ``width``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl

    models = normalise_models(result)
    subgroups = [(str(n), r) for n, r in subgroups] if subgroups else None
    with mpl.rc_context(style()):
        family = font_family()
        base = float(fontsize or mpl.rcParams["font.size"])
        wanted = _parse_columns(columns)

        def make(show: Sequence[str]) -> _Forest:
            built = _Forest(models, subgroups, subgroup_test, study_data, rob, sort_by, favours, ratio,
                            show_prediction, effect_label, arm_labels, xlim, xlabel, digits, base, show)  # fmt: skip
            built.build_rows()
            return built

        builder = make(wanted)
        if ax is None:
            fig = new_figure(figure_width(width), 2.0)
            m = Measurer(fig, get_renderer(fig), family)
            builder, (fs, w, geo) = _fit_or_drop(builder, make, m, figure_width(width), width,
                                                  explicit=columns is not None)  # fmt: skip
            height = builder.geometry(m, fs, w, geo)
            fig.set_size_inches(w, height)
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
            draw_forest(builder, fig, ax, 0.0, height, family)
            return fig
        fig = ax.figure
        fw, fh = fig.get_size_inches()
        box = ax.get_position()
        region_w, region_h = box.width * fw, box.height * fh
        m = Measurer(fig, get_renderer(fig), family)
        for _ in range(6):
            fs, w, geo = builder.fit(m, region_w, can_widen=False)
            height = builder.geometry(m, fs, w, geo)
            if height <= region_h * 1.001 or builder.base_fs <= 3.0:
                break
            builder.base_fs = max(3.0, builder.base_fs * region_h / height * 0.98)
        ax.cla()
        draw_forest(builder, fig, ax, box.x0 * fw, box.y1 * fh, family)
        return fig
