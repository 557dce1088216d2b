"""Run each filing of a step in its own worker under its own estimate, cap and timeout."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from memwise_assets.defs.filings.landing import resolve_filing
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.worker import sections_in_worker
from memwise_assets.defs.resources import MemoryResource, StepMemory

if TYPE_CHECKING:
    from memwise_assets.defs.filings.assets import FilingsConfig

_MB = 1024.0 * 1024.0
ITEM_INPUT_KEY = "memwise/item_input_mb"
ITEM_PEAK_KEY = "memwise/item_peak_mb"
# Two workers on this class of machine: parsing is CPU-bound and the ledger, not the
# thread count, is what keeps memory in check.
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
    """Process `keys` (shared workers; LARGE filings one at a time), dead-lettering failures."""
    dead_letters = filings.dead_letters()
    large_lock = threading.Lock()
    done = 0
    done_lock = threading.Lock()

    def one(key: str) -> FilingOutcome:
        nonlocal done
        outcome = _process_one(context, memory, filings, config, key, large_lock)
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
                f"{outcome.size_mb:.1f} MB ({outcome.category}), peak {outcome.peak_mb:.0f} MB, "
                f"{outcome.seconds:.1f} s"
            )
        step.mark(f"filing-{done}-of-{len(keys)}")
        return outcome

    with ThreadPoolExecutor(max_workers=min(WORKERS, len(keys)) or 1) as pool:
        return list(pool.map(one, keys))


def _process_one(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    filings: FilingsResource,
    config: FilingsConfig,
    key: str,
    large_lock: threading.Lock,
) -> FilingOutcome:
    try:
        path = resolve_filing(filings.landing, key)
    except (OSError, ValueError) as exc:
        return FilingOutcome(key, "error", "-", 0.0, 0.0, "-", 0.0, 0.0, 0.0, None, str(exc))
    size_mb = path.stat().st_size / _MB
    static = memory.size_estimate(size_mb)
    estimate = memory.estimate(
        context.instance,
        context.asset_key,
        size_mb,
        static.memory_mb,
        input_key=ITEM_INPUT_KEY,
        peak_key=ITEM_PEAK_KEY,
    )
    mb = config.memory_multiplier * estimate.mb
    cap = config.memory_cap_overrides_mb.get(key, mb)
    timeout_s = config.timeout_overrides_s.get(key, config.timeout_multiplier * static.timeout_s)
    isolated = static.pool == "isolated"
    args: tuple[Any, ...] = (str(path), config.form, filings.spacy_model)
    try:
        with memory.admit(cap, label=f"{context.run_id[:8]}:filing:{key}"):
            if isolated:
                with large_lock:
                    result = memory.run_isolated(
                        sections_in_worker, *args, timeout_s=timeout_s, memory_cap_mb=cap
                    )
            else:
                result = memory.run_isolated(
                    sections_in_worker, *args, timeout_s=timeout_s, memory_cap_mb=cap
                )
    except dg.RetryRequested:
        return FilingOutcome(
            key,
            "admission",
            static.category.name,
            size_mb,
            mb,
            estimate.estimator,
            timeout_s,
            0.0,
            0.0,
            None,
            f"not admitted within {memory.admission_timeout_s:.0f} s",
        )
    except dg.Failure as exc:
        return FilingOutcome(
            key,
            "memory",
            static.category.name,
            size_mb,
            mb,
            estimate.estimator,
            timeout_s,
            0.0,
            0.0,
            None,
            exc.description,
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
    )
