"""`memwise demo` on the command line: quiet progress, the closing table and the exit code.

Exit code: 1 when an asset went over its memory limit or an ERROR-severity asset check
failed; WARN-severity checks that did not pass are listed, and the exit code stays 0.
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from memwise_assets.cli.dagster_log import log_to_file
from memwise_assets.cli.demo import (
    DEMO_END,
    DEMO_START,
    DemoResult,
    demo_home,
    format_table,
    run_demo,
)
from memwise_assets.report.checks import failed

# defs/prices/partitions.py reads it when the definitions load: set before they are imported.
HISTORY_START_ENV = "MEMWISE_HISTORY_START"


def verdict(result: DemoResult, home: Path) -> tuple[list[str], int]:
    """The lines after the table, and the exit code they imply."""
    over = [r.asset for r in result.rows if not r.within_limit]
    failures = failed(result.checks)
    warnings = [c for c in result.checks if c.outcome == "warned"]

    def named(checks: list[Any]) -> str:
        return ", ".join(
            f"{c.asset}:{c.check}"
            + (f"[{c.partition}]" if c.partition else "")
            + (f" ({c.detail})" if c.detail else "")
            for c in checks
        )

    lines = []
    if over:
        lines.append(f"Over their memory limit: {', '.join(over)}")
    if failures:
        lines.append(f"Checks FAILED (ERROR severity): {named(failures)}")
    if warnings:
        lines.append(f"Checks warned (WARN severity, exit code unaffected): {named(warnings)}")
    code = 1 if over or failures else 0
    if code == 0:
        lines.append("All assets materialized within their memory limits; no ERROR check failed.")
    lines.append(f"Browse them: memwise ui --home {home}   (or: memwise report)")
    return lines, code


def history_file(home: Path) -> Path:
    """Where the demo notes the first month it was asked for (`memwise ui` reads it)."""
    return home / "memwise" / "history_start"


def own_data_config(
    args: argparse.Namespace, run_config: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The run config with --tickers (the universe) and --csv-folder (daily_bars) applied."""
    tickers = getattr(args, "tickers", None)
    folder = getattr(args, "csv_folder", None)
    if not (tickers or folder):
        return dict(run_config) if run_config else None
    merged: dict[str, Any] = copy.deepcopy(dict(run_config or {}))  # the caller's stays as given
    if tickers:
        from memwise_assets.compute.universe import read_universe

        universe = {"config": {"tickers": read_universe(tickers)}}
        merged.setdefault("resources", {})["universe"] = universe
    if folder:
        bars = merged.setdefault("ops", {}).setdefault("daily_bars", {"config": {}})
        bars.setdefault("config", {}).update(source="csv", csv_folder=str(Path(folder).resolve()))
    return merged


def run(
    args: argparse.Namespace,
    say: Callable[[str, TextIO | None], None],
    run_config: Mapping[str, Any] | None,
) -> int:
    """Run the demo for the command line; return its exit code."""
    from memwise_assets.cli.progress import progress

    run_config = own_data_config(args, run_config)
    if run_config and (getattr(args, "tickers", None) or getattr(args, "csv_folder", None)):
        from memwise_assets.cli.config_file import ConfigFileError
        from memwise_assets.defs.config_registry import asset_config_classes, resource_classes
        from memwise_assets.defs.run_config import config_problems

        problems = config_problems(run_config, asset_config_classes(), resource_classes())
        if problems:
            raise ConfigFileError("\n".join(f"{where}: {what}" for where, what in problems))
    # Months before the first one asked for are not missing work: the UI counts from it.
    os.environ.setdefault(HISTORY_START_ENV, args.start or DEMO_START)
    home = demo_home(args.home)
    history_file(home).parent.mkdir(parents=True, exist_ok=True)
    history_file(home).write_text(os.environ[HISTORY_START_ENV], encoding="utf-8")
    say(f"memwise demo: Dagster home {home}", None)
    from memwise_assets.cli.doctor import recover_home

    recover_home(home, say=lambda line: say(line, None))
    log_path = None if args.verbose else home / "memwise" / "demo.log"
    if log_path is not None:
        say(f"Dagster's log goes to {log_path} (--verbose shows it here)", None)
    try:
        with log_to_file(log_path) as terminal:
            result = run_demo(
                home,
                start=args.start or DEMO_START,
                end=args.end or DEMO_END,
                say=lambda line: say(line, terminal),
                progress=partial(progress, out=terminal),
                run_config=run_config,
            )
    except Exception:
        if log_path is not None and log_path.stat().st_size:  # Dagster wrote something
            say(f"the demo stopped; Dagster's log of it: {log_path}", None)
        raise
    print(format_table(result.rows))
    lines, code = verdict(result, home)
    print("\n".join(lines))
    return code
