"""Time and memory limits of a step: its enforced timeout, and a retry with more memory.

`MemoryResource.step()` calls four things from here: `step_timeout` (which timeout, on
which basis), `step_deadline` (enforce it), `retry_budget` (the budget of a retried
attempt) and `failure_for` (turn a timeout into a clear failure, a `MemoryLimitExceeded`
into a retry with a raised budget). They take the step's resolved `Budget` and the
policies as plain records, never the resource. The figures come from `memory/limits.py`;
this module only reads Dagster's context and instance.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.defs.budgets import Budget, RetryPolicy, TimeoutPolicy
from memwise_assets.defs.calibration import history_for
from memwise_assets.defs.figures import SECONDS_KEY, TIMEOUT_BASIS_KEY, TIMEOUT_KEY
from memwise_assets.defs.step import StepContext
from memwise_assets.memory.cache import SessionCache, safe_name
from memwise_assets.memory.deadline import Deadline, StepTimeout
from memwise_assets.memory.limits import TimeoutChoice, choose_timeout, raised_budget_mb
from memwise_assets.memory.monitor import MemoryLimitExceeded


def step_timeout(
    context: StepContext,
    budget: Budget,
    policy: TimeoutPolicy,
    overrides_s: Mapping[str, float],
) -> TimeoutChoice:
    """Run tag, then run config, then the asset's own metadata or tag, then history.

    An op (no asset) is keyed by its name in `timeout_overrides_s` and has no history.
    """
    asset_key = context.asset_key if context.has_assets_def else None
    key = asset_key.to_user_string() if asset_key else context.op_def.name
    override, source = None, ""
    asset_meta = context.assets_def.metadata_by_key.get(asset_key, {}) if asset_key else {}
    candidates = [
        (context.run.tags.get(TIMEOUT_KEY), f"run tag {TIMEOUT_KEY}"),
        (overrides_s.get(key), f"run config timeout_overrides_s[{key!r}]"),
        (asset_meta.get(TIMEOUT_KEY), f"asset metadata {TIMEOUT_KEY}"),
        (context.op_def.tags.get(TIMEOUT_KEY), f"asset tag {TIMEOUT_KEY}"),
    ]
    for value, where in candidates:
        if value is not None:
            override, source = _seconds(value, where), where
            break
    history: list[float] = []
    if override is None and context.instance is not None and asset_key is not None:
        pairs = history_for(
            context.instance,
            asset_key,
            policy.window,
            input_key=SECONDS_KEY,
            peak_key=SECONDS_KEY,
        )
        history = [seconds for seconds, _ in pairs]
    # The policy's adaptive knobs carry choose_timeout's own names.
    adaptive: dict[str, Any] = {
        name: getattr(policy, name) for name in ("floor_s", "k", "margin", "min_history")
    }
    return choose_timeout(
        static_s=budget.timeout_s,
        seconds_history=history,
        override_s=override,
        override_source=source,
        budget=budget.name,
        **adaptive,
    )


def _seconds(value: Any, where: str) -> float:
    raw = getattr(value, "value", value)  # metadata entries wrap their value
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise dg.Failure(f"{where} must be a number of seconds; got {raw!r}") from None
    if not seconds > 0:
        raise dg.Failure(f"{where} must be > 0 seconds; got {seconds}")
    return seconds


@contextmanager
def step_deadline(
    context: StepContext,
    choice: TimeoutChoice,
    cache: SessionCache,
    home: Path,
    grace_s: float,
) -> Iterator[Deadline]:
    """Enforce `choice` on the step; a timed-out step's session cache is purged.

    A step of the multiprocess executor is its own process, run in its main thread:
    killing it past the grace period (a GIL-holding call) spares the run. An in-process
    step shares the run's process, and a Dask task its worker's: neither is ever killed.
    """
    owns_process = (
        multiprocessing.parent_process() is not None
        and threading.current_thread() is threading.main_thread()
    )
    step_key = context.get_step_execution_context().step.key
    note = home / "timeouts" / context.run_id / f"{safe_name(step_key)}.json"
    reporter = [sys.executable, "-m", "memwise_assets.defs.timeout_note", context.run_id, step_key]
    deadline = Deadline(
        choice.seconds,
        basis=choice.describe(),
        label=step_key,
        grace_s=grace_s,
        kill_process=owns_process,
        note_path=note,
        before_kill=reporter,
    )
    try:
        with deadline:
            yield deadline
    finally:
        if deadline.fired:
            purge = cache.purge(safe_name(step_key))
            context.log.info(f"{step_key} timed out; purged its session cache: {purge}")


def limits_metadata(choice: TimeoutChoice, raise_reason: str | None) -> dict[str, Any]:
    """The step's limits as `StepFigures` fields, recorded with its other figures."""
    return {
        "timeout_s": float(choice.seconds),
        "timeout_basis": choice.basis,
        "timeout_inputs": dict(choice.inputs),
        "budget_reason": raise_reason or None,
    }


# -- retry with a bigger budget ---------------------------------------------------------


def _retry_file(home: Path, run_id: str, step_key: str) -> Path:
    return home / "memory_retries" / run_id / f"{safe_name(step_key)}.json"


def retry_budget(
    context: StepContext, limit_mb: float, home: Path, retry: RetryPolicy
) -> tuple[float, str | None]:
    """The budget of this attempt: raised from what a failed attempt of this step used."""
    step_key = context.get_step_execution_context().step.key
    path = _retry_file(home, context.run_id, step_key)
    if context.retry_number == 0 or not path.exists():
        return limit_mb, None
    record = json.loads(path.read_text())
    path.unlink()  # read once: a further MemoryLimitExceeded writes a fresh record
    # In-process, the failed attempt's frames (and what they held) may sit in reference
    # cycles: free them before the monitor takes this attempt's starting RSS.
    gc.collect()
    raised = float(record["raised_mb"])
    if raised <= limit_mb:
        return limit_mb, None
    used = record.get("figure") or f"{record['peak_mb']:.0f} MB used"
    reason = (
        f"retry {context.retry_number} after MemoryLimitExceeded: attempt "
        f"{record['attempt']} ({used}) passed a {record['limit_mb']:.0f} MB "
        f"budget; raised to {raised:.0f} MB = min(pool, max(peak + "
        f"{retry.headroom_mb:g} MB, {retry.factor:g} x peak))"
    )
    context.log.warning(reason)
    return raised, reason


def failure_for(
    context: StepContext,
    exc: BaseException,
    *,
    step_key: str,
    limit_mb: float,
    metrics: dict[str, Any],
    home: Path,
    retry: RetryPolicy,
    pool_mb: float,
) -> BaseException | None:
    """The failure to raise instead of `exc` (None: raise `exc` itself).

    `metrics`: the step monitor's figures (its start and peak RSS); `pool_mb` what the
    host's ledger holds.
    """
    if isinstance(exc, StepTimeout):
        return dg.Failure(
            description=str(exc),
            metadata={
                TIMEOUT_KEY: exc.timeout_s,
                TIMEOUT_BASIS_KEY: exc.basis,
                "memwise/elapsed_s": round(exc.elapsed_s, 3),
            },
            allow_retries=False,
        )
    if not isinstance(exc, MemoryLimitExceeded):
        return None
    peak, figure = restate_peak(exc, metrics)
    if context.retry_number >= retry.max_retries:
        return None
    pool = float(pool_mb)
    if peak >= pool:
        return dg.Failure(
            description=(
                f"{step_key} needed more than {peak:.0f} MB (its budget was "
                f"{limit_mb:.0f} MB) but this host's pool holds {pool:.0f} MB in all; "
                "no retry can give it that"
            ),
            allow_retries=False,
        )
    raised = min(
        raised_budget_mb(peak, headroom_mb=retry.headroom_mb, factor=retry.factor),
        pool,
    )
    path = _retry_file(home, context.run_id, step_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "attempt": context.retry_number,
        "peak_mb": peak,
        "figure": figure,
        "limit_mb": limit_mb,
        "raised_mb": raised,
    }
    path.write_text(json.dumps(record))
    context.log.warning(
        f"{step_key} passed its {limit_mb:.0f} MB budget ({figure}); retrying with {raised:.0f} MB"
    )
    return dg.RetryRequested(max_retries=retry.max_retries, seconds_to_wait=0)


def restate_peak(exc: MemoryLimitExceeded, metrics: dict[str, Any]) -> tuple[float, str]:
    """The attempt's one peak figure: MB above its start, and the text both the stop
    message and the retry note quote.

    The stop message is written at the emergency; the step may grow while it unwinds, so
    the figure is the larger of the two peaks, and the message is restated to carry it.
    """
    start = float(metrics["initial_memory_mb"])
    peak_rss = max(float(exc.peak_mb or 0.0), float(metrics["peak_memory_mb"]))
    used = max(0.0, peak_rss - start)
    figure = f"{used:.0f} MB used: peak {peak_rss:.1f} MB RSS above a {start:.1f} MB start"
    if figure not in str(exc):
        exc.args = (f"{exc}; the attempt's peak: {figure}",)
    exc.peak_mb = peak_rss
    return used, figure
