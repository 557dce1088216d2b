"""The servers of a local cluster: PostgreSQL (the instance) and Redis (the Celery broker).

Both are Debian's packages, started as real servers on local ports with their data under
the cluster's folder. PostgreSQL refuses to run as root: as root it runs as the `postgres`
user (created by the package), with its data in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_USER = "memwise"
PG_DB = "dagster"


def postgres_bindir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(versions[-1]).parent if versions else None


def redis_binary() -> str | None:
    """redis-server's path, or None."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def missing_servers() -> list[str]:
    """Which of the cluster's server programs cannot be found (Debian package names)."""
    missing = []
    if postgres_bindir() is None:
        missing.append("postgresql")
    if redis_binary() is None:
        missing.append("redis-server")
    return missing


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, what: str) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(1.0)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


def _as_pg_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Postgres:
    """One PostgreSQL server: `folder` holds its data, socket and log."""

    def __init__(self, folder: Path | None, port: int) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError(
                "PostgreSQL's server programs (initdb, pg_ctl) were not found: "
                "apt-get install postgresql"
            )
        self.bin = bindir
        self.port = port
        # As root, a folder under /tmp the postgres user owns (a root-only parent would
        # keep it out).
        self.folder = folder or Path(tempfile.mkdtemp(prefix="memwise-pg-"))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*_as_pg_user(), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()[-800:]}")

    def start(self) -> None:
        """Create the cluster (first time), start the server, create the Dagster database."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", PG_USER,
                "--auth=trust", "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
            "-o", options, "-w", "-t", "120", "start",
        )  # fmt: skip
        if fresh:
            self._run(
                str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                "-U", PG_USER, PG_DB,
            )  # fmt: skip

    def stop(self) -> None:
        """Stop the server quickly (aborting open transactions); a stopped one is left."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def env(self) -> dict[str, str]:
        """What the instance's dagster.yaml reads to connect."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": PG_DB,
            "DAGSTER_PG_USER": PG_USER,
            # Trust authentication on 127.0.0.1: any password; a real deployment sets one.
            "DAGSTER_PG_PASSWORD": "memwise",
        }


class Redis:
    """One redis-server, persisting every write (queued tasks survive its restart)."""

    def __init__(self, folder: Path, port: int) -> None:
        binary = redis_binary()
        if binary is None:
            raise FileNotFoundError("redis-server was not found: apt-get install redis-server")
        self.binary = binary
        self.folder = folder
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> int:
        """Start the server in the background; return its pid once it listens."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "log", "ab")  # noqa: SIM115 (the server keeps it)
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--appendonly", "yes", "--save", "",
                "--protected-mode", "no",
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_for_port(self.port, 60, "redis-server")
        return self.process.pid
