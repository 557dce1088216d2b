"""`memwise ui` from any folder: the UI answers, with no warning at start-up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from memwise_assets_tests.e2e.helpers import tool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.e2e
@pytest.mark.slow
def test_memwise_ui_starts_from_another_folder_without_warnings(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = _free_port()
    log_path = tmp_path / "ui.log"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [tool("memwise"), "ui", "--home", str(home), "--port", str(port)],
            cwd=elsewhere,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, "MEMWISE_LEDGER_DIR": str(tmp_path / "ledger")},
            start_new_session=True,  # memwise, dagster dev, webserver, daemon: one group
        )
        try:
            deadline = time.time() + 240
            while time.time() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                        break
                except OSError:
                    assert process.poll() is None, log_path.read_text()[-3000:]
                    time.sleep(1)
            else:
                pytest.fail("memwise ui did not answer within 240 s")
            time.sleep(5)  # the daemon's first ticks log right after the UI comes up
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    text = log_path.read_text()
    assert "Serving dagster-webserver" in text
    warnings = [
        line
        for line in text.splitlines()
        if "Warning" in line or " - WARNING - " in line or "\x1b[34mWARNING" in line
    ]
    # The daemon's first start on a brand-new home notes it has no event cursor yet: Dagster's
    # own first-run message, not a problem of the definitions or the instance.
    warnings = [w for w in warnings if "No cursor for event type" not in w]
    assert not warnings, warnings
    assert (home / "dagster.yaml").is_file()
