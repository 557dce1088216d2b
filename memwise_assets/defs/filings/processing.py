"""Run each filing of a step under its own estimate, cap and timeout: a plan, then its execution.

`plan_filings` reads each file's size once and fixes everything about a filing before any
runs: its estimate, cap, timeout and runner (`FilingJob`). `run_filings` executes the plan:
SMALL and MEDIUM filings go to the process's pool of warm workers (spaCy loaded once per
worker); LARGE ones run in a fresh isolated process, one at a time.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from memwise_assets.compute.filings.landing import resolve_filing
from memwise_assets.defs.filings.config import FilingsConfig
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.worker import filing_pool, sections_in_worker
from memwise_assets.defs.resources import MemoryResource, StepMemory
from memwise_assets.memory import IsolatedResult, WorkerPool

_MB = 1024.0 * 1024.0
ITEM_INPUT_KEY = "memwise/item_input_mb"
ITEM_PEAK_KEY = "memwise/item_peak_mb"
# Two at a time on this class of machine (as many as the pool's workers): parsing is
# CPU-bound and the ledger, not the thread count, is what keeps memory in check.
WORKERS = 2
POOL, ISOLATED = "pool", "isolated"


@dataclass(frozen=True, kw_only=True)
class FilingJob:
    """One filing's plan, fixed before any filing runs."""

    key: str
    path: Path
    size_mb: float
    mtime_ns: int  # with the size: the file as planned, to tell a file replaced meanwhile
    category: str
    estimator: str
    reserve_mb: float  # held on the ledger while the filing runs: the estimate
    cap_mb: float  # the worker's RSS cap: never below the static size-class rule
    timeout_s: float
    runner: str  # POOL (a warm worker) or ISOLATED (a fresh process, one at a time)


@dataclass(kw_only=True)
class FilingOutcome:
    """What happened to one filing of the step."""

    key: str
    status: str
    category: str = "-"
    size_mb: float = 0.0
    estimate_mb: float = 0.0
    cap_mb: float = 0.0
    estimator: str = "-"
    timeout_s: float = 0.0
    peak_mb: float = 0.0
    seconds: float = 0.0
    frame: pd.DataFrame | None = None
    reason: str | None = None
    runner: str = "-"

    @classmethod
    def of(
        cls,
        job: FilingJob,
        *,
        status: str,
        reason: str | None = None,
        result: IsolatedResult | None = None,
    ) -> FilingOutcome:
        """An outcome carrying the job's planned figures (and what its run measured)."""
        return cls(
            key=job.key,
            status=status,
            category=job.category,
            size_mb=job.size_mb,
            estimate_mb=job.reserve_mb,
            cap_mb=job.cap_mb,
            estimator=job.estimator,
            timeout_s=job.timeout_s,
            runner=job.runner,
            peak_mb=result.peak_mb if result else 0.0,
            seconds=result.seconds if result else 0.0,
            frame=result.value if result and result.ok else None,
            reason=reason,
        )

    @property
    def items(self) -> int:
        return 0 if self.frame is None else len(self.frame)


@dataclass(frozen=True)
class FilingPlan:
    """The step's filings: a job for each landed one, an outcome for each that is not."""

    jobs: list[FilingJob]
    missing: list[FilingOutcome] = field(default_factory=list)

    @property
    def input_mb(self) -> float:
        return sum(job.size_mb for job in self.jobs)

    @property
    def pooled(self) -> bool:
        """Whether any filing goes to the pool (a batch of LARGE ones starts no workers)."""
        return any(job.runner == POOL for job in self.jobs)


def plan_filings(
    keys: list[str],
    *,
    landing: Path,
    memory: MemoryResource,
    config: FilingsConfig,
    asset_key: dg.AssetKey,
    history: list[tuple[float, float]],
) -> FilingPlan:
    """A `FilingJob` per landed filing; `history` is the per-filing (input, peak) record."""
    jobs, missing = [], []
    for key in keys:
        try:
            path = resolve_filing(landing, key)
            stat = path.stat()
        except (OSError, ValueError) as exc:
            missing.append(FilingOutcome(key=key, status="error", reason=str(exc)))
            continue
        size_mb = stat.st_size / _MB
        static = memory.size_estimate(size_mb)
        estimate = memory.estimate(None, asset_key, size_mb, static.memory_mb, history)
        reserve_mb = config.memory_multiplier * estimate.mb
        # A calibrated estimate is what filings like this one used; a warm worker's RSS
        # creeps above it, so the kill cap keeps the static rule's headroom.
        cap_mb = config.memory_cap_overrides_mb.get(
            key, max(reserve_mb, config.memory_multiplier * static.memory_mb)
        )
        jobs.append(
            FilingJob(
                key=key,
                path=path,
                size_mb=size_mb,
                mtime_ns=stat.st_mtime_ns,
                category=static.category.name,
                estimator=estimate.estimator,
                reserve_mb=min(reserve_mb, cap_mb),
                cap_mb=cap_mb,
                timeout_s=config.timeout_overrides_s.get(
                    key, config.timeout_multiplier * static.timeout_s
                ),
                runner=ISOLATED if static.pool == "isolated" else POOL,
            )
        )
    return FilingPlan(jobs, missing)


def run_filings(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    filings: FilingsResource,
    plan: FilingPlan,
    step: StepMemory,
    form: str | None = None,
) -> list[FilingOutcome]:
    """Execute the plan (warm pool; LARGE filings isolated one at a time); dead-letter failures."""
    dead_letters = filings.dead_letters()
    large_lock = threading.Lock()
    done_lock = threading.Lock()
    done = 0
    total = len(plan.jobs) + len(plan.missing)
    interrupted = threading.Event()
    pool: WorkerPool | None = None

    def record(outcome: FilingOutcome) -> FilingOutcome:
        nonlocal done
        if outcome.frame is None:
            attempts = dead_letters.add(
                outcome.key,
                str(filings.landing / outcome.key),
                outcome.status,
                outcome.reason or "",
                outcome.peak_mb,
                outcome.seconds,
            )
            outcome.reason = f"{outcome.reason} (attempt {attempts})"
        elif dead_letters.remove(outcome.key):
            context.log.info(f"{outcome.key}: succeeded on retry, removed from the dead letters")
        with done_lock:
            done += 1
            context.log.info(
                f"[{done}/{total}] {outcome.key}: {outcome.status}, {outcome.items} items, "
                f"{outcome.size_mb:.1f} MB ({outcome.category}, {outcome.runner}), "
                f"peak {outcome.peak_mb:.0f} MB, {outcome.seconds:.1f} s"
            )
        step.mark(f"filing-{done}-of-{total}")
        return outcome

    def one(job: FilingJob) -> FilingOutcome:
        label = f"{context.run_id[:8]}:filing:{job.key}"
        args = (str(job.path), form, filings.spacy_model)
        outcome = _execute(job, memory, pool, large_lock, label, args)
        if interrupted.is_set():
            return outcome  # killed by the interruption: not the filing's fault
        return record(outcome)

    outcomes = [record(outcome) for outcome in plan.missing]
    with ExitStack() as stack:
        if plan.pooled:
            pool = stack.enter_context(filing_pool(filings.spacy_model))
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(plan.jobs)) or 1) as threads:
            try:
                return outcomes + list(threads.map(one, plan.jobs))
            except BaseException:
                # Interrupted (run terminated): drop queued filings, kill running ones now
                # rather than wait for them, and dead-letter none of them.
                interrupted.set()
                threads.shutdown(wait=False, cancel_futures=True)
                if pool is not None:
                    pool.close(kill=True)
                raise


def _execute(
    job: FilingJob,
    memory: MemoryResource,
    pool: WorkerPool | None,
    large_lock: threading.Lock,
    label: str,
    args: tuple[str, str | None, str | None],
) -> FilingOutcome:
    """One filing under its reservation, on its runner; never raises for the filing's faults."""
    before = _fingerprint(job.path)
    try:
        # LARGE filings lock before admission: one waiting its turn holds no memory.
        with large_lock if job.runner == ISOLATED else nullcontext():
            with memory.admit(job.reserve_mb, label=label):
                if job.runner == ISOLATED or pool is None:
                    result = memory.run_isolated(
                        sections_in_worker,
                        *args,
                        timeout_s=job.timeout_s,
                        memory_cap_mb=job.cap_mb,
                    )
                else:
                    result = _in_pool(pool, args, job)
    except dg.RetryRequested:
        reason = f"not admitted within {memory.admission_timeout_s:.0f} s"
        return FilingOutcome.of(job, status="admission", reason=reason)
    except dg.Failure as exc:  # more than the host's whole pool
        return FilingOutcome.of(job, status="memory", reason=exc.description)
    after = _fingerprint(job.path)
    planned = (job.size_mb, job.mtime_ns)
    if after != before or (after is not None and (after[0] / _MB, after[1]) != planned):
        # Replaced or rewritten while parsed: the sections may mix two texts. Dead-lettered,
        # so the retry parses the file as it is now.
        reason = (
            f"filing {job.key} changed while it was parsed (size, mtime_ns, inode {before} -> "
            f"{after}); not stored, retried from the dead letters"
        )
        return FilingOutcome.of(job, status="error", reason=reason)
    return FilingOutcome.of(job, status=result.status, reason=_reason(job, result), result=result)


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _reason(job: FilingJob, result: IsolatedResult) -> str | None:
    if result.status == "timeout":
        return f"timed out after {job.timeout_s:.1f} s"
    if result.status == "memory":
        return f"exceeded its memory cap of {job.cap_mb:.0f} MB (peak {result.peak_mb:.0f} MB)"
    if result.status == "error":
        text = (result.error or "").strip()
        return text.splitlines()[0][:500] if text else "unknown error"
    return None


def _in_pool(
    pool: WorkerPool, args: tuple[str, str | None, str | None], job: FilingJob
) -> IsolatedResult:
    """One filing on a warm worker; a pool that cannot start workers is that filing's error."""
    future = pool.submit(
        sections_in_worker, *args, timeout_s=job.timeout_s, memory_cap_mb=job.cap_mb
    )
    try:
        return future.result()
    except Exception as exc:
        return IsolatedResult("error", None, f"worker pool: {type(exc).__name__}: {exc}", 0.0, 0.0)
