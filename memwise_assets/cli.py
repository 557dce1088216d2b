"""The `memwise` command line: demo, bench, report, check-config, doctor, cluster.

Each subcommand is one entry of `COMMANDS`: a function adding its arguments and the function
running it. `--verbose` is accepted before and after the subcommand.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO


class UserError(Exception):
    """An error the user can fix; shown as one line with what to do."""


def _say(line: str, out: TextIO | None = None) -> None:
    stamp = time.strftime("%H:%M:%S")
    from memwise_assets.memory import current_rss_mb

    print(f"[{stamp}] {line}  (rss {current_rss_mb():.0f} MB)", file=out or sys.stdout, flush=True)


def _load_run_config(path: str | None) -> dict[str, Any] | None:
    """A run config file in the Launchpad's layout (YAML or JSON), or None."""
    if not path:
        return None
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"--config {path}: cannot read it as YAML/JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise UserError(f"--config {path}: expected a mapping with `ops:`, got {type(loaded)}")
    return loaded


def _check_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="Run config file (YAML/JSON, the Launchpad's ops: layout).")


def _check_config(args: argparse.Namespace) -> int:
    from memwise_assets.definitions import ASSETS
    from memwise_assets.defs.run_config import check_run_config

    check_run_config(_load_run_config(args.config), ASSETS)
    print(f"{args.config}: the asset config is valid")
    return 0


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    parser.add_argument("--start", help="First month of daily_bars (default 2024-01).")
    parser.add_argument("--end", help="Last month of daily_bars (default 2024-12).")
    parser.add_argument("--config", help="Run config (YAML/JSON, ops: layout), checked first.")


def _bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", action="append", help="Only this domain (repeatable).")
    parser.add_argument("--data", help="Folder with prices/, sec/, intraday/ (real data).")
    parser.add_argument("--quick", action="store_true", help="Small sizes, for a smoke run.")
    parser.add_argument("--json", help="Also write the rows to this JSON file.")


def recover(home: Path | None) -> None:
    """What every entry point does first: mend runs whose processes died (see doctor)."""
    from memwise_assets.doctor import recover_home

    if home is not None:
        recover_home(home, say=_say)


def _doctor_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    parser.add_argument("--check", action="store_true", help="Only show; exit 1 if anything.")


def _doctor(args: argparse.Namespace) -> int:
    import os

    from memwise_assets.doctor import doctor

    home = Path(args.home or os.environ.get("DAGSTER_HOME") or ".memwise_home").resolve()
    if not (home / "dagster.yaml").is_file():
        raise UserError(f"no Dagster instance at {home}; give --home or set DAGSTER_HOME")
    return doctor(home, say=_say, mend=not args.check)


def _bench(args: argparse.Namespace) -> int:
    from memwise_assets.bench.runner import (
        CASE_MODULES,
        default_data_dir,
        format_rows,
        missing_peers,
        run_benchmarks,
        write_json,
    )

    modules = args.case or CASE_MODULES
    missing = missing_peers(modules)
    if missing:
        raise UserError(
            f"the benchmarks' peers are not installed ({', '.join(missing)}); "
            'run: pip install -e ".[bench]"'
        )
    data_dir = Path(args.data) if args.data else default_data_dir()
    if data_dir is not None and not data_dir.is_dir():
        raise UserError(f"--data {data_dir} is not a folder; give the folder holding prices/, sec/")
    _say(f"memwise bench: data {data_dir or '(none: synthetic cases only)'}")
    import os

    bench_home = os.environ.get("DAGSTER_HOME")
    recover(Path(bench_home) if bench_home else None)
    from memwise_assets.progress import progress

    rows = run_benchmarks(modules, data_dir=data_dir, quick=args.quick, say=_say, progress=progress)
    print(format_rows(rows))
    if args.json:
        write_json(rows, Path(args.json))
        _say(f"wrote {args.json}")
    return 0


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    parser.add_argument("--out", help="Folder to write to (default <home>/memwise/report).")
    parser.add_argument(
        "--limit", type=int, default=20, help="Recent materializations per asset and runs shown."
    )
    parser.add_argument(
        "--webserver-url",
        default="http://127.0.0.1:3000",
        help="Dagster UI the run links point to (default http://127.0.0.1:3000).",
    )


def _report(args: argparse.Namespace) -> int:
    import os

    import dagster as dg

    from memwise_assets.report import build_report

    home = Path(args.home or os.environ.get("DAGSTER_HOME") or ".memwise_home").resolve()
    if not ((home / "dagster.yaml").is_file() or (home / "history").is_dir()):
        raise UserError(f"no Dagster instance at {home}; run `memwise demo` first (or give --home)")
    out = Path(args.out) if args.out else home / "memwise" / "report"
    recover(home)
    # The instance's dagster.yaml may name its storage through $DAGSTER_HOME.
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        page = build_report(instance, out, limit=args.limit, webserver_url=args.webserver_url)
    print(f"memory report: {page.parent}  (open {page})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from memwise_assets.demo_cli import run

    return run(args, _say, _load_run_config(args.config))


def _cluster_args(parser: argparse.ArgumentParser) -> None:
    from memwise_assets.cluster.command import add_arguments

    add_arguments(parser)


def _cluster(args: argparse.Namespace) -> int:
    from memwise_assets.cluster.command import run

    return run(args)


# name -> (help, add its arguments, run it)
COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {
    "demo": ("Materialize every asset on the offline sample.", _demo_args, _demo),
    "bench": ("Run the benchmarks against their peers.", _bench_args, _bench),
    "report": ("Write the memory report (HTML and PNG plots).", _report_args, _report),
    "check-config": ("Check a run config file before launching it.", _check_config_args,
                     _check_config),
    "doctor": ("Show and mend dead runs, stuck pool slots and dead ledger holders.",
               _doctor_args, _doctor),
    "cluster": ("Start or stop a local cluster: Postgres, Redis, two Celery hosts, daemon, UI.",
                _cluster_args, _cluster),
}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memwise", description="Memory-safe Dagster assets for quant research data."
    )
    verbose_help = "Show Dagster's log live and tracebacks on errors."
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        add_arguments(command)
        # SUPPRESS: a --verbose given before the subcommand is not reset by this default.
        command.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help
        )
        command.set_defaults(func=run)
    return parser


def user_message(exc: BaseException) -> str:
    """The first line of the innermost cause: what went wrong, not where Dagster caught it."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = getattr(exc, "description", None) or str(exc)
    first = text.strip().splitlines()[0] if text and text.strip() else type(exc).__name__
    return f"{first} ({type(exc).__name__})"


def _config_problems(exc: BaseException) -> list[str]:
    """The lines of a refused run config (one per problem), or [] for any other error."""
    from memwise_assets.defs.run_config import RunConfigError

    return str(exc).splitlines() if isinstance(exc, RunConfigError) else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        # Beta notices of the pinned Dagster version (BackfillPolicy) are not the user's to act on.
        warnings.filterwarnings("ignore", message=".*is currently in beta")
    # SIGTERM stops memwise the way Ctrl-C does (runs end as interrupted, nothing half-held).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the user; --verbose shows the rest
        problems = _config_problems(exc)
        if args.verbose:
            traceback.print_exc()
        for line in problems or [user_message(exc)]:
            print(f"memwise {args.command}: error: {line}", file=sys.stderr)
        if not (args.verbose or problems):
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        return 1
    except BaseException as exc:
        # Ctrl-C or SIGTERM inside a Dagster run surfaces as Dagster's own interrupt error.
        if type(exc).__name__ != "DagsterExecutionInterruptedError":
            raise
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
