"""The universe case's tables and ratios against their targets (printed, never asserted)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memwise_assets.bench.harness import BenchRow

FLOOR_TARGET = 3.0  # a step within 3x its I/O floor
FLAT_TARGET = 1.25  # peak increase at the larger universe / longer history
BRANCH_TARGET_S = 15 * 60  # the whole branch at 5,000 x 30 years
BRANCH_SIZE = (5000, 30)


@dataclass(frozen=True)
class Ratio:
    """One printed ratio; `value` None when a side is missing (a failed or skipped step)."""

    name: str
    value: float | None
    target: str
    why_missing: str = ""


def _steps(rows: Sequence[BenchRow]) -> dict[tuple[int, int, str], BenchRow]:
    return {
        (r.detail["tickers"], r.detail["years"], r.impl): r
        for r in rows
        if r.detail.get("kind") == "step"
    }


def _ok(row: BenchRow | None) -> bool:
    return row is not None and row.detail.get("status") == "ok"


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def ratios(rows: Sequence[BenchRow]) -> list[Ratio]:
    """Step / I/O floor, weekly vs polars, flat memory over tickers and years, branch time."""
    steps = _steps(rows)
    out: list[Ratio] = []
    for (n, y, step), row in steps.items():
        floor = row.detail.get("floor") or {}
        value = _div(row.seconds, floor.get("seconds")) if _ok(row) else None
        status = row.detail.get("status", "")
        why = "" if value is not None else status if not _ok(row) else floor.get("error", "")
        out.append(Ratio(f"{n}x{y}y {step} / its I/O floor (time)", value, "<= 3x", why))
    polars = {
        (r.detail["tickers"], r.detail["years"]): r for r in rows if r.impl.startswith("polars")
    }
    for (n, y), ref in polars.items():
        weekly = steps.get((n, y, "weekly_features"))
        ok = _ok(weekly) and not ref.note
        out.append(
            Ratio(
                f"{n}x{y}y weekly_features / polars streaming (time)",
                _div(weekly.seconds, ref.seconds) if ok else None,
                "report",
            )
        )
        out.append(
            Ratio(
                f"{n}x{y}y weekly_features / polars streaming (peak increase)",
                _div(weekly.peak_mb, ref.peak_mb) if ok else None,
                "report",
            )
        )
    # fmt: skip
    sizes = {(n, y) for n, y, _ in steps}
    if sizes:
        longest = max(y for _, y in sizes)
        tickers = sorted(n for n, y in sizes if y == longest)
        largest = max(n for n, _ in sizes)
        years = sorted(y for n, y in sizes if n == largest)
        names = dict.fromkeys(step for _, _, step in steps)
        pairs = [((tickers[-1], longest), (tickers[0], longest))] if len(tickers) > 1 else []
        pairs += [((largest, longest), (largest, years[0]))] if len(years) > 1 else []
        for big, small in pairs:
            for step in names:
                a, b = steps.get((*big, step)), steps.get((*small, step))
                value = _div(a.peak_mb, b.peak_mb) if _ok(a) and _ok(b) else None
                label = f"{big[0]}x{big[1]}y vs {small[0]}x{small[1]}y {step} (peak increase)"
                bad = [(size, r) for size, r in ((big, a), (small, b)) if not _ok(r)]
                why = "; ".join(
                    f"{n}x{y}y: {r.detail['status'] if r else 'missing'}" for (n, y), r in bad
                )
                out.append(Ratio(label, value, f"<= {FLAT_TARGET}x", why))
    for row in rows:
        if row.impl == "branch" and (row.detail["tickers"], row.detail["years"]) == BRANCH_SIZE:
            failed = [s for (n, y, s), r in steps.items() if (n, y) == BRANCH_SIZE and not _ok(r)]
            minutes = None if failed else row.seconds / 60
            why = f"{', '.join(failed)} did not succeed" if failed else ""
            out.append(
                Ratio("5000x30y whole branch wall time (minutes)", minutes, "<= 15 min", why)
            )
    return out


def _mb(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _dash(value: Any) -> str:
    return "-" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))


def format_universe(rows: Sequence[BenchRow]) -> str:
    """A table per universe (steps, then references), then the ratios."""
    lines: list[str] = []
    cases: dict[str, list[BenchRow]] = {}
    for row in rows:
        cases.setdefault(row.case, []).append(row)
    for case, group in cases.items():
        lines.append(f"\n{case}  (sample source; CLI runs on a fresh home)")
        lines.append(
            f"  {'step':<27} {'rows':>12} {'step s':>8} {'+MB/budget':>13} {'proc MB':>8} "
            f"{'blocks':>6} {'block rows':>10} {'tries':>5} {'floor s':>8} {'floor +MB':>9} "
            f"{'x floor':>7}  status"
        )
        for row in group:
            d = row.detail
            if d.get("kind") == "step":
                floor = d.get("floor") or {}
                ratio = _div(row.seconds, floor.get("seconds")) if _ok(row) else None
                budget = f"{_mb(d.get('rss_increase_mb'))}/{_mb(d.get('limit_mb'))}"
                status = d["status"] + "".join(f"; {m}" for m in d.get("memory_retries", []))
                if floor.get("error"):
                    status += f"; no floor: {floor['error']}"
                lines.append(
                    f"  {row.impl:<27} {row.items:>12,.0f} {row.seconds:>8.1f} {budget:>13} "
                    f"{_mb(d.get('peak_rss_mb')):>8} {_dash(d.get('blocks')):>6} "
                    f"{_dash(d.get('block_rows')):>10} {d.get('attempts', 0):>5} "
                    f"{_seconds(floor.get('seconds')):>8} "
                    f"{_mb(floor.get('peak_increase_mb')):>9} "
                    f"{'-' if ratio is None else f'{ratio:.1f}x':>7}  {status}"
                )
            elif row.impl == "after-close refresh":
                paths = "; ".join(f"{k} {v}" for k, v in d.get("paths", {}).items())
                lines.append(
                    f"  after-close refresh: {row.seconds:.0f} s (daily_bars "
                    f"{d.get('daily_bars_s', 0):.0f} s, downstream {d.get('downstream_s', 0):.0f}"
                    f" s; target 120 s): {paths}"
                )
            elif row.impl == "branch":
                cli = ", ".join(f"{k} {v:.0f} s" for k, v in d.get("cli_s", {}).items())
                lines.append(f"  whole branch wall time: {row.seconds:.0f} s ({cli})")
            else:
                what = row.note or f"{row.items:,.0f} rows"
                lines.append(
                    f"  reference {row.impl:<29} {row.seconds:>8.1f} s, peak +{row.peak_mb:,.0f} MB"
                    f" (child process): {what}"
                )
    lines.append("\nuniverse ratios against their targets ('-' where a side failed or is missing)")
    for ratio in ratios(rows):
        shown = "-" if ratio.value is None else f"{ratio.value:.2f}"
        # The full failure is in the step's table above: a line here says which.
        missing = (
            ratio.why_missing if len(ratio.why_missing) <= 60 else ratio.why_missing[:57] + "..."
        )
        why = f"  ({missing})" if ratio.value is None and missing else ""
        lines.append(f"  {ratio.name:<68} {shown:>8}  target {ratio.target}{why}")
    return "\n".join(lines)
