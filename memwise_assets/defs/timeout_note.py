"""Put a timed-out step's note into the run's event log, just before its process is killed.

Run by the deadline's watchdog process (`python -m memwise_assets.defs.timeout_note RUN_ID
STEP_KEY NOTE_PATH`) when a step holds the GIL past its grace period: the step cannot log
its own failure then, so this says why the executor is about to see its process die.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg


def main(argv: list[str]) -> int:
    run_id, step_key, note_path = argv
    message = json.loads(Path(note_path).read_text())["message"]
    instance = dg.DagsterInstance.get()
    run = instance.get_run_by_id(run_id)
    if run is None:
        return 1
    instance.report_engine_event(message, dagster_run=run, step_key=step_key)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
