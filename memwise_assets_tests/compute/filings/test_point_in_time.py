"""When a filing becomes public to a trader, and the daily join that must never look ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.filings.point_in_time import (
    NEW_YORK,
    attach_filing_features,
    look_ahead_violations,
    public_session,
)
from memwise_assets.compute.prices import trading_days


def _ny(*stamps: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps))).dt.tz_localize(NEW_YORK).dt.tz_convert("UTC")


@pytest.mark.parametrize(
    ("accepted", "filed", "session"),
    [
        ("2024-01-26 16:05", "2024-01-26", "2024-01-29"),  # Friday after the close -> Monday
        ("2024-01-26 09:29", "2024-01-26", "2024-01-26"),  # before the open -> that session
        ("2024-01-26 09:30", "2024-01-26", "2024-01-29"),  # at the open: not before it
        ("2024-01-26 12:00", "2024-01-26", "2024-01-29"),  # during the session -> next one
        ("2024-07-04 08:00", "2024-07-04", "2024-07-05"),  # holiday morning -> next session
        ("2024-01-27 11:00", "2024-01-29", "2024-01-29"),  # Saturday -> Monday's session
        (None, "2024-01-26", "2024-01-29"),  # date only -> next trading day
        (None, "2024-07-03", "2024-07-05"),  # date only, holiday next -> the day after
    ],
)
def test_public_session_convention(accepted: str | None, filed: str, session: str) -> None:
    got = public_session(_ny(accepted), pd.Series(pd.to_datetime([filed])))
    assert got.iloc[0] == pd.Timestamp(session)


def test_filing_without_a_date_is_never_public() -> None:
    got = public_session(_ny(None), pd.Series([pd.NaT], dtype="datetime64[ns]"))
    assert got.isna().all()


def _daily(tickers: list[str], start: str, end: str) -> pd.DataFrame:
    days = trading_days(start, end)
    frame = pd.DataFrame(
        {
            "symbol": np.repeat(tickers, len(days)),
            "date": np.tile(days.values, len(tickers)),
        }
    )
    frame["symbol"] = frame["symbol"].astype("category")
    frame["close"] = np.arange(len(frame), dtype=float)
    return frame


def _filings(rng: np.random.Generator, tickers: list[str], n: int) -> pd.DataFrame:
    minutes = rng.integers(0, 60 * 24 * 360, n)
    accepted = pd.Timestamp("2024-01-02", tz=NEW_YORK) + pd.to_timedelta(minutes, unit="min")
    dated_only = rng.random(n) < 0.3
    undated = rng.random(n) < 0.1
    frame = pd.DataFrame(
        {
            "filing_id": [f"f{i}" for i in range(n)],
            "ticker": rng.choice(tickers, n),
            "form": rng.choice(["10-K", "10-Q"], n),
            "accession": [f"a{i}" for i in range(n)],
            "cik": rng.integers(1, 4, n),
            "accepted_at": pd.Series(accepted.tz_convert("UTC")).where(~dated_only),
            "filed_date": pd.Series(accepted.tz_localize(None).normalize()).where(~undated),
            "period_of_report": pd.Timestamp("2023-12-31"),
            "cosine_all": rng.random(n),
            "n_chars": rng.integers(1, 10_000, n),
        }
    )
    frame.loc[undated, "accepted_at"] = pd.NaT
    return frame


def test_filing_accepted_at_1605_first_appears_on_next_trading_day() -> None:
    daily = _daily(["TSLA"], "2024-01-24", "2024-02-01")
    filing = pd.DataFrame(
        {
            "filing_id": ["tsla-10k"],
            "ticker": ["TSLA"],
            "form": ["10-K"],
            "accession": ["0001628280-24-002390"],
            "cik": [1318605],
            "accepted_at": _ny("2024-01-26 16:05"),
            "filed_date": pd.to_datetime(["2024-01-26"]),
            "period_of_report": pd.to_datetime(["2023-12-31"]),
            "cosine_all": [0.9],
        }
    )
    joined = attach_filing_features(daily, filing)
    with_filing = joined.loc[joined["filing_id"].notna(), "date"]
    assert with_filing.min() == pd.Timestamp("2024-01-29")
    assert joined.loc[joined["date"] == pd.Timestamp("2024-01-26"), "filing_id"].isna().all()
    assert look_ahead_violations(joined).empty


@pytest.mark.parametrize("seed", range(6))
def test_changing_or_removing_a_filing_never_changes_earlier_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tickers = ["AAA", "BBB", "CCC"]
    daily = _daily(tickers, "2024-01-02", "2025-01-31")
    filings = _filings(rng, tickers, 40)
    joined = attach_filing_features(daily, filings)
    assert look_ahead_violations(joined).empty
    sessions = public_session(filings["accepted_at"], filings["filed_date"])
    for victim in rng.choice(np.flatnonzero(sessions.notna()), 5, replace=False):
        became_public = sessions.iloc[victim]
        removed = filings.drop(index=filings.index[victim])
        changed = filings.copy()
        changed.loc[changed.index[victim], ["cosine_all", "n_chars"]] = [-1.0, -1]
        for perturbed in (removed, changed):
            again = attach_filing_features(daily, perturbed)
            # Rows of every ticker dated before the filing became public are untouched.
            before = joined["date"] < became_public
            pd.testing.assert_frame_equal(joined[before], again[before])
            assert look_ahead_violations(again).empty


def test_undated_filing_is_never_joined() -> None:
    rng = np.random.default_rng(1)
    daily = _daily(["AAA"], "2024-01-02", "2025-01-31")
    filings = _filings(rng, ["AAA"], 20)
    undated = filings["filed_date"].isna() & filings["accepted_at"].isna()
    assert undated.any()
    joined = attach_filing_features(daily, filings)
    assert not joined["filing_id"].isin(filings.loc[undated, "filing_id"]).any()


def test_daily_rows_keep_their_order_and_columns() -> None:
    daily = _daily(["AAA", "BBB"], "2024-01-02", "2024-03-01").sample(frac=1, random_state=0)
    filings = _filings(np.random.default_rng(2), ["AAA", "BBB"], 10)
    joined = attach_filing_features(daily, filings)
    assert joined.index.equals(daily.index)
    pd.testing.assert_frame_equal(joined[list(daily.columns)], daily)
    assert {"filing_id", "public_session", "cosine_all", "n_chars"} <= set(joined.columns)


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="filing features need columns"):
        attach_filing_features(_daily(["AAA"], "2024-01-02", "2024-01-10"), pd.DataFrame())


def test_a_filing_is_carried_at_most_max_age_days() -> None:
    daily = _daily(["AAA"], "2024-01-02", "2025-12-31")
    filing = pd.DataFrame(
        {
            "filing_id": ["k"],
            "ticker": ["AAA"],
            "form": ["10-K"],
            "accession": ["0000000001-24-000001"],
            "accepted_at": _ny("2024-02-01 08:00"),
            "filed_date": pd.to_datetime(["2024-02-01"]),
            "period_of_report": pd.to_datetime(["2023-12-31"]),
            "cosine_all": [0.9],
        }
    )
    joined = attach_filing_features(daily, filing, max_age_days=30).set_index("date")
    assert joined.loc["2024-03-01", "filing_id"] == "k"  # 30 days after 2024-02-01
    assert pd.isna(joined.loc["2024-03-04", "filing_id"])
    assert pd.isna(joined.loc["2024-03-04", "cosine_all"])
    default = attach_filing_features(daily, filing).set_index("date")
    age = default.index - default["public_session"]
    assert age.max() <= pd.Timedelta(days=460) and pd.isna(default.loc["2025-12-30", "filing_id"])
    forever = attach_filing_features(daily, filing, max_age_days=None).set_index("date")
    assert forever.loc["2025-12-30", "filing_id"] == "k"
