"""Helpers for end-to-end tests: run the real CLIs against a throwaway Dagster home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
