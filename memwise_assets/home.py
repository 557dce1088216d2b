"""A Dagster home for memwise: created and migrated under a file lock, so concurrent first
runs cannot race each other's schema migrations (two `alembic_version` rows break a home).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import dagster as dg

LOCK_NAME = ".memwise-home.lock"


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold the home's exclusive lock (other memwise processes on this home wait)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_NAME, "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def init_home(home: Path) -> Path:
    """Make `home` a ready Dagster home: memwise's dagster.yaml if none, storage migrated."""
    home = home.resolve()
    with home_lock(home):
        instance_yaml = home / "dagster.yaml"
        if not instance_yaml.exists():
            # An existing configuration is the user's; a new home gets memwise's.
            shipped = resources.files("memwise_assets") / "data" / "dagster.yaml"
            tmp = instance_yaml.with_name(f".dagster.yaml.{os.getpid()}")
            tmp.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
            os.replace(tmp, instance_yaml)
        previous = os.environ.get("DAGSTER_HOME")
        # The instance's dagster.yaml may name its storage through $DAGSTER_HOME.
        os.environ["DAGSTER_HOME"] = str(home)
        try:
            # Opening creates and migrates every storage: done once, by one process at a time.
            with dg.DagsterInstance.from_config(str(home)):
                pass
        finally:
            if previous is not None:
                os.environ["DAGSTER_HOME"] = previous
    return home
