"""Rolling windows, lags and the exponential mean over the weekly arrays of all symbols at once.

Windows are scans by doubling, masked by each row's position within its segment (a symbol, or a
run of a symbol between holes), so no segment is ever copied out on its own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from memwise_assets.compute.series.keys import segment_starts

_Op = Callable[[np.ndarray, np.ndarray], np.ndarray]


def shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.empty_like(x)
    out[: min(k, len(x))] = np.nan
    out[k:] = x[: max(len(x) - k, 0)]
    return out


def _combined(op: _Op, recent: np.ndarray, earlier: np.ndarray, k: int) -> np.ndarray:
    """op(recent, earlier shifted by k) without the shifted copy; NaN where none is k back."""
    out = np.empty_like(recent)
    out[: min(k, len(out))] = np.nan
    if k < len(out):
        op(recent[k:], earlier[: len(out) - k], out=out[k:])
    return out


def window(x: np.ndarray, w: int, op: _Op) -> np.ndarray:
    """`op` over the last `w` values at each row, by binary lifting: O(n log w).

    Windows reaching before the array start hold NaN; callers mask windows that cross a
    symbol boundary by position.
    """
    powers = [x]
    while 2 ** len(powers) <= w:
        p, size = powers[-1], 2 ** (len(powers) - 1)
        powers.append(_combined(op, p, p, size))
    out: np.ndarray | None = None
    offset = 0
    for bit in range(len(powers) - 1, -1, -1):
        if w & (1 << bit):
            part = powers[bit]
            out = part if out is None else _combined(op, out, part, offset)
            offset += 1 << bit
    assert out is not None
    return out


def _constant_run(x: np.ndarray) -> np.ndarray:
    """Length of the run of equal values ending at each row (NaN breaks runs)."""
    idx = np.arange(len(x))
    change = np.ones(len(x), dtype=bool)
    change[1:] = x[1:] != x[:-1]
    return idx - np.maximum.accumulate(np.where(change, idx, 0)) + 1


def _segment_mean(x: np.ndarray, seg_starts: np.ndarray, seg_of_row: np.ndarray) -> np.ndarray:
    valid = ~np.isnan(x)
    sums = np.add.reduceat(np.where(valid, x, 0.0), seg_starts)
    counts = np.add.reduceat(valid.astype(np.int64), seg_starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, 0.0)
    return means[seg_of_row]


class Segments:
    """Per-row position within its segment, for masking windows that cross segments."""

    def __init__(self, codes: np.ndarray, breaks: np.ndarray | None = None) -> None:
        # `breaks`: rows that begin a new run of their symbol (after a hole).
        self.starts = segment_starts(codes)
        if breaks is not None and breaks.any():
            self.starts = np.union1d(self.starts, np.flatnonzero(breaks))
        idx = np.arange(len(codes))
        self.seg_of_row = np.repeat(
            np.arange(len(self.starts)), np.diff(np.append(self.starts, len(codes)))
        )
        self.pos = idx - self.starts[self.seg_of_row]

    def mask(self, values: np.ndarray, first_valid_pos: int) -> np.ndarray:
        return np.where(self.pos >= first_valid_pos, values, np.nan)

    def lag(self, x: np.ndarray, k: int) -> np.ndarray:
        out = shifted(x, k)
        out[self.pos < k] = np.nan  # the fresh copy is masked in place
        return out

    def rolling_mean(self, x: np.ndarray, w: int, first_valid_pos: int) -> np.ndarray:
        mean = window(x, w, np.add) / w
        # Like pandas, a window of identical values has exactly that value as its mean.
        mean = np.where(_constant_run(x) >= w, x, mean)
        return self.mask(mean, first_valid_pos)

    def rolling_mean_std(
        self, x: np.ndarray, w: int, first_valid_pos: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # Centring on the symbol's mean keeps the sum-of-squares form free of cancellation
        # for price-like and volume-like levels; windows of identical values get std 0 and
        # their own value as mean, as pandas does.
        centre = _segment_mean(x, self.starts, self.seg_of_row)
        y = x - centre
        s = window(y, w, np.add)
        q = window(y * y, w, np.add)
        var = np.maximum((q - s * s / w) / (w - 1), 0.0)
        constant = _constant_run(x) >= w
        mean = np.where(constant, x, centre + s / w)
        std = np.where(constant, 0.0, np.sqrt(var))
        return self.mask(mean, first_valid_pos), self.mask(std, first_valid_pos)

    def ewm(self, x: np.ndarray, alpha: float, first_pos: int) -> np.ndarray:
        """pandas `ewm(alpha, adjust=False)` of x from row position `first_pos` on.

        y = (1 - alpha) y_prev + alpha x, y at first_pos = x: an inclusive prefix scan with
        a decay factor, done by doubling (Hillis-Steele) across all symbols at once.
        """
        decay = 1.0 - alpha
        y = np.where(self.pos > first_pos, alpha * x, np.where(self.pos == first_pos, x, 0.0))
        step = 1
        longest = int(self.pos.max()) + 1 if len(self.pos) else 0
        while step < longest:
            carried = decay**step * y[:-step]
            carried[self.pos[step:] < step] = 0.0
            y[step:] += carried
            step *= 2
        return y
