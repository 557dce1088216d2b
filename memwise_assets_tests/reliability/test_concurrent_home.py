"""Five first runs at once on one empty home: none breaks it; a demo afterwards succeeds.

Each initialises the home the way `memwise demo` does (under the home's file lock: one
schema migration, not five), then materializes `daily_bars` for two days into it, all five
sharing the `prices` pool and waiting for each other. Five full demos would take ~150 s on
two cores for the same proof; the sixth run is a full `memwise demo`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

QUICK = ["--start", "2024-01", "--end", "2024-01"]


FIRST_RUN = """
import sys
import dagster as dg
from memwise_assets.cli.demo import demo_home
home = demo_home(sys.argv[1])
from memwise_assets.definitions import ASSETS, build_defs
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG as END, ASSET_PARTITION_RANGE_START_TAG as START)
defs = build_defs()
result = dg.materialize(ASSETS, selection=["daily_bars"], instance=dg.DagsterInstance.get(),
    resources=defs.resources, tags={START: "2024-01", END: "2024-01"})
print("first run ok" if result.success else "first run FAILED")
"""


def _first_run(home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", FIRST_RUN, str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(home)},
    )


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
def test_five_concurrent_first_runs_then_a_demo(tmp_path: Path) -> None:
    home = tmp_path / "fresh_home"
    firsts = [_first_run(home) for _ in range(5)]
    outputs = [first.communicate(timeout=600)[0] for first in firsts]
    for first, output in zip(firsts, outputs, strict=True):
        assert first.returncode == 0 and "first run ok" in output, output[-3000:]
    rows = _alembic_rows(home)
    assert rows["runs.db"] == 1 and max(rows.values()) == 1, rows  # one migration stamp
    sixth = _demo(home)
    output = sixth.communicate(timeout=300)[0]
    assert sixth.returncode == 0, output[-3000:]
    assert "All assets materialized within their memory limits" in output
