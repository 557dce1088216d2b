"""Weighted triple-barrier labels (AFML ch. 3-4), vectorised and chunked in bounded memory.

Every bar is an event candidate. Per segment (one symbol, or one symbol and contract), in
time order: bar-to-bar log returns, their ewm std (the vol), a first-touch search of the
profit-take / stop-loss / vertical barriers, the concurrency of the events' spans, each
event's uniqueness and return attribution, and the weights (attribution rescaled to the
event count of the segment, times the time decay along cumulative uniqueness).

Memory: besides the input and the output, the work holds a few arrays of 8 bytes per row
(the vol, and the sort order when the input is not already grouped by segment and
time-ordered); everything of size rows x horizon is done per chunk of `chunk_rows` rows.
The output does not depend on `chunk_rows`, bit for bit: per-event sums run over k in
order, and the per-segment sums run over fixed blocks that ignore `chunk_rows`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

TIME_COLUMNS = ("date", "timestamp", "date_time")
VERTICAL_RULES = ("zero", "sign")
# Fixed block sizes (never chunk_rows) keep sums and the vol identical whatever chunk_rows.
_SUM_BLOCK = 1 << 16
_VOL_SUPER_BLOCK = 1 << 16

ChunkCallback = Callable[[int, int, int], None]


@dataclass(frozen=True)
class LabelMode:
    """One labelling mode: barrier multiples of the vol and the horizon in bars."""

    name: str
    pt: float
    sl: float
    horizon: int


@dataclass(frozen=True)
class LabelingConfig:
    """Modes, vol estimator, vertical-barrier rule, time decay and chunk size."""

    modes: tuple[LabelMode, ...] = (LabelMode("base", 1.0, 1.0, 20),)
    vol_span: float = 100
    vol_min_periods: int = 20
    vertical: str = "zero"
    decay: float = 1.0
    chunk_rows: int = 100_000

    def __post_init__(self) -> None:
        modes = tuple(self.modes)
        object.__setattr__(self, "modes", modes)
        if not modes:
            raise ValueError("modes: expected at least one LabelMode, got none")
        names = [m.name for m in modes]
        for mode in modes:
            if not isinstance(mode.name, str) or not mode.name.isidentifier():
                raise ValueError(f"modes.name: expected an identifier, got {mode.name!r}")
            for field in ("pt", "sl"):
                value = getattr(mode, field)
                if not np.isfinite(value) or value < 0:
                    raise ValueError(
                        f"modes[{mode.name}].{field}: expected a multiple >= 0, got {value!r}"
                    )
            if int(mode.horizon) != mode.horizon or mode.horizon < 1:
                raise ValueError(
                    f"modes[{mode.name}].horizon: expected an integer >= 1, got {mode.horizon!r}"
                )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"modes.name: expected unique names, got duplicates {duplicates}")
        if not self.vol_span > 1:
            raise ValueError(f"vol_span: expected a span > 1, got {self.vol_span!r}")
        if int(self.vol_min_periods) != self.vol_min_periods or self.vol_min_periods < 0:
            raise ValueError(
                f"vol_min_periods: expected an integer >= 0, got {self.vol_min_periods!r}"
            )
        if self.vertical not in VERTICAL_RULES:
            raise ValueError(f"vertical: expected one of {VERTICAL_RULES}, got {self.vertical!r}")
        if not -1 < self.decay <= 1:
            raise ValueError(f"decay: expected a value in (-1, 1], got {self.decay!r}")
        if int(self.chunk_rows) != self.chunk_rows or self.chunk_rows < 1:
            raise ValueError(f"chunk_rows: expected an integer >= 1, got {self.chunk_rows!r}")


@dataclass
class _Sorted:
    """The input in (segment, time) order: closes, segment starts, and the order itself."""

    close: np.ndarray  # float64, sorted order
    starts: np.ndarray  # int64 segment starts, plus n at the end
    perm: np.ndarray | None  # sorted position -> input position; None when already sorted


def _time_keys(bars: pd.DataFrame) -> tuple[str, np.ndarray]:
    col = next((c for c in TIME_COLUMNS if c in bars.columns), None)
    if col is None:
        raise ValueError(
            f"bars needs a time column (one of {', '.join(TIME_COLUMNS)}); "
            f"got columns: {list(bars.columns)}"
        )
    values = bars[col]
    if pd.api.types.is_datetime64_any_dtype(values):
        keys = values.array.asi8  # a view: no copy of a large time column
        bad = keys == np.iinfo(np.int64).min  # NaT
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        keys = values.to_numpy()
        bad = np.isnan(keys) if keys.dtype.kind == "f" else np.zeros(len(keys), bool)
    else:
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(values))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bars.{col}: expected datetimes, got {values.dtype}") from exc
        keys = stamps.asi8
        bad = np.asarray(stamps.isna())
    if bad.any():
        raise ValueError(f"bars.{col}: expected no missing times, got {int(bad.sum())}")
    return col, keys


def _segment_codes(bars: pd.DataFrame) -> np.ndarray:
    cols = ["symbol", "contract"] if "contract" in bars.columns else ["symbol"]
    code: np.ndarray | None = None
    for col in cols:
        values = bars[col]
        codes, uniques = (
            (values.cat.codes.to_numpy(), values.cat.categories)
            if isinstance(values.dtype, pd.CategoricalDtype)
            else pd.factorize(values)
        )
        if (codes < 0).any():
            raise ValueError(f"bars.{col}: expected no missing values, got {(codes < 0).sum()}")
        # Compact codes as they come; a (symbol, contract) pair needs the wider product.
        code = codes if code is None else code.astype(np.int64) * (len(uniques) + 1) + codes
    return code


def _prepare(bars: pd.DataFrame) -> _Sorted:
    missing = [c for c in ("symbol", "close") if c not in bars.columns]
    if missing:
        raise ValueError(
            f"bars needs columns symbol, a time column and close; missing {missing}, "
            f"got: {list(bars.columns)}"
        )
    time_col, t = _time_keys(bars)
    close = bars["close"].to_numpy(dtype=np.float64, na_value=np.nan)
    keys = ["symbol", "contract"] if "contract" in bars.columns else ["symbol"]
    bad = ~(close > 0)
    if bad.any():
        first = np.flatnonzero(bad)[:5]
        shown = bars.iloc[first][[*keys, time_col, "close"]].to_dict("records")
        raise ValueError(
            f"bars.close: expected positive closes, got {int(bad.sum())} non-positive or NaN, "
            f"e.g. rows {first.tolist()}: {shown}"
        )
    code = _segment_codes(bars)
    n = len(code)
    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(code[1:], code[:-1], out=new_run[1:])
    # Grouped by segment iff no segment code comes back after its run: cheap when the run
    # codes already increase, else count runs against first-appearance codes.
    run_codes = code[new_run]
    grouped = bool(np.all(run_codes[1:] > run_codes[:-1])) or (
        len(run_codes) == len(pd.unique(run_codes))
    )
    perm = None
    rising = t[1:] > t[:-1]
    rising |= new_run[1:]
    if not (grouped and bool(rising.all())):
        # Segment order is irrelevant to every result; only time order within one matters.
        perm = np.lexsort((t, code))
        code, t, close = code[perm], t[perm], close[perm]
        np.not_equal(code[1:], code[:-1], out=new_run[1:])
    del rising
    dup = np.zeros(0, dtype=bool) if perm is None else ~new_run[1:] & (t[1:] == t[:-1])
    if dup.any():
        at = np.flatnonzero(dup)[:5] + 1
        rows = at if perm is None else perm[at]
        shown = bars.iloc[rows][[*keys, time_col]].to_dict("records")
        raise ValueError(
            f"bars: expected one row per (segment, {time_col}), got {int(dup.sum())} "
            f"duplicates, e.g. {shown}"
        )
    starts = np.append(np.flatnonzero(new_run), n).astype(np.int64)
    return _Sorted(close=close, starts=starts, perm=perm)


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
class _Out:
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


def _label_chunk(
    data: _Sorted,
    vol: np.ndarray,
    config: LabelingConfig,
    outs: dict[str, _Out],
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


def _segment_cums(
    data: _Sorted, p: int, q: int, cols: list[np.ndarray], carry: list[float]
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


def _weights(data: _Sorted, out: _Out, decay: float) -> None:
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
    for p in range(0, n, _SUM_BLOCK):
        q = min(n, p + _SUM_BLOCK)
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
    for p in range(0, n, _SUM_BLOCK):
        q = min(n, p + _SUM_BLOCK)
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


def triple_barrier_labels(
    bars: pd.DataFrame,
    config: LabelingConfig = LabelingConfig(),
    *,
    on_chunk: ChunkCallback | None = None,
) -> pd.DataFrame:
    """Bars in their input order plus label_, weight_, uniq_ and exit_ columns per mode.

    `on_chunk(i, n_chunks, rows_done)` is called after each chunk of `config.chunk_rows`.
    """
    data = _prepare(bars)
    n = len(data.close)
    vol = ewm_vol(data.close, data.starts, config.vol_span, config.vol_min_periods)
    outs = {
        m.name: _Out(
            label=np.zeros(n, dtype=np.int8),
            exit=np.zeros(n, dtype=np.int16 if m.horizon <= np.iinfo(np.int16).max else np.int32),
            uniq=np.zeros(n, dtype=np.float32),
            weight=np.zeros(n, dtype=np.float32),
        )
        for m in config.modes
    }
    chunk = int(config.chunk_rows)
    n_chunks = -(-n // chunk)
    for i, lo in enumerate(range(0, n, chunk)):
        hi = min(n, lo + chunk)
        _label_chunk(data, vol, config, outs, lo, hi)
        if on_chunk is not None:
            on_chunk(i, n_chunks, hi)
    del vol
    for out in outs.values():
        _weights(data, out, config.decay)
    columns: dict[str, np.ndarray] = {}
    for name, out in outs.items():
        columns |= {
            f"label_{name}": out.label,
            f"weight_{name}": out.weight,
            f"uniq_{name}": out.uniq,
            f"exit_{name}": out.exit,
        }
    log.debug("labelled %d rows in %d segments, %d chunks", n, len(data.starts) - 1, n_chunks)
    result = bars.copy(deep=False)
    for name, values in columns.items():
        result[name] = values
    return result
