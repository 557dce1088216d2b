"""Importable child-process targets for the memory tests, and a check for leftover children."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

_MB = 1024 * 1024


def add(a: int, b: int) -> int:
    """Return a + b (the happy path)."""
    return a + b


def sleep_for(seconds: float) -> str:
    """Sleep, then answer (used to be killed by a timeout first)."""
    time.sleep(seconds)
    return "woke up"


def allocate_mb(total_mb: int, chunk_mb: int = 50) -> int:
    """Touch `total_mb` of memory in chunks, slowly enough for a poller to see it grow."""
    chunks = []
    for _ in range(total_mb // chunk_mb):
        chunks.append(b"x" * (chunk_mb * _MB))
        time.sleep(0.005)
    return len(chunks)


def fail(message: str) -> None:
    """Raise a ValueError carrying `message`."""
    raise ValueError(message)


def exit_hard(code: int) -> None:
    """Leave without a result, as a crashing extension would."""
    os._exit(code)


def spawn_grandchild_and_sleep(pid_file: str, seconds: float) -> None:
    """Start a sleeping grandchild, write its pid, then sleep (to be killed with it)."""
    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    Path(pid_file).write_text(str(child.pid), encoding="ascii")
    time.sleep(seconds)


def spawn_grandchild_and_return(pid_file: str) -> str:
    """Start a long-sleeping grandchild and return at once (it must not be left behind)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Path(pid_file).write_text(str(child.pid), encoding="ascii")
    return "done"


def hold_reservation(ledger_dir: str, mb: float, pool_mb: float, ready_file: str) -> None:
    """Hold a reservation until killed, after saying so through `ready_file`."""
    from memwise_assets.memory import MemoryLedger

    ledger = MemoryLedger(ledger_dir, pool_mb=pool_mb, available_fn=lambda: 1e12)
    with ledger.reserve(mb, timeout_s=10, label=f"holder-{os.getpid()}"):
        Path(ready_file).write_text("ready", encoding="ascii")
        time.sleep(60)


def reserve_and_work(
    ledger_dir: str, mb: float, pool_mb: float, hold_s: float, label: str, gate_dir: str
) -> dict[str, float]:
    """Once all peers are up (`gate_dir/go`), reserve `mb`, hold it `hold_s`; report times."""
    from memwise_assets.memory import MemoryLedger

    ledger = MemoryLedger(ledger_dir, pool_mb=pool_mb, available_fn=lambda: 1e12)
    gate = Path(gate_dir)
    (gate / f"ready-{label}").touch()
    deadline = time.monotonic() + 60
    while not (gate / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with ledger.reserve(mb, timeout_s=30, label=label) as reservation:
        admitted = time.time()
        time.sleep(hold_s)
        # Stamped before the release, so a successor's admission always comes later.
        released = time.time()
    return {"admitted": admitted, "released": released, "waited_s": reservation.waited_s}


def kill_self(signal_number: int) -> None:
    """Die by a signal, as the kernel OOM killer or an outside kill would do it."""
    os.kill(os.getpid(), signal_number)
    time.sleep(10)


def our_descendants() -> list[psutil.Process]:
    """Live processes below this one, less multiprocessing's resource tracker (a helper)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def hold_until_told(ledger_dir: str, mb: float, pool_mb: float, control_dir: str) -> None:
    """Hold `mb` until `control_dir/release` appears, then release and say `released`."""
    from memwise_assets.memory import MemoryLedger

    control = Path(control_dir)
    ledger = MemoryLedger(ledger_dir, pool_mb=pool_mb, available_fn=lambda: 1e12)
    with ledger.reserve(mb, timeout_s=10, label="first-holder"):
        (control / "ready").write_text("ready", encoding="ascii")
        deadline = time.monotonic() + 60
        while not (control / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    (control / "released").write_text("released", encoding="ascii")


def isolated_parent(pid_file: str) -> None:
    """Run a long isolated item (its pid written to `pid_file`); the test kills us meanwhile."""
    from memwise_assets.memory import run_isolated

    run_isolated(write_pid_and_sleep, pid_file, 60.0, timeout_s=120)


def write_pid_and_sleep(pid_file: str, seconds: float) -> None:
    Path(pid_file).write_text(str(os.getpid()), encoding="ascii")
    time.sleep(seconds)
