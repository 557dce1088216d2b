"""10-Q/10-K filing dates from EDGAR's submissions JSON (`data.sec.gov/submissions/CIK*.json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from memwise_assets.compute.company.availability import filed_dates_frame

PERIODIC_FORMS = ("10-Q", "10-K")


def filed_dates_from_submissions(payload: Mapping[str, Any]) -> pd.DataFrame:
    """(ticker, period_end, filed_date) of one company's 10-Qs and 10-Ks, for each ticker.

    Reads `filings.recent` (form, reportDate, filingDate); amendments (10-Q/A) are left out:
    the original filing is when the figures first became public.
    """
    try:
        recent = payload["filings"]["recent"]
        forms, reports, filed = recent["form"], recent["reportDate"], recent["filingDate"]
        tickers = list(payload.get("tickers") or [])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            "expected an EDGAR submissions payload with filings.recent.form, reportDate and "
            f"filingDate; missing {exc}"
        ) from None
    rows = [
        (ticker, report, date)
        for form, report, date in zip(forms, reports, filed, strict=True)
        if form in PERIODIC_FORMS and report
        for ticker in tickers
    ]
    return filed_dates_frame(pd.DataFrame(rows, columns=["ticker", "period_end", "filed_date"]))


def read_filed_dates(path: str | Path) -> pd.DataFrame:
    """Filing dates from a file or folder: EDGAR submissions JSON, Parquet or CSV tables.

    A table needs columns ticker, period_end, filed_date; a folder is read file by file.
    """
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    frames = []
    for file in files:
        if file.suffix == ".json":
            frames.append(filed_dates_from_submissions(json.loads(file.read_text())))
        elif file.suffix == ".parquet":
            frames.append(filed_dates_frame(pd.read_parquet(file)))
        elif file.suffix == ".csv":
            frames.append(filed_dates_frame(pd.read_csv(file)))
    if not frames:
        raise ValueError(f"expected .json (EDGAR submissions), .parquet or .csv in {path}")
    return filed_dates_frame(pd.concat(frames, ignore_index=True))
