"""Network meta-analysis input: checks, arm-level data → contrasts against each trial's baseline arm
with their within-trial covariance, and the connectivity of the network.

Private to :mod:`tpmeta.models.network`, which states the model and the formulas.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataProblem, StudyDataError
from ..options import Measure
from .effects_extra import hedges_correction

BINARY = (Measure.OR, Measure.RR, Measure.RD)
CONTINUOUS = (Measure.MD, Measure.SMD)


@dataclass(frozen=True)
class Contrasts:
    """The data as the model sees them: one row per contrast, trials as consecutive rows."""

    frame: pd.DataFrame  # study, treatment, comparator, yi, vi, design
    blocks: list[np.ndarray]  # within-trial covariance matrix of each trial's contrasts, in trial order
    treatments: tuple[str, ...]  # reference first, then the others sorted by code point
    participants: dict[str, float]  # per treatment (NaN for contrast-level input)
    zero_corrected: tuple[str, ...]  # trials that got ½ in every cell


class _Problems:
    def __init__(self, source: str | None) -> None:
        self.source, self.items = source, []

    def add(self, message: str, row=None, column=None, value=None, fix=None) -> None:
        self.items.append(DataProblem(message, file=self.source, row=row, column=column, value=value, fix=fix))

    def raise_if_any(self) -> None:
        if self.items:
            raise StudyDataError(self.items)


def _labels(data: pd.DataFrame, col: str, p: _Problems) -> pd.Series | None:
    if col not in data.columns:
        p.add(f"column '{col}' is missing", column=col, fix=f"add it, or name the column that holds it ({col}=...)")
        return None
    raw = data[col]
    for idx in raw.index[raw.isna()]:
        p.add("value is missing", row=idx, column=col, fix="fill it in, or leave the row out")
    return raw.astype(str).str.strip()


def _numbers(data: pd.DataFrame, col: str, p: _Problems) -> pd.Series | None:
    if col not in data.columns:
        p.add(f"column '{col}' is missing", column=col, fix=f"add it, or name the column that holds it ({col}=...)")
        return None
    raw = data[col]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    for idx in values.index[values.isna() | ~np.isfinite(values)]:
        if pd.isna(raw[idx]):
            p.add("value is missing", row=idx, column=col, fix="fill it in, or leave the row out")
        else:
            p.add("not a finite number", row=idx, column=col, value=raw[idx], fix="write a plain number")
    return values


def _check(p: _Problems, values: pd.Series | None, bad: pd.Series | np.ndarray, col: str, message: str,
           fix: str) -> None:  # fmt: skip
    if values is None:
        return
    for idx in values.index[np.asarray(bad, bool)]:
        p.add(message, row=idx, column=col, value=float(values[idx]), fix=fix)


def _treatment_order(treatments: pd.Series, reference: str, col: str, p: _Problems) -> tuple[str, ...]:
    names = sorted(set(treatments))
    if reference not in names:
        folded = {n.casefold(): n for n in names}  # a typo or a different case: name the closest treatment
        close = [folded[reference.casefold()]] if reference.casefold() in folded else difflib.get_close_matches(
            reference, names, n=1, cutoff=0.6)  # fmt: skip
        p.add(f"the reference treatment {reference!r} is not in the data"
              + (f": did you mean {close[0]!r}?" if close else ""), column=col, value=reference,
              fix=f"choose one of {names}")  # fmt: skip
        p.raise_if_any()
    return (reference, *[t for t in names if t != reference])


def _check_arms(study: pd.Series, treat: pd.Series, scol: str, tcol: str, p: _Problems, arms: bool) -> None:
    dup = pd.DataFrame({"s": study, "t": treat}).duplicated(keep="first")
    for idx in study.index[dup.to_numpy()]:
        p.add(f"treatment {treat[idx]!r} appears twice in study {study[idx]!r}", row=idx, column=tcol,
              value=treat[idx], fix="combine the two arms (tpmeta.combine_arms) or label them differently")  # fmt: skip
    if not arms:
        return
    sizes = study.groupby(study, sort=False).size()
    for s in sizes.index[sizes < 2]:
        idx = study.index[study == s][0]
        p.add(f"study {s!r} has a single arm: it compares nothing", row=idx, column=scol, value=s,
              fix="add its other arm(s), or leave it out of the network")  # fmt: skip


def arm_contrasts(data: pd.DataFrame, measure: Measure, reference: str, cols: dict[str, str],
                  source: str | None) -> Contrasts:  # fmt: skip
    """Contrasts of each trial's arms against its baseline arm (the arm earliest in the treatment order)."""
    p = _Problems(source)
    study, treat = _labels(data, cols["study"], p), _labels(data, cols["treatment"], p)
    keys = ("events", "n") if measure in BINARY else ("mean", "sd", "n")
    num = {k: _numbers(data, cols[k], p) for k in keys}
    p.raise_if_any()
    n = num["n"]
    if measure in BINARY:
        ev = num["events"]
        _check(p, n, n < 1, cols["n"], "an arm needs at least one participant", "check the arm size")
        _check(p, ev, ev < 0, cols["events"], "events cannot be negative", "check the event count")
        _check(p, ev, (ev > n).to_numpy(), cols["events"], "more events than participants", "check events and n")
    else:
        sd = num["sd"]
        _check(p, n, n < 2, cols["n"], "an arm needs at least 2 participants", "check the arm size")
        _check(p, sd, sd <= 0, cols["sd"], "SD must be positive", "check the SD (a SE or variance by mistake?)")
    _check_arms(study, treat, cols["study"], cols["treatment"], p, arms=True)
    p.raise_if_any()
    order = _treatment_order(treat, reference, cols["treatment"], p)
    rank = {t: i for i, t in enumerate(order)}
    frame = pd.DataFrame({"study": study, "treatment": treat, **{k: num[k] for k in keys}})
    frame["_s"] = pd.factorize(frame["study"])[0]
    frame["_r"] = frame["treatment"].map(rank)
    frame = frame.sort_values(["_s", "_r"], kind="stable").reset_index(drop=True)
    sid = frame["_s"].to_numpy()
    first = np.r_[True, sid[1:] != sid[:-1]]
    starts = np.flatnonzero(first)
    base = np.repeat(starts, np.diff(np.r_[starts, sid.size]))  # row of each arm's baseline
    arm = ~first
    col = {k: frame[k].to_numpy(float) for k in keys}
    corrected: tuple[str, ...] = ()
    if measure in BINARY:
        ev, nn = col["events"], col["n"]
        zero = np.bincount(sid, weights=((ev == 0) | (ev == nn)).astype(float)) > 0
        add = np.where(zero[sid], 0.5, 0.0)
        comp, yi_arm = _binary_parts(measure, ev + add, nn + 2 * add)
        yi = yi_arm[arm] - yi_arm[base[arm]]
        corrected = tuple(frame["study"].to_numpy()[starts][zero])
    else:
        comp, yi = _continuous_parts(measure, col, arm, base)
    vi = comp[arm] + comp[base[arm]]
    blocks = []
    names = frame["treatment"].to_numpy()
    n_total = np.bincount(sid, weights=col["n"])
    for s, (lo, hi) in enumerate(zip(starts, np.r_[starts[1:], sid.size])):
        j = slice(lo - s, hi - s - 1)  # this trial's contrasts among the non-baseline rows
        if measure is Measure.SMD:
            block = 1 / col["n"][lo] + np.outer(yi[j], yi[j]) / (2 * n_total[s])
            block[np.diag_indices(hi - lo - 1)] = vi[j]
        else:
            block = np.full((hi - lo - 1, hi - lo - 1), comp[lo]) + np.diag(comp[lo + 1:hi])
        blocks.append(block)
    designs = np.array([":".join(names[lo:hi]) for lo, hi in zip(starts, np.r_[starts[1:], sid.size])])
    out = pd.DataFrame({"study": frame["study"].to_numpy()[arm], "treatment": names[arm],
                        "comparator": names[base[arm]], "yi": yi, "vi": vi, "design": designs[sid[arm]]})  # fmt: skip
    participants = frame.groupby("treatment")["n"].sum()
    return Contrasts(out, blocks, order, {t: float(participants[t]) for t in order}, corrected)


def _binary_parts(measure: Measure, a: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per arm (counts already corrected): the variance component and the arm's term of escalc's
    OR (``log(a/b)``, ``1/a + 1/b``), RR (``log(a/n)``, ``1/a − 1/n``) or RD (``a/n``, ``p(1 − p)/n``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure is Measure.OR:
            return 1 / a + 1 / (n - a), np.log(a / (n - a))
        if measure is Measure.RR:
            return 1 / a - 1 / n, np.log(a / n)
        return a / n * (1 - a / n) / n, a / n


def _continuous_parts(measure: Measure, col: dict[str, np.ndarray], arm: np.ndarray, base: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """MD: component ``sd²/n`` per arm and ``yi = m₁ − m₂``. SMD: escalc's Hedges' g with the pair's pooled
    SD and LS variance; the component is ``1/n`` per arm and the contrast's ``yi²/(2(n₁ + n₂))`` is
    added to its own arm's component so that ``vi = comp_arm + comp_base`` holds."""
    m, sd, n = col["mean"], col["sd"], col["n"]
    b = base[arm]
    if measure is Measure.MD:
        return sd**2 / n, m[arm] - m[b]
    n1, n2 = n[arm], n[b]
    sp = np.sqrt(((n1 - 1) * sd[arm] ** 2 + (n2 - 1) * sd[b] ** 2) / (n1 + n2 - 2))
    yi = hedges_correction(n1 + n2 - 2) * (m[arm] - m[b]) / sp
    comp = 1 / n
    comp[arm] = comp[arm] + yi**2 / (2 * (n1 + n2))
    return comp, yi


def given_contrasts(data: pd.DataFrame, reference: str, cols: dict[str, str], source: str | None) -> Contrasts:
    """Contrast-level input: ``yi``, ``vi`` of treatment vs comparator, and for trials with several
    contrasts the covariance ``cov`` they share (the comparator arm's variance component)."""
    p = _Problems(source)
    study, treat, comp = (_labels(data, cols[k], p) for k in ("study", "treatment", "comparator"))
    yi, vi = _numbers(data, cols["yi"], p), _numbers(data, cols["vi"], p)
    p.raise_if_any()
    _check(p, vi, vi <= 0, cols["vi"], "sampling variance must be positive", "check vi (a SE by mistake?)")
    for idx in treat.index[(treat == comp).to_numpy()]:
        p.add("a treatment compared with itself", row=idx, column=cols["comparator"], value=comp[idx],
              fix="check the treatment and comparator of this contrast")  # fmt: skip
    multi = study.map(study.value_counts()) > 1
    cov = pd.Series(np.nan, index=data.index)
    if multi.any():
        if cols["cov"] not in data.columns:
            p.add(f"column '{cols['cov']}' is missing: trials with several contrasts need the covariance of "
                  "their contrasts", column=cols["cov"],
                  fix="give the variance component of the shared comparator arm (e.g. sd²/n for MD), or use "
                      "arm-level data")  # fmt: skip
        else:
            cov = pd.to_numeric(data[cols["cov"]], errors="coerce").astype(float)
    p.raise_if_any()
    for s in pd.unique(study[multi]):
        rows = study.index[(study == s).to_numpy()]
        if comp[rows].nunique() > 1:
            p.add(f"the contrasts of study {s!r} have different comparators {sorted(set(comp[rows]))}",
                  row=rows[0], column=cols["comparator"], value=comp[rows[0]],
                  fix="express every contrast of a trial against the same (baseline) arm")  # fmt: skip
        c = cov[rows]
        if c.isna().any() or c.nunique() > 1:
            p.add(f"study {s!r} needs one covariance value shared by its contrasts", row=rows[0],
                  column=cols["cov"], value=None if c.isna().all() else float(c.iloc[0]),
                  fix="write the comparator arm's variance component on every row of the trial")  # fmt: skip
        elif not (0 <= c.iloc[0] < vi[rows].min()):
            p.add(f"covariance of study {s!r} must lie in [0, smallest vi)", row=rows[0], column=cols["cov"],
                  value=float(c.iloc[0]), fix="check the covariance (it is part of every contrast's variance)")  # fmt: skip
    _check_arms(study, treat, cols["study"], cols["treatment"], p, arms=False)
    p.raise_if_any()
    order = _treatment_order(pd.concat([treat, comp]), reference, cols["treatment"], p)
    rows_out, blocks = [], []
    frame = pd.DataFrame({"study": study, "treatment": treat, "comparator": comp, "yi": yi, "vi": vi, "cov": cov})
    rank = {t: i for i, t in enumerate(order)}
    for s, g in frame.groupby("study", sort=False):
        g = g.assign(_rank=g["treatment"].map(rank)).sort_values("_rank")
        comp_s, treats = g["comparator"].iloc[0], list(g["treatment"])
        arms = sorted([comp_s, *treats], key=rank.__getitem__)
        v, m = g["vi"].to_numpy(float), len(g)
        c0 = float(g["cov"].iloc[0]) if m > 1 else 0.0
        block = np.full((m, m), c0) + np.diag(v - c0)
        y = g["yi"].to_numpy(float)
        # re-express against the trial's baseline (its earliest arm): y' = T y, V' = T V T', with
        # T[a, j] = [t_j = a] − [t_j = baseline] (the comparator's own effect is 0)
        base, new = arms[0], arms[1:]
        T = np.array([[float(t == a) - float(t == base) for t in treats] for a in new])
        blocks.append(T @ block @ T.T)
        design = ":".join(arms)
        yv, vv = T @ y, np.diag(blocks[-1])
        rows_out += [(s, a, base, yv[i], vv[i], design) for i, a in enumerate(new)]
    out = pd.DataFrame(rows_out, columns=["study", "treatment", "comparator", "yi", "vi", "design"])
    return Contrasts(out, blocks, order, {t: np.nan for t in order}, ())


def check_connected(c: Contrasts, source: str | None, column: str) -> None:
    """Raise :class:`StudyDataError` naming the sub-networks when the treatments are not all connected."""
    parent = {t: t for t in c.treatments}

    def find(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for t, b in zip(c.frame["treatment"], c.frame["comparator"]):
        parent[find(t)] = find(b)
    groups: dict[str, list[str]] = {}
    for t in c.treatments:
        groups.setdefault(find(t), []).append(t)
    if len(groups) == 1:
        return
    subs = list(groups.values())
    problems = []
    for i, g in enumerate(subs, start=1):
        studies = sorted(set(c.frame.loc[c.frame["treatment"].isin(g), "study"]))
        others = [t for j, h in enumerate(subs, start=1) if j != i for t in h]
        # a name that is nearly a treatment of another sub-network is likely a typo that split the network
        typos = [(t, m) for t in g for m in _near(t, others)]
        hint = "".join(f"{t!r} looks like {m!r} of another sub-network: if they are one treatment (did you mean "
                       f"{m!r}?), write one name; " for t, m in typos)  # fmt: skip
        problems.append(DataProblem(
            f"the network is disconnected: sub-network {i} of {len(subs)} holds treatments {g} "
            f"(studies {studies})", file=source, column=column,
            fix=hint + "analyse the sub-networks separately, or add a trial that links them"))  # fmt: skip
    raise StudyDataError(problems)


def _near(name: str, names: list[str]) -> list[str]:
    """The one name most like ``name`` (same letters ignoring case and spaces, or a close spelling)."""
    key = "".join(name.casefold().split())
    same = [n for n in names if "".join(n.casefold().split()) == key]
    return same[:1] or difflib.get_close_matches(name, names, n=1, cutoff=0.85)
