"""`batch_execution_metrics.json` per run: execution totals, memory per step, cleanup.

Steps may run in separate processes, so each writes its own fragment and then, under a
file lock, rebuilds the run's summary from all fragments present.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from memwise_assets.memory.cache import safe_name

METRICS_FILE = "batch_execution_metrics.json"


def run_dir(data_root: Path, run_id: str) -> Path:
    """Folder of one run's metrics, beside the stored outputs."""
    return data_root / "_runs" / run_id


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def record_step(
    data_root: Path,
    run_id: str,
    step_key: str,
    asset: str,
    metrics: dict[str, Any],
    cleanup: dict[str, Any],
    rows: int,
) -> Path:
    """Store one step's figures and refresh the run's summary; return the summary path."""
    folder = run_dir(data_root, run_id)
    steps = folder / "steps"
    steps.mkdir(parents=True, exist_ok=True)
    fragment = {
        "step_key": step_key,
        "asset": asset,
        "rows": rows,
        "finished_at": time.time(),
        "memory": metrics,
        "cleanup": cleanup,
    }
    _write_json(steps / f"{safe_name(step_key)}.json", fragment)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        summary = summarise(
            run_id, [json.loads(p.read_text()) for p in sorted(steps.glob("*.json"))]
        )
        _write_json(folder / METRICS_FILE, summary)
    return folder / METRICS_FILE


def summarise(run_id: str, fragments: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's totals from its steps' fragments."""
    memory = [f["memory"] for f in fragments]
    return {
        "run_id": run_id,
        "execution": {
            "steps": len(fragments),
            "rows": sum(int(f["rows"]) for f in fragments),
            "seconds": round(sum(float(m["seconds"]) for m in memory), 3),
            "all_within_limit": all(bool(m["within_budget"]) for m in memory),
            "max_peak_memory_mb": max((float(m["peak_memory_mb"]) for m in memory), default=0.0),
        },
        "steps": {f["step_key"]: {"asset": f["asset"], **f["memory"]} for f in fragments},
        "cleanup": {
            "files_removed": sum(int(f["cleanup"]["files_removed"]) for f in fragments),
            "disk_freed_mb": round(sum(float(f["cleanup"]["disk_freed_mb"]) for f in fragments), 3),
            "all_succeeded": all(bool(f["cleanup"]["success"]) for f in fragments),
        },
    }
