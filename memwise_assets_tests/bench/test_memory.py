"""The memory benchmark module: case and implementation names, row shape (never times)."""

from __future__ import annotations

from memwise_assets.bench.harness import BenchRow
from memwise_assets.bench.memory import run


def test_quick_run_returns_the_documented_rows() -> None:
    rows = run(None, quick=True)
    assert all(isinstance(row, BenchRow) for row in rows)
    assert [(row.case, row.impl) for row in rows] == [
        ("admission-latency", "memwise"),
        ("monitor-overhead", "loop+monitor"),
        ("monitor-overhead", "loop"),
    ]
    assert rows[0].items == 200.0 and rows[0].unit == "reserve+release"
    assert rows[1].items == rows[2].items == 2_000_000.0
    assert "ms per uncontended round trip" in rows[0].note and "%" in rows[1].note
    assert all(row.seconds > 0 for row in rows)
