"""Every asset of `defs` describes every column, and the schemas name the columns stored."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.company import (
    FUNDAMENTAL_COLUMNS,
    PROFILE_COLUMNS,
    SampleCompanySource,
    join_fundamentals,
)
from memwise_assets.compute.company.sec_facts import COLUMNS as SEC_COLUMNS
from memwise_assets.compute.company.sec_join import sec_daily
from memwise_assets.compute.filings.features import text_features
from memwise_assets.compute.filings.pipeline import COLUMNS as SECTION_COLUMNS
from memwise_assets.compute.filings.point_in_time import attach_filing_features
from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    triple_barrier_labels,
)
from memwise_assets.compute.prices import BAR_COLUMNS, SamplePriceSource
from memwise_assets.compute.prices.intraday import COLUMNS as INTRADAY_COLUMNS
from memwise_assets.compute.weekly.features import FEATURE_COLUMNS
from memwise_assets.definitions import defs
from memwise_assets.defs.columns import COLUMN_SCHEMA_KEY, SCHEMAS, col, column_metadata, table


def _schema(key: dg.AssetKey) -> dg.TableSchema | None:
    return defs.resolve_asset_graph().get(key).metadata.get(COLUMN_SCHEMA_KEY)


def test_every_asset_has_a_described_column_schema() -> None:
    gaps = []
    for key in sorted(defs.resolve_asset_graph().get_all_asset_keys()):
        schema = _schema(key)
        if not isinstance(schema, dg.TableSchema) or not schema.columns:
            gaps.append(f"{key.to_user_string()}: no {COLUMN_SCHEMA_KEY} definition metadata")
            continue
        gaps += [
            f"{key.to_user_string()}.{c.name}: no description"
            for c in schema.columns
            if not (c.description or "").strip()
        ]
    assert not gaps, "describe them in memwise_assets/defs/columns.py:\n" + "\n".join(gaps)


def _two_filings() -> pd.DataFrame:
    """Sections of two filings of one company, with the columns text features read."""
    n = 4
    return pd.DataFrame(
        {
            "filing_id": ["a", "a", "b", "b"],
            "cik": pd.array([320193] * n, dtype="Int64"),
            "company": ["Apple Inc."] * n,
            "ticker": ["AAPL"] * n,
            "form": pd.Categorical(["10-K"] * n),
            "period_of_report": pd.to_datetime(["2023-09-30"] * 2 + ["2024-09-28"] * 2),
            "filed_date": pd.to_datetime(["2023-11-03"] * 2 + ["2024-11-01"] * 2),
            "accepted_at": pd.to_datetime(["2023-11-03 20:04"] * 2 + ["2024-11-01 10:01"] * 2),
            "accession": ["0000320193-23-000106"] * 2 + ["0000320193-24-000123"] * 2,
            "filed_date_unknown": [False] * n,
            "item": ["1A", "7"] * 2,
            "text": ["risk of loss", "results grew", "risk of loss", "results fell"],
            "n_chars": pd.array([12, 12, 12, 12], dtype="int32"),
            "n_sentences": pd.array([1] * n, dtype="int32"),
        }
    )


def _stored_columns() -> dict[str, list[str]]:
    """The columns each asset stores, from the compute functions behind it (sample data)."""
    bars = SamplePriceSource().fetch(["AAPL"], "2024-01-02", "2024-04-01").frame
    labelled = triple_barrier_labels(
        bars[["symbol", "date", "close", "adj_close"]],
        LabelingConfig(modes=(LabelMode("base", 1, 1, 5),)),
    )
    fundamentals = SampleCompanySource().fetch_fundamentals(["AAPL"], "2024-04-01").frame
    daily = ["symbol", "date", "open", "high", "low", "close", "volume"]
    filing_features = text_features(_two_filings())
    return {
        "daily_bars": list(BAR_COLUMNS),
        "weekly_features": ["symbol", "week_end", *FEATURE_COLUMNS],
        # The daily bars with adj_close, then the week each row carries and its features.
        "daily_with_weekly_features": [*BAR_COLUMNS, "week_end", *FEATURE_COLUMNS],
        "weighted_labels": list(labelled.columns),
        "intraday_bars": list(INTRADAY_COLUMNS),
        "intraday_labels": [*INTRADAY_COLUMNS, *list(labelled.columns)[4:]],
        "sec_filing_sections": list(SECTION_COLUMNS),
        "company_profiles": list(PROFILE_COLUMNS),
        "company_fundamentals": list(FUNDAMENTAL_COLUMNS),
        "filing_text_features": list(filing_features.columns),
        "daily_with_filing_features": list(
            attach_filing_features(bars[daily], filing_features).columns
        ),
        "daily_with_fundamentals": list(
            join_fundamentals(bars[["symbol", "date", "close"]], fundamentals).columns
        ),
        "sec_fundamentals": list(SEC_COLUMNS),
        "daily_with_sec_fundamentals": list(
            sec_daily(bars[["symbol", "date", "close"]], pd.DataFrame(columns=SEC_COLUMNS)).columns
        ),
    }


def test_schemas_name_exactly_the_columns_the_assets_store() -> None:
    stored = _stored_columns()
    for asset, columns in stored.items():
        declared = [c.name for c in SCHEMAS[asset].columns]
        assert declared == columns, asset
        assert _schema(dg.AssetKey(asset)) == SCHEMAS[asset]


def test_schema_helpers_refuse_gaps_and_repeats() -> None:
    with pytest.raises(ValueError, match="needs a description"):
        col("x", "int64", " ")
    with pytest.raises(ValueError, match=r"declared twice: \['x'\]"):
        table(col("x", "int64", "a"), (col("x", "int64", "b"),))
    with pytest.raises(KeyError, match="no column schema for 'nope'"):
        column_metadata("nope")
