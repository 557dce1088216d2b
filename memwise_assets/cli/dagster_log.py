"""Send a command's Dagster log to a file and keep the terminal for progress and the summary."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def log_to_file(path: Path | None) -> Iterator[TextIO]:
    """While inside, file descriptors 1 and 2 write to `path`; yield a stream on the terminal.

    Descriptors rather than `sys.stdout`: Dagster's console logger, Python warnings and the
    filing worker processes all write there. With `path=None` nothing moves (--verbose).
    """
    if path is None:
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(path, "w", encoding="utf-8") as log:
        for fd in saved:
            os.dup2(log.fileno(), fd)
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8")
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)
            os.close(original)
        terminal.close()
