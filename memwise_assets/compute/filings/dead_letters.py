"""Dead-letter store of filings that failed, timed out or exceeded memory (SQLite)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    partition_key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    peak_mb REAL NOT NULL,
    seconds REAL NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed REAL NOT NULL,
    last_failed REAL NOT NULL
)
"""
_COLUMNS = (
    "partition_key",
    "path",
    "status",
    "reason",
    "peak_mb",
    "seconds",
    "attempts",
    "first_failed",
    "last_failed",
)


class DeadLetterStore:
    """Filings that need another go: why they failed, how often, and what they took."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as conn:
            conn.execute(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30.0)) as conn:
            with conn:
                yield conn

    def add(
        self,
        partition_key: str,
        path: str,
        status: str,
        reason: str,
        peak_mb: float,
        seconds: float,
    ) -> int:
        """Record a failure (or another failure) of one filing; return its attempt count."""
        now = time.time()
        with self._conn() as conn:
            conn.execute(
                """INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT(partition_key) DO UPDATE SET path=excluded.path,
                status=excluded.status, reason=excluded.reason, peak_mb=excluded.peak_mb,
                seconds=excluded.seconds, attempts=attempts + 1,
                last_failed=excluded.last_failed""",
                (partition_key, path, status, reason[:4000], peak_mb, seconds, now, now),
            )
            row = conn.execute(
                "SELECT attempts FROM dead_letters WHERE partition_key = ?", (partition_key,)
            ).fetchone()
        return int(row[0])

    def remove(self, partition_key: str) -> bool:
        """Forget a filing that has now succeeded; True if it was there."""
        with self._conn() as conn:
            cursor = conn.execute(
                "DELETE FROM dead_letters WHERE partition_key = ?", (partition_key,)
            )
        return cursor.rowcount > 0

    def get(self, partition_key: str) -> dict[str, Any] | None:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM dead_letters WHERE partition_key = ?",
                (partition_key,),
            ).fetchone()
        return dict(zip(_COLUMNS, row, strict=True)) if row else None

    def list(self) -> list[dict[str, Any]]:
        """Every dead letter, oldest first."""
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM dead_letters ORDER BY first_failed"
            ).fetchall()
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
