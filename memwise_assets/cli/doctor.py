"""`memwise doctor` and the recovery every memwise entry point runs first.

Shows (and unless asked only to check, mends) runs whose processes died, pool slots held
by finished runs, and ledger reservations of dead processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from memwise_assets.defs.recovery import recover
from memwise_assets.defs.resources import MemoryResource


def recover_home(
    home: Path, say: Callable[[str], None] = lambda line: None, *, mend: bool = True
) -> list[str]:
    """Recovery of one Dagster home and of the host ledger; the lines it found."""
    lines: list[str] = []
    os.environ["DAGSTER_HOME"] = str(home)
    memory = MemoryResource()
    if (home / "dagster.yaml").is_file():
        with dg.DagsterInstance.from_config(str(home)) as instance:
            lines += [f.line() for f in recover(instance, memory.home, mend=mend)]
    if mend:
        for entry in memory.ledger.reclaim_dead():
            lines.append(
                f"ledger: reclaimed {entry['label']!r} ({entry['mb']:.0f} MB) of dead pid "
                f"{entry['pid']}"
            )
    for line in lines:
        say(f"memwise recovery: {line}")
    return lines


def doctor(home: Path, say: Callable[[str], None], *, mend: bool = True) -> int:
    """Print what is wrong with `home` and the ledger; mend it unless `mend` is False."""
    lines = recover_home(home, mend=mend)
    memory = MemoryResource()
    say(f"home {home}; ledger {memory.ledger.db_path}")
    for line in lines:
        say(line)
    for row in memory.ledger.snapshot():
        say(f"ledger holds {row['label']!r}: {row['mb']:.0f} MB for pid {row['pid']}")
    for row in memory.ledger.waiting():
        say(f"ledger queue: {row['label']!r} waits for {row['mb']:.0f} MB (pid {row['pid']})")
    say("nothing to mend" if not lines else f"{len(lines)} finding(s)")
    return 1 if lines and not mend else 0
