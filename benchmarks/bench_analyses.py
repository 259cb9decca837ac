"""Benchmarks of the deeper analyses on the batched engine, side by side with metafor when R is installed.

    .venv/bin/python benchmarks/bench_analyses.py [--no-r]

Targets (issue #7): GOSH k = 16 (65,535 REML fits) ≤ 1 s (metafor 205 s); 1,000-permutation test at
k = 100 with one moderator ≤ 0.1 s (metafor 6.4 s); leave-one-out at k = 12 ≤ 1 ms (metafor 41 ms).
Medians of repeated runs on simulated data with a fixed seed. A script, not a test.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import median_time, run_r_json

import tpmeta


def _data(k: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.1, k)
    return rng.normal(0.3, np.sqrt(v + 0.05), k), v


def bench_tpmeta() -> dict[str, float]:
    out = {}
    y, v = _data(12)
    res = tpmeta.pool(y, v, method="REML")
    out["leave-one-out, k=12 (REML)"] = median_time(lambda: tpmeta.leave_one_out(res), 300)
    out["cumulative, k=12 (REML)"] = median_time(lambda: tpmeta.cumulative(res), 300)
    out["Egger's test, k=12"] = median_time(lambda: tpmeta.egger_test(res), 1000)
    try:
        from tpmeta.diagnostics.influence import influence_diagnostics

        out["influence diagnostics, k=12 (REML)"] = median_time(lambda: influence_diagnostics(res), 200)
    except ImportError:  # pragma: no cover - module optional while under construction
        pass
    try:
        from tpmeta.diagnostics.smallstudy import trim_and_fill

        out["trim-and-fill, k=12 (REML)"] = median_time(lambda: trim_and_fill(res), 50)
    except ImportError:  # pragma: no cover
        pass
    y16, v16 = _data(16)
    out["GOSH, k=16 (65,535 REML fits)"] = median_time(lambda: tpmeta.gosh(y16, v16, "REML"), 1, 3)
    try:
        from tpmeta.models.metareg import meta_regression
        from tpmeta.models.permutation import permutation_test

        rng = np.random.default_rng(3)
        y100, v100 = _data(100)
        x = rng.normal(size=100)
        fit = meta_regression(y100, v100, x, method="REML")
        out["permutation test, 1,000 permutations, k=100, one moderator (REML)"] = median_time(
            lambda: permutation_test(fit, n_perm=1000, seed=1), 1, 3)  # fmt: skip
    except (ImportError, TypeError):  # pragma: no cover
        pass
    return out


R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
set.seed(1)
tm <- function(expr, n) { t0 <- proc.time()[["elapsed"]]; for (i in seq_len(n)) eval(expr); (proc.time()[["elapsed"]] - t0) / n }
vi <- runif(12, 0.01, 0.1); yi <- rnorm(12, 0.3, sqrt(vi + 0.05)); res <- rma(yi, vi)
out <- list()
out[["metafor leave1out, k=12"]] <- tm(quote(leave1out(res)), 20)
out[["metafor influence, k=12"]] <- tm(quote(influence(res)), 20)
out[["metafor trimfill, k=12"]] <- tm(quote(trimfill(res)), 20)
out[["metafor regtest, k=12"]] <- tm(quote(regtest(res)), 20)
vi <- runif(100, 0.01, 0.1); yi <- rnorm(100, 0.3, sqrt(vi + 0.05)); x <- rnorm(100)
fit <- rma(yi, vi, mods = ~ x)
out[["metafor permutest 1,000, k=100"]] <- tm(quote(permutest(fit, iter = 1000, progbar = FALSE)), 1)
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def bench_metafor() -> dict[str, float]:
    return run_r_json(R_SCRIPT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="skip metafor even if R is installed")
    args = parser.parse_args(argv)
    results = {**bench_tpmeta(), **({} if args.no_r else bench_metafor())}
    width = max(map(len, results))
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds * 1e3:12.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
