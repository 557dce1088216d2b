"""Shared cleaning of raw long bars into the contract layout, with per-ticker fault counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from memwise_assets.compute.prices.calendar import trading_days
from memwise_assets.compute.prices.schema import (
    MAX_VOLUME,
    PRICE_COLUMNS,
    FetchResult,
    PriceSourceError,
    TickerReport,
    empty_bars,
    issues_text,
)


def ticker_codes(symbols: pd.Series, tickers: Sequence[str]) -> np.ndarray:
    """Position of each row's symbol in `tickers` (-1 if not requested), cheap for categoricals."""
    if isinstance(symbols.dtype, pd.CategoricalDtype):
        cat = symbols.cat
        lookup = pd.Index(list(tickers)).get_indexer(cat.categories.astype(str))
        lookup = np.append(lookup, -1)  # code -1 (NaN symbol) maps to the appended -1
        return lookup[cat.codes.to_numpy()]
    return pd.Categorical(symbols.astype(str), categories=list(tickers)).codes


def _per_symbol(codes: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes[mask], minlength=n)[:n] if mask.any() else np.zeros(n, dtype=np.int64)


def clean_bars(
    raw: pd.DataFrame,
    tickers: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Raw long bars (any order, faults included) -> contract frame and fault counts per ticker.

    Rows outside [start, end) are dropped silently; rows on non-trading days, with unparsable
    dates, infinite/NaN/zero/negative prices, negative volume or a volume that is infinite or
    absurd (MAX_VOLUME) are skipped and counted; duplicate
    (symbol, date) rows keep the last one in input order; NaN adj_close falls back to close,
    NaN volume to 0; high/low are widened to cover open and close when a source broke that.
    """
    n_t = len(tickers)
    cats = sorted(tickers)
    codes_all = ticker_codes(raw["symbol"], tickers)
    known = codes_all >= 0
    dates_all = pd.to_datetime(raw["date"], errors="coerce")
    if isinstance(dates_all.dtype, pd.DatetimeTZDtype):
        dates_all = dates_all.dt.tz_localize(None)
    dates_all = dates_all.dt.normalize().astype("datetime64[ns]").to_numpy()
    counts: dict[str, np.ndarray] = {}
    bad_date = np.isnat(dates_all) & known
    counts["bad_date"] = _per_symbol(codes_all, bad_date, n_t)
    in_range = known & ~bad_date
    in_range &= (dates_all >= start.to_datetime64()) & (dates_all < end.to_datetime64())
    td = trading_days(start, end).to_numpy()
    off_cal = in_range & ~_on_calendar(dates_all, td)
    counts["off_calendar"] = _per_symbol(codes_all, off_cal, n_t)
    keep = in_range & ~off_cal

    # One array per column (copies: the repairs below must never write into `raw`).
    cols = {c: raw[c].to_numpy(dtype="float64", na_value=np.nan, copy=True) for c in PRICE_COLUMNS}
    o, h, lo, c, adj = (cols[k] for k in PRICE_COLUMNS)
    # An infinite price is refused on its own count: no repair can make it a price.
    infinite = keep & (np.isinf(o) | np.isinf(h) | np.isinf(lo) | np.isinf(c) | np.isinf(adj))
    counts["non_finite_price"] = _per_symbol(codes_all, infinite, n_t)
    keep &= ~infinite
    with np.errstate(invalid="ignore"):
        bad_price = np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c)
        bad_price |= (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0) | (adj <= 0)
    bad_price &= keep
    counts["bad_price"] = _per_symbol(codes_all, bad_price, n_t)
    keep &= ~bad_price
    if "unparsable" in raw:
        # A value the source could not read unambiguously: refused, never a replacement.
        unparsable = keep & raw["unparsable"].to_numpy(dtype=bool)
        counts["unparsable_value"] = _per_symbol(codes_all, unparsable, n_t)
        keep &= ~unparsable
    volume = pd.to_numeric(raw["volume"], errors="coerce")
    cols["volume"] = volume.to_numpy(dtype="float64", na_value=np.nan)
    neg_vol = keep & (cols["volume"] < 0)
    counts["negative_volume"] = _per_symbol(codes_all, neg_vol, n_t)
    keep &= ~neg_vol
    # An infinite volume would wrap to int64 min; an absurd one could overflow a sum later.
    huge_vol = keep & (np.isinf(cols["volume"]) | (cols["volume"] >= MAX_VOLUME))
    counts["non_finite_volume"] = _per_symbol(codes_all, huge_vol, n_t)
    keep &= ~huge_vol

    cols["code"], cols["date"] = codes_all, dates_all
    if not keep.all():
        cols = _take(cols, np.flatnonzero(keep))
    # Stable sort keeps input order within a (symbol, date), so "last" means last in the file.
    # Files come in date order almost always: then the sort is skipped, not paid.
    order = _order(cols["code"], cols["date"])
    if order is not None:
        cols = _take(cols, order)
    codes, dates = cols["code"], cols["date"]
    dup = np.zeros(len(codes), dtype=bool)  # every row that a later row of the same key supersedes
    if len(codes) > 1:
        dup[:-1] = (codes[1:] == codes[:-1]) & (dates[1:] == dates[:-1])
    conflicting = dup
    if dup.any():
        at, nxt = np.flatnonzero(dup), np.flatnonzero(dup) + 1
        vals = np.column_stack([cols[k] for k in (*PRICE_COLUMNS, "volume")])
        differs = ~((vals[at] == vals[nxt]) | (np.isnan(vals[at]) & np.isnan(vals[nxt])))
        conflicting = np.zeros(len(codes), dtype=bool)
        conflicting[at] = differs.any(axis=1)
    counts["duplicates"] = _per_symbol(codes, dup, n_t)
    counts["duplicates_conflicting"] = _per_symbol(codes, conflicting, n_t)
    if dup.any():
        cols = _take(cols, np.flatnonzero(~dup))
        codes = cols["code"]

    o, h, lo, c, adj, volume = (cols[k] for k in (*PRICE_COLUMNS, "volume"))
    adj_nan = np.isnan(adj)
    counts["adj_close_from_close"] = _per_symbol(codes, adj_nan, n_t)
    adj[adj_nan] = c[adj_nan]
    vol_nan = np.isnan(volume)
    counts["missing_volume"] = _per_symbol(codes, vol_nan, n_t)
    volume = np.where(vol_nan, 0.0, volume)
    counts["zero_volume"] = _per_symbol(codes, (volume == 0) & ~vol_nan, n_t)
    hi, low = np.maximum.reduce([o, h, lo, c]), np.minimum.reduce([o, h, lo, c])
    repaired = (hi != h) | (low != lo)
    counts["ohlc_repaired"] = _per_symbol(codes, repaired, n_t)
    cols["high"], cols["low"], cols["volume"] = hi, low, np.rint(volume).astype(np.int64)

    # Category order is the sorted universe, so frames of different days concat as category.
    remap = np.array([cats.index(t) for t in tickers], dtype=np.int32)
    cols["code"] = remap[codes] if len(codes) else codes.astype(np.int32)
    order = _order(cols["code"], cols["date"])
    if order is not None:
        cols = _take(cols, order)
    frame = pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(cols["code"], categories=cats),
            **{k: cols[k] for k in ("date", *PRICE_COLUMNS, "volume")},
        },
        copy=False,
    )
    issues = {t: {k: int(v[i]) for k, v in counts.items() if v[i]} for i, t in enumerate(tickers)}
    return frame, issues


def _on_calendar(dates: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Which dates are trading days (`days` sorted): a binary search, no sort of the rows."""
    if not len(days):
        return np.zeros(len(dates), dtype=bool)
    pos = np.minimum(np.searchsorted(days, dates), len(days) - 1)
    return days[pos] == dates


def in_key_order(codes: np.ndarray, dates: np.ndarray, *, strict: bool = False) -> bool:
    """Rows sorted by (symbol code, date); `strict`: no (symbol, date) twice either."""
    step_code, step_date = np.diff(codes), np.diff(dates)
    later = step_date > 0 if strict else step_date >= 0
    return bool(((step_code > 0) | ((step_code == 0) & later)).all())


def symbol_codes(symbols: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's symbol as a code into the returned categories (-1: none); categoricals free."""
    if not isinstance(symbols.dtype, pd.CategoricalDtype):
        symbols = symbols.astype("category")
    return symbols.cat.codes.to_numpy(), symbols.cat.categories


def _order(codes: np.ndarray, dates: np.ndarray) -> np.ndarray | None:
    """The stable sort by (code, date), or None where the rows are in that order already."""
    return None if in_key_order(codes, dates) else np.lexsort((dates, codes))


def _take(cols: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in cols.items()}


def _spans(
    frame: pd.DataFrame, days: np.ndarray
) -> dict[str, tuple[int, int, int, object, object]]:
    """Per symbol with rows: (rows, first and last position in `days`, first and last date).

    On the category codes with numpy (bincount, min/max at): a per-symbol groupby cost a
    30-year slice of 33 tickers 55 ms.
    """
    codes, categories = symbol_codes(frame["symbol"])
    codes = codes.astype(np.int64)
    dates = frame["date"].to_numpy().astype("datetime64[ns]")
    keep = codes >= 0
    codes, dates = codes[keep], dates[keep]
    n = len(categories)
    pos = np.searchsorted(days, dates)
    rows = np.bincount(codes, minlength=n)
    first = np.full(n, len(days), dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    np.minimum.at(first, codes, pos)
    np.maximum.at(last, codes, pos)
    stamps = dates.view(np.int64)
    d0 = np.full(n, np.iinfo(np.int64).max)
    d1 = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(d0, codes, stamps)
    np.maximum.at(d1, codes, stamps)
    d0, d1 = d0.view("datetime64[ns]"), d1.view("datetime64[ns]")
    return {
        str(name): (int(rows[i]), int(first[i]), int(last[i]), d0[i], d1[i])
        for i, name in enumerate(categories)
        if rows[i]
    }


def assemble(
    frame: pd.DataFrame,
    tickers: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    issues: Mapping[str, Mapping[str, int]],
    failed: Mapping[str, str],
    notes: Mapping[str, str] | None = None,
    source: str = "",
    all_failed_hint: str = "",
) -> FetchResult:
    """Build the per-ticker report for a cleaned frame; raise if every ticker failed.

    `notes` are per-ticker remarks (listing dates, file span) put first in the reason.
    """
    notes = notes or {}
    if frame.empty:
        frame = empty_bars(tickers)
    spans = _spans(frame, trading_days(start, end).to_numpy())
    report: dict[str, TickerReport] = {}
    for t in tickers:
        found = dict(issues.get(t, {}))
        if t in failed:
            report[t] = TickerReport(t, "failed", reason=failed[t], issues=found)
            continue
        if t not in spans:
            reason = "; ".join(
                filter(None, [notes.get(t) or "no bars in the requested range", issues_text(found)])
            )
            report[t] = TickerReport(t, "empty", reason=reason, issues=found)
            continue
        rows, p0, p1, d0, d1 = spans[t]
        missing = p1 - p0 + 1 - rows
        if missing:
            found["missing_days"] = missing
        report[t] = TickerReport(
            t,
            "ok",
            rows=rows,
            reason="; ".join(filter(None, [notes.get(t, ""), issues_text(found)])),
            first_date=pd.Timestamp(d0),
            last_date=pd.Timestamp(d1),
            issues=found,
        )
    result = FetchResult(frame=frame.reset_index(drop=True), report=report, source=source)
    if len(result.failed) == len(tickers):
        reasons = sorted({r.reason for r in report.values()})[:3]
        raise PriceSourceError(
            f"{source}: every requested ticker failed ({len(tickers)}: "
            f"{', '.join(list(tickers)[:10])}{'...' if len(tickers) > 10 else ''})"
            f"{'; likely cause: ' + all_failed_hint if all_failed_hint else ''}; "
            f"reasons: {' | '.join(reasons)}"
        )
    return result


def clean_and_assemble(
    raw: pd.DataFrame,
    tickers: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    failed: Mapping[str, str],
    notes: Mapping[str, str] | None = None,
    source: str = "",
    all_failed_hint: str = "",
) -> FetchResult:
    """What every source ends with: `clean_bars` on the raw rows, then `assemble` the report."""
    frame, issues = clean_bars(raw, tickers, start, end)
    return assemble(
        frame,
        tickers,
        start,
        end,
        issues=issues,
        failed=failed,
        notes=notes,
        source=source,
        all_failed_hint=all_failed_hint,
    )
