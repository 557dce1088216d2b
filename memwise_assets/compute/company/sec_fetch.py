"""Companyfacts and submissions of a list of companies from EDGAR, kept for the next run.

Each company's two responses are written atomically under `<folder>/companyfacts/` and
reused while younger than `max_age_hours` (a run that failed half-way resumes where it
stopped, without asking EDGAR again). A company that fails is reported; the others go on.
Requests go through `EdgarClient` (its shared limiter, User-Agent and backoff).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from memwise_assets.compute.company.sec_facts import empty_facts, reports_of, views
from memwise_assets.compute.edgar import EdgarClient, EdgarError

CACHE_DIR = "companyfacts"


@dataclass
class FactsReport:
    """What the fetch did for one company."""

    company: str
    cik: int | None
    status: str = "ok"  # ok | failed
    rows: int = 0
    dropped: int = 0
    reason: str = ""


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _cached_json(
    client: EdgarClient, url: str, path: Path, max_age_hours: float
) -> Mapping[str, Any]:
    if path.is_file() and time.time() - path.stat().st_mtime < max_age_hours * 3600:
        return json.loads(path.read_bytes())
    body = client.get(url)
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError(f"{url}: expected a JSON object")
    _write_atomic(path, body)
    return value


def fetch_sec_facts(
    client: EdgarClient,
    companies: Iterable[tuple[int, str | None]],
    folder: Path,
    *,
    data_base_url: str,
    max_age_hours: float = 20.0,
    standard_only: bool = True,
) -> tuple[pd.DataFrame, list[FactsReport]]:
    """Long facts (sec_facts.COLUMNS) of every (cik, ticker), and one report per company."""
    cache = folder / CACHE_DIR
    cache.mkdir(parents=True, exist_ok=True)
    frames, reports = [], []
    for cik, ticker in companies:
        label = ticker or f"CIK {cik}"
        try:
            facts = _cached_json(
                client,
                f"{data_base_url}/api/xbrl/companyfacts/CIK{cik:010d}.json",
                cache / f"companyfacts_CIK{cik:010d}.json",
                max_age_hours,
            )
            note = ""
            try:
                submissions = _cached_json(
                    client,
                    f"{data_base_url}/submissions/CIK{cik:010d}.json",
                    cache / f"submissions_CIK{cik:010d}.json",
                    max_age_hours,
                )
            except (EdgarError, ValueError) as exc:
                # Without acceptance times every report counts from the session after its
                # filing date: later, never earlier, than with them.
                submissions, note = None, f"no submissions data, filing dates only: {exc}"[:300]
            frame, dropped = reports_of(
                facts, submissions, ticker=ticker, standard_only=standard_only
            )
        except (EdgarError, ValueError, KeyError, TypeError) as exc:
            reports.append(FactsReport(label, cik, "failed", reason=str(exc)[:300]))
            continue
        frames.append(frame)
        reports.append(FactsReport(label, cik, rows=len(frame), dropped=dropped, reason=note))
    if not frames:
        return empty_facts(), reports
    return views(pd.concat(frames, ignore_index=True)), reports
