"""Daily bar frames for tests: ragged multi-symbol histories and one symbol on given dates."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ragged_daily(seed: int, n_symbols: int = 12, n_days: int = 900) -> pd.DataFrame:
    """Random bars with holidays, gaps, late starts, early stops, one-day weeks, a few
    Saturdays, a flat symbol, NaN opens/highs/volumes; rows shuffled, symbols as str."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2015-01-01", periods=int(n_days * 1.45), freq="D")
    weekday = days.dayofweek < 5
    saturday = (days.dayofweek == 5) & (rng.random(len(days)) < 0.03)
    holiday = rng.random(len(days)) < 0.04
    calendar = days[(weekday | saturday) & ~holiday][:n_days]
    frames = []
    for i in range(n_symbols):
        start = 0 if i < 3 else int(rng.integers(0, n_days // 2))
        stop = n_days if i % 4 else int(rng.integers(start + 5, n_days + 1))
        dates = calendar[start:stop]
        keep = rng.random(len(dates)) > 0.08
        # Some weeks keep a single day only.
        week = dates.to_period("W-FRI").asi8
        lonely = np.isin(week, rng.choice(np.unique(week), size=max(1, len(week) // 40)))
        keep &= ~lonely | (rng.random(len(dates)) < 0.25)
        dates = dates[keep]
        n = len(dates)
        if i == 1:
            close = np.full(n, 42.0)
            volume = np.full(n, 1000.0)
        else:
            close = 30 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
            volume = rng.lognormal(10, 0.6, n).round()
        open_ = close * np.exp(rng.normal(0, 0.01, n))
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, n)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, n)))
        if i == 2:
            open_[rng.random(n) < 0.1] = np.nan
            high[rng.random(n) < 0.1] = np.nan
            volume[rng.random(n) < 0.1] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"SYM{i:02d}",
                    "date": dates,
                    "open": open_,
                    "high": high,
                    "low": low,
                    "close": close,
                    "adj_close": close * 0.9,
                    "volume": volume,
                }
            )
        )
    daily = pd.concat(frames, ignore_index=True)
    return daily.sample(frac=1.0, random_state=seed).set_axis(np.arange(len(daily))[::-1] * 3)


def bars_on(symbol: str, dates: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    """Random-walk bars of one symbol on the given dates, adj_close below close (dividends)."""
    rng = np.random.default_rng(seed)
    n = len(dates)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    spread = 1 + np.abs(rng.normal(0, 0.01, n))
    # Dividends: the adjustment factor steps down going back in time.
    factor = np.exp(np.cumsum(np.where(rng.random(n) < 0.02, 0.01, 0.0)))
    factor = factor / factor[-1]
    return pd.DataFrame(
        {
            "symbol": symbol,
            "date": dates,
            "open": open_,
            "high": np.maximum(open_, close) * spread,
            "low": np.minimum(open_, close) / spread,
            "close": close,
            "adj_close": close * factor,
            "volume": rng.lognormal(12, 0.5, n).round(),
        }
    )
