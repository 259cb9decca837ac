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


def _median_over_datasets(method: str, **kwargs) -> float:
    """Median time of one k = 12 fit over 20 simulated datasets (true τ² = 0.05): a single dataset may
    happen to give τ² = 0 (one iteration) and flatter the timing."""
    sets = [_data(12, seed=s) for s in range(20)]
    return float(np.median([median_time(lambda: tpmeta.pool(y, v, method=method, **kwargs), 200, 3) for y, v in sets]))


def bench_tpmeta() -> dict[str, float]:
    out: dict[str, float] = {
        "tpmeta pool REML k=12 (fit, no tau2 CI)": _median_over_datasets("REML", tau2_ci=False),
        "tpmeta pool REML k=12 (with Q-profile CI)": _median_over_datasets("REML"),
    }
    for k in (1000, 10000):
        y, v = _data(k)
        out[f"tpmeta pool REML k={k} (fit, no tau2 CI)"] = median_time(
            lambda: tpmeta.pool(y, v, method="REML", tau2_ci=False), 50
        )
        out[f"tpmeta pool REML k={k} (with Q-profile CI)"] = median_time(lambda: tpmeta.pool(y, v, method="REML"), 50)
    out["tpmeta pool DL k=12 (fit, no tau2 CI)"] = _median_over_datasets("DL", tau2_ci=False)
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
tm <- function(expr, n, env = parent.frame()) { t0 <- proc.time()[["elapsed"]]; for (i in seq_len(n)) eval(expr, env); (proc.time()[["elapsed"]] - t0) / n }
out <- list()
times <- sapply(1:20, function(s) { set.seed(s); vi <- runif(12, 0.01, 0.1); yi <- rnorm(12, 0.3, sqrt(vi + 0.05)); tm(quote(rma(yi, vi, method="REML")), 30) })
out[["metafor rma REML k=12 (median of 20 datasets)"]] <- median(times)
vi <- runif(1000, 0.01, 0.1); yi <- rnorm(1000, 0.3, sqrt(vi + 0.05))
out[["metafor rma REML k=1000"]] <- tm(quote(rma(yi, vi, method="REML")), 3)
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
