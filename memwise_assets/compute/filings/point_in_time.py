"""When a filing became public to a trader, and daily rows joined to it without look-ahead.

Convention (stated in the README, proved by the tests): a filing counts from the first
NYSE session whose open (09:30 New York) comes after the filing was accepted. So a filing
accepted at 16:05 counts from the next session, one accepted at 08:00 from that day's
session, one accepted during a session from the next. A filing known only by its filing
date counts from the next session after that date; one without a filing date never joins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from memwise_assets.compute.prices import trading_days

NEW_YORK = "America/New_York"
SESSION_OPEN = pd.Timedelta(hours=9, minutes=30)
PUBLIC_COLUMN = "public_session"
# Columns of a filing row that travel with it onto the daily rows.
CARRIED = ["filing_id", "form", "accession", "accepted_at", "filed_date", "period_of_report"]


def _sessions_for(stamps: Sequence[pd.Timestamp | None]) -> pd.DatetimeIndex:
    known = [s for s in stamps if s is not None and not pd.isna(s)]
    if not known:
        return pd.DatetimeIndex([])
    start = min(known) - pd.Timedelta(days=7)
    end = max(known) + pd.Timedelta(days=21)
    return trading_days(start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"))


def public_session(accepted_at: pd.Series, filed_date: pd.Series) -> pd.Series:
    """The first session each filing counts from (NaT when no filing date is known).

    accepted_at: UTC timestamps (NaT where unknown); filed_date: dates (NaT where unknown).
    """
    accepted = pd.to_datetime(accepted_at, utc=True)
    filed = _day(filed_date)
    local = accepted.dt.tz_convert(NEW_YORK)
    day = local.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    before_open = (local.dt.tz_localize(None) - day) < SESSION_OPEN
    sessions = _sessions_for([*day.dropna(), *filed.dropna()])
    values = sessions.values
    out = np.full(len(accepted), np.datetime64("NaT"), dtype="datetime64[ns]")
    has_time = accepted.notna().to_numpy()
    if has_time.any():
        days = day.to_numpy()[has_time]
        early = before_open.to_numpy()[has_time]
        # Before the open: that day's session if it is one; else the next session after.
        idx = np.where(
            early,
            np.searchsorted(values, days, side="left"),
            np.searchsorted(values, days, side="right"),
        )
        out[has_time] = _take(values, idx)
    date_only = ~has_time & filed.notna().to_numpy()
    if date_only.any():
        idx = np.searchsorted(values, filed.to_numpy()[date_only], side="right")
        out[date_only] = _take(values, idx)
    return pd.Series(out, index=accepted_at.index, name=PUBLIC_COLUMN)


def _day(values: pd.Series) -> pd.Series:
    """Dates as tz-naive datetime64[ns] midnights (sources differ in unit and zone)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.dt.normalize().astype("datetime64[ns]")


def _take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    padded = np.append(values, np.datetime64("NaT"))
    return padded[np.minimum(idx, len(values))]


def _symbol(values: pd.Series) -> pd.Series:
    return values.astype("string").str.upper().str.replace(".", "-", regex=False)


def attach_filing_features(
    daily: pd.DataFrame, features: pd.DataFrame, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Daily rows, in input order, with their ticker's latest filing public by that session.

    daily: `daily_bars` (symbol, date, ...); features: `filing_text_features` (ticker,
    accepted_at, filed_date, ...). `columns`: numeric feature columns to carry (default:
    every float/int column but identity); the filing's id, form, accession and times come
    along, plus `public_session`. Rows before any public filing carry NaN / NaT / None.
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
    attached = joined[[*CARRIED, PUBLIC_COLUMN, *columns]].set_axis(daily.index)
    kept = daily.drop(columns=[c for c in attached.columns if c in daily.columns])
    return pd.concat([kept, attached], axis=1)


def look_ahead_violations(joined: pd.DataFrame) -> pd.DataFrame:
    """Rows whose attached filing was not public before that day's session opened."""
    date = _day(joined["date"])
    opens = (date + SESSION_OPEN).dt.tz_localize(NEW_YORK, nonexistent="shift_forward")
    accepted = pd.to_datetime(joined["accepted_at"], utc=True)
    filed = _day(joined["filed_date"])
    has = joined["filing_id"].notna()
    late_time = accepted.notna() & (accepted >= opens.dt.tz_convert("UTC"))
    late_date = accepted.isna() & (filed.isna() | (filed >= date))
    return joined[has & (late_time | late_date)]
