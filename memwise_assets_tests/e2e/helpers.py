"""Helpers for end-to-end tests: run the real CLIs against a throwaway Dagster home."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script of this environment (dagster, memwise, dagster-webserver)."""
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def run_cli(
    args: list[str], home: Path, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess:
    """Run a command with DAGSTER_HOME=home in the repository root; capture its output."""
    full_env = {**os.environ, "DAGSTER_HOME": str(home), **env}
    return subprocess.run(
        args, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    """A TCP port nothing listens on now (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(args: list[str], home: Path, port: int, log_name: str) -> Iterator[int]:
    """Run a Dagster server (`dagster dev`, `dagster-webserver`) on `port` with DAGSTER_HOME=home
    until it answers /server_info; yield the port; stop its whole process group on exit."""
    log = (home / log_name).open("w")
    process = subprocess.Popen(
        args,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        # Servers start code servers (and dagster dev a daemon): one group to stop.
        start_new_session=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError((home / log_name).read_text()[-3000:]) from None
            time.sleep(1)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError(f"{args[0]} did not answer within 180 s")
    try:
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def graphql(port: int, query: str, variables: dict) -> dict:
    """One query or mutation against the webserver on `port`; its data (errors fail)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]
