"""`memwise demo` on the command line: quiet progress, the closing table and the exit code.

Exit code: 1 when an asset went over its memory limit or an ERROR-severity asset check
failed; WARN-severity checks that did not pass are listed, and the exit code stays 0.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from memwise_assets.demo import DEMO_END, DEMO_START, DemoResult, demo_home, format_table, run_demo
from memwise_assets.quiet import log_to_file
from memwise_assets.report.checks import failed


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
    lines.append(f"Browse them: DAGSTER_HOME={home} dagster dev   (or: memwise report)")
    return lines, code


def run(
    args: argparse.Namespace,
    say: Callable[[str, TextIO | None], None],
    run_config: Mapping[str, Any] | None,
) -> int:
    """Run the demo for the command line; return its exit code."""
    from memwise_assets.progress import progress

    home = demo_home(args.home)
    say(f"memwise demo: Dagster home {home}", None)
    from memwise_assets.doctor import recover_home

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
