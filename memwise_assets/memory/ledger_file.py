"""The ledger's SQLite file: one connection per thread and process, healed when it breaks.

A deleted file is started afresh, an unreadable one is moved aside (kept for a post-mortem)
and replaced; a rebuilt file admits nothing new for `REJOIN_S`, while live holders write
their reservations back (see `MemoryLedger`'s heartbeat). `MemoryLedger` keeps the
admission rules; this module keeps the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_log = logging.getLogger("memwise_assets.memory.ledger")

LEDGER_DIR_ENV = "MEMWISE_LEDGER_DIR"

# v2: reservations are identified by a random token, never by a reusable row number.
DB_NAME = "memwise-ledger-v2.sqlite3"
# Holders re-write their rows this often, so a ledger rebuilt after deletion or corruption
# learns them again; a rebuilt ledger admits nothing new until REJOIN_S have passed.
HEARTBEAT_S = 1.0
REJOIN_S = 3.0 * HEARTBEAT_S
# A row claiming more than this (a petabyte) or less than nothing was not written by a ledger.
MAX_ROW_MB = 1e9
# Rows any process may have written: sizes validated on read, never trusted into the sums.
_INVALID_ROW = (
    "typeof(mb) NOT IN ('real', 'integer') OR NOT (mb >= 0 AND mb <= ?) OR typeof(pid) != 'integer'"
)


def default_ledger_dir() -> Path:
    """The host's ledger folder: $MEMWISE_LEDGER_DIR, else one per user in the temp folder.

    Every memwise process of this user on this host (any Dagster home) shares it; other
    users and other hosts (or containers with their own /tmp) have their own.
    """
    explicit = os.environ.get(LEDGER_DIR_ENV)
    if explicit:
        return Path(explicit)
    return Path(tempfile.gettempdir()) / f"memwise-ledger-{os.getuid()}"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL, mb REAL NOT NULL CHECK (mb >= 0 AND mb <= 1e9), pid INTEGER NOT NULL,
    pstart REAL, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS waiters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL, mb REAL NOT NULL CHECK (mb >= 0 AND mb <= 1e9), pid INTEGER NOT NULL,
    pstart REAL, enqueued REAL NOT NULL, heartbeat REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL, event TEXT NOT NULL, label TEXT NOT NULL, mb REAL NOT NULL,
    pid INTEGER NOT NULL, total_mb REAL NOT NULL, pool_mb REAL NOT NULL);
"""


class LedgerFile:
    """The SQLite file under `folder`; `on_fork(pid)` and `on_new_file(conn)` tell the ledger."""

    def __init__(
        self,
        folder: Path,
        busy_timeout_s: float,
        *,
        on_fork: Callable[[int], None],
        on_new_file: Callable[[sqlite3.Connection], None],
    ) -> None:
        self.dir = folder
        self.db_path = folder / DB_NAME
        self._busy_timeout_s = busy_timeout_s
        self._on_fork = on_fork
        self._on_new_file = on_new_file
        self._local = threading.local()
        self._generation = 0
        self._pid = os.getpid()
        self.open_or_recover()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=self._busy_timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        # WAL without fsync per commit: a crash may lose the last reservations, which
        # died with their holders anyway; it never corrupts the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        try:
            inode = self.db_path.stat().st_ino
        except FileNotFoundError:
            # Deleted or moved aside by another process's recovery: start a fresh file.
            self.open_or_recover()
            inode = self.db_path.stat().st_ino
        cached = getattr(self._local, "conn", None)
        if cached is not None and cached[:3] == (pid, self._generation, inode):
            return cached[3]
        if cached is not None and cached[0] == pid:
            # Another process replaced the file: our handle still points at the old one.
            cached[3].close()
        if pid != self._pid:
            self._pid = pid
            self._on_fork(pid)
        conn = self._connect()
        self._local.conn = (pid, self._generation, inode, conn)
        if cached is not None and cached[0] == pid:
            self._on_new_file(conn)  # a new file: put our live reservations back at once
        return conn

    @contextlib.contextmanager
    def file_lock(self) -> Iterator[None]:
        with open(self.dir / "ledger.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _initialise(self, rebuilt: bool = False) -> None:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
            if rebuilt:
                # Live holders of the lost file re-appear within a heartbeat or two.
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('rejoin_until', ?)",
                    (time.time() + REJOIN_S,),
                )
            row = conn.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check says {row[0] if row else None}")
        finally:
            conn.close()

    def open_or_recover(self) -> None:
        # The lock file outlives the database: a missing database beside it was deleted.
        known = (self.dir / "ledger.lock").exists()
        self.dir.mkdir(parents=True, exist_ok=True)  # the whole folder may have been removed
        with self.file_lock():
            try:
                rebuilt = known and not self.db_path.exists()
                if rebuilt:
                    _log.error("memory ledger %s vanished; starting a new one", self.db_path)
                self._initialise(rebuilt)
                return
            except sqlite3.OperationalError as error:
                if is_locked(error):
                    raise
                reason = error
            except sqlite3.DatabaseError as error:
                reason = error
            self._move_aside(reason)
            self._initialise(rebuilt=True)

    def _move_aside(self, reason: BaseException) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.db_path}{suffix}")
            if source.exists():
                os.replace(source, f"{aside}{suffix}")
        self._generation += 1
        _log.error(
            "memory ledger %s was unreadable (%s); moved it to %s and started a new one",
            self.db_path,
            reason,
            aside,
        )

    @contextlib.contextmanager
    def transaction(self, busy_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`; `busy_s` bounds the wait for a lock held elsewhere.

        A lock not had within the bound is an OperationalError naming this file.
        """
        conn = self.connection()
        if busy_s is not None:
            conn.execute(f"PRAGMA busy_timeout = {max(1, int(busy_s * 1000))}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if is_locked(error):
                raise sqlite3.OperationalError(
                    f"memory ledger {self.db_path}: {error} (another process holds its lock)"
                ) from error
            raise
        except sqlite3.DatabaseError as error:
            # Corrupted under our feet (e.g. overwritten): recover once, then retry.
            with self.file_lock():
                self._move_aside(error)
                self._initialise(rebuilt=True)
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.OperationalError as error:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if "full" in str(error):  # "database or disk is full": say which file
                raise sqlite3.OperationalError(f"memory ledger {self.db_path}: {error}") from error
            raise
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        finally:
            if busy_s is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")


def is_locked(error: BaseException) -> bool:
    """Whether a SQLite error says another connection holds the lock (worth waiting out)."""
    text = str(error)
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def drop_invalid_rows(conn: sqlite3.Connection, db_path: Path) -> list[dict[str, Any]]:
    """Rows no ledger writes (a negative, infinite or non-numeric size; a future
    heartbeat from a process whose clock runs ahead): dropped, each with a warning."""
    dropped = []
    for table in ("reservations", "waiters"):
        query = f"SELECT id, label, mb, pid FROM {table} WHERE {_INVALID_ROW}"
        for row in conn.execute(query, (MAX_ROW_MB,)).fetchall():
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (row["id"],))
            dropped.append({"table": table, **dict(row)})
            _log.warning(
                "memory ledger %s: dropped invalid %s row %r (mb=%r, pid=%r): sizes must "
                "be finite MB in [0, %g]",
                db_path,
                table,
                row["label"],
                row["mb"],
                row["pid"],
                MAX_ROW_MB,
            )
    return dropped


def rejoin_wait(conn: sqlite3.Connection, db_path: Path) -> bool:
    """Whether a rebuilt ledger still waits for live holders to re-register.

    The deadline was written from one process's clock: one more than REJOIN_S ahead of
    ours (a clock running fast, or garbage) is cut back to REJOIN_S from now, so no
    clock can hold admissions for longer than that grace.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = 'rejoin_until'").fetchone()
    if row is None:
        return False
    now = time.time()
    try:
        until = float(row[0])
    except (TypeError, ValueError):
        until = math.inf
    if not math.isfinite(until) or until > now + REJOIN_S:
        _log.warning(
            "memory ledger %s: rejoin deadline %r lies %s ahead of this clock; cut to %.0f s",
            db_path,
            row[0],
            "too far" if math.isfinite(until) else "infinitely",
            REJOIN_S,
        )
        until = now + REJOIN_S
        conn.execute("UPDATE meta SET value = ? WHERE key = 'rejoin_until'", (until,))
    return now < until
