"""The per-segment exponentially weighted std of bar-to-bar log returns (the labels' vol).

This is not AFML's `getDailyVol` (simple returns over a one-day lookback, then an ewm std):
returns here are log returns from one bar to the next, whatever the bar (days, minutes,
dollar bars), with an EWM `span`, and no return into a segment's first bar.
"""

from __future__ import annotations

import numpy as np

# Fixed block sizes (never chunk_rows) keep the vol identical whatever chunk_rows.
_VOL_SUPER_BLOCK = 1 << 16


def _vol_factors(k: np.ndarray, beta: float, minp: int) -> tuple[np.ndarray, np.ndarray]:
    """1 / (sum of weights) and the unbiasing factor after k observations (NaN below minp)."""
    kf = k.astype(np.float64)
    w = -np.expm1(kf * np.log(beta)) / (1.0 - beta)
    w2 = -np.expm1(kf * 2.0 * np.log(beta)) / (1.0 - beta * beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_w = 1.0 / w
        unbias = w * w / (w * w - w2)
    inv_w[k < minp] = np.nan
    unbias[k < minp] = np.nan
    return inv_w, unbias


def ewm_vol(close: np.ndarray, starts: np.ndarray, span: float, min_periods: int) -> np.ndarray:
    """Per-segment `r.ewm(span, min_periods).std()` of log returns, equal to pandas to rounding.

    `close` is in segment-then-time order, `starts` the segment starts plus len(close).
    The sums S_i = sum beta^(i-m) x_m run as cumulative sums of x_m * beta^-m inside
    blocks short enough not to overflow, carried across blocks in order; the weight sums
    have closed forms. Blocks are fixed, so the result never depends on the caller's chunks.
    """
    n = len(close)
    vol = np.empty(n)
    if n == 0:
        return vol
    beta = 1.0 - 1.0 / (1.0 + (span - 1.0) / 2.0)
    # Blocks are capped so beta^-block cannot overflow, and short: a segment that starts
    # inside a block subtracts the block's earlier sums, which costs precision in
    # proportion to the rows before it (256 keeps long spans within 1e-9 of pandas).
    block = int(np.clip(150.0 / -np.log10(beta), 1, 256))
    pw = beta ** np.arange(block + 1, dtype=np.float64)
    ipw = 1.0 / pw[:block]
    # One observation has no unbiased std (pandas gives NaN there too).
    minp = max(int(min_periods), 2)
    # Past `tail` observations beta^nobs is below rounding: a short table serves all counts
    # (unless the span is so long that the table would not be short).
    tail = max(int(-40.0 / np.log10(beta)), minp) + 1
    table = _vol_factors(np.arange(tail + 1), beta, minp) if tail <= 1 << 20 else None
    step = block * max(1, _VOL_SUPER_BLOCK // block)  # whole blocks: the carry is exact
    state = [0.0, 0.0]
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        m = hi - lo
        nblk = -(-m // block)
        first, last = np.searchsorted(starts, [lo, hi - 1], side="right") - 1
        pieces = np.clip(starts[first : last + 2], lo, hi)
        seg_start = np.repeat(starts[first : last + 1], np.diff(pieces))
        prev = close[lo - 1 : hi - 1] if lo > 0 else np.concatenate((close[:1], close[: hi - 1]))
        x = np.zeros(nblk * block)
        np.log(close[lo:hi] / prev, out=x[:m])
        inner = starts[first + (starts[first] < lo) : last + 1] - lo
        x[inner] = 0.0  # no return into a segment's first bar
        cont = seg_start < lo + (np.arange(m) // block) * block  # segment began before block
        fresh = np.flatnonzero(~cont)
        fresh_at = seg_start[fresh] - lo
        last_start = np.full(nblk, -1)
        np.maximum.at(last_start, inner // block, inner)
        has_start = last_start >= 0
        first_cont = cont[::block].tolist()
        no_start = (~has_start).tolist()
        pw_block = float(pw[block])
        sums = []
        for j, xs in enumerate((x, x * x)):
            g = np.cumsum(xs.reshape(nblk, block) * ipw, axis=1).reshape(-1)
            # Local sum at each block end (no carry), then the carry block by block.
            before = np.where(has_start, g[np.maximum(last_start, 0)], 0.0)
            end_local = (pw[block - 1] * (g[block - 1 :: block] - before)).tolist()
            carry_in = [0.0] * nblk
            c = state[j]
            for b in range(nblk):
                ci = c if first_cont[b] else 0.0
                carry_in[b] = ci
                c = end_local[b] + (pw_block * ci if no_start[b] else 0.0)
            state[j] = c
            # S = beta^l * (g - z): z = g at the segment's start when it began in this
            # block, else minus beta times the sum carried in from the previous block.
            z = np.repeat(np.asarray(carry_in) * -beta, block)
            z[fresh] = g[fresh_at]
            g -= z
            s_ = g.reshape(nblk, block)
            s_ *= pw[:block]
            sums.append(g[:m])
        s1, s2 = sums
        nobs = np.arange(lo, hi) - seg_start
        if table is None:
            iw, unbias = _vol_factors(nobs, beta, minp)
        else:
            np.minimum(nobs, tail, out=nobs)
            iw, unbias = table[0][nobs], table[1][nobs]
        s1 *= iw
        s2 *= iw
        s1 *= s1
        s2 -= s1
        s2 *= unbias
        np.maximum(s2, 0.0, out=s2)  # NaN (too few observations) stays NaN
        np.sqrt(s2, out=vol[lo:hi])
    return vol
