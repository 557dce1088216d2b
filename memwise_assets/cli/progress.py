"""Progress of long commands: what runs now, for how long, and memory now against its limit.

On a terminal one line is rewritten every second; elsewhere (CI logs) a plain line is
written every 15 seconds, so logs stay readable.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from dagster import DagsterEventType

from memwise_assets.memory.probe import tree_rss_probe


class Progress:
    """A ticking status line for one stage of a command."""

    def __init__(
        self,
        title: str,
        limit_mb: float | None = None,
        out: TextIO | None = None,
        instance: Any = None,
    ):
        self.title = title
        self.instance = instance
        self.limit_mb = limit_mb
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.interval_s = 1.0 if self.tty else 15.0
        self.current = ""
        self.done = 0
        self._probe = tree_rss_probe()
        self._started = time.monotonic()
        self._wall_started = time.time()
        self._stop = threading.Event()

    def refresh_steps(self) -> None:
        """Read the newest run's step events from the instance (when one was given)."""
        if self.instance is None:
            return
        records = self.instance.get_run_records(limit=1)
        if not records or records[0].create_timestamp.timestamp() < self._wall_started - 1:
            return
        run_id = records[0].dagster_run.run_id
        started = self.instance.get_records_for_run(
            run_id, of_type=DagsterEventType.STEP_START
        ).records
        finished = self.instance.get_records_for_run(
            run_id, of_type={DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
        ).records
        if started:
            self.current = started[-1].event_log_entry.step_key or self.current
        self.done = len(finished)

    def line(self) -> str:
        """The status as one line."""
        elapsed = time.monotonic() - self._started
        limit = f" / limit {self.limit_mb:.0f} MB" if self.limit_mb else ""
        step = f" step {self.current} ({self.done} done)" if self.current else ""
        return f"  {self.title}:{step} {elapsed:5.0f} s, rss {self._probe():.0f} MB{limit}"

    def _tick(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh_steps()
            except Exception:  # progress is best effort; the run's own errors matter
                pass
            if self.tty:
                self.out.write("\r" + self.line().ljust(100)[:120])
            else:
                self.out.write(self.line() + "\n")
            self.out.flush()

    def start(self) -> None:
        threading.Thread(target=self._tick, daemon=True, name="memwise-progress").start()

    def stop(self) -> None:
        self._stop.set()
        if self.tty:
            self.out.write("\r" + " " * 120 + "\r")
            self.out.flush()


@contextmanager
def progress(
    title: str, limit_mb: float | None = None, instance: Any = None, out: TextIO | None = None
) -> Iterator[Progress]:
    """Show progress on `out` (stdout) while the block runs (steps of `instance`'s newest run)."""
    status = Progress(title, limit_mb, out=out, instance=instance)
    status.start()
    try:
        yield status
    finally:
        status.stop()
        with contextlib.suppress(Exception):
            status.refresh_steps()
