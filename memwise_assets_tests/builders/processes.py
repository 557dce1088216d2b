"""Real child processes in tests: run a snippet fresh, wait for a file, see a process gone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).parents[2]


def run_fresh(script: str, *args: str) -> dict[str, Any]:
    """Run `script` with `args` in a new interpreter; the JSON object on its last stdout line.

    A fresh process matters where a figure is measured against the process's memory
    high-water mark: earlier tests leave heap and peak state behind that can hide an
    allocation.
    """
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_for_file(
    path: Path, timeout_s: float = 60.0, *, alive: Callable[[], bool] | None = None
) -> None:
    """Wait until `path` exists; fail at `timeout_s`, or as soon as `alive()` says the
    process that should write it has died."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert alive is None or alive(), f"the process died before writing {path.name}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def assert_gone_within(proc: psutil.Process, timeout_s: float, what: str) -> None:
    """`proc` exits within `timeout_s` (it is killed either way, so nothing leaks)."""
    _, alive = psutil.wait_procs([proc], timeout=timeout_s)
    for leftover in alive:
        leftover.kill()
    assert not alive, f"{what} outlived its killed parent by more than {timeout_s:g} s"
