"""Benchmarks of the pooling engine, side by side with statsmodels and (when R is installed) metafor.

    make bench            # or: .venv/bin/python benchmarks/bench_pooling.py [--json out.json]

Targets (issue #2): REML at k = 12 ≤ 0.1 ms, at k = 10,000 ≤ 5 ms; batched throughput at k = 12 of
≥ 1,000,000 DL and ≥ 200,000 REML meta-analyses per second. Timings are the median of repeated runs
on simulated data (fixed seed). This is a script, not a test: speed is never asserted in the suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

from _common import median_time, run_r_json

import tpmeta


def _data(k: int, seed: int = 1, n: int | None = None):
    rng = np.random.default_rng(seed)
    size = (n, k) if n else k
    v = rng.uniform(0.01, 0.1, size)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    return y, v


def bench_tpmeta() -> dict[str, float]:
    out: dict[str, float] = {}
    for k in (12, 1000, 10000):
        y, v = _data(k)
        number = 2000 if k == 12 else 50
        out[f"tpmeta pool REML k={k} (fit, no tau2 CI)"] = median_time(
            lambda: tpmeta.pool(y, v, method="REML", tau2_ci=False), number
        )
        out[f"tpmeta pool REML k={k} (with Q-profile CI)"] = median_time(
            lambda: tpmeta.pool(y, v, method="REML"), number
        )
    y, v = _data(12)
    out["tpmeta pool DL k=12 (fit, no tau2 CI)"] = median_time(
        lambda: tpmeta.pool(y, v, method="DL", tau2_ci=False), 2000
    )
    n = 100_000
    Y, V = _data(12, n=n)
    for method in ("DL", "REML"):
        t = median_time(lambda: tpmeta.pool_batch(Y, V, method=method, tau2_ci=False), 1, 3)
        out[f"tpmeta pool_batch {method} 100,000 x k=12 (per analysis)"] = t / n
    return out


def bench_statsmodels() -> dict[str, float]:
    try:
        from statsmodels.stats.meta_analysis import combine_effects
    except ImportError:  # pragma: no cover - optional
        return {}
    y, v = _data(12)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("dl", "pm"):
            out[f"statsmodels combine_effects {method.upper()} k=12"] = median_time(
                lambda: combine_effects(y, v, method_re=method), 500
            )
    return out


R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
set.seed(1)
tm <- function(expr, n) { t0 <- proc.time()[["elapsed"]]; for (i in seq_len(n)) eval(expr); (proc.time()[["elapsed"]] - t0) / n }
out <- list()
for (k in c(12, 1000)) {
  vi <- runif(k, 0.01, 0.1); yi <- rnorm(k, 0.3, sqrt(vi + 0.05))
  n <- if (k == 12) 300 else 3
  out[[sprintf("metafor rma REML k=%d", k)]] <- tm(quote(rma(yi, vi, method="REML")), n)
}
vi <- runif(12, 0.01, 0.1); yi <- rnorm(12, 0.3, sqrt(vi + 0.05))
out[["metafor rma DL k=12"]] <- tm(quote(rma(yi, vi, method="DL")), 300)
cat(jsonlite::toJSON(out, auto_unbox=TRUE, digits=NA))
"""


def bench_metafor() -> dict[str, float]:
    return run_r_json(R_SCRIPT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the timings to this JSON file")
    parser.add_argument("--no-r", action="store_true", help="skip metafor even if R is installed")
    args = parser.parse_args(argv)
    results = {**bench_tpmeta(), **bench_statsmodels(), **({} if args.no_r else bench_metafor())}
    print(f"# {platform.processor() or platform.machine()}, Python {sys.version.split()[0]}, "
          f"NumPy {np.__version__}, tpmeta {tpmeta.__version__}")
    width = max(map(len, results))
    for name, seconds in results.items():
        rate = f"{1 / seconds:>14,.0f} /s" if "per analysis" in name else ""
        print(f"{name:<{width}}  {seconds * 1e3:10.4f} ms {rate}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
