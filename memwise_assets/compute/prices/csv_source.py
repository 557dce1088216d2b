"""Bars from a folder of per-ticker CSV files in the Yahoo export layout."""

from __future__ import annotations

import csv
import gzip
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from memwise_assets.compute.prices.calendar import trading_days
from memwise_assets.compute.prices.clean import clean_and_assemble
from memwise_assets.compute.prices.schema import (
    FetchResult,
    PriceSource,
    check_range,
    normalize_tickers,
)

EXPECTED_HEADER = "Date, Open, High, Low, Close, Adj Close (optional), Volume [, Name]"
# Header spellings seen in the wild, compared with case, spaces and punctuation removed.
ALIASES: dict[str, str] = {
    "date": "date",
    "datetime": "date",
    "timestamp": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
}
REQUIRED = ("date", "open", "high", "low", "close", "volume")
RAW_ORDER = ("date", "open", "high", "low", "close", "adj_close", "volume")
# Two readers keep both cores of a small machine busy; four read no faster here and held
# 43 MB more at the peak of a 500-file backfill (each thread's allocator keeps its pages).
READ_THREADS = 2
# A raw column marking rows with a value that could not be read unambiguously.
UNPARSABLE = "unparsable"
# Numeric day/month dates: 05/06/2024 could be either; a file's rows with a part > 12 decide.
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


class CsvFormatError(ValueError):
    """A ticker's CSV file does not have the expected columns or cannot be parsed."""


def _canonical(name: str) -> str:
    return ALIASES.get(re.sub(r"[^a-z]", "", name.lower()), "")


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvFormatError(f"cannot read {path.name}: {exc}") from exc


def read_yahoo_csv(path: Path) -> pd.DataFrame:
    """One Yahoo-layout CSV as raw columns date (datetime64, NaT if bad), open..volume (float64).

    Raises CsvFormatError naming the expected columns when the header does not fit.
    """
    return pd.DataFrame(_read_columns(path))


def _read_columns(path: Path) -> dict[str, np.ndarray]:
    header = _header(path)
    mapping: dict[str, str] = {}
    for col in header:
        canon = _canonical(col)
        if canon and canon not in mapping.values():
            mapping[col] = canon
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        raise CsvFormatError(
            f"{path.name}: expected columns {EXPECTED_HEADER}; missing {missing}; got {header}"
        )
    date_col = next(c for c, canon in mapping.items() if canon == "date")
    try:
        table = pacsv.read_csv(
            path,
            # Files are small: a thread pool per file costs more than it saves.
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(mapping),
                # Dates stay text so an offset like -05:00 never moves a bar to another day.
                column_types={date_col: pa.string()},
                null_values=["", "null", "NaN", "nan", "NA", "N/A", "-"],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise CsvFormatError(f"cannot parse {path.name}: {exc}") from exc
    cols: dict[str, np.ndarray] = {}
    unparsable = np.zeros(table.num_rows, dtype=bool)
    for col, canon in mapping.items():
        arr = table.column(col)
        if canon == "date":
            cols["date"] = parse_dates(arr)
        elif pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
            cols[canon] = arr.to_numpy().astype("float64")
        else:
            # A text cell in a numeric column ("1,234,567", "12.5x"): no guess at what it
            # meant (a thousands or a decimal separator); the row is refused and counted.
            text = arr.to_pandas()
            values = pd.to_numeric(text, errors="coerce").to_numpy("float64")
            unparsable |= np.isnan(values) & text.notna().to_numpy()
            cols[canon] = values
    if "adj_close" not in cols:
        # No Adj Close column (raw exports): adj_close = close, counted per row when cleaned.
        cols["adj_close"] = np.full(table.num_rows, np.nan)
    return {**{c: cols[c] for c in RAW_ORDER}, UNPARSABLE: unparsable}


def parse_dates(values: pa.ChunkedArray | pd.Series) -> np.ndarray:
    """datetime64[ns] days from ISO strings, with or without a time/offset part (local day kept)."""
    if isinstance(values, pd.Series):
        values = pa.chunked_array([pa.array(values.astype(object), type=pa.string())])
    if values.null_count == 0:
        try:
            # Plain ISO days, as exports write them: one cast, 4x cheaper than the path below.
            return pc.cast(values, pa.date32()).to_numpy().astype("datetime64[ns]")
        except pa.ArrowInvalid:
            pass  # a time, an offset, spaces or another layout somewhere: parse as text
    text = pc.utf8_trim_whitespace(values)
    days = pc.strptime(
        pc.utf8_slice_codeunits(text, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True
    )
    out = days.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    unparsed = np.isnat(out) & ~pc.is_null(text).to_numpy(zero_copy_only=False)
    if unparsed.any():
        raw_text = pd.Series(text.to_numpy(zero_copy_only=False)[unparsed])
        out[unparsed] = _other_dates(raw_text)
    return out


def _other_dates(text: pd.Series) -> np.ndarray:
    """Non-ISO dates: named months parsed; numeric d/m/y only when the file decides the order.

    A numeric date whose order the file's other rows do not settle (05/06/2024 with no
    13/06 or 06/13 beside it) is NaT: refused, never read month-first by a guess.
    """
    parts = text.str.extract(_NUMERIC_DATE)
    numeric = parts[0].notna().to_numpy()
    out = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    if (~numeric).any():
        named = pd.to_datetime(text[~numeric], errors="coerce", format="mixed", dayfirst=False)
        if isinstance(named.dtype, pd.DatetimeTZDtype):
            named = named.dt.tz_localize(None)
        # Only layouts that spell the month (6-Dec-2012, Dec 6, 2012) are unambiguous.
        spelled = text[~numeric].str.contains(r"[A-Za-z]{3}", regex=True).to_numpy()
        values = named.dt.normalize().to_numpy("datetime64[ns]")
        values[~spelled] = np.datetime64("NaT")
        out[~numeric] = values
    if numeric.any():
        first = parts.loc[numeric, 0].astype(int).to_numpy()
        second = parts.loc[numeric, 1].astype(int).to_numpy()
        year = parts.loc[numeric, 2].astype(int).to_numpy()
        day_first, month_first = (first > 12).any(), (second > 12).any()
        if day_first and not month_first:
            day, month = first, second
        elif month_first and not day_first:
            day, month = second, first
        else:  # undecided (or contradictory): only rows whose two parts agree are safe
            safe = first == second
            day = np.where(safe, first, 0)
            month = np.where(safe, second, 0)
        built = pd.to_datetime(
            pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
        )
        out[numeric] = built.to_numpy("datetime64[ns]")
    return out


class CsvPriceSource(PriceSource):
    """One `<TICKER>.csv` per ticker (Yahoo export layout), tolerant of real-world faults.

    Duplicate dates keep the last row (identical copies collapse) and are reported; rows
    with NaN/zero/negative prices are skipped and reported; a missing file or wrong
    columns fail that ticker only (PriceSourceError only when every ticker failed).
    """

    name = "csv"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _files(self) -> tuple[dict[str, Path], dict[str, str]]:
        """File per ticker, and the tickers refused (with why)."""
        files: dict[str, Path] = {}
        refused: dict[str, str] = {}
        if not self.folder.is_dir():
            return files, refused
        root = self.folder.resolve()
        # scandir's entries carry their file type: no stat per file for a folder of 500.
        with os.scandir(self.folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            name, path = entry.name, self.folder / entry.name
            for suffix in (".csv", ".csv.gz"):
                if name.lower().endswith(suffix) and entry.is_file():
                    ticker = name[: -len(suffix)].upper()
                    if entry.is_symlink() and root not in path.resolve().parents:
                        # Never read (so never quoted in a report): it lies outside the folder.
                        refused[ticker] = f"{name} is a symlink pointing outside {self.folder}"
                        continue
                    if ticker in files:
                        # AAPL.csv beside aapl.csv: which one is right is not ours to guess.
                        refused[ticker] = (
                            f"{files[ticker].name} and {name} are the same ticker (names "
                            "differ only in case or compression); keep one"
                        )
                    files.setdefault(ticker, path)
        return files, refused

    def input_bytes(self, tickers: Iterable[str] | str, start: object, end: object) -> int:
        """The bytes of the requested tickers' files, uncompressed: each is read whole,
        whatever part of it the range keeps."""
        symbols = set(normalize_tickers(tickers))
        check_range(start, end)
        files, _ = self._files()
        return sum(_uncompressed_size(path) for t, path in files.items() if t in symbols)

    def _fetch(self, tickers: list[str], start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        files, refused = self._files()
        days = trading_days(start, end)
        first_day, last_day = (days[0], days[-1]) if len(days) else (start, start)
        failed: dict[str, str] = {}
        notes: dict[str, str] = {}
        failed.update({t: why for t, why in refused.items() if t in tickers})
        paths = {t: files[t] for t in tickers if t in files and t not in failed}
        for t in tickers:
            if t not in paths and t not in failed:
                where = self.folder if self.folder.is_dir() else f"{self.folder} (not a folder)"
                failed[t] = f"no file {t}.csv in {where}"
        # Arrow parses outside the GIL, so a few threads overlap file reads on many small files.
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            loaded = dict(zip(paths, pool.map(_read_or_error, paths.values()), strict=True))
        # The readers' parse buffers are free now; Arrow's allocator keeps them unless asked
        # (27 MB less at the peak of a 30-year backfill, for 6 ms).
        pa.default_memory_pool().release_unused()
        parts: list[dict[str, np.ndarray]] = []
        codes: list[np.ndarray] = []
        for t, cols in loaded.items():
            if isinstance(cols, CsvFormatError):
                failed[t] = str(cols)
                continue
            dates = cols["date"]
            valid = dates[~np.isnat(dates)]
            if not len(valid):
                notes[t] = f"{paths[t].name} has no dated rows"
            else:
                first, last = pd.Timestamp(valid.min()), pd.Timestamp(valid.max())
                notes[t] = self._span_note(paths[t].name, first, last, first_day, last_day)
            parts.append(cols)
            codes.append(np.full(len(dates), tickers.index(t), dtype=np.int32))
        raw_all = pd.DataFrame(
            {c: np.concatenate([p[c] for p in parts]) for c in (*RAW_ORDER, UNPARSABLE)}
            if parts
            else {
                **{
                    c: np.empty(0, "datetime64[ns]" if c == "date" else "float64")
                    for c in RAW_ORDER
                },
                UNPARSABLE: np.empty(0, bool),
            },
            copy=False,  # the joined arrays are the frame's own: no consolidating copy
        )
        del loaded, parts  # per-file arrays: the joined copy above replaces them
        symbol_codes = np.concatenate(codes) if codes else np.empty(0, np.int32)
        raw_all.insert(0, "symbol", pd.Categorical.from_codes(symbol_codes, categories=tickers))
        hint = "the folder has none of these tickers" if len(failed) == len(tickers) else ""
        return clean_and_assemble(
            raw_all, tickers, start, end, failed=failed, notes=notes,
            source=f"{self.name}:{self.folder}", all_failed_hint=hint,
        )  # fmt: skip

    @staticmethod
    def _span_note(
        name: str, first: pd.Timestamp, last: pd.Timestamp, day0: pd.Timestamp, day1: pd.Timestamp
    ) -> str:
        """Say where a file starts late (listing) or ends early (delisting) inside the range."""
        if last < day0 or first > day1:
            return f"{name} covers {first.date()}..{last.date()}, outside the range"
        parts = []
        if first > day0:
            parts.append(f"first bar {first.date()} (late listing or short file)")
        if last < day1:
            parts.append(f"last bar {last.date()} (delisted or file ends)")
        return "; ".join(parts)


def _read_or_error(path: Path) -> dict[str, np.ndarray] | CsvFormatError:
    try:
        return _read_columns(path)
    except CsvFormatError as exc:
        return exc


def _uncompressed_size(path: Path) -> int:
    """A file's size on disk; for a .gz the size its trailer states (mod 4 GiB, at least
    the compressed size)."""
    try:
        size = path.stat().st_size
        if path.name.lower().endswith(".gz") and size >= 4:
            with open(path, "rb") as handle:
                handle.seek(-4, os.SEEK_END)
                return max(size, int.from_bytes(handle.read(4), "little"))
        return size
    except OSError:
        return 0
