"""The `memwise` command line: demo, bench, report."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path


class UserError(Exception):
    """An error the user can fix; shown as one line with what to do."""


def _say(line: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    from memwise_assets.memory import current_rss_mb

    print(f"[{stamp}] {line}  (rss {current_rss_mb():.0f} MB)", flush=True)


def _demo(args: argparse.Namespace) -> int:
    from memwise_assets.demo import DEMO_END, DEMO_START, demo_home, format_table, run_demo

    home = demo_home(args.home)
    _say(f"memwise demo: Dagster home {home}")
    from memwise_assets.progress import progress

    rows = run_demo(
        home,
        start=args.start or DEMO_START,
        end=args.end or DEMO_END,
        say=_say,
        progress=progress,
    )
    print(format_table(rows))
    failed = [r.asset for r in rows if not r.within_limit]
    if failed:
        print(f"over their memory limit: {', '.join(failed)}")
        return 1
    print(
        f"\nAll assets materialized within their limits. Browse them: DAGSTER_HOME={home} "
        "dagster dev"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from memwise_assets.bench.runner import (
        CASE_MODULES,
        default_data_dir,
        format_rows,
        run_benchmarks,
        write_json,
    )

    data_dir = Path(args.data) if args.data else default_data_dir()
    if data_dir is not None and not data_dir.is_dir():
        raise UserError(f"--data {data_dir} is not a folder; give the folder holding prices/, sec/")
    _say(f"memwise bench: data {data_dir or '(none: synthetic cases only)'}")
    from memwise_assets.progress import progress

    rows = run_benchmarks(
        args.case or CASE_MODULES, data_dir=data_dir, quick=args.quick, say=_say, progress=progress
    )
    print(format_rows(rows))
    if args.json:
        write_json(rows, Path(args.json))
        _say(f"wrote {args.json}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import os

    import dagster as dg

    from memwise_assets.report import build_report

    home = Path(args.home or os.environ.get("DAGSTER_HOME") or ".memwise_home").resolve()
    if not ((home / "dagster.yaml").is_file() or (home / "history").is_dir()):
        raise UserError(f"no Dagster instance at {home}; run `memwise demo` first (or give --home)")
    out = Path(args.out) if args.out else home / "memwise" / "report"
    # The instance's dagster.yaml may name its storage through $DAGSTER_HOME.
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        page = build_report(instance, out, limit=args.limit)
    print(f"memory report: {page.parent}  (open {page})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memwise", description="Memory-safe Dagster assets for quant research data."
    )
    parser.add_argument("--verbose", action="store_true", help="Show tracebacks on errors.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="Materialize every asset on the offline sample.")
    demo.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    demo.add_argument("--start", help="First month of daily_bars (default 2024-01).")
    demo.add_argument("--end", help="Last month of daily_bars (default 2024-12).")
    demo.set_defaults(func=_demo)
    bench = sub.add_parser("bench", help="Run the benchmarks against their peers.")
    bench.add_argument("--case", action="append", help="Only this domain (repeatable).")
    bench.add_argument("--data", help="Folder with prices/, sec/, intraday/ (real data).")
    bench.add_argument("--quick", action="store_true", help="Small sizes, for a smoke run.")
    bench.add_argument("--json", help="Also write the rows to this JSON file.")
    bench.set_defaults(func=_bench)
    report = sub.add_parser("report", help="Write the memory report (HTML and PNG plots).")
    report.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    report.add_argument("--out", help="Folder to write to (default <home>/memwise/report).")
    report.add_argument(
        "--limit", type=int, default=20, help="Recent materializations per asset and runs shown."
    )
    report.set_defaults(func=_report)
    return parser


def user_message(exc: BaseException) -> str:
    """The first line of the innermost cause: what went wrong, not where Dagster caught it."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = getattr(exc, "description", None) or str(exc)
    first = text.strip().splitlines()[0] if text and text.strip() else type(exc).__name__
    return f"{first} ({type(exc).__name__})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the user; --verbose shows the rest
        if args.verbose:
            traceback.print_exc()
        print(f"memwise {args.command}: error: {user_message(exc)}", file=sys.stderr)
        if not args.verbose:
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
