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
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import tpmeta

from .errors import ReportError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]


class CliError(Exception):
    """A problem to report to the user (exit status 1)."""


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV for a command; the index is the CSV line number (header = line 1).

    Every row must have as many fields as the header (pandas would otherwise turn an extra field into an
    index and shift every column), and column names must be unique.
    """
    import csv

    import pandas as pd  # here, not at the top: `tpmeta --help` should not wait for pandas

    path = Path(path)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CliError(f"{path}: cannot be read as CSV ({exc}); save it as UTF-8 CSV") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise CliError(f"{path}: the file is empty; it needs a header line and one line per study")
    header = [h.strip() for h in rows[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise CliError(f"{path}: line 1: column name(s) {', '.join(map(repr, repeated))} appear more than once; "
                       "rename or remove the extra column")  # fmt: skip
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if any(cell.strip() for cell in row) and len(row) != len(header):
                raise CliError(f"{path}: line {reader.line_num}: {len(row)} fields where the header has "
                               f"{len(header)}; check for a stray comma (a decimal comma?) or a missing value")  # fmt: skip
    try:
        frame = pd.read_csv(path, index_col=False, skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise CliError(f"{path}: cannot be read as CSV ({exc})") from None
    frame.columns = header
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
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(frame.to_string(index=False))


def _add_format(p: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json", "csv")) -> None:
    group = p.add_mutually_exclusive_group()
    for choice in choices[1:]:
        group.add_argument(f"--{choice}", dest="format", action="store_const", const=choice,
                           help=f"write {choice.upper()} to standard output")  # fmt: skip
    p.set_defaults(format=choices[0])


# ---- commands --------------------------------------------------------------------------------


@contextmanager
def _csv_lines(args: argparse.Namespace) -> Iterator[None]:
    """Problems found by the API name positions and yi/vi; say the CSV file, line and column instead."""
    try:
        yield
    except tpmeta.StudyDataError as exc:
        problems = [
            tpmeta.DataProblem(p.message, file=str(args.file),
                               row=None if p.row is None else int(p.row) + 2,
                               column={"yi": args.yi, "vi": args.vi}.get(p.column or "", p.column),
                               value=p.value, fix=p.fix)
            for p in exc.problems
        ]  # fmt: skip
        raise tpmeta.StudyDataError(problems) from None


def cmd_pool(args: argparse.Namespace) -> int:
    frame = read_csv(args.file)
    for col in (args.yi, args.vi):
        if col not in frame.columns:
            raise CliError(f"{args.file}: column '{col}' is missing (columns: {', '.join(frame.columns)}); "
                           f"name the columns with --yi and --vi")  # fmt: skip
    labels = frame[args.label].astype(str).tolist() if args.label in frame.columns else None
    with _csv_lines(args):
        res = tpmeta.pool(frame[args.yi], frame[args.vi], method=args.method, test=args.test,
                          level=args.level, labels=labels)  # fmt: skip
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


def cmd_validate(args: argparse.Namespace) -> int:
    report = tpmeta.validate_studies(args.path)
    print(report.summary(group_warnings=not args.all_warnings))
    return 0 if report.ok else 1


def cmd_rob2(args: argparse.Namespace) -> int:
    frame = read_csv(args.file)
    out = tpmeta.rob2_table(frame, source=str(args.file))
    keep = [c for c in ("study_id", "outcome", "d1", "d2", "d3", "d4", "d5", "overall") if c in out.columns]
    if args.format == "table":
        out = out[keep]
    print_frame(out, args.format)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .review.report import build_report

    path = build_report(args.studies, args.out, args.notebooks)
    print(path)
    return 0


def cmd_forest(args: argparse.Namespace) -> int:
    from . import plots
    from .review.build import build_review

    data = tpmeta.load_studies(args.studies)
    review = build_review(data)
    chosen = [r for r in review.analyses.values() if r.spec.outcome == args.outcome
              and (args.analysis is None or r.spec.analysis_id == args.analysis)]  # fmt: skip
    if not chosen:
        ids = ", ".join(f"{a} ({r.spec.outcome})" for a, r in review.analyses.items())
        raise CliError(f"no analysis of outcome '{args.outcome}'; declared analyses: {ids}")
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    out = Path(args.out)
    for res in chosen:
        if res.pooled is None:
            print(f"{res.spec.analysis_id}: no trials with usable numbers, no plot", file=sys.stderr)
            continue
        if args.timepoint:
            print("note: --timepoint selects by the analysis rule in studies/analyses.csv", file=sys.stderr)
        subgroups, subgroup_test = None, None
        if args.subgroup:
            if args.subgroup not in res.studies.columns:
                raise CliError(f"--subgroup {args.subgroup}: not a study attribute; use one of "
                               f"intervention_class, comparator_class, population")  # fmt: skip
            groups = res.studies[args.subgroup].astype(str).str.replace("_", " ")
            if groups.nunique() > 1:
                sg = tpmeta.subgroup_analysis(res.pooled.yi, res.pooled.vi, groups.to_numpy(), method=res.spec.method,
                                              test=res.spec.test, labels=list(res.pooled.study_labels))  # fmt: skip
                subgroups, subgroup_test = list(sg.subgroups), sg.test_text
        forest_args = review.forest_arguments(res.spec.analysis_id)  # the report's choices (favours, ratio, ...)
        if args.favours:
            forest_args["favours"] = tuple(args.favours)
        if args.effect_label:
            forest_args["effect_label"] = args.effect_label
        if args.xlim:
            forest_args["xlim"] = tuple(args.xlim)
        fig = plots.forest_plot(res.pooled, subgroups=subgroups, subgroup_test=subgroup_test, sort_by=args.sort,
                                width=args.width, columns=args.columns, **forest_args)  # fmt: skip
        for path in plots.save_figure(fig, out / f"forest_{res.spec.analysis_id}", formats=formats, dpi=args.dpi):
            print(path)
    return 0


def cmd_worklist(args: argparse.Namespace) -> int:
    from .review.worklist import full_text_worklist

    data = tpmeta.load_studies(args.studies)
    out = full_text_worklist(data, tpmeta.run_all(data))
    if args.top:
        out = out.head(args.top)
    if args.format in ("csv", "json"):
        print_frame(out, args.format)
        return 0
    shown = out.assign(ci_shrinkage=[("creates it" if k == 0 else f"{x:.0%}") if x == x else "n?"
                                     for x, k in zip(out["ci_shrinkage"], out["k_now"])],
                       p_flip=[f"{x:.0%}" if x == x else "-" for x in out["p_flip"]])  # fmt: skip
    print_frame(shown[["rank", "trial", "doi", "pmid", "n", "analysis_id", "k_now", "ci_shrinkage", "p_flip"]], "table")
    print(f"\n{len(out)} trial(s); ci_shrinkage: expected narrowing of the most affected analysis' CI; "
          "p_flip: chance its conclusion (CI includes no effect or not) changes. --csv for every column.")
    return 0


def cmd_gosh(args: argparse.Namespace) -> int:
    frame = read_csv(args.file)
    for col in (args.yi, args.vi):
        if col not in frame.columns:
            raise CliError(f"{args.file}: column '{col}' is missing; name the columns with --yi and --vi")
    with _csv_lines(args):
        out = tpmeta.gosh(frame[args.yi].tolist(), frame[args.vi].tolist(), args.method, test=args.test,
                          max_subsets=args.max_subsets, seed=args.seed, engine=args.engine)  # fmt: skip
    if args.format in ("csv", "json"):  # every subset, for further work
        print_frame(out, args.format)
        return 0
    est, i2 = out["estimate"], out["i2"]
    print(f"GOSH ({args.method}): {len(out):,} subsets of {len(frame)} studies")
    print(f"  pooled estimate: {est.min():.3g} to {est.max():.3g} (middle 90 %: {est.quantile(0.05):.3g} to "
          f"{est.quantile(0.95):.3g}); {100 * (est < 0).mean():.0f} % of subsets below 0")  # fmt: skip
    print(f"  I²: {i2.min():.0f} % to {i2.max():.0f} % (median {i2.median():.0f} %)")
    if args.plot:
        from . import plots

        stem = Path(args.plot)
        written = plots.save_figure(plots.gosh_plot(out), stem.with_suffix(""), formats=(stem.suffix.lstrip(".") or "png",))
        print(f"  plot: {written[0]}")
    print("  every subset: add --csv or --json")
    return 0


def cmd_add_study(args: argparse.Namespace) -> int:
    from .dataset.journal import read_study_file
    from .review.build import add_study

    changes = add_study(args.file, args.studies, dry_run=args.dry_run)
    rows = read_study_file(args.file)
    counts = ", ".join(f"{table}.csv +{len(items)} row{'s' if len(items) != 1 else ''}"
                       for table, items in rows.items() if items)  # fmt: skip
    print(f"{'would write (dry run, nothing written)' if args.dry_run else 'wrote'} {counts} in {args.studies}")
    if changes.empty:
        print("no pooled analysis changed")
    else:
        print("Changes in the pooled analyses:")
        print_frame(changes, "table")
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

    p = sub.add_parser("validate", help="check the dataset against its schema and the cross-checks")
    p.add_argument("path", nargs="?", default="studies", help="the studies/ folder (default: studies)")
    p.add_argument("--all-warnings", action="store_true",
                   help="list every warning on its own line (default: one line per kind, with its rows)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("rob2", help="RoB 2 judgements from signalling answers (d1_1 ... d5_3)")
    p.add_argument("file", help="CSV with study_id, optional outcome, d1_1 ... d5_3")
    _add_format(p)
    p.set_defaults(func=cmd_rob2)

    p = sub.add_parser("report", help="run the notebooks and write reports/index.html")
    p.add_argument("--studies", default="studies")
    p.add_argument("--out", default="reports")
    p.add_argument("--notebooks", default="notebooks")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("forest", help="forest plots of the shipped analyses, for papers")
    p.add_argument("--outcome", required=True, help="e.g. pain_intensity, pressure_pain_threshold")
    p.add_argument("--analysis", help="one analysis_id (default: every analysis of the outcome)")
    p.add_argument("--timepoint", help="(the time point rule is declared per analysis in analyses.csv)")
    p.add_argument("--subgroup", help="study attribute for subgroups, e.g. intervention_class")
    p.add_argument("--sort", choices=["weight", "effect", "year"], help="order of the studies")
    p.add_argument("--format", default="pdf,svg,png", help="comma-separated: pdf,svg,eps,png,tiff")
    p.add_argument("--width", default="double", choices=["single", "double"])
    p.add_argument("--favours", nargs=2, metavar=("LEFT", "RIGHT"), help='labels under the axis, e.g. "Favours TPI" "Favours sham"')
    p.add_argument("--effect-label", help="column header of the effects (default: the measure, e.g. SMD)")
    p.add_argument("--xlim", nargs=2, type=float, metavar=("LOW", "HIGH"), help="x-axis limits (intervals beyond get arrows)")
    p.add_argument("--columns", help="comma-separated, beside the study labels: arms,weight,effect,rob "
                   "(default: all there are data for; at --width single those that do not fit are left out, with a note)")
    p.add_argument("--dpi", type=int, default=300, choices=[300, 600, 1200], help="for PNG/TIFF (1200: line art)")
    p.add_argument("--studies", default="studies")
    p.add_argument("--out", default="figures", help="folder for the files (default: figures; the report's own figures are never overwritten unless given here)")
    p.set_defaults(func=cmd_forest)

    p = sub.add_parser("worklist", help="the full texts to extract first, ranked by how much they could change the analyses")
    p.add_argument("--studies", default="studies")
    p.add_argument("--top", type=int, default=None, help="show only the first N trials")
    _add_format(p)
    p.set_defaults(func=cmd_worklist)

    p = sub.add_parser("gosh", help="GOSH: the model fitted to every subset of studies")
    p.add_argument("file", help="CSV with yi and vi")
    p.add_argument("--yi", default="yi")
    p.add_argument("--vi", default="vi")
    p.add_argument("--method", default="REML", choices=[m.value for m in tpmeta.Method])
    p.add_argument("--test", default="z", choices=[t.value for t in tpmeta.Test])
    p.add_argument("--max-subsets", type=int, default=1_000_000, help="sample this many subsets beyond it")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--engine", default="numpy", choices=["numpy", "dask"],
                   help="dask: spread the chunks over the active Dask client or local scheduler")
    p.add_argument("--plot", default="gosh.png", help="write the GOSH plot here (pdf, svg, png or tiff); '' for none")
    _add_format(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_gosh)

    p = sub.add_parser("add-study", help="add a trial (YAML or CSV) and show what changed")
    p.add_argument("file", help="YAML file with trial, outcomes, rob2 (see README)")
    p.add_argument("--studies", default="studies")
    p.add_argument("--dry-run", action="store_true", help="validate and show changes, write nothing")
    p.set_defaults(func=cmd_add_study)
    return parser


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
    except (tpmeta.StudyDataError, CliError, ValueError, ReportError) as exc:
        print(f"tpmeta {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tpmeta {args.command}: interrupted; nothing was changed", file=sys.stderr)
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
