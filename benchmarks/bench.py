"""tpmeta against metafor, PyMARE and statsmodels: one table, every peer timed in the same run.

    make bench            # or: .venv-bench/bin/python benchmarks/bench.py [--no-r] [--quick] [--json out.json]

Before anything is timed, each peer's estimates on the same data are compared with tpmeta's (a peer
that disagrees is shown with "≠" and is not a fair comparison). Times are the best of repeated runs
(the machine is shared and noisy; the minimum is the least disturbed run), per operation; "/s" rows are
analyses per second. metafor runs in one Rscript process (when Rscript is installed: Debian's
r-base-core and r-cran-metafor); PyMARE and statsmodels are installed into the benchmark environment
only (``.venv-bench``), never as dependencies of tpmeta. Goals are those of issue #13. This is a script,
not a test: speed is never asserted in the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import timeit
import warnings
from pathlib import Path

import numpy as np
from _common import run_r_json

import tpmeta

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("metafor", "PyMARE", "statsmodels")


def best(fn, number: int, repeat: int = 5) -> float:
    """Seconds per call: the fastest of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def sim(k: int, seed: int = 1, n: int | None = None):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.1, (n, k) if n else k)
    return rng.normal(0.3, np.sqrt(v + 0.05)), v


#: metafor's default control stops REML when τ² changes by less than 1e-5, so its REML values agree
#: with tpmeta's (converged to 1e-10) to about 1e-5 relative; PyMARE's optimiser is looser still.
METAFOR_ITERATIVE = 1e-4


def same(a, b, tol: float) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=tol, atol=tol))


class Table:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, task: str, tpmeta_s: float | None, goal: str = "", rate: bool = False, **peers) -> None:
        self.rows.append({"task": task, "tpmeta": tpmeta_s, "goal": goal, "rate": rate, **peers})

    @staticmethod
    def fmt(cell, rate: bool) -> str:
        if cell is None:
            return "—"
        if isinstance(cell, str):
            return cell
        seconds, ok = (cell if isinstance(cell, tuple) else (cell, True))
        text = f"{1 / seconds:,.0f} /s" if rate else (f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s")
        return text if ok else f"{text} ≠"

    def print(self) -> None:
        head = ["task", "tpmeta", *PEERS, "goal"]
        body = [[r["task"], self.fmt(r["tpmeta"], r["rate"]), *(self.fmt(r.get(p), r["rate"]) for p in PEERS),
                 r["goal"]] for r in self.rows]  # fmt: skip
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
        print(line(head))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for cells in body:
            print(line(cells))


R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- jsonlite::fromJSON(Sys.getenv("TPMETA_BENCH"))
best <- function(expr, n, reps = 3) { f <- substitute(expr); e <- parent.frame()
  min(sapply(seq_len(reps), function(i) { t0 <- proc.time()[["elapsed"]]; for (j in seq_len(n)) eval(f, e); proc.time()[["elapsed"]] - t0 })) / n }
out <- list(version = as.character(packageVersion("metafor")))
reml <- sapply(seq_len(nrow(args$sets_y)), function(s) {
  yi <- args$sets_y[s, ]; vi <- args$sets_v[s, ]; best(rma(yi, vi, method = "REML"), 20) })
out$reml_k12 <- median(reml)
d <- list(y = args$sets_y[1, ], v = args$sets_v[1, ])
fit <- rma(d$y, d$v, method = "REML")
out$reml_est <- c(fit$beta[1], fit$tau2)
out$reml_ci_k12 <- best({ f <- rma(d$y, d$v, method = "REML"); confint(f) }, 20)
out$dl_k12 <- best(rma(d$y, d$v, method = "DL"), 50)
out$dl_est <- c(rma(d$y, d$v, method = "DL")$beta[1], rma(d$y, d$v, method = "DL")$tau2)
out$loo_k12 <- best(leave1out(fit), 5); out$loo_est <- leave1out(fit)$estimate
out$influence_k12 <- best(influence(fit), 5)
out$trimfill_k12 <- best(trimfill(fit), 10); out$trimfill_est <- c(trimfill(fit)$k0, trimfill(fit)$beta[1])
out$egger_k12 <- best(regtest(fit, model = "lm"), 20); out$egger_p <- regtest(fit, model = "lm")$pval
p <- args$perm
py <- p$y; pv <- p$v; px <- p$x
pf <- rma(py, pv, mods = ~ px, method = "REML")
out$permutest_k100 <- best(permutest(pf, iter = 1000, progbar = FALSE), 1, 1)
k1 <- args$k1000
out$reml_k1000 <- best(rma(k1$y, k1$v, method = "REML"), 1, 1)
out$reml_k1000_est <- rma(k1$y, k1$v, method = "REML")$tau2
b <- args$bcg
out$mh_k13 <- best(rma.mh(ai = b$ai, bi = b$bi, ci = b$ci, di = b$di, measure = "RR"), 50)
out$mh_est <- rma.mh(ai = b$ai, bi = b$bi, ci = b$ci, di = b$di, measure = "RR")$beta[1]
out$peto_k13 <- best(rma.peto(ai = b$ai, bi = b$bi, ci = b$ci, di = b$di), 50)
out$peto_est <- rma.peto(ai = b$ai, bi = b$bi, ci = b$ci, di = b$di)$beta[1]
es <- escalc("RR", ai = b$ai, bi = b$bi, ci = b$ci, di = b$di)
f1 <- rma(es$yi, es$vi, mods = ~ b$ablat, method = "ML"); f0 <- rma(es$yi, es$vi, method = "ML")
out$anova_k13 <- best(anova(f1, f0), 50); out$anova_lrt <- anova(f1, f0)$LRT
grid <- seq(0, 60, length.out = 1000)
out$predict_1000 <- best(predict(f1, newmods = grid), 20); out$predict_est <- predict(f1, newmods = c(10, 50))$pred
fr <- rma(es$yi, es$vi)
out$profile_201 <- best(profile(fr, steps = 201, plot = FALSE, progbar = FALSE), 1, 3)
out$regtest_rma <- best(regtest(fr), 20); out$regtest_rma_p <- regtest(fr)$pval
pdf_file <- tempfile(fileext = ".pdf")
out$forest_pdf_k12 <- best({ pdf(pdf_file, width = 7, height = 4); forest(fit); dev.off() }, 20)
# network meta-analysis: contrasts against each trial's baseline arm (reference first, then radix order),
# block-diagonal V (the baseline arm's sd^2/n shared), as tests/reference/metafor_network.R
nw <- as.data.frame(args$network, stringsAsFactors = FALSE)
lv <- c(args$network_ref, sort(setdiff(unique(nw$treatment), args$network_ref), method = "radix"))
rows <- list(); blocks <- list()
for (s in unique(nw$study)) {
  a <- nw[nw$study == s, , drop = FALSE]; a <- a[order(match(a$treatment, lv)), , drop = FALSE]
  b <- a[1, ]; t <- a[-1, , drop = FALSE]; m <- nrow(t)
  Vs <- matrix(b$sd^2 / b$n, m, m); diag(Vs) <- t$sd^2 / t$n + b$sd^2 / b$n
  rows[[length(rows) + 1]] <- data.frame(study = s, treatment = t$treatment, comparator = b$treatment,
                                         yi = t$mean - b$mean, stringsAsFactors = FALSE)
  blocks[[length(blocks) + 1]] <- Vs
}
nd <- do.call(rbind, rows); NV <- bldiag(blocks)
nd$comp <- paste(nd$treatment, nd$comparator, sep = " vs ")
NX <- sapply(lv[-1], function(tr) (nd$treatment == tr) - (nd$comparator == tr))
nf <- rma.mv(yi, NV, mods = NX, intercept = FALSE, random = ~ comp | study, rho = 1/2, data = nd, method = "REML")
out$network_T20_k200 <- best(rma.mv(yi, NV, mods = NX, intercept = FALSE, random = ~ comp | study, rho = 1/2,
                                    data = nd, method = "REML"), 1, 3)
out$network_est <- c(as.numeric(nf$beta), nf$tau2)
ml <- as.data.frame(args$ml)
mm <- rma.mv(y, v, random = ~ 1 | study/es, data = ml, method = "REML")
out$multilevel_k1000 <- best(rma.mv(y, v, random = ~ 1 | study/es, data = ml, method = "REML"), 1, 1)
out$multilevel_est <- c(as.numeric(mm$beta), mm$sigma2)
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


#: BCG vaccine trials (metafor's dat.bcg): 2×2 tables and absolute latitude, for the metafor-parity rows
BCG = {
    "ai": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    "bi": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    "ci": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    "di": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
    "ablat": [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33],
}


def parity_rows(table: "Table", mf: dict) -> None:
    """What metafor users reach for next (#19, #14): each beside metafor's time, with agreement."""
    import pandas as pd

    b = pd.DataFrame(BCG)
    n1, n2 = b["ai"] + b["bi"], b["ci"] + b["di"]

    def peer(key: str, est_key: str, ours, tol: float) -> dict:
        return {"metafor": (mf[key], same(mf[est_key], ours, tol))} if mf else {}

    mh = tpmeta.pool_binary(b["ai"], n1, b["ci"], n2, measure="RR", method="MH")
    table.add("Mantel-Haenszel RR, k = 13 (dat.bcg)",
              best(lambda: tpmeta.pool_binary(b["ai"], n1, b["ci"], n2, measure="RR", method="MH"), 200), "",
              **peer("mh_k13", "mh_est", mh.estimate, 1e-9))  # fmt: skip
    peto = tpmeta.pool_binary(b["ai"], n1, b["ci"], n2, method="PETO")
    table.add("Peto OR, k = 13", best(lambda: tpmeta.pool_binary(b["ai"], n1, b["ci"], n2, method="PETO"), 200), "",
              **peer("peto_k13", "peto_est", peto.estimate, 1e-9))  # fmt: skip
    es = tpmeta.effect_sizes(b, "RR")
    full = tpmeta.meta_regression(es["yi"], es["vi"], b[["ablat"]], method="ML")
    null = tpmeta.meta_regression(es["yi"], es["vi"], None, method="ML")
    lrt = tpmeta.anova(full, null)
    table.add("likelihood-ratio test of two fitted models (anova)", best(lambda: tpmeta.anova(full, null), 500), "",
              **peer("anova_k13", "anova_lrt", lrt.lrt, METAFOR_ITERATIVE))  # fmt: skip
    grid = np.linspace(0, 60, 1000)[:, None]
    pr = tpmeta.predict(full, [[10], [50]])
    table.add("predict at 1,000 moderator values", best(lambda: tpmeta.predict(full, grid), 50), "",
              **peer("predict_1000", "predict_est", pr.pred, METAFOR_ITERATIVE))  # fmt: skip
    fr = tpmeta.pool(es["yi"], es["vi"])
    table.add("τ² likelihood profile, 201 steps", best(lambda: tpmeta.profile_tau2(fr, steps=201), 20), "",
              **({"metafor": mf["profile_201"]} if mf else {}))
    eg = tpmeta.egger_test(fr, model="rma")
    table.add("Egger's test as regtest(model=\"rma\")", best(lambda: tpmeta.egger_test(fr, model="rma"), 200), "",
              **peer("regtest_rma", "regtest_rma_p", eg.pvalue, 1e-6))
    bayes_rows(table)


def bayes_rows(table: "Table") -> None:
    """Bayesian random effects by quadrature (#14). No R peer: bayesmeta is not packaged for Debian, and
    the tests compare against R's integrate instead (tests/reference/bayes_reference.R)."""
    y, v = sim(12, seed=11)
    table.add("Bayesian RE (half-normal τ prior), k = 12, with shrinkage",
              best(lambda: tpmeta.pool_bayes(y, v), 50), "≤ 2 ms")  # fmt: skip
    Y, V = sim(12, n=10_000, seed=12)
    table.add("Bayesian RE, 10,000 analyses × k = 12, batched",
              best(lambda: tpmeta.pool_bayes_batch(Y, V), 1, 3), "≤ 1 s")  # fmt: skip
    scales = np.geomspace(0.05, 5, 100)
    yb, vb = np.broadcast_to(y, (100, 12)), np.broadcast_to(v, (100, 12))
    table.add("prior sensitivity: 100 τ-prior scales, k = 12",
              best(lambda: tpmeta.pool_bayes_batch(yb, vb, tau_scale=scales), 5, 3), "< 0.1 s")  # fmt: skip


def network_arms(T: int = 20, K: int = 200, seed: int = 12):
    """Arm-level MD data of a connected network: T treatments, K trials (every 10th with three arms); the
    first T − 1 trials join every treatment to T00, the rest compare random pairs or triples."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    d = np.r_[0.0, rng.normal(0.0, 0.5, T - 1)]
    rows = []
    for s in range(K):
        m = 3 if s % 10 == 9 else 2
        arms = np.r_[0, s + 1, rng.integers(1, T)][:m] if s < T - 1 else rng.choice(T, m, replace=False)
        for j, a in enumerate(dict.fromkeys(arms.tolist())):
            n = int(rng.integers(20, 120))
            delta = rng.normal(0.0, 0.2) if j else 0.0  # between-trial heterogeneity of the contrasts
            rows.append({"study": f"s{s:03d}", "treatment": f"T{a:02d}", "mean": d[a] + delta + rng.normal(0, 1 / np.sqrt(n)),
                         "sd": float(rng.uniform(0.8, 1.2)), "n": n})  # fmt: skip
    return pd.DataFrame(rows)


def multilevel_data(k: int = 1000, studies: int = 100, seed: int = 13):
    """k effects in ``studies`` studies (k/studies each): y = 0.3 + u_study + w_effect + e."""
    rng = np.random.default_rng(seed)
    study = np.repeat(np.arange(studies), k // studies)
    v = rng.uniform(0.01, 0.1, k)
    y = 0.3 + rng.normal(0, 0.3, studies)[study] + rng.normal(0, 0.2, k) + rng.normal(0, np.sqrt(v))
    return y, v, study


def model_rows(table: "Table", mf: dict, quick: bool) -> None:
    """Network meta-analysis and the three-level model (#15) beside rma.mv, with agreement checks."""
    arms = network_arms()
    fit = lambda inc: tpmeta.network_meta(arms, measure="MD", reference="T00", method="REML", inconsistency=inc)  # noqa: E731
    res = fit(False)
    peers = {"metafor": (mf["network_T20_k200"], same(mf["network_est"], [*res.estimate[1:], res.tau2],
                                                      METAFOR_ITERATIVE))} if mf else {}  # fmt: skip
    table.add("network meta-analysis, REML, 20 treatments, 200 trials (consistency model, as one rma.mv)",
              best(lambda: fit(False), 3, 3), "≤ 50 ms", **peers)  # fmt: skip
    full = fit(True)
    table.add(f"  + design-by-treatment test and node-splitting ({len(full.node_split)} comparisons, each refitted by REML)",
              best(lambda: fit(True), 1, 1 if quick else 2), "")  # fmt: skip
    y, v, study = multilevel_data()
    ml = tpmeta.multilevel(y, v, study=study)
    peers = {"metafor": (mf["multilevel_k1000"], same(mf["multilevel_est"], [ml.coef[0], ml.sigma2_between, ml.sigma2_within],
                                                      METAFOR_ITERATIVE))} if mf else {}  # fmt: skip
    table.add("multilevel (three-level) REML, k = 1,000 effects in 100 trials", best(lambda: tpmeta.multilevel(y, v, study=study), 20),
              "≤ 50 ms", **peers)  # fmt: skip
    table.add("  + CR2 cluster-robust tests (Satterthwaite df)", best(lambda: tpmeta.robust(ml), 20), "")


def metafor_results(sets, quick: bool) -> dict:
    y100, v100 = sim(100, seed=3)
    x = np.random.default_rng(3).normal(size=100)
    y1000, v1000 = sim(1000, seed=4)
    ml = multilevel_data()
    payload = {"sets_y": [y.tolist() for y, _ in sets], "sets_v": [v.tolist() for _, v in sets],
               "perm": {"y": y100.tolist(), "v": v100.tolist(), "x": x.tolist()},
               "k1000": {"y": y1000.tolist(), "v": v1000.tolist()}, "bcg": BCG,
               "network": network_arms().to_dict(orient="list"), "network_ref": "T00",
               "ml": {"y": ml[0].tolist(), "v": ml[1].tolist(), "study": ml[2].tolist(),
                      "es": list(range(ml[0].size))}}  # fmt: skip
    # a file, not the JSON itself: one environment string may not exceed 128 KiB (jsonlite reads either)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(payload, fh)
    os.environ["TPMETA_BENCH"] = fh.name
    try:
        return run_r_json(R_SCRIPT, timeout=1800)
    finally:
        Path(fh.name).unlink(missing_ok=True)


def plain_numpy_reml(y: np.ndarray, v: np.ndarray, tol: float = 1e-10) -> float:
    """The simplest 1-D NumPy REML (Fisher scoring from HE, no safeguards, no global check): the floor
    for one large analysis."""
    t = max(0.0, float(np.var(y, ddof=1) - v.mean()))
    for _ in range(100):
        w = 1.0 / (v + t)
        sw = w.sum()
        r = y - (w @ y) / sw
        w2 = w * w
        sw2 = w2.sum()
        score = (w2 @ (r * r)) - (sw - sw2 / sw)
        info = sw2 - 2.0 * (w2 @ w) / sw + (sw2 / sw) ** 2
        new = max(0.0, t + score / info)
        if abs(new - t) <= tol * (1 + new):
            return new
        t = new
    return t  # pragma: no cover


def run(quick: bool, use_r: bool) -> Table:
    table = Table()
    sets = [sim(12, seed=s) for s in range(20)]
    y, v = sets[0]
    mf = metafor_results(sets, quick) if use_r else {}
    try:
        from pymare import Dataset
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
    except ImportError:
        Dataset = None  # noqa: N806
    try:
        from statsmodels.stats.meta_analysis import combine_effects
    except ImportError:
        combine_effects = None
    warnings.simplefilter("ignore")

    # ---- single fits, k = 12
    res = tpmeta.pool(y, v, method="REML", tau2_ci=False)
    t_reml = float(np.median([best(lambda: tpmeta.pool(a, b, method="REML", tau2_ci=False), 200, 3) for a, b in sets]))
    peers = {}
    if mf:
        peers["metafor"] = (mf["reml_k12"], same(mf["reml_est"], [res.estimate, res.tau2], METAFOR_ITERATIVE))
    if Dataset:
        est = VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(Dataset(y=y, v=v)).params_
        ok = same([est["fe_params"][0, 0], est["tau2"][0, 0]], [res.estimate, res.tau2], 1e-4)
        peers["PyMARE"] = (float(np.median([best(lambda: VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(
            Dataset(y=a, v=b)), 20, 3) for a, b in sets[:5]])), ok)  # fmt: skip
    table.add("REML fit, k = 12 (median of 20 datasets)", t_reml, "≤ 0.05 ms", **peers)
    t_ci = float(np.median([best(lambda: tpmeta.pool(a, b, method="REML"), 200, 3) for a, b in sets[:5]]))
    table.add("REML fit + Q-profile τ² CI, k = 12", t_ci, "", **({"metafor": mf["reml_ci_k12"]} if mf else {}))

    dl = tpmeta.pool(y, v, method="DL", tau2_ci=False)
    peers = {}
    if mf:
        peers["metafor"] = (mf["dl_k12"], same(mf["dl_est"], [dl.estimate, dl.tau2], 1e-9))
    if Dataset:
        est = DerSimonianLaird().fit_dataset(Dataset(y=y, v=v)).params_
        peers["PyMARE"] = (best(lambda: DerSimonianLaird().fit_dataset(Dataset(y=y, v=v)), 200),
                           same([est["fe_params"][0, 0], est["tau2"][0]], [dl.estimate, dl.tau2], 1e-9))
    if combine_effects:
        ce = combine_effects(y, v, method_re="dl")
        peers["statsmodels"] = (best(lambda: combine_effects(y, v, method_re="dl"), 200),
                                same([ce.mean_effect_re, ce.tau2], [dl.estimate, dl.tau2], 1e-9))
    table.add("DL fit, k = 12", best(lambda: tpmeta.pool(y, v, method="DL", tau2_ci=False), 500), "≤ 0.02 ms", **peers)

    # ---- batched
    n = 20_000 if quick else 100_000
    Y, V = sim(12, n=n)
    b_dl = tpmeta.pool_batch(Y, V, method="DL", tau2_ci=False)
    peers = {}
    if Dataset:
        p = DerSimonianLaird().fit_dataset(Dataset(y=Y.T, v=V.T)).params_
        peers["PyMARE"] = (best(lambda: DerSimonianLaird().fit_dataset(Dataset(y=Y.T, v=V.T)), 1, 3) / n,
                           same(p["tau2"], b_dl.tau2, 1e-9))
    table.add(f"batched DL, {n:,} × k = 12", best(lambda: tpmeta.pool_batch(Y, V, method="DL", tau2_ci=False), 1, 3) / n,
              "≥ 6,000,000 /s", rate=True, **peers)  # fmt: skip
    b_reml = tpmeta.pool_batch(Y, V, method="REML", tau2_ci=False)
    peers = {}
    if Dataset:
        m = 500
        p = VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(Dataset(y=Y[:m].T, v=V[:m].T)).params_
        peers["PyMARE"] = (best(lambda: VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(
            Dataset(y=Y[:m].T, v=V[:m].T)), 1, 3) / m, same(p["tau2"], b_reml.tau2[:m], 1e-4))  # fmt: skip
    table.add(f"batched REML, {n:,} × k = 12", best(lambda: tpmeta.pool_batch(Y, V, method="REML", tau2_ci=False), 1, 3) / n,
              "≥ 1,000,000 /s", rate=True, **peers)  # fmt: skip
    table.add(f"batched REML + τ² CI, {n:,} × k = 12", best(lambda: tpmeta.pool_batch(Y, V, method="REML"), 1, 3) / n,
              "CI must not halve the rate", rate=True)  # fmt: skip

    # ---- large k
    y4, v4 = sim(10_000, seed=5)
    peers = {}
    if Dataset:
        r4 = tpmeta.pool(y4, v4, method="REML", tau2_ci=False)
        p = VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(Dataset(y=y4, v=v4)).params_
        peers["PyMARE"] = (best(lambda: VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(Dataset(y=y4, v=v4)), 3),
                           same(p["tau2"][0, 0], r4.tau2, 1e-4))  # fmt: skip
    table.add("REML fit, k = 10,000", best(lambda: tpmeta.pool(y4, v4, method="REML", tau2_ci=False), 5), "", **peers)
    if mf:
        y3, v3 = sim(1000, seed=4)
        r3 = tpmeta.pool(y3, v3, method="REML", tau2_ci=False)
        table.add("REML fit, k = 1,000", best(lambda: tpmeta.pool(y3, v3, method="REML", tau2_ci=False), 20), "",
                  metafor=(mf["reml_k1000"], same(mf["reml_k1000_est"], r3.tau2, METAFOR_ITERATIVE)))  # fmt: skip
    y6, v6 = sim(1_000_000, seed=6)
    r6 = tpmeta.pool(y6, v6, method="REML", tau2_ci=False)
    t_plain = best(lambda: plain_numpy_reml(y6, v6), 1, 3)
    ok = same(plain_numpy_reml(y6, v6), r6.tau2, 1e-8)
    table.add("REML fit, k = 1,000,000", best(lambda: tpmeta.pool(y6, v6, method="REML", tau2_ci=False), 1, 3),
              f"≤ 40 ms (plain 1-D NumPy scoring: {t_plain * 1e3:.0f} ms{'' if ok else ' ≠'})")

    # ---- start-up
    def wall(cmd: list[str]) -> float:
        return min(_timed(cmd) for _ in range(5))

    table.add("`import tpmeta`", wall([sys.executable, "-c", "import tpmeta"]),
              f"≤ 0.3 s (`python -c pass`: {wall([sys.executable, '-c', 'pass']) * 1e3:.0f} ms)")
    table.add("`tpmeta pool --help`", wall([sys.executable, "-m", "tpmeta.cli", "pool", "--help"]), "≤ 0.3 s")

    # ---- analyses, k = 12
    fit = tpmeta.pool(y, v, method="REML")
    loo = tpmeta.leave_one_out(fit)
    table.add("leave-one-out, k = 12", best(lambda: tpmeta.leave_one_out(fit), 200), "",
              **({"metafor": (mf["loo_k12"], same(mf["loo_est"], loo["estimate"], METAFOR_ITERATIVE))} if mf else {}))
    table.add("influence diagnostics, k = 12", best(lambda: tpmeta.influence_diagnostics(fit), 200), "",
              **({"metafor": mf["influence_k12"]} if mf else {}))
    tf = tpmeta.trim_and_fill(fit)
    table.add("trim-and-fill, k = 12", best(lambda: tpmeta.trim_and_fill(fit), 50), "",
              **({"metafor": (mf["trimfill_k12"], same(mf["trimfill_est"], [tf.k0, tf.filled.estimate], METAFOR_ITERATIVE))} if mf else {}))
    eg = tpmeta.egger_test(fit)
    table.add("Egger's test, k = 12", best(lambda: tpmeta.egger_test(fit), 500), "",
              **({"metafor": (mf["egger_k12"], same(mf["egger_p"], eg.pvalue, 1e-8))} if mf else {}))
    y100, v100 = sim(100, seed=3)
    x = np.random.default_rng(3).normal(size=100)
    mr = tpmeta.meta_regression(y100, v100, x, method="REML")
    table.add("permutation test, 1,000 permutations, k = 100", best(lambda: tpmeta.permutation_test(mr, n_perm=1000, seed=1), 1, 3),
              "≤ 0.1 s", **({"metafor": mf["permutest_k100"]} if mf else {}))  # fmt: skip
    y16, v16 = sim(16, seed=7)
    table.add("GOSH, k = 16 (65,535 REML fits)", best(lambda: tpmeta.gosh(y16, v16, "REML"), 1, 3), "≤ 1 s (metafor 205 s, anchors)")
    if not quick:
        y20, v20 = sim(20, seed=8)
        table.add("GOSH, k = 20 (all 1,048,575 subsets, REML)",
                  best(lambda: tpmeta.gosh(y20, v20, "REML", max_subsets=2**20), 1, 2), "≤ 2 s")

    parity_rows(table, mf)
    model_rows(table, mf, quick)

    # ---- figures and the report
    from tpmeta import plots

    labels = [f"Study {i + 1} ({2000 + i})" for i in range(12)]
    fres = tpmeta.pool(y, v, labels=labels)
    with tempfile.TemporaryDirectory() as tmp:
        def forest_pdf() -> None:
            plots.save_figure(plots.forest_plot(fres), Path(tmp) / "forest", formats=("pdf",))

        forest_pdf()
        table.add("forest plot, k = 12, drawn and saved as PDF", best(forest_pdf, 5, 3), "≤ 50 ms",
                  **({"metafor": mf["forest_pdf_k12"]} if mf else {}))
        if not quick:
            cmd = [str(Path(sys.executable).with_name("tpmeta")), "report", "--out", str(Path(tmp) / "reports")]
            _timed(cmd)  # warm: kernel spec, font cache, bytecode
            table.add("warm `tpmeta report` (what `make report` runs)", min(_timed(cmd) for _ in range(2)), "≤ 5 s")
    if mf:
        print(f"# metafor {mf.get('version')}", file=sys.stderr)
    return table


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="skip metafor even if Rscript is installed")
    parser.add_argument("--quick", action="store_true", help="smaller batches; skip GOSH k = 20 and the report")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    print(f"# {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"NumPy {np.__version__}, tpmeta {tpmeta.__version__}; best of repeated runs, same process")  # fmt: skip
    table = run(args.quick, not args.no_r)
    table.print()
    if args.json:
        args.json.write_text(json.dumps(table.rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
