"""A local cluster: Postgres, Redis, Celery workers standing for hosts, the daemon, the UI.

Everything lives under one folder: the instance home (its dagster.yaml reads the Postgres
settings from the environment), one folder per host (its own Dagster home, ledger and
caches), the shared outputs and landing folder, and `cluster.json` with the ports and
process ids, so that `memwise cluster down` in another shell stops what `up` started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from memwise_assets.cluster.env import BACKEND_ENV, BROKER_ENV, DATA_DIR_ENV
from memwise_assets.cluster.routing import assign_queues
from memwise_assets.cluster.servers import Postgres, Redis, free_port, wait_for_port
from memwise_assets.defs.filings.resources import LANDING_ENV
from memwise_assets.memory.host import HOST_ID_ENV, POOL_ENV
from memwise_assets.memory.ledger_file import LEDGER_DIR_ENV

REPO = Path(__file__).resolve().parents[2]
STATE_FILE = "cluster.json"
CLUSTER_MODULE = "memwise_assets.cluster.definitions"


@dataclass(frozen=True)
class Host:
    """One worker standing for a host: its name, ledger pool and Celery slots."""

    name: str
    pool_mb: float
    concurrency: int = 1


DEFAULT_HOSTS = (Host("host-a", 3072.0), Host("host-b", 9216.0))


def instance_config(*, poll_s: int = 10, max_concurrent_runs: int = 4) -> dict[str, Any]:
    """The cluster's dagster.yaml: Postgres storage, the run queue, monitoring, pools."""
    pg = {
        key: {"env": env}
        for key, env in (
            ("hostname", "DAGSTER_PG_HOST"),
            ("port", "DAGSTER_PG_PORT"),
            ("db_name", "DAGSTER_PG_DB"),
            ("username", "DAGSTER_PG_USER"),
            ("password", "DAGSTER_PG_PASSWORD"),
        )
    }
    # SQLAlchemy >= 2.1 maps plain postgresql:// to psycopg 3; dagster-postgres installs
    # psycopg2.
    pg["scheme"] = "postgresql+psycopg2"
    return {
        "storage": {"postgres": {"postgres_db": pg}},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 2},
        },
        "concurrency": {
            "runs": {"max_concurrent_runs": max_concurrent_runs},
            # Heavy steps (pools prices, labels, filings) one at a time across all hosts.
            "pools": {"granularity": "op", "default_limit": 1},
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": 180,
            "cancel_timeout_seconds": 180,
            "max_resume_run_attempts": 0,
            "poll_interval_seconds": poll_s,
            # A run whose step died with its host still holds that step's pool slot.
            "free_slots_after_run_end_seconds": 5,
            # The backstop: no run stays in progress longer than this.
            "max_runtime_seconds": 6 * 3600,
        },
        "telemetry": {"enabled": False},
    }


@dataclass
class ClusterState:
    """Ports and process ids of a running cluster (written to cluster.json)."""

    root: str
    pg_port: int
    redis_port: int
    webserver_port: int | None
    pids: dict[str, int] = field(default_factory=dict)
    hosts: list[dict[str, Any]] = field(default_factory=list)
    queues: dict[str, list[str]] = field(default_factory=dict)
    pg_folder: str = ""


class LocalCluster:
    """Start and stop the whole cluster under `root` (see the module's docstring)."""

    def __init__(
        self,
        root: str | Path,
        hosts: Sequence[Host] = DEFAULT_HOSTS,
        *,
        webserver: bool = True,
        extra_modules: Sequence[str] = (),
        poll_s: int = 10,
        queues: dict[str, list[str]] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.hosts = {h.name: h for h in hosts}
        self.webserver = webserver
        self.extra_modules = list(extra_modules)
        self.poll_s = poll_s
        self.queues = queues or assign_queues({h.name: h.pool_mb for h in hosts})
        self.state: ClusterState | None = None
        self.postgres: Postgres | None = None
        self.redis: Redis | None = None

    @classmethod
    def attach(cls, root: str | Path) -> LocalCluster:
        """The cluster `up` started under `root` (from its cluster.json)."""
        state = load_state(root)
        cluster = cls(root, [Host(**h) for h in state.hosts], queues=state.queues)
        cluster.state = state
        cluster.postgres = Postgres(Path(state.pg_folder), state.pg_port)
        return cluster

    # -- folders and environment -------------------------------------------------------

    @property
    def instance_home(self) -> Path:
        return self.root / "instance"

    def host_dir(self, name: str) -> Path:
        return self.root / "hosts" / name

    def ledger_dir(self, name: str) -> Path:
        return self.host_dir(name) / "ledger"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def workspace(self) -> Path:
        return self.root / "workspace.yaml"

    def env(self, home: Path | None = None) -> dict[str, str]:
        """The environment every process of the cluster runs with."""
        assert self.state is not None and self.postgres is not None
        broker = f"redis://127.0.0.1:{self.state.redis_port}/0"
        python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        return {
            **os.environ,
            **self.postgres.env(),
            "DAGSTER_HOME": str(home or self.instance_home),
            BROKER_ENV: broker,
            BACKEND_ENV: broker,
            DATA_DIR_ENV: str(self.data_dir),
            LANDING_ENV: str(self.landing_dir),
            "PYTHONPATH": python_path,
            # dagster-celery starts `celery` by name: this environment's comes first.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        }

    # -- up and down ---------------------------------------------------------------------

    def up(self, timeout_s: float = 180.0) -> ClusterState:
        """Start Postgres, Redis, the workers, the daemon and (unless off) the webserver.

        If any part fails to start, the parts already started are stopped again.
        """
        try:
            return self._up(timeout_s)
        except BaseException:
            if self.state is not None:
                self.down()
            raise

    def _up(self, timeout_s: float) -> ClusterState:
        for folder in (self.instance_home, self.data_dir, self.landing_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.state = ClusterState(
            root=str(self.root),
            pg_port=free_port(),
            redis_port=free_port(),
            webserver_port=free_port() if self.webserver else None,
            hosts=[asdict(h) for h in self.hosts.values()],
            queues=self.queues,
        )
        # A cluster started again under the same root keeps its instance's history.
        earlier = load_state(self.root).pg_folder if (self.root / STATE_FILE).exists() else ""
        folder = Path(earlier) if earlier and Path(earlier, "data").is_dir() else None
        self.postgres = Postgres(folder, self.state.pg_port)
        self.state.pg_folder = str(self.postgres.folder)
        self._save()
        self.postgres.start()
        self.redis = Redis(self.root / "redis", self.state.redis_port)
        self.state.pids["redis"] = self.redis.start()
        self._write_configs()
        self._save()
        # The schema is created once here, not raced by every process at its start.
        self._run_tool("dagster", ["instance", "migrate"])
        for name in self.hosts:
            self.start_worker(name)
        self.state.pids["daemon"] = self._spawn(
            "daemon", ["dagster-daemon", "run", "-w", str(self.workspace)]
        )
        if self.state.webserver_port:
            self.state.pids["webserver"] = self._spawn(
                "webserver",
                ["dagster-webserver", "-w", str(self.workspace), "-h", "127.0.0.1",
                 "-p", str(self.state.webserver_port)],
            )  # fmt: skip
            wait_for_port(self.state.webserver_port, timeout_s, "dagster-webserver")
        self._save()
        return self.state

    def _write_configs(self) -> None:
        config = yaml.safe_dump(instance_config(poll_s=self.poll_s), sort_keys=False)
        (self.instance_home / "dagster.yaml").write_text(config)
        for name in self.hosts:
            home = self.host_dir(name) / "home"
            home.mkdir(parents=True, exist_ok=True)
            (home / "dagster.yaml").write_text(config)
            worker = {
                "broker": {"env": BROKER_ENV},
                "backend": {"env": BACKEND_ENV},
                "config_source": {"task_track_started": True},
            }
            # The executor's config block, in a run config's layout (what -y reads).
            worker_yaml = yaml.safe_dump({"execution": {"config": worker}})
            (self.host_dir(name) / "worker.yaml").write_text(worker_yaml)
        locations = [
            {"python_module": {"module_name": m, "working_directory": str(REPO)}}
            for m in [CLUSTER_MODULE, *self.extra_modules]
        ]
        self.workspace.write_text(yaml.safe_dump({"load_from": locations}, sort_keys=False))

    def worker_env(self, name: str) -> dict[str, str]:
        host = self.hosts[name]
        return {
            **self.env(self.host_dir(name) / "home"),
            HOST_ID_ENV: name,
            LEDGER_DIR_ENV: str(self.ledger_dir(name)),
            POOL_ENV: str(host.pool_mb),
        }

    def start_worker(self, name: str) -> int:
        """Start (or restart) the worker of host `name`; return its process group id."""
        assert self.state is not None
        host = self.hosts[name]
        args = [
            "dagster-celery", "worker", "start", "-A", "memwise_assets.cluster.celery_app",
            "-y", str(self.host_dir(name) / "worker.yaml"), "-n", name,
        ]  # fmt: skip
        # One comma-separated -q: Celery keeps only the last of repeated -Q options.
        args += ["-q", ",".join(self.queues[name])]
        # After "--": options of `celery worker` itself.
        args += ["--", f"--concurrency={host.concurrency}"]
        pid = self._spawn(f"worker-{name}", args, env=self.worker_env(name))
        self.state.pids[f"worker-{name}"] = pid
        self._save()
        return pid

    def kill_worker(self, name: str) -> None:
        """kill -9 the whole worker of host `name` (its main process and its task children)."""
        assert self.state is not None
        pid = self.state.pids.pop(f"worker-{name}")
        _signal_group(pid, signal.SIGKILL)
        self._save()

    def restart_broker(self, down_s: float = 2.0) -> None:
        """Stop Redis (SIGTERM: it writes its append-only file), wait `down_s`, start it again."""
        assert self.state is not None
        pid = self.state.pids.pop("redis")
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(down_s)
        self.state.pids["redis"] = Redis(self.root / "redis", self.state.redis_port).start()
        self._save()

    def restart_postgres(self, down_s: float = 2.0) -> None:
        """Stop PostgreSQL (fast: open transactions abort), wait `down_s`, start it again."""
        assert self.postgres is not None
        self.postgres.stop()
        time.sleep(down_s)
        self.postgres.start()

    def down(self) -> None:
        """Stop everything this cluster started (a part already gone is skipped)."""
        state = self.state or load_state(self.root)
        for key in sorted(state.pids, key=lambda k: k == "redis"):
            _signal_group(state.pids[key], signal.SIGTERM)
        deadline = time.monotonic() + 30
        for pid in state.pids.values():
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            _signal_group(pid, signal.SIGKILL)
        state.pids.clear()
        Postgres(Path(state.pg_folder), state.pg_port).stop()
        self.state = state
        self._save()

    # -- processes ---------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> int:
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        with open(logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [_tool(args[0]), *args[1:]],
                cwd=REPO,
                env=env or self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return process.pid

    def _run_tool(self, tool: str, args: list[str]) -> None:
        done = subprocess.run(
            [_tool(tool), *args], cwd=REPO, env=self.env(), capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr[-800:]}")

    def _save(self) -> None:
        if self.state is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / STATE_FILE).write_text(json.dumps(asdict(self.state), indent=2))


def load_state(root: str | Path) -> ClusterState:
    """The state `up` wrote under `root`."""
    path = Path(root) / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"no cluster at {root} ({STATE_FILE} missing); run `up` first")
    return ClusterState(**json.loads(path.read_text()))


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else name


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return
    # Reap it if it is our child, so that it does not linger as a zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True
