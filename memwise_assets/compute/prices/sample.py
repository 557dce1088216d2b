"""Deterministic synthetic daily bars on the NYSE calendar: the offline default source."""

from __future__ import annotations

import hashlib

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
# Stochastic volatility: log-volatility is an AR(1) whose shocks decay by 2 % a day, so
# calm and turbulent spells last weeks (|r| autocorrelated, as GARCH(1,1) with alpha + beta
# = 0.98 gave), at a stationary spread of 0.4 in log terms.
VOL_PERSISTENCE = 0.98
VOL_OF_VOL = 0.4
MEAN_REVERSION = 0.9995  # keeps 55-year paths within a plausible price band
JUMP_RATE = 0.002  # a jump on ~0.2 % of days, of about 4 daily volatilities
SQRT12 = np.sqrt(12.0)  # a uniform on [0, 1) minus 1/2, times this, has unit variance
SCAN = 128  # days per chunk of the AR(1) scan (scale factors stay below 0.98**-128 = 13)


def ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """y[:, d] = phi * y[:, d - 1] + shocks[:, d] along each row, from y = 0 before day 0.

    A scaled cumulative sum within chunks of SCAN days (loops in C), then one carry per
    chunk. A row's values depend only on its own shocks up to each day: never on the other
    rows, nor on how many days follow, so a ticker's path is bit-identical in any fetch.
    """
    k, n = shocks.shape
    m = -(-n // SCAN)
    padded = np.zeros((k, m * SCAN))
    padded[:, :n] = shocks
    t = np.arange(SCAN)
    down = phi**t
    # Within a chunk from a zero carry: y_t = phi**t * sum_{j <= t} shock_j * phi**-j.
    local = np.cumsum(padded.reshape(k, m, SCAN) * phi**-t, axis=2) * down
    carry_in = np.empty((k, m))
    carry = np.zeros(k)
    lead = phi**SCAN
    for c in range(m):
        carry_in[:, c] = carry
        carry = lead * carry + local[:, c, -1]
    return (local + carry_in[:, :, None] * (phi * down)).reshape(k, m * SCAN)[:, :n]


def _ticker_key(seed: int, ticker: str) -> np.ndarray:
    digest = hashlib.blake2b(f"{seed}:{ticker}".encode(), digest_size=16).digest()
    return np.frombuffer(digest, dtype=np.uint32).copy()


def _uniforms(seed: int, ticker: str, n: int) -> np.ndarray:
    """Per-ticker parameters: `n` uniforms from a stream separate from the daily draws."""
    return np.random.default_rng([*_ticker_key(seed, ticker), 0xFFFFFFFF]).random(n)


class SamplePriceSource(PriceSource):
    """Synthetic bars: clustered (stochastic) volatility, jumps, OHLC-consistent, volume > 0.

    Each ticker's path is simulated from a fixed epoch (1971) with random numbers derived
    from hash(seed, ticker) in fixed blocks, so a bar never depends on the range or the
    other tickers requested: partitions fetched one by one equal one range fetch. The
    recursions (log-volatility, price deviation) are linear AR(1) scans that run in numpy's
    C loops: 30 years of 500 tickers simulate in about a second.
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
        # One day before the window gives the previous close the first open gaps from.
        p0 = max(w0 - 1, 0)
        z, vol_shock, jumps, noise = self._draws(tickers, p0, w1)
        jumps *= 4 * target_vol[:, None]
        log_vol = ar1(VOL_OF_VOL * np.sqrt(1 - VOL_PERSISTENCE**2) * vol_shock, VOL_PERSISTENCE)
        # E[sigma**2] = target_vol**2: exp(2u) of u ~ N(0, 0.4**2) averages exp(2 * 0.4**2).
        sigma = target_vol[:, None] * np.exp(log_vol - VOL_OF_VOL**2)
        ret_all = np.clip(sigma * z + jumps, -0.5, 0.5)
        dev = ar1(ret_all, MEAN_REVERSION)[:, p0:]
        sig, ret = sigma[:, p0:], ret_all[:, p0:]
        # Bar noise from uniforms: a symmetric gap and volume term of unit variance, and
        # exponential wicks (mean 1) that now and then reach far.
        gap, vz = (noise[0] - 0.5) * SQRT12, (noise[3] - 0.5) * SQRT12
        up, down = -np.log1p(-noise[1]), -np.log1p(-noise[2])
        days = np.arange(p0, w1)
        close = np.exp(log_p0[:, None] + drift[:, None] * days + dev)
        prev_close = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
        open_ = prev_close * np.exp(0.3 * sig * gap)
        high = np.maximum(open_, close) * np.exp(0.5 * sig * up)
        low = np.minimum(open_, close) * np.exp(-0.5 * sig * down)
        base_volume = np.exp(np.log(1e6) + np.log(50.0) * params[:, 7])
        # Busy days trade more; the cap keeps jump days from overflowing int64.
        activity = np.minimum(0.4 * vz + 2.0 * np.abs(ret) / target_vol[:, None], 4.0)
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

    def _draws(
        self, tickers: list[str], p0: int, w1: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Random numbers of days [0, w1): return and volatility shocks, jumps (unit size),
        and the bar noise (gap, up, down, volume: uniforms) of days [p0, w1) only.

        Each ticker has one stream, and block b reads it from b * 2**64 on, in a fixed order
        (path, jumps, then bar noise): a day's draws never depend on the range or on the
        other tickers. Jumping the stream costs 2 us where a generator per block cost 13.
        """
        k = len(tickers)
        n_blocks = -(-w1 // BLOCK)
        first = p0 // BLOCK  # blocks before it only need the path
        z, vol_shock = np.empty((k, n_blocks * BLOCK)), np.empty((k, n_blocks * BLOCK))
        jumps = np.zeros((k, n_blocks * BLOCK))
        noise = np.empty((4, k, (n_blocks - first) * BLOCK))
        trigger = np.empty(BLOCK)
        bits = np.random.PCG64()
        rng = np.random.Generator(bits)
        for i, ticker in enumerate(tickers):
            start = np.random.PCG64(np.random.SeedSequence(_ticker_key(self.seed, ticker))).state
            for b in range(n_blocks):
                bits.state = start
                bits.advance(b << 64)
                days = slice(b * BLOCK, (b + 1) * BLOCK)
                rng.standard_normal(out=z[i, days])
                rng.standard_normal(out=vol_shock[i, days])
                # Jumps are rare: a uniform per day says where, then one size per jump.
                rng.random(out=trigger)
                at = np.flatnonzero(trigger < JUMP_RATE)
                jumps[i, b * BLOCK + at] = rng.standard_normal(len(at))
                if b >= first:
                    days = slice((b - first) * BLOCK, (b - first + 1) * BLOCK)
                    for j in range(4):
                        rng.random(out=noise[j, i, days])
        lo = p0 - first * BLOCK
        noise = noise[:, :, lo : lo + w1 - p0]
        return z[:, :w1], vol_shock[:, :w1], jumps[:, :w1], noise

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
        prices = {c: np.round(paths[c][row, col], 4) for c in ("open", "high", "low", "close")}
        # Rounding can nudge open/close past high/low by 1e-4; restore the invariant.
        ohlc = list(prices.values())
        prices["high"], prices["low"] = np.maximum.reduce(ohlc), np.minimum.reduce(ohlc)
        frame = pd.DataFrame(
            {
                "symbol": pd.Categorical.from_codes(codes, categories=cats),
                "date": cal[idx],
                **prices,
                "adj_close": np.round(paths["close"][row, col] * (1.0 - q) ** n_future, 4),
                "volume": paths["volume"][row, col].astype(np.int64),
            },
            copy=False,
        )
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
