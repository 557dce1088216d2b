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
    """A run config file in the Launchpad's layout (YAML or JSON), checked, or None.

    Every problem of its asset and resource config is refused at once, with line and column.
    """
    if not path:
        return None
    from memwise_assets.cli.config_file import check_config_file

    return check_config_file(path)


def _check_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", help="Run config file (YAML/JSON, the Launchpad's ops: and resources: layout)."
    )


def _check_config(args: argparse.Namespace) -> int:
    _load_run_config(args.config)
    print(f"{args.config}: the asset and resource config is valid")
    return 0


def _path_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("asset", help="Asset name, e.g. daily_with_weekly_features.")
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")


def _path(args: argparse.Namespace) -> int:
    from memwise_assets.reader import asset_path

    try:
        print(asset_path(args.asset, args.home))
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    return 0


def _ui_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    parser.add_argument("--port", type=int, default=3000, help="Port of the UI (default 3000).")
    parser.add_argument("--host", default="127.0.0.1", help="Interface (default 127.0.0.1).")


def _ui(args: argparse.Namespace) -> int:
    """The Dagster UI and daemon on memwise's definitions, from any folder."""
    import os
    import subprocess

    from memwise_assets.cli.demo import demo_home
    from memwise_assets.cli.demo_command import HISTORY_START_ENV, history_file

    home = demo_home(args.home)  # the demo's home: created with memwise's dagster.yaml if new
    noted = history_file(home)
    history = {HISTORY_START_ENV: noted.read_text().strip()} if noted.is_file() else {}
    env = {
        **history,
        **os.environ,
        "DAGSTER_HOME": str(home),
        # `dagster dev -m` is what `dg dev` runs for a project; its notice that `dg dev`
        # supersedes it is for people typing the command, not for this wrapper.
        "PYTHONWARNINGS": "ignore:Function `dev_command` is superseded",
    }
    command = [
        sys.executable, "-m", "dagster", "dev", "-m", "memwise_assets.definitions",
        "--host", args.host, "--port", str(args.port),
    ]  # fmt: skip
    _say(f"memwise ui: Dagster home {home}; open http://{args.host}:{args.port}")
    # Run from the home: Dagster then reads the dagster.yaml it finds there, and no other.
    process = subprocess.Popen(command, cwd=home, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM to memwise: dagster dev stops its webserver and daemon on SIGINT.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    parser.add_argument("--start", help="First month of daily_bars (default 2024-01).")
    parser.add_argument("--end", help="Last month of daily_bars (default 2024-12).")
    parser.add_argument("--config", help="Run config (YAML/JSON, ops: layout), checked first.")
    parser.add_argument(
        "--tickers", help="The ticker universe: AAPL,MSFT,... or a file of tickers, one a line."
    )
    parser.add_argument("--csv-folder", help="Read daily_bars from this folder of <TICKER>.csv.")


def _bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", action="append", help="Only this domain (repeatable).")
    parser.add_argument("--data", help="Folder with prices/, sec/, intraday/ (real data).")
    parser.add_argument("--quick", action="store_true", help="Small sizes, for a smoke run.")
    parser.add_argument("--json", help="Also write the rows to this JSON file.")
    parser.add_argument("--full", action="store_true", help="Largest sizes (universe: 10,000).")
    parser.add_argument("--tickers", type=_counts, help="universe: ticker counts, e.g. 1000,5000.")
    parser.add_argument("--years", type=_counts, help="universe: years of history, e.g. 30,5.")


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive whole numbers like 1000,5000; got {text!r}"
        )
    return counts


def recover(home: Path | None) -> None:
    """What every entry point does first: mend runs whose processes died (see doctor)."""
    from memwise_assets.cli.doctor import recover_home

    if home is not None:
        recover_home(home, say=_say)


def _doctor_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="Dagster home (default $DAGSTER_HOME or ./.memwise_home).")
    parser.add_argument("--check", action="store_true", help="Only show; exit 1 if anything.")


def _doctor(args: argparse.Namespace) -> int:
    import os

    from memwise_assets.cli.doctor import doctor

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
    from memwise_assets.cli.progress import progress

    options = {"full": args.full, "tickers": args.tickers, "years": args.years}
    rows = run_benchmarks(
        modules, data_dir=data_dir, quick=args.quick, say=_say, progress=progress, options=options
    )
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
    from memwise_assets.cli.demo_command import run

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
    "demo": ("Materialize every asset: the offline sample, or your --csv-folder, --tickers, "
             "--config.", _demo_args, _demo),
    "bench": ("Run the benchmarks against their peers.", _bench_args, _bench),
    "report": ("Write the memory report (HTML and PNG plots).", _report_args, _report),
    "check-config": ("Check a run config file before launching it.", _check_config_args,
                     _check_config),
    "ui": ("Start the Dagster UI and daemon on memwise's definitions (any folder).",
           _ui_args, _ui),
    "path": ("Print where an asset's Parquet data is stored (a file or a folder).",
             _path_args, _path),
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
    from memwise_assets.cli.config_file import ConfigFileError
    from memwise_assets.defs.run_config import RunConfigError

    refused = isinstance(exc, RunConfigError | ConfigFileError)
    return str(exc).splitlines() if refused else []


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
