"""Run each filing of a step under its own estimate, cap and timeout.

SMALL and MEDIUM filings go to the process's pool of warm workers (spaCy loaded once per
worker); LARGE ones run in a fresh isolated process, one at a time.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from memwise_assets.defs.filings.landing import resolve_filing
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.worker import filing_pool, sections_in_worker
from memwise_assets.defs.resources import MemoryResource, StepMemory
from memwise_assets.memory import IsolatedResult, WorkerPool

if TYPE_CHECKING:
    from memwise_assets.defs.filings.assets import FilingsConfig

_MB = 1024.0 * 1024.0
ITEM_INPUT_KEY = "memwise/item_input_mb"
ITEM_PEAK_KEY = "memwise/item_peak_mb"
# Two at a time on this class of machine (as many as the pool's workers): parsing is
# CPU-bound and the ledger, not the thread count, is what keeps memory in check.
WORKERS = 2


@dataclass
class FilingOutcome:
    """What happened to one filing of the step."""

    key: str
    status: str
    category: str
    size_mb: float
    estimate_mb: float
    estimator: str
    timeout_s: float
    peak_mb: float
    seconds: float
    frame: pd.DataFrame | None
    reason: str | None = None
    runner: str = "-"

    @property
    def items(self) -> int:
        return 0 if self.frame is None else len(self.frame)


def _first_line(text: str | None) -> str:
    if not text:
        return "unknown error"
    return text.strip().splitlines()[0][:500]


def process_filings(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    filings: FilingsResource,
    config: FilingsConfig,
    keys: list[str],
    step: StepMemory,
) -> list[FilingOutcome]:
    """Process `keys` (warm pool; LARGE filings isolated one at a time); dead-letter failures."""
    dead_letters = filings.dead_letters()
    large_lock = threading.Lock()
    done = 0
    done_lock = threading.Lock()
    pool: WorkerPool | None = None
    interrupted = threading.Event()
    # One event-log read for the whole batch: every filing's estimate fits the same history.
    history = memory.history(
        context.instance, context.asset_key, input_key=ITEM_INPUT_KEY, peak_key=ITEM_PEAK_KEY
    )

    def one(key: str) -> FilingOutcome:
        nonlocal done
        outcome = _process_one(context, memory, filings, config, key, pool, large_lock, history)
        if interrupted.is_set():
            return outcome  # killed by the interruption: not the filing's fault
        if outcome.frame is None:
            attempts = dead_letters.add(
                key,
                str(filings.landing / key),
                outcome.status,
                outcome.reason or "",
                outcome.peak_mb,
                outcome.seconds,
            )
            outcome.reason = f"{outcome.reason} (attempt {attempts})"
        elif dead_letters.remove(key):
            context.log.info(f"{key}: succeeded on retry, removed from the dead letters")
        with done_lock:
            done += 1
            context.log.info(
                f"[{done}/{len(keys)}] {key}: {outcome.status}, {outcome.items} items, "
                f"{outcome.size_mb:.1f} MB ({outcome.category}, {outcome.runner}), "
                f"peak {outcome.peak_mb:.0f} MB, {outcome.seconds:.1f} s"
            )
        step.mark(f"filing-{done}-of-{len(keys)}")
        return outcome

    with ExitStack() as stack:
        if _any_pooled(memory, filings, keys):
            pool = stack.enter_context(filing_pool(filings.spacy_model))
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(keys)) or 1) as threads:
            try:
                return list(threads.map(one, keys))
            except BaseException:
                # Interrupted (run terminated): drop queued filings, kill running ones now
                # rather than wait for them, and dead-letter none of them.
                interrupted.set()
                threads.shutdown(wait=False, cancel_futures=True)
                if pool is not None:
                    pool.close(kill=True)
                raise


def _any_pooled(memory: MemoryResource, filings: FilingsResource, keys: list[str]) -> bool:
    """Whether any filing goes to the pool (so a batch of LARGE ones starts no workers)."""
    for key in keys:
        try:
            size_mb = resolve_filing(filings.landing, key).stat().st_size / _MB
        except (OSError, ValueError):
            continue
        if memory.size_estimate(size_mb).pool != "isolated":
            return True
    return False


def _process_one(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    filings: FilingsResource,
    config: FilingsConfig,
    key: str,
    pool: WorkerPool | None,
    large_lock: threading.Lock,
    history: list[tuple[float, float]],
) -> FilingOutcome:
    try:
        path = resolve_filing(filings.landing, key)
    except (OSError, ValueError) as exc:
        return FilingOutcome(key, "error", "-", 0.0, 0.0, "-", 0.0, 0.0, 0.0, None, str(exc))
    before = _fingerprint(path)
    size_mb = path.stat().st_size / _MB
    static = memory.size_estimate(size_mb)
    estimate = memory.estimate(
        context.instance,
        context.asset_key,
        size_mb,
        static.memory_mb,
        history=history,
    )
    mb = config.memory_multiplier * estimate.mb
    cap = config.memory_cap_overrides_mb.get(key, mb)
    timeout_s = config.timeout_overrides_s.get(key, config.timeout_multiplier * static.timeout_s)
    isolated = static.pool == "isolated" or pool is None
    args: tuple[Any, ...] = (str(path), config.form, filings.spacy_model)
    label = f"{context.run_id[:8]}:filing:{key}"
    try:
        if isolated or pool is None:  # implied by isolated; spelt out for the type checker
            # Lock before admission: a LARGE filing waiting its turn holds no memory.
            with large_lock, memory.admit(cap, label=label):
                result = memory.run_isolated(
                    sections_in_worker, *args, timeout_s=timeout_s, memory_cap_mb=cap
                )
        else:
            with memory.admit(cap, label=label):
                result = _in_pool(pool, args, timeout_s, cap)
    except (dg.RetryRequested, dg.Failure) as exc:
        # Never started: not admitted in time, or more than the host's whole pool.
        status, reason = (
            ("admission", f"not admitted within {memory.admission_timeout_s:.0f} s")
            if isinstance(exc, dg.RetryRequested)
            else ("memory", exc.description)
        )
        return FilingOutcome(
            key,
            status,
            static.category.name,
            size_mb,
            mb,
            estimate.estimator,
            timeout_s,
            0.0,
            0.0,
            None,
            reason,
        )
    after = _fingerprint(path)
    if after != before:
        # Replaced or rewritten while parsed: the sections may mix two texts. Dead-lettered,
        # so the retry parses the file as it is now.
        result = IsolatedResult(
            "error",
            None,
            f"filing {key} changed while it was parsed (size, mtime_ns, inode {before} -> "
            f"{after}); not stored, retried from the dead letters",
            result.peak_mb,
            result.seconds,
        )
    reason = None
    if result.status == "timeout":
        reason = f"timed out after {timeout_s:.1f} s"
    elif result.status == "memory":
        reason = f"exceeded its memory cap of {cap:.0f} MB (peak {result.peak_mb:.0f} MB)"
    elif result.status == "error":
        reason = _first_line(result.error)
    return FilingOutcome(
        key=key,
        status=result.status,
        category=static.category.name,
        size_mb=size_mb,
        estimate_mb=cap,
        estimator=estimate.estimator,
        timeout_s=timeout_s,
        peak_mb=result.peak_mb,
        seconds=result.seconds,
        frame=result.value if result.ok else None,
        reason=reason,
        runner="isolated" if isolated else "pool",
    )


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _in_pool(
    pool: WorkerPool, args: tuple[Any, ...], timeout_s: float, cap: float
) -> IsolatedResult:
    """One filing on a warm worker; a pool that cannot start workers is that filing's error."""
    future = pool.submit(sections_in_worker, *args, timeout_s=timeout_s, memory_cap_mb=cap)
    try:
        return future.result()
    except Exception as exc:
        return IsolatedResult("error", None, f"worker pool: {type(exc).__name__}: {exc}", 0.0, 0.0)
