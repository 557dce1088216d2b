"""SEC filing sections: memwise's lean lxml route against a BeautifulSoup full-DOM baseline.

Both run the same sectioning and the same spaCy counting on the real filings in
`data_dir/sec`; the figures are MB of filing per second and peak MB per MB of filing.
"""

from __future__ import annotations

import ctypes
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from memwise_assets.bench.harness import BenchRow, measure
from memwise_assets.compute.filings import FilingError, filing_sections, load_nlp
from memwise_assets.compute.filings.nlp import count_texts
from memwise_assets.compute.filings.pages import strip_furniture
from memwise_assets.compute.filings.sections import find_sections
from memwise_assets.compute.filings.source import open_document

log = logging.getLogger(__name__)

CASE = "filings-sec"
NEEDS = "--data <folder> with a sec/ folder of .htm/.txt filings"
_MB = 1e6
_KB = 1e3
_QUICK_FILES = ("medicis-pharmaceutical_10-K_1999.htm", "apple_10-Q_1997.txt")


def bs4_baseline(path: Path) -> pd.DataFrame:
    """The seed's way: a BeautifulSoup DOM, get_text, then the same sectioning and counting."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    doc = open_document(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        text = BeautifulSoup(doc.text(), "lxml").get_text("\n") if doc.is_html else doc.text()
    lines = [" ".join(line.split()) for line in text.splitlines()]
    sections = find_sections(strip_furniture([line for line in lines if line]), doc.form or "")
    sentences, tokens = count_texts([s.text for s in sections], load_nlp())
    return pd.DataFrame(
        {"item": [s.item for s in sections], "n_sentences": sentences, "n_tokens": tokens}
    )


def _files(data_dir: Path | None, quick: bool) -> list[Path]:
    folder = data_dir / "sec" if data_dir is not None else None
    if folder is None or not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix in (".htm", ".html", ".txt"))
    if quick:
        files = [p for p in files if p.name in _QUICK_FILES] or files[:2]
    return files


def _release_freed_memory() -> None:
    """Hand freed heap back to the OS, so each file's peak is not hidden by the last one's."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        # Not glibc: peaks may then read low after the warm-up; nothing else changes.
        pass


def _run_impl(impl: str, fn: Callable[[Path], object], files: list[Path]) -> BenchRow:
    seconds, cpu, total_mb, peaks, ratios, failed = 0.0, 0.0, 0.0, [], [], []
    spent: list[float] = []

    def timed(path: Path) -> object:
        # CPU of this thread only: wall time on a shared machine also counts other people's
        # work, and process CPU would count the harness's RSS sampler thread.
        began = time.thread_time()
        try:
            return fn(path)
        finally:
            spent.append(time.thread_time() - began)

    for path in files:
        mb = path.stat().st_size / _MB
        _release_freed_memory()
        try:
            _, took, peak = measure(timed, path)
        except FilingError as exc:
            failed.append(f"{path.name}: {exc.reason}")
            continue
        cpu += spent[-1]
        seconds += took
        total_mb += mb
        peaks.append(peak)
        ratios.append(peak / mb)
    median = float(pd.Series(ratios).median()) if ratios else 0.0
    note = (
        f"{total_mb / seconds if seconds else 0:.1f} MB/s wall, "
        f"{total_mb / cpu if cpu else 0:.1f} MB/s CPU; peak per MB of filing: "
        f"all files {sum(peaks) / total_mb if total_mb else 0:.1f}x, median {median:.1f}x, "
        f"max {max(ratios, default=0.0):.1f}x; {len(ratios)} files"
    )
    if failed:
        note += f"; failed: {', '.join(failed)}"
    return BenchRow(CASE, impl, total_mb * _MB / _KB, "KB", seconds, max(peaks, default=0.0), note)


def run(data_dir: Path | None, quick: bool) -> list[BenchRow]:
    """memwise (lean parse + sections + spaCy, after warm-up), then the BeautifulSoup baseline."""
    files = _files(data_dir, quick)
    if not files:
        log.info("bench %s: no %s/sec folder, skipped", CASE, data_dir)
        return []
    nlp = load_nlp()

    def memwise(path: Path) -> pd.DataFrame:
        return filing_sections(path, nlp=nlp)

    for path in files:
        # Warm-up: imports, spaCy's lexeme cache and the allocator's arenas.
        try:
            memwise(path)
        except FilingError:
            continue
    return [
        _run_impl("memwise (lxml events)", memwise, files),
        _pool_row(files),
        _run_impl("bs4 DOM", bs4_baseline, files),
    ]


def _pool_row(files: list[Path]) -> BenchRow:
    """The path the Dagster step takes: warm 2-worker pool, one task per filing, all cores."""
    from memwise_assets.defs.filings.worker import (
        POOL_WORKERS,
        TASKS_PER_WORKER,
        sections_in_worker,
        warm_worker,
    )
    from memwise_assets.memory import WorkerPool

    total_mb = sum(path.stat().st_size for path in files) / _MB
    with WorkerPool(
        POOL_WORKERS, TASKS_PER_WORKER, initializer=warm_worker, initargs=(None,)
    ) as pool:

        def batch() -> list[object]:
            futures = [
                pool.submit(sections_in_worker, str(p), None, None, timeout_s=600) for p in files
            ]
            return [f.result() for f in futures]

        batch()  # warm-up: worker start, spaCy load, lexeme caches
        results, seconds, peak = measure(batch)
    ok = sum(1 for r in results if r.status == "ok")
    worker_peak = max((r.peak_mb for r in results), default=0.0)
    note = (
        f"{total_mb / seconds:.1f} MB/s wall on {POOL_WORKERS} warm workers; {ok}/{len(files)} "
        f"ok; largest worker peak {worker_peak:.0f} MB (whole worker, spaCy included)"
    )
    return BenchRow(
        CASE, f"memwise pool x{POOL_WORKERS}", total_mb * _MB / _KB, "KB", seconds, peak, note
    )
