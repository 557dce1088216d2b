"""A per-host memory reservation ledger in SQLite, shared by every process on the host.

Concurrent steps and runs admit work against one pool, so they cannot overcommit RAM
together; waiting is first come first served; reservations of dead processes are
reclaimed; every admit and release is kept in a history so "never over the pool" can
be checked after the fact.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memwise_assets.memory.ledger_file import (
    HEARTBEAT_S,
    LedgerFile,
    drop_invalid_rows,
    is_locked,
    rejoin_wait,
)
from memwise_assets.memory.lifeline import holder_alive as _holder_alive
from memwise_assets.memory.lifeline import holders_children_alive
from memwise_assets.memory.lifeline import process_start as _process_start
from memwise_assets.memory.probe import available_mb, total_mb
from memwise_assets.memory.reservation import AdmissionTimeout, OversizeRequest, Reservation

_log = logging.getLogger(__name__)

_HISTORY_KEEP = 20_000
# Float sums of MB must not refuse a request that fits exactly.
_EPS_MB = 1e-6
# A live process whose waiting thread vanished (no heartbeat for this long) would block the
# FIFO queue for everyone; its entry is dropped. Generous: SQLite may stall a poller too.
STALE_WAITER_S = 60.0
# How often a dead holder's leftover children are looked for (a scan of the process table).
ORPHAN_CHECK_S = 0.5
RELEASE_BUSY_S = 5.0  # a release waits this long for a lock, then leaves it to the heartbeat


class MemoryLedger:
    """Cross-process reservation ledger stored under the folder `path`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        pool_mb: float | None = None,
        reserve_fraction: float = 0.2,
        *,
        available_fn: Callable[[], float] = available_mb,
        total_fn: Callable[[], float] = total_mb,
        poll_s: float = 0.01,
        busy_timeout_s: float = 30.0,
    ) -> None:
        if not 0 <= reserve_fraction < 1:
            raise ValueError(f"reserve_fraction must be in [0, 1); got {reserve_fraction!r}")
        if pool_mb is not None and not (math.isfinite(pool_mb) and pool_mb > 0):
            raise ValueError(f"pool_mb must be a finite number > 0 or None; got {pool_mb!r}")
        if not poll_s > 0:
            raise ValueError(f"poll_s must be > 0; got {poll_s!r}")
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        total = float(total_fn())
        self.reserve_mb = reserve_fraction * total
        self.pool_mb = float(pool_mb) if pool_mb is not None else total - self.reserve_mb
        self._available_fn = available_fn
        self._poll_s = poll_s
        self._pid = os.getpid()
        self._pstart = _process_start(self._pid)
        # Reservations this process holds, re-written by the heartbeat (see HEARTBEAT_S).
        self._held: dict[str, Reservation] = {}
        self._unreleased: dict[str, Reservation] = {}
        self._held_lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._orphan_checks: dict[tuple[int, float | None], tuple[float, bool]] = {}
        self._file = LedgerFile(
            self.dir, busy_timeout_s, on_fork=self._forked, on_new_file=self._rejoin
        )
        self.db_path = self._file.db_path

    def _conn(self) -> sqlite3.Connection:
        return self._file.connection()

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._file.transaction()

    def _forked(self, pid: int) -> None:
        # A forked copy of this ledger is another holder: it must not reuse our identity
        # nor heartbeat the parent's reservations.
        self._pid, self._pstart = pid, _process_start(pid)
        self._held, self._unreleased, self._heartbeat = {}, {}, None

    # -- bookkeeping ------------------------------------------------------------------------

    def _reclaim(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        reclaimed = drop_invalid_rows(conn, self.db_path)
        holders: dict[tuple[int, float | None], bool] = {}
        for table in ("reservations", "waiters"):
            for row in conn.execute(f"SELECT id, label, mb, pid, pstart FROM {table}"):
                key = (row["pid"], row["pstart"])
                if key not in holders:
                    holders[key] = (key == (self._pid, self._pstart)) or self._in_use(*key)
                if holders[key]:
                    continue
                conn.execute(f"DELETE FROM {table} WHERE id = ?", (row["id"],))
                entry = {"table": table, **{k: row[k] for k in ("id", "label", "mb", "pid")}}
                reclaimed.append(entry)
                if table == "reservations":
                    self._log_event(conn, "reclaim", row["label"], row["mb"], row["pid"])
                _log.warning(
                    "memory ledger reclaimed %s %r (%.1f MB) of dead pid %d",
                    "reservation" if table == "reservations" else "queue entry",
                    row["label"],
                    row["mb"],
                    row["pid"],
                )
        # A heartbeat from the future is as stale as an old one: a clock running ahead
        # must not keep a vanished waiter at the head of the queue.
        now = time.time()
        stale = conn.execute(
            "SELECT id, label, mb, pid FROM waiters WHERE heartbeat < ? OR heartbeat > ? "
            "OR typeof(heartbeat) NOT IN ('real', 'integer')",
            (now - STALE_WAITER_S, now + STALE_WAITER_S),
        ).fetchall()
        for row in stale:
            conn.execute("DELETE FROM waiters WHERE id = ?", (row["id"],))
            reclaimed.append({"table": "waiters", **dict(row)})
            _log.warning(
                "memory ledger dropped queue entry %r (%.1f MB) of pid %d: no heartbeat for %.0f s",
                row["label"],
                row["mb"],
                row["pid"],
                STALE_WAITER_S,
            )
        return reclaimed

    def _in_use(self, pid: int, start: float | None) -> bool:
        """A holder counts until it and every child it started are gone (cached briefly)."""
        if _holder_alive(pid, start):
            return True
        now = time.monotonic()
        checked = self._orphan_checks.get((pid, start))
        if checked is None or now - checked[0] > ORPHAN_CHECK_S:
            checked = (now, holders_children_alive(pid, start))
            self._orphan_checks[(pid, start)] = checked
        return checked[1]

    def _reserved(self, conn: sqlite3.Connection) -> float:
        return float(conn.execute("SELECT COALESCE(SUM(mb), 0) FROM reservations").fetchone()[0])

    def _log_event(
        self, conn: sqlite3.Connection, event: str, label: str, mb: float, pid: int
    ) -> None:
        cursor = conn.execute(
            "INSERT INTO history (ts, event, label, mb, pid, total_mb, pool_mb) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time.time(), event, label, mb, pid, self._reserved(conn), self.pool_mb),
        )
        if cursor.lastrowid and cursor.lastrowid % 1000 == 0:
            conn.execute("DELETE FROM history WHERE id <= ?", (cursor.lastrowid - _HISTORY_KEEP,))

    # -- public API -------------------------------------------------------------------------

    def reserve(self, mb: float, timeout_s: float | None = 60.0, label: str = "") -> Reservation:
        """Wait (first come, first served) until `mb` fits the pool and free memory; hold it.

        Use as `with ledger.reserve(mb, timeout_s=..., label=...) as reservation:`.
        Raises `OversizeRequest` at once when `mb` exceeds the pool, `AdmissionTimeout`
        when it is not admitted within `timeout_s` (None waits without end).
        """
        if not isinstance(mb, numbers.Real) or not math.isfinite(mb) or mb < 0:
            raise ValueError(f"reservation size must be a finite number of MB >= 0; got {mb!r}")
        if mb > self.pool_mb + _EPS_MB:
            raise OversizeRequest(
                f"reservation {label!r} asked {mb:.1f} MB, pool {self.pool_mb:.1f} MB"
            )
        started = time.monotonic()
        deadline = None if timeout_s is None else started + max(0.0, timeout_s)
        delay = self._poll_s
        waiter_id: str | None = None
        try:
            while True:
                # Waiting on a lock another process holds counts against `timeout_s` too.
                busy_s = None if deadline is None else max(0.01, deadline - time.monotonic())
                try:
                    with self._file.transaction(busy_s) as conn:
                        admitted, reason = self._try_admit(conn, mb, label, waiter_id, started)
                        if admitted is not None:
                            return admitted
                        waiter_id = self._keep_queued(conn, waiter_id, mb, label)
                except sqlite3.OperationalError as error:
                    if not is_locked(error):
                        raise
                    reason = (
                        f"{error}; whoever holds it (a stuck or foreign process) blocks every step"
                    )
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise AdmissionTimeout(
                        f"reservation {label!r} of {mb:.1f} MB not admitted within "
                        f"{timeout_s} s: {reason}"
                    )
                time.sleep(delay if deadline is None else min(delay, deadline - now))
                delay = min(delay * 1.5, 0.05)
        except BaseException:
            if waiter_id is not None:
                with contextlib.suppress(sqlite3.Error), self._transaction() as conn:
                    conn.execute("DELETE FROM waiters WHERE id = ?", (waiter_id,))
            raise

    def _keep_queued(
        self, conn: sqlite3.Connection, waiter_id: str | None, mb: float, label: str
    ) -> str:
        now = time.time()
        if waiter_id is not None:
            beat = "UPDATE waiters SET heartbeat = ? WHERE id = ?"
            if conn.execute(beat, (now, waiter_id)).rowcount:
                return waiter_id
            _log.warning("memory ledger: queue entry %r was dropped as stale; re-queued", label)
        waiter_id = uuid.uuid4().hex
        conn.execute(
            "INSERT INTO waiters (id, label, mb, pid, pstart, enqueued, heartbeat) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (waiter_id, label, mb, self._pid, self._pstart, now, now),
        )
        return waiter_id

    def _try_admit(
        self,
        conn: sqlite3.Connection,
        mb: float,
        label: str,
        waiter_id: str | None,
        started: float,
    ) -> tuple[Reservation | None, str]:
        self._reclaim(conn)
        ahead_query = "SELECT COUNT(*) FROM waiters"
        params: tuple[str, ...] = ()
        if waiter_id is not None:
            ahead_query += " WHERE seq < (SELECT seq FROM waiters WHERE id = ?)"
            params = (waiter_id,)
        ahead = int(conn.execute(ahead_query, params).fetchone()[0])
        if ahead:
            return None, f"{ahead} earlier request(s) still queued"
        if rejoin_wait(conn, self.db_path):
            return None, "the ledger was rebuilt; waiting for live holders to re-register"
        reserved = self._reserved(conn)
        if reserved + mb > self.pool_mb + _EPS_MB:
            return None, f"{reserved:.1f} MB of the {self.pool_mb:.1f} MB pool already reserved"
        free = float(self._available_fn()) - self.reserve_mb
        if free + _EPS_MB < mb:
            return None, f"only {free:.1f} MB available above the {self.reserve_mb:.1f} MB reserve"
        since = time.time()
        reservation_id = uuid.uuid4().hex
        conn.execute(
            "INSERT INTO reservations (id, label, mb, pid, pstart, since) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (reservation_id, label, mb, self._pid, self._pstart, since),
        )
        if waiter_id is not None:
            conn.execute("DELETE FROM waiters WHERE id = ?", (waiter_id,))
        self._log_event(conn, "admit", label, mb, self._pid)
        reservation = Reservation(
            id=reservation_id,
            mb=float(mb),
            label=label,
            pid=self._pid,
            since=since,
            waited_s=time.monotonic() - started,
            _give_back=self._release,
        )
        self._hold(reservation)
        return reservation, "admitted"

    def _release(self, reservation: Reservation) -> None:
        with self._held_lock:
            self._held.pop(reservation.id, None)
        try:
            with self._file.transaction(RELEASE_BUSY_S) as conn:
                deleted = self._delete(conn, reservation)
        except sqlite3.OperationalError as error:
            if not is_locked(error):
                raise
            # Never fail a finished step for the lock: the heartbeat gives it back later.
            _log.error("memory ledger: release of %r deferred: %s", reservation.label, error)
            with self._held_lock:
                self._unreleased[reservation.id] = reservation
            self._start_heartbeat()
            return
        if not deleted:
            _log.warning(
                "memory ledger: reservation %r (%.1f MB) was already gone at release",
                reservation.label,
                reservation.mb,
            )

    # -- heartbeat: live holders re-appear in a rebuilt ledger --------------------------------

    def _delete(self, conn: sqlite3.Connection, reservation: Reservation) -> int:
        deleted = conn.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,)).rowcount
        if deleted:
            self._log_event(conn, "release", reservation.label, reservation.mb, self._pid)
        return deleted

    def _hold(self, reservation: Reservation) -> None:
        with self._held_lock:
            self._held[reservation.id] = reservation
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        with self._held_lock:
            if self._heartbeat is None or not self._heartbeat.is_alive():
                self._heartbeat = threading.Thread(
                    target=self._beat, name="memwise-ledger-heartbeat", daemon=True
                )
                self._heartbeat.start()

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_S)
            with self._held_lock:
                if not (self._held or self._unreleased) or os.getpid() != self._pid:
                    self._heartbeat = None
                    return
                unreleased = list(self._unreleased.values())
            try:
                with self._transaction() as conn:
                    self._rejoin(conn)
                    for reservation in unreleased:
                        self._delete(conn, reservation)
                with self._held_lock:
                    for reservation in unreleased:
                        self._unreleased.pop(reservation.id, None)
            except sqlite3.Error as error:  # busy for long: try again next beat
                _log.warning("memory ledger heartbeat failed: %s", error)

    def _rejoin(self, conn: sqlite3.Connection) -> None:
        """Write back any reservation of ours the file lost (same token: no id reuse)."""
        with self._held_lock:
            held = list(self._held.values())
        for r in held:
            added = conn.execute(
                "INSERT OR IGNORE INTO reservations (id, label, mb, pid, pstart, since) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (r.id, r.label, r.mb, self._pid, self._pstart, r.since),
            ).rowcount
            if added:
                _log.warning(
                    "memory ledger: re-registered live reservation %r (%.1f MB) in a rebuilt "
                    "ledger",
                    r.label,
                    r.mb,
                )

    def reclaim_dead(self) -> list[dict[str, Any]]:
        """Drop reservations and queue entries whose holder process is gone; return them."""
        with self._transaction() as conn:
            return self._reclaim(conn)

    def snapshot(self) -> list[dict[str, Any]]:
        """Live reservations (label, mb, pid, since), oldest first."""
        return self._live_rows("SELECT id, label, mb, pid, since FROM reservations ORDER BY since")

    def waiting(self) -> list[dict[str, Any]]:
        """Queued requests (label, mb, pid, enqueued) in admission order."""
        return self._live_rows("SELECT id, label, mb, pid, enqueued FROM waiters ORDER BY seq")

    def _live_rows(self, query: str) -> list[dict[str, Any]]:
        """The rows of `query` once the dead processes' entries are reclaimed."""
        with self._transaction() as conn:
            self._reclaim(conn)
            return [dict(row) for row in conn.execute(query).fetchall()]

    def reserved_mb(self) -> float:
        """MB held by live reservations right now."""
        with self._transaction() as conn:
            self._reclaim(conn)
            return self._reserved(conn)

    def history(self) -> list[dict[str, Any]]:
        """Admit, release and reclaim events with the reserved total after each, oldest first."""
        rows = (
            self._conn()
            .execute("SELECT ts, event, label, mb, pid, total_mb, pool_mb FROM history ORDER BY id")
            .fetchall()
        )
        return [dict(row) for row in rows]
