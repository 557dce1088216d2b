"""A killed run never wedges its home: the next demo mends it; a blocked demo answers SIGTERM.

One scenario, real processes: demo A is stopped (SIGSTOP) while it holds the `prices`
pool slot, so demo B blocks on it, says what it waits for, and ends on SIGTERM. Then A is
SIGKILLed (as the OOM killer would); demo C marks A's run failed with a reason, frees its
slot and its cache, and succeeds within 2 minutes without manual repair.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.cli.commands import main

QUICK = ["--start", "2024-01", "--end", "2024-01"]


def _demo(home: Path, *extra: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memwise_assets", "demo", "--home", str(home), *extra],
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
    )


def _wait(what: str, check, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def _prices_holder(home: Path) -> str | None:
    if not (home / "memwise" / "runs").is_dir():  # the home is not initialised yet
        return None
    with dg.DagsterInstance.from_config(str(home)) as instance:
        info = instance.event_log_storage.get_concurrency_info("prices")
        return next(iter(info.active_run_ids), None)


@pytest.mark.slow
def test_killed_demo_is_mended_by_the_next_and_a_blocked_demo_answers_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    a = _demo(home, out=tmp_path / "a.log")
    try:
        dead_run = _wait("demo A holding the prices slot", lambda: _prices_holder(home))
        os.kill(a.pid, signal.SIGSTOP)  # alive but stuck, holding the slot

        b = _demo(home, *QUICK, out=tmp_path / "b.log")
        _wait(
            "demo B saying what it waits for",
            lambda: "waits for pool 'prices'" in (tmp_path / "b.log").read_text(),
        )
        assert f"held by run {dead_run[:8]}" in (tmp_path / "b.log").read_text()
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=60) == 130, (tmp_path / "b.log").read_text()[-2000:]

        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        assert (home / "memwise" / "runs" / dead_run).is_dir()  # the dead run's records
        # Doctor in check mode sees the dead run but leaves it alone.
        assert main(["doctor", "--check"]) == 1
        assert f"run {dead_run[:8]} [STARTED]: every process of the run is gone" in (
            capsys.readouterr().out
        )
        began = time.monotonic()
        c = subprocess.run(
            [sys.executable, "-m", "memwise_assets", "demo", "--home", str(home), *QUICK],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "DAGSTER_HOME": str(home)},
        )
        assert c.returncode == 0, c.stdout[-3000:] + c.stderr[-3000:]
        assert time.monotonic() - began < 120
    finally:
        for proc in (a,):
            if proc.poll() is None:
                proc.kill()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(dead_run)
        assert run.status == dg.DagsterRunStatus.FAILURE
        failure = instance.all_logs(dead_run, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert "memwise recovery: every process of the run is gone" in failure[-1].message
        assert dead_run not in instance.event_log_storage.get_concurrency_run_ids()
    assert not (home / "memwise" / "cache" / dead_run).exists()
    assert not (home / "memwise" / "runs" / dead_run).exists()
    assert main(["doctor"]) == 0
    assert "nothing to mend" in capsys.readouterr().out
