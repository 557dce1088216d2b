"""Daily rows joined to the latest filing public before their session opened.

When a filing counts is decided by the one public-time rule (`compute/point_in_time.py`):
from the first NYSE session whose 09:30 New York open comes after its acceptance; known only
by its filing date, from the next session after that date; with neither, it never joins.
A filing is carried until the next one is public, at most `max_age_days` calendar days
after its own public session (then the row carries none: stale).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from memwise_assets.compute.point_in_time import (
    NEW_YORK,
    PUBLIC_COLUMN,
    SESSION_OPEN,
    as_dates,
    public_session,
    session_open_utc,
)

__all__ = [
    "CARRIED",
    "DEFAULT_MAX_AGE_DAYS",
    "NEW_YORK",
    "PUBLIC_COLUMN",
    "SESSION_OPEN",
    "attach_filing_features",
    "look_ahead_violations",
    "public_session",
]

# Columns of a filing row that travel with it onto the daily rows.
CARRIED = ["filing_id", "form", "accession", "accepted_at", "filed_date", "period_of_report"]
# A 10-K-only filer files once a year: a year and a quarter covers a late one; older is stale.
DEFAULT_MAX_AGE_DAYS = 460
_day = as_dates


def _symbol(values: pd.Series) -> pd.Series:
    return values.astype("string").str.upper().str.replace(".", "-", regex=False)


def attach_filing_features(
    daily: pd.DataFrame,
    features: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    max_age_days: int | None = DEFAULT_MAX_AGE_DAYS,
) -> pd.DataFrame:
    """Daily rows, in input order, with their ticker's latest filing public by that session.

    daily: `daily_bars` (symbol, date, ...); features: `filing_text_features` (ticker,
    accepted_at, filed_date, ...). `columns`: numeric feature columns to carry (default:
    every float/int column but identity); the filing's id, form, accession and times come
    along, plus `public_session`. Rows before any public filing, or whose latest filing
    became public more than `max_age_days` days before (None: no limit), carry NaN / None.
    """
    for frame, needed, label in (
        (daily, ("symbol", "date"), "daily bars"),
        (features, ("ticker", "accepted_at", "filed_date", *CARRIED), "filing features"),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{label} need columns {list(needed)}; missing: {missing}")
    if columns is None:
        skip = {"cik", *CARRIED}
        columns = [
            c
            for c in features.columns
            if c not in skip
            and pd.api.types.is_numeric_dtype(features[c])
            and not pd.api.types.is_bool_dtype(features[c])
        ]
    filings = features[features["ticker"].notna()].copy()
    filings[PUBLIC_COLUMN] = public_session(filings["accepted_at"], filings["filed_date"])
    filings = filings[filings[PUBLIC_COLUMN].notna()]
    filings["_symbol"] = _symbol(filings["ticker"])
    # Two filings public at the same session: the later accepted one is the latest.
    order = [PUBLIC_COLUMN, "accepted_at", "filed_date", "filing_id"]
    right = filings.sort_values(order, na_position="first", kind="stable")
    right = right[["_symbol", PUBLIC_COLUMN, *CARRIED, *columns]]
    left = pd.DataFrame(
        {
            "_symbol": _symbol(daily["symbol"]),
            "_date": _day(daily["date"]),
            "_row": np.arange(len(daily)),
        }
    ).sort_values("_date", kind="stable")
    right["_date"] = right[PUBLIC_COLUMN].astype("datetime64[ns]")
    joined = pd.merge_asof(
        left, right, on="_date", by="_symbol", direction="backward", allow_exact_matches=True
    )
    joined = joined.sort_values("_row").reset_index(drop=True)
    if max_age_days is not None:
        age = joined["_date"] - joined[PUBLIC_COLUMN].astype("datetime64[ns]")
        stale = (age > pd.Timedelta(days=max_age_days)).to_numpy()
        if stale.any():
            for column in [*CARRIED, PUBLIC_COLUMN, *columns]:
                joined[column] = joined[column].mask(stale)
    attached = joined[[*CARRIED, PUBLIC_COLUMN, *columns]].set_axis(daily.index)
    kept = daily.drop(columns=[c for c in attached.columns if c in daily.columns])
    return pd.concat([kept, attached], axis=1)


def look_ahead_violations(joined: pd.DataFrame) -> pd.DataFrame:
    """Rows whose attached filing was not public before that day's session opened."""
    date = _day(joined["date"])
    opens = session_open_utc(joined["date"])
    accepted = pd.to_datetime(joined["accepted_at"], utc=True)
    filed = _day(joined["filed_date"])
    has = joined["filing_id"].notna()
    late_time = accepted.notna() & (accepted >= opens)
    late_date = accepted.isna() & (filed.isna() | (filed >= date))
    return joined[has & (late_time | late_date)]
