"""Barrier paths of every event and their concurrency, uniqueness and attribution, per chunk.

An event's span is `(t_in, t_out]`: the bars after its entry bar up to and including its
exit. The return into the entry bar happened before the decision was taken, so it is not the
event's (AFML's snippets include it); the concurrency, uniqueness and attribution below all
count the span that way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memwise_assets.compute.labels.config import LabelingConfig, LabelMode


@dataclass
class SortedBars:
    """The input in (segment, time) order: closes, segment starts, and the order itself."""

    close: np.ndarray  # float64, sorted order
    starts: np.ndarray  # int64 segment starts, plus n at the end
    perm: np.ndarray | None  # sorted position -> input position; None when already sorted


def _first_touch(
    cw: np.ndarray,
    idx: np.ndarray,
    vol: np.ndarray,
    km: np.ndarray | None,
    mode: LabelMode,
    vertical: str,
    label: np.ndarray,
    exits: np.ndarray,
) -> None:
    """Search rows `idx` (km: bars left when under the horizon) and record hits in place.

    Rows leave the search once decided, so the work is rows x mean bars to exit rather than
    rows x horizon; index arrays (nonzero + take) are cheaper here than boolean masks.
    """
    horizon = mode.horizon
    c0 = cw[idx]
    up = mode.pt * vol[idx] if mode.pt > 0 else np.full(idx.size, np.inf)
    dn = -mode.sl * vol[idx] if mode.sl > 0 else np.full(idx.size, -np.inf)
    for k in range(1, horizon + 1):
        if idx.size == 0:
            return
        ret = cw[idx + k]
        ret /= c0
        ret -= 1.0
        hit = ret > up
        hit |= ret < dn
        h = np.flatnonzero(hit)
        if h.size:
            rows = idx[h]
            exits[rows] = k
            # up > 0 > dn, so the side touched is the sign of the return.
            label[rows] = np.where(ret[h] > 0, 1, -1)
        if k == horizon:
            # Everything still searching had the full horizon: the vertical barrier.
            rest = np.flatnonzero(~hit)
            exits[idx[rest]] = horizon
            if vertical == "sign":
                label[idx[rest]] = np.sign(ret[rest])
            return
        # Rows whose segment ended before the horizon without a touch are not events.
        keep = np.flatnonzero(~hit if km is None else ~hit & (km > k))
        idx, c0, up, dn = idx[keep], c0[keep], up[keep], dn[keep]
        if km is not None:
            km = km[keep]


def _barriers(
    cw: np.ndarray,
    vol: np.ndarray,
    left: np.ndarray,
    mode: LabelMode,
    vertical: str,
    exit_dtype: type,
) -> tuple[np.ndarray, np.ndarray]:
    """First touch of each row's barriers: (label, exit), exit 0 where the row is no event.

    `cw[i + k]` is the close k bars after row i (padded past the window); `left` counts
    the rows after i in its segment.
    """
    m = len(vol)
    label = np.zeros(m, dtype=np.int8)
    exits = np.zeros(m, dtype=exit_dtype)
    live = vol > 0  # NaN vol compares False: no event
    # Most rows have the whole horizon ahead; only segment tails need the bars-left check.
    full = np.flatnonzero(live & (left >= mode.horizon)).astype(np.int32)
    tail = np.flatnonzero(live & (left < mode.horizon) & (left > 0)).astype(np.int32)
    _first_touch(cw, full, vol, None, mode, vertical, label, exits)
    _first_touch(cw, tail, vol, left[tail], mode, vertical, label, exits)
    return label, exits


@dataclass
class ModeOutput:
    """Output columns of one mode, in input order."""

    label: np.ndarray
    exit: np.ndarray
    uniq: np.ndarray
    weight: np.ndarray


def _span_means(
    events: np.ndarray,
    exits: np.ndarray,
    inv_c: np.ndarray,
    r_over_c: np.ndarray,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event (sorted by exit, descending): start, mean of 1/c and |sum r/c| over its span.

    Sums run over k = 1..exit in order, so they never depend on where a chunk starts.
    """
    # Exits are small integers: a stable sort of a 16-bit key is a radix sort.
    key_dtype = np.uint16 if horizon < 1 << 16 else np.int64
    order = np.argsort((horizon - exits).astype(key_dtype), kind="stable")
    t = events[order]
    e = exits[order]
    # n_with[k] = number of events whose span reaches k bars.
    n_with = np.searchsorted(-e.astype(np.int64), -np.arange(horizon + 1), side="right")
    su = np.zeros(t.size)
    sa = np.zeros(t.size)
    for k in range(1, horizon + 1):
        nk = int(n_with[k])
        if nk == 0:
            break
        pos = t[:nk] + k
        su[:nk] += inv_c[pos]
        sa[:nk] += r_over_c[pos]
    return t, su / e, np.abs(sa)


def label_chunk(
    data: SortedBars,
    vol: np.ndarray,
    config: LabelingConfig,
    outs: dict[str, ModeOutput],
    lo: int,
    hi: int,
) -> None:
    """Labels, exits, uniqueness and attribution (into `weight`) of sorted rows [lo, hi)."""
    n = len(data.close)
    hmax = max(m.horizon for m in config.modes)
    # Events up to H bars before lo set the concurrency of [lo, ...); concurrency up to
    # H bars after hi sets the uniqueness of events before hi.
    a, b = max(0, lo - hmax), min(n, hi + hmax)
    m = b - a
    if b + hmax <= n:
        cw = data.close[a : b + hmax]
    else:  # the last chunk: pad past the end (those bars lie beyond every segment)
        cw = np.ones(m + hmax)
        cw[: n - a] = data.close[a:]
    first, last = np.searchsorted(data.starts, [a, b - 1], side="right") - 1
    pieces = np.clip(data.starts[first : last + 2], a, b)
    seg_end = np.repeat(data.starts[first + 1 : last + 2], np.diff(pieces))
    left = seg_end - 1 - np.arange(a, b)
    r = np.zeros(m)
    np.log(cw[1:m] / cw[: m - 1], out=r[1:])
    v = vol[a:b]
    core = slice(lo - a, hi - a)
    dest = slice(lo, hi) if data.perm is None else data.perm[lo:hi]
    for mode in config.modes:
        out = outs[mode.name]
        label, exits = _barriers(cw, v, left, mode, config.vertical, out.exit.dtype.type)
        out.label[dest] = label[core]
        out.exit[dest] = exits[core]
        events = np.flatnonzero(exits)
        ends = events + exits[events]
        conc = np.cumsum(
            np.bincount(events + 1, minlength=m + 1)[: m + 1]
            - np.bincount(ends + 1, minlength=m + 2)[: m + 1]
        )[:m]
        inv_c = np.zeros(m)
        np.divide(1.0, conc, out=inv_c, where=conc > 0)
        mine = events[(events >= lo - a) & (events < hi - a)]
        t, uniq, attr = _span_means(mine, exits[mine], inv_c, r * inv_c, mode.horizon)
        at = t + a
        where = at if data.perm is None else data.perm[at]
        out.uniq[where] = uniq
        out.weight[where] = attr
