"""Two more peers of the weekly case, each written the way its library's users would.

- `shared_polars_peer`: copied, unchanged in substance, from `shared/bench/polars_weekly_peer.py`
  (the polars peer the weekly speed targets are set against: group_by_dynamic, rolling and
  ewm over symbol, join_asof), so the package does not import from outside itself at run time.
- `pandas_peer`: plain pandas on the whole frame: a `groupby` with `pd.Grouper("W-FRI")` for the
  bars, `groupby().rolling` / `.ewm` / `.shift` for the features, `merge_asof(by=)` to attach.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_DAILY = ["symbol", "date", "open", "high", "low", "close", "volume"]


def shared_polars_peer(daily: pd.DataFrame) -> tuple[Any, Any]:
    """The shared polars peer: (features, attached) as polars frames, from a pandas frame."""
    import polars as pl

    d = pl.from_pandas(daily[_DAILY])
    d = d.with_columns(pl.col("date").cast(pl.Datetime("us"))).sort("symbol", "date")
    wk = (
        d.group_by_dynamic(
            "date", every="1w", group_by="symbol", start_by="saturday", closed="left",
            label="left",
        )
        .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
             pl.col("close").last(), pl.col("volume").sum(), pl.len().alias("n_days"))
        .with_columns((pl.col("date") + pl.duration(days=6)).alias("week_end"))
        .sort("symbol", "week_end")
    )  # fmt: skip
    c, h, lo = pl.col("close"), pl.col("high"), pl.col("low")
    v, o = pl.col("volume").cast(pl.Float64), pl.col("symbol")
    dlt = c.diff().over(o)
    pc = c.shift(1).over(o)
    ag = dlt.clip(lower_bound=0).ewm_mean(alpha=1 / 14, adjust=False, min_samples=14).over(o)
    al = (-dlt).clip(lower_bound=0).ewm_mean(alpha=1 / 14, adjust=False, min_samples=14).over(o)
    tr = pl.max_horizontal(h, pc) - pl.min_horizontal(lo, pc)
    v_mean = v.rolling_mean(13, min_samples=13).over(o)
    v_std = v.rolling_std(13, min_samples=13).over(o)
    feats = wk.with_columns(
        *[(c / c.shift(k).over(o) - 1).alias(f"ret_{k}w") for k in (1, 4, 13, 26, 52)],
        (c / pc).log().rolling_std(13, min_samples=13).over(o).alias("vol_13w"),
        pl.when(al == 0).then(100.0).otherwise(100 - 100 / (1 + ag / al)).alias("rsi_14w"),
        (tr.rolling_mean(14, min_samples=14).over(o) / c).alias("atr_14w"),
        ((h - lo) / c).alias("range_1w"),
        ((v - v_mean) / v_std).alias("volume_z_13w"),
        (c / h.rolling_max(52, min_samples=52).over(o) - 1).alias("dist_52w_high"),
        (c.rolling_mean(4, min_samples=4).over(o) / c.rolling_mean(13, min_samples=13).over(o)
         - 1).alias("sma_ratio_4_13"),
    ).select(["symbol", "week_end", *_FEATURES])  # fmt: skip
    att = d.join_asof(
        feats, left_on="date", right_on="week_end", by="symbol", strategy="backward",
        check_sortedness=False,
    )  # fmt: skip
    return feats, att


_FEATURES = [
    "ret_1w", "ret_4w", "ret_13w", "ret_26w", "ret_52w", "vol_13w", "rsi_14w", "atr_14w",
    "range_1w", "volume_z_13w", "dist_52w_high", "sma_ratio_4_13",
]  # fmt: skip


def _per_symbol(values: pd.Series, symbols: pd.Series) -> Any:
    return values.groupby(symbols, observed=True, sort=False)


def _flat(grouped: pd.Series) -> pd.Series:
    """A groupby().rolling/ewm result back on the frame's own index."""
    return grouped.reset_index(level=0, drop=True)


def pandas_peer(daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plain pandas over the whole frame: (features, daily rows with features attached)."""
    d = daily[_DAILY].sort_values(["symbol", "date"])
    weeks = pd.Grouper(key="date", freq="W-FRI")
    wk = (
        d.groupby(["symbol", weeks], observed=True)
        .agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
             close=("close", "last"), volume=("volume", "sum"), n_days=("close", "count"))
        .reset_index()
        .rename(columns={"date": "week_end"})
    )  # fmt: skip
    sym, c, h, lo, v = wk["symbol"], wk["close"], wk["high"], wk["low"], wk["volume"]
    by = _per_symbol(c, sym)
    prev = by.shift(1)
    out = wk[["symbol", "week_end"]].copy()
    for k in (1, 4, 13, 26, 52):
        out[f"ret_{k}w"] = c / by.shift(k) - 1
    out["vol_13w"] = _flat(_per_symbol(np.log(c / prev), sym).rolling(13, min_periods=13).std())
    diff = by.diff()
    gain = _flat(_per_symbol(diff.clip(lower=0), sym).ewm(alpha=1 / 14, adjust=False,
                                                          min_periods=14).mean())  # fmt: skip
    loss = _flat(_per_symbol((-diff).clip(lower=0), sym).ewm(alpha=1 / 14, adjust=False,
                                                             min_periods=14).mean())  # fmt: skip
    out["rsi_14w"] = (100 - 100 / (1 + gain / loss)).mask((loss == 0) & gain.notna(), 100.0)
    true_range = np.fmax(h, prev) - np.fmin(lo, prev)
    out["atr_14w"] = _flat(_per_symbol(true_range, sym).rolling(14, min_periods=14).mean()) / c
    out["range_1w"] = (h - lo) / c
    v_roll = _per_symbol(v, sym).rolling(13, min_periods=13)
    out["volume_z_13w"] = (v - _flat(v_roll.mean())) / _flat(v_roll.std())
    out["dist_52w_high"] = c / _flat(_per_symbol(h, sym).rolling(52, min_periods=52).max()) - 1
    sma_4 = _flat(by.rolling(4, min_periods=4).mean())
    out["sma_ratio_4_13"] = sma_4 / _flat(by.rolling(13, min_periods=13).mean()) - 1
    attached = pd.merge_asof(
        daily.sort_values("date"), out.sort_values("week_end"), left_on="date",
        right_on="week_end", by="symbol", direction="backward",
    )  # fmt: skip
    return out, attached
