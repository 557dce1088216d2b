"""Weights from attribution: rescaled to each segment's event count, times the time decay."""

from __future__ import annotations

import numpy as np

from memwise_assets.compute.labels.paths import ModeOutput, SortedBars

# Fixed block sizes (never chunk_rows) keep the sums identical whatever chunk_rows.
SUM_BLOCK = 1 << 16


def _segment_cums(
    data: SortedBars, p: int, q: int, cols: list[np.ndarray], carry: list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per-segment running sums, in time order, of `cols` (input order) over sorted [p, q).

    Returns the segments met (first..last), the rows per piece, the local rows ending a
    segment, and the sums. `carry` holds the running sums at row p - 1 and moves to q - 1.
    """
    first, last = np.searchsorted(data.starts, [p, q - 1], side="right") - 1
    pieces = np.clip(data.starts[first : last + 2], p, q)
    lengths = np.diff(pieces)
    segs = np.arange(first, last + 1)
    starts_at = pieces[1:-1] - p  # segments that begin inside the block, after row p
    if data.starts[first] == p:
        carry[:] = [0.0] * len(cols)
    piece_end = pieces[1:] - 1 - p
    ends = piece_end[data.starts[segs + 1] == pieces[1:]]
    rows = slice(p, q) if data.perm is None else data.perm[p:q]
    sums = []
    for j, col in enumerate(cols):
        g = np.cumsum(np.concatenate(([carry[j]], col[rows].astype(np.float64))))
        # A segment that begins inside the block counts from the sum just before it.
        base = np.repeat(np.concatenate(([0.0], g[starts_at])), lengths)
        x = g[1:] - base
        carry[j] = float(x[-1])
        sums.append(x)
    return segs, lengths, ends, sums


def apply_weights(data: SortedBars, out: ModeOutput, decay: float) -> None:
    """Attribution (held in `weight`) -> weight: rescaled per segment, times the time decay.

    Two walks over fixed blocks: segment totals first, then the weights. The running sums
    are sequential per segment, so they never depend on chunk_rows.
    """
    n = len(data.close)
    n_seg = len(data.starts) - 1
    total_a = np.zeros(n_seg)
    total_u = np.zeros(n_seg)
    n_events = np.zeros(n_seg)
    cols = [out.weight, out.uniq]
    carry = [0.0, 0.0]
    for p in range(0, n, SUM_BLOCK):
        q = min(n, p + SUM_BLOCK)
        segs, lengths, ends, (cum_a, cum_u) = _segment_cums(data, p, q, cols, carry)
        rows = slice(p, q) if data.perm is None else data.perm[p:q]
        seg_of = np.repeat(np.arange(len(segs)), lengths)
        n_events[segs] += np.bincount(seg_of, out.exit[rows] > 0, minlength=len(segs))
        ended = segs[seg_of[ends]]
        total_a[ended] = cum_a[ends]
        total_u[ended] = cum_u[ends]
    with np.errstate(divide="ignore", invalid="ignore"):
        # All-zero attribution (flat paths only) cannot be rescaled: those weights stay 0.
        scale = np.where(total_a > 0, n_events / total_a, 0.0)
        if decay >= 0:
            slope = np.where(total_u > 0, (1.0 - decay) / total_u, 0.0)
        else:
            slope = np.where(total_u > 0, 1.0 / ((decay + 1.0) * total_u), 0.0)
    intercept = 1.0 - slope * total_u
    carry_u = [0.0]
    for p in range(0, n, SUM_BLOCK):
        q = min(n, p + SUM_BLOCK)
        rows = slice(p, q) if data.perm is None else data.perm[p:q]
        attr = out.weight[rows].astype(np.float64)
        if decay == 1.0:
            segs, lengths, _, _ = _segment_cums(data, p, q, [], [])
            seg = np.repeat(segs, lengths)
            w = attr * scale[seg]
        else:
            segs, lengths, _, (cum_u,) = _segment_cums(data, p, q, [out.uniq], carry_u)
            seg = np.repeat(segs, lengths)
            d = np.maximum(intercept[seg] + slope[seg] * cum_u, 0.0)
            w = attr * scale[seg] * d
        out.weight[rows] = w
