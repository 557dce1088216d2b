"""Process and host memory readings: RSS with children, exact peaks, available memory.

psutil reports the host's memory inside a container, so the cgroup limit (v2 or v1)
bounds what we call available: trusting psutil alone there is how runs get OOM-killed.
"""

from __future__ import annotations

import ctypes
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import psutil

_MB = 1024.0 * 1024.0
# cgroup v1 reports "no limit" as a huge page-aligned number rather than "max".
_NO_LIMIT_BYTES = 1 << 60

_peak_reset_supported: bool | None = None


def current_rss_mb(include_children: bool = True) -> float:
    """Resident memory of this process, plus its live children by default, in MB."""
    proc = psutil.Process()
    total = proc.memory_info().rss
    if include_children:
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                # A child may exit between listing and reading: it holds nothing then.
                continue
    return total / _MB


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process since start or the last `reset_peak()`, in MB.

    Uses the kernel high-water mark (VmHWM), so short spikes between samples count.
    """
    hwm_kb = _status_kb("VmHWM")
    if hwm_kb is not None:
        return hwm_kb / 1024.0
    # ru_maxrss is in KB on Linux and cannot be reset; better than nothing elsewhere.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak() -> bool:
    """Reset the kernel high-water mark to the current RSS; False where the kernel refuses.

    Callers that get False fall back to their own sampled maximum and say so.
    """
    global _peak_reset_supported
    if _peak_reset_supported is False:
        return False
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        _peak_reset_supported = True
    except OSError:
        _peak_reset_supported = False
    return _peak_reset_supported


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def cgroup_limit_mb(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """Memory limit of this process's cgroup (v2, then v1) in MB, or None when unlimited."""
    candidates: list[tuple[Path, Path]] = []
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        rel = rel.lstrip("/")
        if controllers == "":
            candidates.append((root / rel / "memory.max", root / "memory.max"))
        elif "memory" in controllers.split(","):
            candidates.append(
                (
                    root / "memory" / rel / "memory.limit_in_bytes",
                    root / "memory" / "memory.limit_in_bytes",
                )
            )
    limits = []
    for nested, top in candidates:
        for path in (nested, top):
            value = _read_int(path)
            if value is not None and value < _NO_LIMIT_BYTES:
                limits.append(value)
                break
    return min(limits) / _MB if limits else None


def total_mb() -> float:
    """Memory this process may use in all: host RAM, bounded by the cgroup limit."""
    host = psutil.virtual_memory().total / _MB
    limit = cgroup_limit_mb()
    return min(host, limit) if limit is not None else host


def available_mb() -> float:
    """Memory available to new work now: host available, bounded by the cgroup headroom."""
    host_available = psutil.virtual_memory().available / _MB
    limit = cgroup_limit_mb()
    if limit is None:
        return host_available
    used = _cgroup_usage_mb()
    headroom = limit - used if used is not None else limit
    return max(0.0, min(host_available, headroom))


def _cgroup_usage_mb(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    for path in (root / "memory.current", root / "memory" / "memory.usage_in_bytes"):
        value = _read_int(path)
        if value is not None:
            return value / _MB
    return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _statm_rss_mb(pid: int | str) -> float | None:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES / _MB
    except (OSError, ValueError, IndexError):
        return None


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss_probe(refresh_s: float = 1.0) -> Callable[[], float]:
    """A cheap `current_rss_mb()` for frequent sampling: children are re-listed every `refresh_s`.

    Listing children scans all of /proc (milliseconds); a 50 ms sampler doing that
    each time would cost the monitored loop several percent.
    """
    children: list[psutil.Process] = []
    listed_at = -float("inf")

    def probe() -> float:
        nonlocal children, listed_at
        own = _statm_rss_mb("self")
        if own is None:
            return current_rss_mb()
        now = time.monotonic()
        if now - listed_at >= refresh_s:
            try:
                children = psutil.Process().children(recursive=True)
            except psutil.Error:
                children = []
            listed_at = now
        total = own
        for child in children:
            total += _statm_rss_mb(child.pid) or 0.0
        return total

    return probe


def release_free_heap() -> bool:
    """Hand memory the allocator holds but no longer uses back to the OS (glibc malloc_trim).

    numpy and pandas free large arrays into glibc's arenas, where RSS still counts them;
    a memory emergency registers this as a cleanup. False where the libc has no malloc_trim.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False
