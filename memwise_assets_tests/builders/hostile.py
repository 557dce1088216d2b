"""Hostile filings made on the fly, and importable child-process targets for the suite."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

# A plain 10-K body the parser accepts; hostile variants wrap or replace parts of it.
ITEMS = (
    "<p>FORM 10-K</p><p>PART I</p>"
    "<p>Item 1. Business</p><p>We make widgets in three plants and sell them worldwide.</p>"
    "<p>Item 7. Management's Discussion</p><p>Revenue grew. Costs fell. {payload}</p>"
    "<p>Item 8. Financial Statements</p><p>See the balance sheet.</p>"
)
SECRET = "MEMWISE-SECRET-7f3a9c"


def good_filing(payload: str = "") -> bytes:
    """A small valid 10-K in HTML."""
    return f"<html><body>{ITEMS.format(payload=payload)}</body></html>".encode()


def deep_nesting(depth: int = 100_000) -> bytes:
    """A 10-K whose body nests `depth` <div>s (parsers that recurse blow their stack)."""
    return (
        b"<html><body>"
        + good_filing().removeprefix(b"<html><body>").removesuffix(b"</body></html>")
        + b"<div>" * depth
        + b"deep"
        + b"</div>" * depth
        + b"</body></html>"
    )


def billion_laughs(levels: int = 10) -> bytes:
    """Entity expansion: 10 levels of 10x references would be 10^10 copies if expanded."""
    lines = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        refs = f"&lol{i - 1};" * 10
        lines.append(f'<!ENTITY lol{i} "{refs}">')
    doctype = f"<?xml version='1.0'?><!DOCTYPE html [{''.join(lines)}]>"
    body = ITEMS.format(payload=f"&lol{levels - 1};")
    return f"{doctype}<html><body>{body}</body></html>".encode()


def external_entity(secret_path: Path) -> bytes:
    """XXE: an entity pointing at a local file, referenced in Item 7's text."""
    doctype = (
        f"<?xml version='1.0'?><!DOCTYPE html [<!ENTITY xxe SYSTEM \"file://{secret_path}\">"
        f'<!ENTITY % pe SYSTEM "file://{secret_path}">]>'
    )
    body = ITEMS.format(payload="&xxe;")
    return (doctype + f"<html><body>{body}<img src='file://{secret_path}'/></body></html>").encode()


def non_utf8() -> bytes:
    """A 10-K with latin-1 bytes and invalid UTF-8 sequences in Item 7's text."""
    return good_filing().replace(b"Revenue grew.", b"Caf\xe9 \xff\xfe\x80 \xc3\x28 Revenue grew.")


def write_repeated_tables(path: Path, target_mb: int) -> int:
    """Write a 10-K whose body is `target_mb` MB of repeated tables; return its size."""
    row = "<tr><td>Revenue</td><td>1,234</td><td>5,678</td><td>9,012</td></tr>"
    table = "<table>" + row * 100 + "</table>\n"
    block = table.encode() * 20
    head = b"<html><body>" + ITEMS.format(payload="").encode()
    with open(path, "wb") as handle:
        handle.write(head)
        written = len(head)
        while written < target_mb * 1024 * 1024:
            handle.write(block)
            written += len(block)
        handle.write(b"<p>Item 9. Changes in Accountants</p><p>None.</p></body></html>")
    return path.stat().st_size


def sections_summary(path: str) -> dict[str, object]:
    """Child target: section a filing; return its items and whether a secret leaked."""
    from memwise_assets.compute.filings import FilingError, filing_sections, load_nlp

    try:
        frame = filing_sections(path, nlp=load_nlp())
    except FilingError as exc:
        return {"status": "refused", "reason": exc.reason, "message": str(exc)}
    text = "\n".join(frame["text"].tolist() + frame["title"].tolist())
    return {
        "status": "sectioned",
        "items": frame["item"].astype(str).tolist(),
        "chars": int(frame["n_chars"].sum()),
        "leaked": SECRET in text,
        "pid": os.getpid(),
    }


def frame_of(n: int, value: float = 1.0) -> pd.DataFrame:
    """A small frame whose contents say which write produced it."""
    return pd.DataFrame({"i": range(n), "v": [value] * n})


def write_big_table(path: str, rows: int, ready_file: str) -> None:
    """Child target: atomically write a large random table to `path` (to be killed mid-way)."""
    import numpy as np
    import pyarrow as pa

    from memwise_assets.defs.atomic_files import atomic_write_table

    rng = np.random.default_rng(0)
    table = pa.table({"a": rng.random(rows), "b": rng.integers(0, 1 << 40, rows)})
    Path(ready_file).write_text(str(os.getpid()))
    atomic_write_table(table, Path(path))


def hold_memory(
    mb: int, ready_file: str, release_file: str, ledger_dir: str | None = None, pool_mb: float = 0
) -> int:
    """Child target: really hold `mb` MB (reserved on the ledger if given) until released."""
    import contextlib
    import time

    import numpy as np

    reservation: contextlib.AbstractContextManager = contextlib.nullcontext()
    if ledger_dir is not None:
        from memwise_assets.memory import MemoryLedger

        ledger = MemoryLedger(ledger_dir, pool_mb=pool_mb, available_fn=lambda: 1e12)
        reservation = ledger.reserve(mb, timeout_s=10, label=f"holder-{os.getpid()}")
    with reservation:
        held = np.ones(mb * 1024 * 1024 // 8)  # np.ones touches every page: real RSS
        Path(ready_file).write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not Path(release_file).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        del held
    return 0


def die_holding_the_ledger_lock(ledger_dir: str, ready_file: str) -> None:
    """Child target: take the ledger's file lock and SQLite write lock, then get SIGKILLed."""
    import fcntl
    import signal
    import sqlite3

    from memwise_assets.memory import MemoryLedger
    from memwise_assets.memory.ledger_file import DB_NAME

    MemoryLedger(ledger_dir, pool_mb=1000, available_fn=lambda: 1e12)
    lock = open(Path(ledger_dir) / "ledger.lock", "a+b")  # noqa: SIM115 - dies holding it
    fcntl.flock(lock, fcntl.LOCK_EX)
    conn = sqlite3.connect(Path(ledger_dir) / DB_NAME, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO history (ts, event, label, mb, pid, total_mb, pool_mb) "
        "VALUES (0, 'half-done', 'x', 0, 0, 0, 0)"
    )
    Path(ready_file).write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)
