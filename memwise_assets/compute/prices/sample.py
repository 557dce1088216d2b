"""Deterministic synthetic daily bars on the NYSE calendar: the offline default source."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

from memwise_assets.compute.prices.calendar import CALENDAR_END, CALENDAR_START, trading_days
from memwise_assets.compute.prices.clean import assemble
from memwise_assets.compute.prices.schema import FetchResult, PriceSource

DEFAULT_TICKERS: tuple[str, ...] = (
    "AAPL", "ABBV", "ABT", "ADBE", "AIG", "AMD", "AMZN", "AXP", "BA", "BAC", "BLK",
    "BMY", "C", "CAT", "COH", "COP", "COST", "CRM", "CSCO", "CVS", "CVX", "DIS", "DUK",
    "F", "FB", "GE", "GILD", "GOOGL", "GS", "HD", "HON", "HPE", "IBM", "INTC", "JNJ",
    "JPM", "KHC", "KO", "LLY", "LOW", "LVLT", "MCD", "MDT", "MMM", "MO", "MRK", "MS",
    "MSFT", "NEE", "NFLX", "NKE", "NVDA", "ORCL", "PEP", "PFE", "PG", "PYPL", "QCOM",
    "SBUX", "SLB", "T", "TXN", "UNH", "VZ", "WMT", "XOM",
)  # fmt: skip

# Real listing / last-trading days of some default names, so the demo shows late listings
# and delistings; other tickers draw theirs from their hash.
KNOWN_LISTINGS: dict[str, str] = {
    "ABBV": "2013-01-02",
    "FB": "2012-05-18",
    "HPE": "2015-10-19",
    "KHC": "2015-07-06",
    "PYPL": "2015-07-06",
}
KNOWN_DELISTINGS: dict[str, str] = {"COH": "2017-10-30", "LVLT": "2017-11-01"}

EPOCH = CALENDAR_START
BLOCK = 1024  # trading days per random block; blocks make any prefix independent of the end
# Dividends are discounted back from a fixed anchor so adj_close never depends on the range.
ADJ_ANCHOR = pd.Timestamp("2030-01-02")
GARCH_ALPHA, GARCH_BETA = 0.08, 0.90
MEAN_REVERSION = 0.9995  # keeps 55-year paths within a plausible price band
JUMP_Z = 3.09  # |N(0,1)| above this on ~0.2 % of days: a jump day


SCALAR_MAX_TICKERS = 6  # below this a plain-float loop beats numpy's per-call overhead


def _garch_block(
    z: np.ndarray, jumps: np.ndarray, x: np.ndarray, s2: np.ndarray, omega: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GARCH(1,1) returns with a mean-reverting log-price deviation over one block of days.

    Returns ((dev, sigma, return) x tickers x days, x, s2). Only IEEE-exact operations in the
    same order in both branches (sqrt, *, +, min/max), so a ticker's path is bit-identical
    whether it runs alone (float loop) or vectorised with any other tickers.
    """
    k, n = z.shape
    blk = np.empty((3, k, n))
    if k <= SCALAR_MAX_TICKERS:
        x_out, s2_out = x.copy(), s2.copy()
        for i in range(k):
            xi, s2i, om = float(x[i]), float(s2[i]), float(omega[i])
            dev, sig, ret = [], [], []
            for zd, jd in zip(z[i].tolist(), jumps[i].tolist(), strict=True):
                s = math.sqrt(s2i)
                r = max(min(s * zd + jd, 0.5), -0.5)
                xi = MEAN_REVERSION * xi + r
                dev.append(xi)
                sig.append(s)
                ret.append(r)
                s2i = om + GARCH_ALPHA * r * r + GARCH_BETA * s2i
            blk[0, i], blk[1, i], blk[2, i] = dev, sig, ret
            x_out[i], s2_out[i] = xi, s2i
        return blk, x_out, s2_out
    for d in range(n):
        s = np.sqrt(s2)
        r = np.maximum(np.minimum(s * z[:, d] + jumps[:, d], 0.5), -0.5)
        x = MEAN_REVERSION * x + r
        blk[0, :, d], blk[1, :, d], blk[2, :, d] = x, s, r
        s2 = omega + GARCH_ALPHA * r * r + GARCH_BETA * s2
    return blk, x, s2


def _ticker_key(seed: int, ticker: str) -> np.ndarray:
    digest = hashlib.blake2b(f"{seed}:{ticker}".encode(), digest_size=16).digest()
    return np.frombuffer(digest, dtype=np.uint32).copy()


def _uniforms(seed: int, ticker: str, n: int) -> np.ndarray:
    """Per-ticker parameters: `n` uniforms from a stream separate from the daily draws."""
    return np.random.default_rng([*_ticker_key(seed, ticker), 0xFFFFFFFF]).random(n)


class SamplePriceSource(PriceSource):
    """Synthetic bars: GARCH(1,1) volatility clustering, jumps, OHLC-consistent, volume > 0.

    Each ticker's path is simulated from a fixed epoch (1971) with random numbers derived
    from hash(seed, ticker) in fixed blocks, so a bar never depends on the range or the
    other tickers requested: partitions fetched one by one equal one range fetch.
    """

    name = "sample"

    def __init__(self, seed: int = 0, *, listing_rate: float = 0.1, delisting_rate: float = 0.05):
        self.seed = int(seed)
        self.listing_rate = listing_rate
        self.delisting_rate = delisting_rate
        self._calendar_cache: tuple[pd.Timestamp, np.ndarray] | None = None

    def _calendar(self, end: pd.Timestamp) -> np.ndarray:
        """Trading days from the epoch to a block-rounded horizon covering `end`."""
        if self._calendar_cache is None or self._calendar_cache[0] < end:
            horizon = min(max(end, ADJ_ANCHOR) + pd.Timedelta(days=7), CALENDAR_END)
            self._calendar_cache = (horizon, trading_days(EPOCH, horizon).to_numpy())
        return self._calendar_cache[1]

    def listing_span(self, ticker: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """(first, last) trading day of a ticker; None where it trades across the whole calendar."""
        u = _uniforms(self.seed, ticker, 4)
        first = KNOWN_LISTINGS.get(ticker)
        last = KNOWN_DELISTINGS.get(ticker)
        if first is None and ticker not in DEFAULT_TICKERS and u[0] < self.listing_rate:
            first = str(pd.Timestamp("1990-01-01") + pd.Timedelta(days=int(u[1] * 30 * 365)))
        if last is None and ticker not in DEFAULT_TICKERS and u[2] < self.delisting_rate:
            last = str(pd.Timestamp("2000-01-01") + pd.Timedelta(days=int(u[3] * 24 * 365)))
        first_ts = None if first is None else pd.Timestamp(first).normalize()
        last_ts = None if last is None else pd.Timestamp(last).normalize()
        if first_ts is not None and last_ts is not None and last_ts <= first_ts:
            last_ts = None
        return first_ts, last_ts

    def _simulate(self, tickers: list[str], w0: int, w1: int) -> dict[str, np.ndarray]:
        """Bars of all tickers on calendar days [w0, w1) from the epoch (rows: tickers)."""
        k = len(tickers)
        params = np.array([_uniforms(self.seed, t, 8) for t in tickers]).reshape(k, 8)
        target_vol = 0.008 + 0.014 * params[:, 4]
        drift = 0.0001 + 0.0003 * params[:, 5]
        log_p0 = np.log(0.5) + np.log(40.0) * params[:, 6]
        omega = target_vol**2 * (1 - GARCH_ALPHA - GARCH_BETA)
        keys = [_ticker_key(self.seed, t) for t in tickers]
        # One day before the window gives the previous close the first open gaps from.
        p0 = max(w0 - 1, 0)
        width = w1 - p0
        out = {c: np.empty((k, width)) for c in ("dev", "sig", "ret", "gap", "up", "down", "vz")}
        x = np.zeros(k)
        s2 = target_vol**2
        for b in range(-(-w1 // BLOCK)):
            draws = np.stack(
                [np.random.default_rng([*key, b]).standard_normal((7, BLOCK)) for key in keys]
            )
            jump_size = draws[:, 6] * 4 * target_vol[:, None]
            jumps = np.where(np.abs(draws[:, 5]) > JUMP_Z, jump_size, 0.0)
            z = draws[:, 0]
            n = min(BLOCK, w1 - b * BLOCK)
            blk, x, s2 = _garch_block(z[:, :n], jumps[:, :n], x, s2, omega)
            lo_d = max(p0 - b * BLOCK, 0)
            if lo_d >= n:
                continue
            cols = slice(b * BLOCK + lo_d - p0, b * BLOCK + n - p0)
            for i, name in enumerate(("dev", "sig", "ret")):
                out[name][:, cols] = blk[i, :, lo_d:n]
            for i, name in enumerate(("gap", "up", "down", "vz"), start=1):
                out[name][:, cols] = draws[:, i, lo_d:n]
        days = np.arange(p0, w1)
        close = np.exp(log_p0[:, None] + drift[:, None] * days + out["dev"])
        sig, ret = out["sig"], out["ret"]
        prev_close = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
        open_ = prev_close * np.exp(0.3 * sig * out["gap"])
        high = np.maximum(open_, close) * np.exp(0.6 * sig * np.abs(out["up"]))
        low = np.minimum(open_, close) * np.exp(-0.6 * sig * np.abs(out["down"]))
        base_volume = np.exp(np.log(1e6) + np.log(50.0) * params[:, 7])
        # Busy days trade more; the cap keeps jump days from overflowing int64.
        activity = np.minimum(0.4 * out["vz"] + 2.0 * np.abs(ret) / target_vol[:, None], 4.0)
        volume = np.maximum(1.0, np.rint(base_volume[:, None] * np.exp(activity - 1.2)))
        cut = w0 - p0
        return {
            "open": open_[:, cut:],
            "high": high[:, cut:],
            "low": low[:, cut:],
            "close": close[:, cut:],
            "volume": volume[:, cut:],
            "quarterly_yield": np.where(params[:, 0] < 0.3, 0.0, 0.002 + 0.008 * params[:, 1]),
            "exdiv_offset": np.floor(params[:, 2] * 63).astype(np.int64),
        }

    def _fetch(self, tickers: list[str], start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        cal = self._calendar(end)
        i0 = int(np.searchsorted(cal, start.to_datetime64()))
        i1 = int(np.searchsorted(cal, end.to_datetime64()))
        anchor = int(np.searchsorted(cal, ADJ_ANCHOR.to_datetime64()))
        spans = {t: self.listing_span(t) for t in tickers}
        notes: dict[str, str] = {}
        lo = np.full(len(tickers), i0)
        hi = np.full(len(tickers), i1)
        for j, t in enumerate(tickers):
            first, last = spans[t]
            if first is not None:
                lo[j] = max(i0, int(np.searchsorted(cal, first.to_datetime64())))
                notes[t] = f"listed {first.date()}"
            if last is not None:
                hi[j] = min(i1, int(np.searchsorted(cal, last.to_datetime64(), side="right")))
                notes[t] = "; ".join(filter(None, [notes.get(t), f"delisted after {last.date()}"]))
        w0 = int(lo.min()) if len(lo) else i0
        paths = self._simulate(tickers, min(w0, i1), i1)
        cats = sorted(tickers)
        order = sorted(range(len(tickers)), key=lambda j: tickers[j])
        parts: dict[str, list[np.ndarray]] = {c: [] for c in ("code", "idx", "row")}
        for j in order:
            n = max(0, hi[j] - lo[j])
            parts["code"].append(np.full(n, cats.index(tickers[j]), dtype=np.int32))
            parts["idx"].append(np.arange(lo[j], lo[j] + n))
            parts["row"].append(np.full(n, j))
        idx = np.concatenate(parts["idx"]) if parts["idx"] else np.empty(0, np.int64)
        row = np.concatenate(parts["row"]) if parts["row"] else np.empty(0, np.int64)
        codes = np.concatenate(parts["code"]) if parts["code"] else np.empty(0, np.int32)
        q, off = paths["quarterly_yield"][row], paths["exdiv_offset"][row]
        n_future = np.where(idx < anchor, (anchor - off) // 63 - (idx - off) // 63, 0)
        col = idx - min(w0, i1)
        close = paths["close"][row, col]
        frame = pd.DataFrame(
            {
                "symbol": pd.Categorical.from_codes(codes, categories=cats),
                "date": cal[idx],
                "open": np.round(paths["open"][row, col], 4),
                "high": np.round(paths["high"][row, col], 4),
                "low": np.round(paths["low"][row, col], 4),
                "close": np.round(close, 4),
                "adj_close": np.round(close * (1.0 - q) ** n_future, 4),
                "volume": paths["volume"][row, col].astype(np.int64),
            }
        )
        # Rounding can nudge open/close past high/low by 1e-4; restore the invariant.
        frame["high"] = frame[["open", "high", "low", "close"]].max(axis=1)
        frame["low"] = frame[["open", "high", "low", "close"]].min(axis=1)
        return assemble(
            frame,
            tickers,
            start,
            end,
            issues={},
            failed={},
            notes=notes,
            source=self.name,
        )
