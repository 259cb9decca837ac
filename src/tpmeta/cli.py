"""Command-line interface: a thin layer over the public API (``tpmeta --help``).

Every command reads plain CSV, prints a table (or ``--json``/``--csv``), and turns data problems into
a clear message naming the file, row, column and value, with exit status 1 and no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import pandas as pd

import tpmeta

__all__ = ["main"]


class CliError(Exception):
    """A problem to report to the user (exit status 1)."""


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV for a command; the index is set to the CSV line number (header = line 1)."""
    path = Path(path)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise CliError(f"{path}: cannot be read as CSV ({exc})") from None
    frame.index = range(2, len(frame) + 2)
    return frame


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def print_json(obj: Any) -> None:
    print(json.dumps(_clean(obj), indent=2, default=_json_default, allow_nan=False))


def print_frame(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "json":
        print_json(json.loads(frame.to_json(orient="records")))
    elif fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(frame.to_string(index=False))


def _add_format(p: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json", "csv")) -> None:
    group = p.add_mutually_exclusive_group()
    for choice in choices[1:]:
        group.add_argument(f"--{choice}", dest="format", action="store_const", const=choice,
                           help=f"write {choice.upper()} to standard output")  # fmt: skip
    p.set_defaults(format=choices[0])


# ---- commands --------------------------------------------------------------------------------


def cmd_pool(args: argparse.Namespace) -> int:
    frame = read_csv(args.file)
    for col in (args.yi, args.vi):
        if col not in frame.columns:
            raise CliError(f"{args.file}: column '{col}' is missing (columns: {', '.join(frame.columns)}); "
                           f"name the columns with --yi and --vi")  # fmt: skip
    labels = frame[args.label].astype(str).tolist() if args.label in frame.columns else None
    try:
        res = tpmeta.pool(frame[args.yi], frame[args.vi], method=args.method, test=args.test,
                          level=args.level, labels=labels)  # fmt: skip
    except tpmeta.StudyDataError as exc:
        # rows in messages are positions; translate to CSV lines
        problems = [
            tpmeta.DataProblem(p.message, file=str(args.file),
                               row=None if p.row is None else int(p.row) + 2,
                               column={"yi": args.yi, "vi": args.vi}.get(p.column or "", p.column),
                               value=p.value, fix=p.fix)
            for p in exc.problems
        ]  # fmt: skip
        raise tpmeta.StudyDataError(problems) from None
    if args.format == "json":
        print_json(res.to_dict())
    else:
        print(repr(res))
    return 0


def cmd_effects(args: argparse.Namespace) -> int:
    frame = read_csv(args.file)
    columns = {k: v for k, v in vars(args).items() if k in _COLUMN_OPTIONS and v is not None}
    out = tpmeta.effect_sizes(frame, args.measure, add=args.add, to=args.to, ratio=args.ratio,
                              level=args.level, source=str(args.file), **columns)  # fmt: skip
    print_frame(out, args.format)
    return 0


_COLUMN_OPTIONS = (
    "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i", "ai", "bi", "ci", "di", "estimate", "ci_low",
    "ci_high", "sei", "sd1i_pre", "sd1i_post", "sd2i_pre", "sd2i_post", "ri",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tpmeta", description="Meta-analysis of trigger-point therapy trials.")
    parser.add_argument("--version", action="version", version=f"tpmeta {tpmeta.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("pool", help="pool effect sizes from any CSV with yi and vi columns")
    p.add_argument("file", help="CSV file")
    p.add_argument("--yi", default="yi", help="column of effect sizes (default: yi)")
    p.add_argument("--vi", default="vi", help="column of sampling variances (default: vi)")
    p.add_argument("--label", default="study_id", help="column of study labels (default: study_id)")
    p.add_argument("--method", default="REML", choices=[m.value for m in tpmeta.Method])
    p.add_argument("--test", default="z", choices=[t.value for t in tpmeta.Test])
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    _add_format(p, ("table", "json"))
    p.set_defaults(func=cmd_pool)

    p = sub.add_parser("effects", help="compute effect sizes (yi, vi) for every row of a CSV")
    p.add_argument("file", help="CSV file")
    p.add_argument("--measure", required=True, choices=[m.value for m in tpmeta.Measure])
    for name in _COLUMN_OPTIONS:
        p.add_argument(f"--{name}", metavar="COL", help=f"column holding {name} (default: {name})")
    p.add_argument("--add", type=float, default=0.5, help="zero-cell correction (default 0.5)")
    p.add_argument("--to", default="only0", choices=[z.value for z in tpmeta.ZeroCells])
    p.add_argument("--ratio", action="store_true", help="GENERIC: estimates are ratios (log scale)")
    p.add_argument("--level", type=float, default=0.95, help="GENERIC: level of the reported CIs")
    _add_format(p)
    p.set_defaults(func=cmd_effects)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


#: other modules' commands register here (keeps this file a thin dispatcher)
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", tpmeta.TpmetaWarning)
            status = int(args.func(args) or 0)
        for w in caught:
            print(f"tpmeta {args.command}: warning: {w.message}", file=sys.stderr)
        return status
    except (tpmeta.StudyDataError, CliError, ValueError) as exc:
        print(f"tpmeta {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
