"""Figures of round three (docs/reliability.md): a locked ledger, a 2 GB body, a trickle.

Run: .venv/bin/python scripts/hostile_figures.py (about 30 s; local servers only).
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from memwise_assets.compute.edgar import EdgarClient, EdgarError
from memwise_assets.memory import AdmissionTimeout, MemoryLedger
from memwise_assets_tests.builders.edgar_server import recorded_edgar, serving
from memwise_assets_tests.reliability.test_edgar_hostile import _endless, _trickle
from memwise_assets_tests.reliability.test_ledger_hostile import _HOLD

AGENT = "memwise figures figures@example.com"
ME = psutil.Process()


def _rss_mb() -> float:
    return ME.memory_info().rss / 2**20


def locked_ledger() -> None:
    ledger = MemoryLedger(
        Path(tempfile.mkdtemp()), pool_mb=1000, available_fn=lambda: 1e9, total_fn=lambda: 1e9
    )
    argv = [sys.executable, "-c", _HOLD, str(ledger.db_path), "90"]
    holder = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert holder.stdout is not None
    holder.stdout.readline()
    began = time.monotonic()
    try:
        ledger.reserve(10, timeout_s=5, label="x")
    except AdmissionTimeout as exc:
        print(f"locked ledger, reserve(timeout_s=5): {time.monotonic() - began:.2f} s; {exc}")
    finally:
        holder.kill()


def hostile_bodies() -> None:
    edgar = recorded_edgar()
    edgar.handlers["/huge"] = _endless(False)
    edgar.handlers["/slow"] = _trickle
    with serving(edgar):
        before, began = _rss_mb(), time.monotonic()
        try:
            EdgarClient(AGENT, retries=0).get(edgar.base_url + "/huge")
        except EdgarError as exc:
            took, grew = time.monotonic() - began, _rss_mb() - before
            print(f"2 GB body into memory: {took:.2f} s, RSS +{grew:.0f} MB; {exc.reason}")
        before, began = _rss_mb(), time.monotonic()
        with tempfile.TemporaryFile() as handle:
            try:
                EdgarClient(AGENT, retries=0).get_to_file(edgar.base_url + "/huge", handle)
            except EdgarError as exc:
                took, grew = time.monotonic() - began, _rss_mb() - before
                print(f"2 GB body to disk: {took:.2f} s, RSS +{grew:.0f} MB; {exc.reason}")
        began = time.monotonic()
        try:
            EdgarClient(AGENT, retries=0, deadline_s=10).get(edgar.base_url + "/slow")
        except EdgarError as exc:
            print(
                f"1 byte per 0.5 s, 10 s deadline: {time.monotonic() - began:.2f} s; {exc.reason}"
            )


if __name__ == "__main__":
    locked_ledger()
    hostile_bodies()
