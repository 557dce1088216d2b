"""Five first demos at once on one empty home: none breaks it; a sixth afterwards succeeds.

Each demo initialises the home under its file lock (one schema migration, not five) and
the demos then share the pools, waiting for each other. A short partition range keeps the
five processes affordable on a small machine.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

QUICK = ["--start", "2024-01-02", "--end", "2024-01-05"]


def _demo(home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memwise_assets", "demo", "--home", str(home), *QUICK],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(home)},
    )


def _alembic_rows(home: Path) -> dict[str, int]:
    rows = {}
    for db in home.rglob("*.db"):
        with sqlite3.connect(db) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "alembic_version" in tables:
                rows[db.name] = conn.execute("SELECT COUNT(*) FROM alembic_version").fetchone()[0]
    return rows


@pytest.mark.slow
def test_five_concurrent_first_demos_then_a_sixth(tmp_path: Path) -> None:
    home = tmp_path / "fresh_home"
    demos = [_demo(home) for _ in range(5)]
    outputs = [demo.communicate(timeout=600)[0] for demo in demos]
    for demo, output in zip(demos, outputs, strict=True):
        assert demo.returncode == 0, output[-3000:]
        assert "All assets materialized within their limits" in output
    rows = _alembic_rows(home)
    assert rows and set(rows.values()) == {1}, rows
    sixth = _demo(home)
    output = sixth.communicate(timeout=300)[0]
    assert sixth.returncode == 0, output[-3000:]
