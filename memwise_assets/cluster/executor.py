"""dagster-celery's executor, with steps routed by memory size class and watched for lost hosts.

Routing: a step of a heavy asset goes to the queue of its size class (`routing.py`), from the
same estimate that sizes its k8s pod: the calibrated fit once the asset has history, else its
budget. An op tag `dagster-celery/queue` still wins. A queue that no live worker serves fails
the step at submission, saying which class it needed and which queues the workers serve.

Watching: dagster-celery waits for a task's result without end; a worker killed with its
host (kill -9, a node gone) never sends one, and Dagster's run monitoring only watches the run
worker, which is alive. Tasks are tracked as STARTED (Celery records the worker's name), and
the executor pings that worker while it runs: a worker silent for `LOST_AFTER_S` fails its
step with the reason, and the run fails instead of staying STARTED. A task waiting on a queue
no live worker serves for as long fails the same way, and so does a broker that stays
unreachable: a broker back within the grace lets the run go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dagster as dg
import kombu.exceptions
import redis.exceptions
from celery.result import AsyncResult
from dagster._core.execution.retries import RetryMode
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

from memwise_assets.cluster.routing import DEFAULT_QUEUE, queue_for
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.scale import HEAVY_STEPS

# How often the workers are asked what they serve and whether they live, and how long a
# worker may stay silent (or a queue unserved) before its step fails: generous, so that a
# loaded machine's slow reply is not a death.
CHECK_EVERY_S = 5.0
LOST_AFTER_S = 30.0
PING_TIMEOUT_S = 2.0
# What a broker or result store that is restarting raises.
BROKER_ERRORS = (OSError, kombu.exceptions.OperationalError, redis.exceptions.RedisError)


class WorkerLost(Exception):
    """The worker running a step (or every worker of its queue) stopped answering."""


class Workers:
    """What the live workers serve and whether one answers, asked at most every few seconds."""

    def __init__(self, app: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._clock = clock
        self._asked = -float("inf")
        self.queues: dict[str, list[str]] = {}

    def refresh(self) -> dict[str, list[str]]:
        """Worker name -> queues it listens on (asked again after CHECK_EVERY_S)."""
        if self._clock() - self._asked >= CHECK_EVERY_S:
            replies = self._app.control.inspect(timeout=PING_TIMEOUT_S).active_queues() or {}
            self.queues = {name: [q["name"] for q in qs] for name, qs in replies.items()}
            self._asked = self._clock()
        return self.queues

    def alive(self, name: str) -> bool:
        """Whether the worker `name` answers a ping now."""
        replies = self._app.control.ping(destination=[name], timeout=PING_TIMEOUT_S) or []
        return any(name in reply for reply in replies)

    def describe(self) -> str:
        return "; ".join(f"{n}: {', '.join(q)}" for n, q in sorted(self.queues.items())) or "none"


class WatchedResult:
    """A step's Celery result that turns ready, with an error, when its worker is lost."""

    def __init__(self, result: AsyncResult, step_key: str, queue: str, workers: Workers) -> None:
        self._result = result
        self._step_key = step_key
        self._queue = queue
        self._workers = workers
        self._silent_since: float | None = None
        self._checked = -float("inf")
        self._lost: str | None = None

    def ready(self) -> bool:
        if self._lost is not None:
            return True
        try:
            if self._result.ready():
                return True
            now = time.monotonic()
            if now - self._checked >= CHECK_EVERY_S:
                self._checked = now
                self._lost = self._check(now)
        except BROKER_ERRORS as error:
            # A broker restarting is news delayed, not a lost step: wait out the grace.
            what = f"the broker did not answer while step {self._step_key} ran ({error})"
            self._lost = self._silent(time.monotonic(), what)
        return self._lost is not None

    def _silent(self, now: float, what: str) -> str | None:
        if self._silent_since is None:
            self._silent_since = now
        if now - self._silent_since >= LOST_AFTER_S:
            return f"{what}, for {now - self._silent_since:.0f} s"
        return None

    def _check(self, now: float) -> str | None:
        state, info = self._result.state, self._result.info
        if state == "STARTED" and isinstance(info, dict) and info.get("hostname"):
            worker = str(info["hostname"])
            healthy = self._workers.alive(worker)
            what = (
                f"celery worker {worker} (pid {info.get('pid')}) stopped answering while it "
                f"ran step {self._step_key} (its host is gone or hung; that host's ledger "
                "reclaims the step's reservation when its worker restarts)"
            )
        else:
            served = self._workers.refresh()
            healthy = any(self._queue in queues for queues in served.values())
            what = (
                f"step {self._step_key} waits on queue {self._queue!r}, which no live worker "
                f"serves (workers: {self._workers.describe()})"
            )
        if healthy:
            self._silent_since = None
            return None
        return self._silent(now, what)

    def get(self) -> Any:
        if self._lost is not None:
            raise WorkerLost(self._lost)
        return self._result.get()

    def revoke(self) -> None:
        self._result.revoke()


def step_queue(plan_context: Any, step: Any) -> str:
    """The queue of `step`: its op tag, else its size class, else the default queue."""
    if DAGSTER_CELERY_QUEUE_TAG in step.tags:
        return str(step.tags[DAGSTER_CELERY_QUEUE_TAG])
    op_name = step.key.split("[")[0]
    budget = HEAVY_STEPS.get(op_name)
    if budget is None:
        return DEFAULT_QUEUE
    memory = _run_memory(plan_context.run_config)
    limit = memory.limit_for(budget)
    key = dg.AssetKey(op_name)
    history = memory.history(plan_context.instance, key)
    # As for pod sizing (scale.k8s_step_config): the largest input seen lately.
    largest = max((size for size, _ in history), default=0.0)
    estimate = memory.estimate(plan_context.instance, key, largest, limit, history=history)
    return queue_for(estimate.mb)


def _run_memory(run_config: dict[str, Any]) -> MemoryResource:
    config = ((run_config or {}).get("resources") or {}).get("memory") or {}
    plain = {k: v for k, v in (config.get("config") or {}).items() if not isinstance(v, dict)}
    limits = (config.get("config") or {}).get("limits_mb")
    if isinstance(limits, dict):
        plain["limits_mb"] = limits
    return MemoryResource(**plain)


class MemwiseCeleryExecutor(CeleryExecutor):
    """CeleryExecutor whose steps go to their size class's queue and fail if their host dies."""

    def execute(self, plan_context: Any, execution_plan: Any):
        workers: Workers | None = None

        def submit(app, context, step, queue, priority, known_state):
            nonlocal workers
            if workers is None:
                workers = Workers(app)
            if DAGSTER_CELERY_QUEUE_TAG not in step.tags:
                queue = step_queue(context, step)
            served = workers.refresh()
            if not any(queue in queues for queues in served.values()):
                raise dg.DagsterInvariantViolationError(
                    f"step {step.key} needs queue {queue!r} (its memory size class), which no "
                    f"live worker serves; workers: {workers.describe()}. Start a worker whose "
                    "pool holds it (memwise cluster up, or dagster-celery worker start -q)."
                )
            context.log.info(f"step {step.key} routed to queue {queue!r}")
            result = _submit_task(app, context, step, queue, priority, known_state)
            return WatchedResult(result, step.key, queue, workers)

        return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)


@dg.executor(
    name="memwise_celery",
    config_schema=CELERY_CONFIG,
    requirements=dg.multiple_process_executor_requirements(),
)
def memwise_celery_executor(init_context: dg.InitExecutorContext) -> MemwiseCeleryExecutor:
    """dagster-celery's `celery_executor` (same config) with size-class routing and watching."""
    config = init_context.executor_config
    source = dict(config.get("config_source") or {})
    # The worker's name and pid are what the watch pings: Celery records them at task start.
    source.setdefault("task_track_started", True)
    return MemwiseCeleryExecutor(
        broker=config.get("broker"),
        backend=config.get("backend"),
        config_source=source,
        include=config.get("include"),
        retries=RetryMode.from_config(config["retries"]),
    )
