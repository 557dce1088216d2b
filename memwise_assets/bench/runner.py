"""`memwise bench`: every case with its peers, measured in one process, printed as ratios."""

from __future__ import annotations

import importlib
import importlib.util
import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from memwise_assets.bench.harness import BenchRow

# Domain modules, each with run(data_dir, quick) -> list[BenchRow]; a module that needs real
# data says what in NEEDS, printed when it returns no row.
CASE_MODULES = ("memory", "prices", "weekly", "labels", "filings", "backfill", "estimator")
# Cases run only when named (`--case universe`): they take many minutes. Their `run` also takes
# the command line's options (`--full`, `--tickers`, `--years`) and `say` as keywords, and
# their rows are printed by their own formatter.
OPT_IN_MODULES = ("universe",)
# The peers (extra `bench`) each domain compares against: checked before anything runs, so a
# missing one does not cost the results of the cases before it.
PEERS: dict[str, tuple[str, ...]] = {"weekly": ("polars", "joblib"), "universe": ("polars",)}


def missing_peers(modules: Sequence[str]) -> list[str]:
    """The peer packages the named domains import that are not installed."""
    wanted = dict.fromkeys(peer for name in modules for peer in PEERS.get(name, ()))
    return [peer for peer in wanted if importlib.util.find_spec(peer) is None]


def default_data_dir() -> Path | None:
    """`../shared/data` beside the repository when it is there (the real benchmark data)."""
    for candidate in (Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return None


def run_benchmarks(
    modules: Sequence[str] = CASE_MODULES,
    data_dir: Path | None = None,
    quick: bool = False,
    say: Callable[[str], None] = lambda line: None,
    progress: Callable[[str], AbstractContextManager[object]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> list[BenchRow]:
    """Run the named domains' cases; return every row."""
    rows: list[BenchRow] = []
    for name in modules:
        if name not in (*CASE_MODULES, *OPT_IN_MODULES):
            raise ValueError(
                f"unknown benchmark {name!r}; expected one of "
                f"{', '.join((*CASE_MODULES, *OPT_IN_MODULES))}"
            )
        extra = {**(options or {}), "say": say} if name in OPT_IN_MODULES else {}
        module = importlib.import_module(f"memwise_assets.bench.{name}")
        began = time.perf_counter()
        say(f"bench {name}: running{' (quick)' if quick else ''}")
        with (progress or (lambda _title: nullcontext()))(f"bench {name}"):
            found = module.run(data_dir, quick, **extra)
        spent = f"{time.perf_counter() - began:.1f} s"
        if found:
            cases = ", ".join(dict.fromkeys(row.case for row in found))
            say(f"bench {name}: {cases}: {len(found)} rows in {spent}")
        else:
            needs = getattr(module, "NEEDS", "data this run did not have")
            say(f"bench {name}: skipped, it needs {needs}")
        rows.extend(found)
    return rows


def format_rows(rows: Sequence[BenchRow]) -> str:
    """A table per case: throughput and peak, with ratios against the case's first row."""
    universe = [row for row in rows if row.case.startswith("universe-")]
    text = _format_generic([row for row in rows if not row.case.startswith("universe-")])
    if universe:
        from memwise_assets.bench.universe_report import format_universe

        text += format_universe(universe)
    return text


def _format_generic(rows: Sequence[BenchRow]) -> str:
    lines: list[str] = []
    cases: dict[str, list[BenchRow]] = {}
    for row in rows:
        cases.setdefault(row.case, []).append(row)
    for case, group in cases.items():
        ref = group[0]
        lines.append(f"\n{case}")
        lines.append(
            f"  {'impl':<26} {'items':>12} {'unit':<8} {'seconds':>9} {'per s':>12} "
            f"{'peak MB':>9} {'speed x':>8}  note"
        )
        for row in group:
            speedup = ref.throughput / row.throughput if row.throughput else float("nan")
            lines.append(
                f"  {row.impl:<26} {row.items:>12,.0f} {row.unit:<8} {row.seconds:>9.3f} "
                f"{row.throughput:>12,.0f} {row.peak_mb:>9.1f} {speedup:>8.1f}  {row.note}"
            )
        lines.append(f"  (speed x: how many times faster {ref.impl} is than each row)")
    return "\n".join(lines)


def write_json(rows: Sequence[BenchRow], path: Path) -> None:
    """The rows as JSON, for comparing runs."""
    path.write_text(json.dumps([r.as_dict() for r in rows], indent=2), encoding="utf-8")
