"""The company, filing and SEC attaches by blocks give the whole-history answers, any block size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

from memwise_assets.compute.company import SampleCompanySource, join_fundamentals
from memwise_assets.compute.company.sec_join import sec_daily
from memwise_assets.compute.company.sec_sample import sample_sec_facts
from memwise_assets.compute.filings.point_in_time import CARRIED, attach_filing_features
from memwise_assets.defs.block_joins import (
    arrow_types,
    join_blocks,
    of_symbols,
)
from memwise_assets.defs.filings.features import attach_filings
from memwise_assets.defs.filings.sec_fundamentals import ACCESSION_TYPES
from memwise_assets.defs.io_manager import _to_table
from memwise_assets.defs.store import VersionWriter, typed_nulls
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import plan_blocks
from memwise_assets_tests.builders.history import KEY, TICKERS
from memwise_assets_tests.builders.history import same_rows as _same_values

TODAY = pd.Timestamp("2025-01-01")
DAILY = ["symbol", "date", "open", "high", "low", "close", "volume"]


@pytest.fixture(scope="module")
def fundamentals() -> pd.DataFrame:
    """Sample statements of 150 of the 210 symbols (the others carry none)."""
    return SampleCompanySource(seed=3).fetch_fundamentals(TICKERS[:150], TODAY).frame


@pytest.fixture(scope="module")
def sec_facts() -> pd.DataFrame:
    """Sample SEC facts of a dozen symbols spread over the universe (built slowly: 0.7 s each)."""
    return sample_sec_facts(TICKERS[::18], seed=5, today=TODAY)


@pytest.fixture(scope="module")
def filings() -> pd.DataFrame:
    """filing_text_features rows: quarterly filings of 90 symbols since 1996, some known only
    by their filing date, with integer counts and float32 similarities."""
    rng = np.random.default_rng(11)
    rows = []
    for n, ticker in enumerate(TICKERS[::2][:90]):
        for period in pd.date_range("1996-03-31", "2024-09-30", freq="QE")[n % 7 :: 1 + n % 3]:
            filed = period + pd.Timedelta(days=int(rng.integers(20, 80)))
            accepted = filed + pd.Timedelta(hours=int(rng.integers(6, 22)))
            rows.append(
                {
                    "filing_id": f"{ticker}-{period:%Y%m}",
                    "cik": 1000 + n,
                    "ticker": ticker.lower() if n % 5 == 0 else ticker,
                    "form": "10-K" if period.month == 12 else "10-Q",
                    "accession": f"{1000 + n:010d}-{period:%y}-{period.month:06d}",
                    "accepted_at": None if n % 4 == 0 else accepted.tz_localize("UTC"),
                    "filed_date": filed,
                    "period_of_report": period,
                    "n_chars": np.int32(rng.integers(1_000, 90_000)),
                    "cosine_all": np.float32(rng.random()),
                }
            )
    frame = pd.DataFrame(rows)
    frame["accepted_at"] = pd.to_datetime(frame["accepted_at"], utc=True)
    return frame.astype({"n_chars": "int32", "cosine_all": "float32"})


def _nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Text and category columns as objects with None for a missing value (NaN != NaN),
    zoned times as UTC datetime64."""
    out = frame.copy()
    for name in out.columns:
        kind = out[name].dtype
        if isinstance(kind, pd.DatetimeTZDtype):  # compared as UTC datetime64 (NaT == NaT)
            out[name] = out[name].dt.tz_convert("UTC").dt.tz_localize(None)
            continue
        text = pd.api.types.is_string_dtype(kind) or isinstance(kind, pd.CategoricalDtype)
        if name != "symbol" and (text or pd.api.types.is_object_dtype(kind)):
            values = out[name].astype(object)
            out[name] = values.where(values.notna(), None)
    return out


def _same(got: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Same rows and columns: labels, dates, text and ints exact, floats within 1e-12."""
    _same_values(_nulls_as_none(got), _nulls_as_none(expected), keys)


def _plans(stored: StoredTable) -> list:
    rows = stored.symbol_rows.to_numpy()
    return [
        plan_blocks(rows, budget_mb=2048, bytes_per_row=600, max_rows=cap)
        for cap in (1, 20_000, None)
    ]


def _joins(fundamentals, filings, sec_facts):
    return {
        "fundamentals": (
            lambda d: join_fundamentals(d, fundamentals),
            lambda d: join_fundamentals(d, of_symbols(fundamentals, "ticker", d["symbol"])),
        ),
        "filings": (
            lambda d: attach_filing_features(d, filings),
            lambda d: attach_filings(d, filings, 460),
        ),
        "sec": (
            lambda d: sec_daily(d, sec_facts),
            lambda d: sec_daily(d, of_symbols(sec_facts, "ticker", d["symbol"])),
        ),
    }


def _null_types(filings: pd.DataFrame) -> dict:
    return {
        "fundamentals": None,
        "filings": arrow_types(filings, {c: c for c in CARRIED}),
        "sec": ACCESSION_TYPES,
    }


@pytest.mark.parametrize("which", ["fundamentals", "filings", "sec"])
def test_block_joins_give_the_whole_history_answers(
    whole,
    fundamentals,
    filings,
    sec_facts,
    which,
    tmp_path: Path,
) -> None:
    _, files = whole
    stored = StoredTable("daily_bars", files, DAILY)
    whole_join, block_join = _joins(fundamentals, filings, sec_facts)[which]
    expected = whole_join(stored.read_all())
    assert expected.shape[0] == stored.rows
    plans = _plans(stored)
    assert plans[0].blocks == len(TICKERS) and plans[-1].blocks == 1
    for plan in plans[1:]:  # a few symbols per block, the whole table
        got = pd.concat(list(join_blocks(stored, plan, block_join)), ignore_index=True)
        _same(got, expected, KEY)
    # One symbol per block, stored as the IO manager stores blocks: most blocks carry no
    # filing or fact (all-null text columns), and every file still has one schema, so a
    # dataset reader reads the whole version back.
    writer = VersionWriter(tmp_path / which)
    for block in join_blocks(stored, plans[0], block_join):
        writer.write(typed_nulls(_to_table(block, which), _null_types(filings)[which]))
    link = writer.commit()
    schemas = {ds.dataset(p, format="parquet").schema.remove_metadata() for p in writer.files}
    assert len(schemas) == 1, schemas
    _same(ds.dataset(link, format="parquet").to_table().to_pandas(), expected, KEY)
