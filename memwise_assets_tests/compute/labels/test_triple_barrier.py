"""Triple-barrier labels and weights against a slow per-event reference of the definition."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    ewm_vol,
    triple_barrier_labels,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labels"


def reference_labels(bars: pd.DataFrame, config: LabelingConfig) -> pd.DataFrame:
    """The definition, one event at a time in Python loops (slow, obviously right)."""
    time_col = next(c for c in ("date", "timestamp", "date_time") if c in bars.columns)
    keys = ["symbol", "contract"] if "contract" in bars.columns else ["symbol"]
    bars = bars.reset_index(drop=True)
    out = {
        f"{col}_{mode.name}": np.zeros(len(bars))
        for mode in config.modes
        for col in ("label", "weight", "uniq", "exit")
    }
    for _, seg in bars.groupby(keys, sort=False):
        seg = seg.sort_values(time_col)
        close = seg["close"].to_list()
        n = len(close)
        r = [float("nan")] + [float(np.log(close[i] / close[i - 1])) for i in range(1, n)]
        vol = (
            pd.Series(r)
            .ewm(span=config.vol_span, min_periods=config.vol_min_periods)
            .std()
            .to_list()
        )
        for mode in config.modes:
            label, exit_ = [0] * n, [0] * n
            for t in range(n):
                if not (vol[t] > 0):
                    continue
                kmax = min(mode.horizon, n - 1 - t)
                for k in range(1, kmax + 1):
                    ret = close[t + k] / close[t] - 1.0
                    if mode.pt > 0 and ret > mode.pt * vol[t]:
                        label[t], exit_[t] = 1, k
                        break
                    if mode.sl > 0 and ret < -mode.sl * vol[t]:
                        label[t], exit_[t] = -1, k
                        break
                else:
                    if kmax == mode.horizon:
                        ret = close[t + kmax] / close[t] - 1.0
                        exit_[t] = kmax
                        sign = (ret > 0) - (ret < 0)
                        label[t] = sign if config.vertical == "sign" else 0
            events = [t for t in range(n) if exit_[t] > 0]
            conc = [0] * n
            for t in events:
                for u in range(t + 1, t + exit_[t] + 1):
                    conc[u] += 1
            uniq, attr = [0.0] * n, [0.0] * n
            for t in events:
                s_u, s_a = 0.0, 0.0
                for u in range(t + 1, t + exit_[t] + 1):
                    s_u += 1.0 / conc[u]
                    s_a += r[u] / conc[u]
                uniq[t] = s_u / exit_[t]
                attr[t] = abs(s_a)
            total = sum(attr[t] for t in events)
            x, cum = [0.0] * n, 0.0
            for t in range(n):
                cum += uniq[t]
                x[t] = cum
            big_x = cum
            if config.decay >= 0:
                slope = (1.0 - config.decay) / big_x if big_x > 0 else 0.0
            else:
                slope = 1.0 / ((config.decay + 1.0) * big_x) if big_x > 0 else 0.0
            weight = [0.0] * n
            for t in events:
                decay = max(0.0, (1.0 - slope * big_x) + slope * x[t])
                weight[t] = (attr[t] / total * len(events) if total > 0 else 0.0) * decay
            name = mode.name
            for col, values in (
                ("label", label),
                ("exit", exit_),
                ("uniq", uniq),
                ("weight", weight),
            ):
                out[f"{col}_{name}"][seg.index.to_numpy()] = values
    return pd.DataFrame(out)


def random_bars(seed: int, n_symbols: int = 4, rows: int = 400) -> pd.DataFrame:
    """Random walks with contract rolls, flat stretches, gaps and shuffled row order."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_symbols):
        length = max(100, int(rng.integers(rows // 4, rows)))
        r = rng.normal(0, rng.choice([0.002, 0.02]), length)
        r[rng.random(length) < 0.05] *= 8  # jumps
        close = 100.0 * np.exp(np.cumsum(r))
        flat = int(rng.integers(0, length - 60))
        close[flat : flat + 40] = close[flat]  # returns exactly 0 over 40 bars
        if s == 0:
            close[:30] = 50.0  # a flat start: vol exactly 0, no events there
        close = np.round(close, 2)
        days = np.sort(rng.choice(np.arange(length * 2), length, replace=False))  # gaps
        contract = np.where(np.arange(length) < length // 2, "H", "M") if s % 2 else "Z"
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"S{s}",
                    "contract": contract,
                    "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(days, "D"),
                    "close": close,
                }
            )
        )
    bars = pd.concat(frames, ignore_index=True)
    return bars.sample(frac=1.0, random_state=seed).reset_index(drop=True)


MODES = (
    LabelMode("base", 1.0, 1.0, 20),
    LabelMode("wide", 2.0, 0.5, 7),
    LabelMode("long_only", 1.5, 0.0, 12),
    LabelMode("vertical", 0.0, 0.0, 5),
)


def assert_matches(got: pd.DataFrame, want: pd.DataFrame, modes: tuple[LabelMode, ...]) -> None:
    for mode in modes:
        name = mode.name
        np.testing.assert_array_equal(got[f"label_{name}"], want[f"label_{name}"], err_msg=name)
        np.testing.assert_array_equal(got[f"exit_{name}"], want[f"exit_{name}"], err_msg=name)
        for col in ("uniq", "weight"):
            np.testing.assert_allclose(
                got[f"{col}_{name}"], want[f"{col}_{name}"], rtol=1e-6, atol=1e-6, err_msg=col
            )


@pytest.mark.parametrize(
    ("seed", "vertical", "decay", "chunk_rows"),
    [(1, "zero", 1.0, 100_000), (2, "sign", 0.5, 7), (3, "zero", 0.0, 3), (4, "sign", -0.5, 100)],
)
def test_matches_reference(seed: int, vertical: str, decay: float, chunk_rows: int) -> None:
    bars = random_bars(seed)
    config = LabelingConfig(
        modes=MODES,
        vol_span=30,
        vol_min_periods=10,
        vertical=vertical,
        decay=decay,
        chunk_rows=chunk_rows,
    )
    got = triple_barrier_labels(bars, config)
    assert_matches(got, reference_labels(bars, config), MODES)
    pd.testing.assert_frame_equal(got[bars.columns], bars)
    assert (got["label_base"] != 0).sum() > 100  # the data exercises both barriers


def test_output_identical_whatever_chunk_rows() -> None:
    bars = random_bars(7, n_symbols=4, rows=220)
    calls: list[tuple[int, int, int]] = []
    outs = [
        triple_barrier_labels(
            bars,
            LabelingConfig(modes=MODES, decay=-0.3, chunk_rows=chunk, vol_span=20),
            on_chunk=(lambda *a: calls.append(a)) if chunk == 100 else None,
        )
        for chunk in (1, 7, 100, 1_000_000)
    ]
    for other in outs[1:]:
        pd.testing.assert_frame_equal(other, outs[0], check_exact=True)
    n_chunks = -(-len(bars) // 100)
    assert calls == [(i, n_chunks, min(len(bars), (i + 1) * 100)) for i in range(n_chunks)]


def es_dollar_bars() -> pd.DataFrame:
    raw = pd.read_csv(FIXTURES / "ES_dollar_bars_head3000.csv.gz", parse_dates=["date_time"])
    return raw.assign(symbol="ES")[["symbol", "date_time", "close"]]


def test_real_es_dollar_bars_match_reference() -> None:
    bars = es_dollar_bars()
    modes = (LabelMode("base", 1.0, 1.0, 20), LabelMode("tight", 0.5, 2.0, 10))
    for vertical, decay in (("zero", 1.0), ("sign", 0.25)):
        config = LabelingConfig(modes=modes, vertical=vertical, decay=decay, chunk_rows=1000)
        got = triple_barrier_labels(bars, config)
        assert_matches(got, reference_labels(bars, config), modes)
    events = got["exit_base"] > 0
    # Weights without decay would sum to the event count; the check here is the decayed sum.
    assert events.sum() == len(bars) - 20 - 20 + (got["exit_base"].tail(20) > 0).sum()
    assert set(np.unique(got["label_base"])) == {-1, 0, 1}


def test_weights_sum_to_event_count_per_segment_without_decay() -> None:
    bars = random_bars(11)
    got = triple_barrier_labels(bars, LabelingConfig(modes=MODES))
    for mode in MODES:
        sums = got.groupby(["symbol", "contract"])[f"weight_{mode.name}"].sum()
        counts = (got[f"exit_{mode.name}"] > 0).groupby([got.symbol, got.contract]).sum()
        np.testing.assert_allclose(sums.to_numpy(), counts.to_numpy(), rtol=1e-5)
        non_events = got[f"exit_{mode.name}"] == 0
        assert (got.loc[non_events, [f"weight_{mode.name}", f"uniq_{mode.name}"]] == 0).all().all()
        assert (got.loc[non_events, f"label_{mode.name}"] == 0).all()


def test_dtypes_order_and_input_untouched() -> None:
    bars = random_bars(5)
    bars.index = bars.index * 3 + 10
    before = bars.copy()
    modes = (LabelMode("a", 1, 1, 20), LabelMode("b", 1, 1, 40_000))
    got = triple_barrier_labels(bars, LabelingConfig(modes=modes, chunk_rows=50))
    pd.testing.assert_frame_equal(bars, before)
    pd.testing.assert_index_equal(got.index, bars.index)
    assert got["label_a"].dtype == np.int8
    assert got["weight_a"].dtype == np.float32 and got["uniq_a"].dtype == np.float32
    assert got["exit_a"].dtype == np.int16 and got["exit_b"].dtype == np.int32
    # The same bars sorted give the same rows, reordered.
    order = bars.sort_values(["symbol", "contract", "date"]).index
    again = triple_barrier_labels(bars.loc[order], LabelingConfig(modes=modes))
    pd.testing.assert_frame_equal(again.loc[bars.index], got, check_exact=True)


def test_ewm_vol_matches_pandas() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 2500, 40)
    close = 100 * np.exp(np.cumsum(rng.normal(0, rng.choice([1e-4, 1e-2], lengths.sum()))))
    close[300:500] = close[300]
    starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    for span, min_periods in ((100, 20), (3, 0), (10, 1), (2000, 5), (2e6, 3), (2, 100)):
        got = ewm_vol(close, starts, span, min_periods)
        want = np.concatenate(
            [
                pd.Series(np.log(close[a:b])).diff().ewm(span=span, min_periods=min_periods).std()
                for a, b in zip(starts[:-1], starts[1:], strict=True)
            ]
        )
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"modes": (LabelMode("a", -1.0, 1.0, 5),)}, "pt"),
        ({"modes": (LabelMode("a", 1.0, -0.5, 5),)}, "sl"),
        ({"modes": (LabelMode("a", 1.0, 1.0, 0),)}, "horizon"),
        ({"modes": (LabelMode("a", 1, 1, 5), LabelMode("a", 2, 2, 5))}, "unique names"),
        ({"modes": (LabelMode("a b", 1, 1, 5),)}, "identifier"),
        ({"modes": ()}, "modes"),
        ({"vertical": "up"}, "vertical"),
        ({"decay": -1.0}, "decay"),
        ({"decay": 1.5}, "decay"),
        ({"chunk_rows": 0}, "chunk_rows"),
        ({"vol_span": 1}, "vol_span"),
    ],
)
def test_invalid_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LabelingConfig(**kwargs)


def test_invalid_bars() -> None:
    bars = random_bars(9, n_symbols=2, rows=60)
    with pytest.raises(ValueError, match=r"missing \['close'\]"):
        triple_barrier_labels(bars.drop(columns="close"))
    with pytest.raises(ValueError, match="time column"):
        triple_barrier_labels(bars.drop(columns="date"))
    for bad in (0.0, -1.0, np.nan):
        broken = bars.copy()
        broken.loc[3, "close"] = bad
        with pytest.raises(ValueError, match=r"close: expected positive.*got 1 .*rows \[3\]"):
            triple_barrier_labels(broken)
    dup = pd.concat([bars, bars.iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"1 duplicates.*S\d"):
        triple_barrier_labels(dup)
    # The same time in another contract of the symbol is no duplicate.
    rolled = bars.iloc[[5]].assign(contract="X")
    assert len(triple_barrier_labels(pd.concat([bars, rolled], ignore_index=True))) == len(bars) + 1


def test_timestamp_column_and_no_contract() -> None:
    bars = random_bars(13, n_symbols=3, rows=200).drop(columns="contract")
    bars = bars.drop_duplicates(["symbol", "date"]).rename(columns={"date": "timestamp"})
    config = LabelingConfig(modes=MODES[:2], vol_span=20, vol_min_periods=5)
    assert_matches(triple_barrier_labels(bars, config), reference_labels(bars, config), MODES[:2])


def test_working_memory_bounded_by_chunk_rows() -> None:
    rng = np.random.default_rng(0)
    n_symbols, n_bars = 10, 20_000
    bars = pd.DataFrame(
        {
            "symbol": np.repeat([f"S{i}" for i in range(n_symbols)], n_bars),
            "date": np.tile(pd.date_range("1990-01-01", periods=n_bars).to_numpy(), n_symbols),
            "close": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n_symbols * n_bars))),
        }
    )
    n = len(bars)
    peaks = {}
    for chunk in (2_000, n):
        tracemalloc.start()
        triple_barrier_labels(bars, LabelingConfig(chunk_rows=chunk))
        peaks[chunk] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Output columns (11 B/row) + the vol (8 B/row) + fixed blocks; nothing rows x horizon.
    assert peaks[2_000] < 19 * n + 8 * 2**20
    assert peaks[n] > 2 * peaks[2_000]


def test_edge_inputs() -> None:
    empty = pd.DataFrame({"symbol": [], "date": pd.to_datetime([]), "close": []})
    got = triple_barrier_labels(empty)
    assert list(got.columns) == [
        "symbol",
        "date",
        "close",
        "label_base",
        "weight_base",
        "uniq_base",
        "exit_base",
        "is_event_base",
    ]
    assert len(got) == 0
    # One-row segments, python dates and a tz-aware time column give no events and no error.
    tiny = pd.DataFrame(
        {"symbol": ["A", "B"], "date": [pd.Timestamp("2020-01-01").date()] * 2, "close": [1.0, 2]}
    )
    assert (triple_barrier_labels(tiny)["exit_base"] == 0).all()
    bars = random_bars(21, n_symbols=2, rows=200).drop(columns="contract")
    bars = bars.drop_duplicates(["symbol", "date"])
    aware = bars.assign(date=bars["date"].dt.tz_localize("America/New_York"))
    config = LabelingConfig(vol_span=20, vol_min_periods=5)
    pd.testing.assert_frame_equal(
        triple_barrier_labels(aware, config).drop(columns="date"),
        triple_barrier_labels(bars, config).drop(columns="date"),
    )
