"""`weighted_labels`: triple-barrier labels and sample weights per labelling mode."""

from collections.abc import Iterator
from dataclasses import fields
from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    refuse_long_horizons,
    triple_barrier_labels,
)
from memwise_assets.defs.blocked import (
    block_estimate_mb,
    label_blocks,
    longest_series,
    plan_for,
    plan_metadata,
    sessions_of,
)
from memwise_assets.defs.budgets import MB, budget_named
from memwise_assets.defs.home_and_size import frame_mb
from memwise_assets.defs.labels.checks import (
    LABEL_CHECKS,
    label_check_result,
    label_check_results,
    label_problems,
)
from memwise_assets.defs.refresh import REFRESH_KEY
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.store import Blocks
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.defs.table_asset import table_asset
from memwise_assets.memory import release_free_heap

# Per chunk row: a dozen float64 working arrays per mode, plus the int/float32 outputs.
_BYTES_PER_CHUNK_ROW = 8 * 12


class LabelModeConfig(dg.Config):
    """One labelling mode: barrier multiples of volatility and the horizon in bars."""

    name: str = Field(description="Suffix of the output columns (label_<name>, ...).")
    pt: float = Field(default=1.0, description="Profit-take multiple of vol (0 disables).")
    sl: float = Field(default=1.0, description="Stop-loss multiple of vol (0 disables).")
    horizon: int = Field(
        default=20,
        description="Vertical barrier, in bars (1..100,000; at most the longest series).",
    )


class LabelsConfig(dg.Config):
    """Triple-barrier labelling knobs (see `memwise_assets.compute.labels.triple_barrier`)."""

    modes: list[LabelModeConfig] = Field(
        default_factory=lambda: [LabelModeConfig(name="base")],
        description="Labelling modes; each adds label_, weight_, uniq_, exit_ and is_event_ "
        "columns.",
    )
    vol_span: int = Field(default=100, description="EWM span of the return volatility.")
    vol_min_periods: int = Field(default=20, description="Returns needed before a bar is an event.")
    vertical: Literal["zero", "sign"] = Field(
        default="zero", description="Label at the vertical barrier: 0, or the sign of the return."
    )
    decay: float = Field(default=1.0, description="Time decay in (-1, 1]; 1 means none.")
    chunk_rows: int = Field(default=100_000, description="Rows per chunk: bounds peak memory.")
    price_field: Literal["close", "adj_close"] = Field(
        default="adj_close",
        description="Price the barriers and returns read: adj_close (total return, dividends "
        "included) or close (split-adjusted only).",
    )

    @model_validator(mode="after")
    def _valid(self) -> "LabelsConfig":
        self.to_labeling()  # refuse bad knobs when the run is configured, naming the field
        return self

    def to_labeling(self) -> LabelingConfig:
        # Every knob but the modes has the same name and meaning in both configs.
        knobs = {f.name: getattr(self, f.name) for f in fields(LabelingConfig) if f.name != "modes"}
        modes = tuple(LabelMode(m.name, m.pt, m.sl, m.horizon) for m in self.modes)
        return LabelingConfig(modes=modes, **knobs)


def label_step(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    bars: pd.DataFrame,
    config: LabelsConfig,
    asset: str,
    sessions: pd.DatetimeIndex | None = None,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Label `bars` under the labels budget (a stage per chunk), store them, check them.

    The output and the checks are yielded inside the step: the checks run within the
    step's reservation and monitor. `sessions`: the exchange's trading days, to split
    series at holes (daily bars only).
    """
    labeling = config.to_labeling()
    # Before any admission: a horizon no series can reach is a configuration error.
    refuse_long_horizons(bars, labeling)
    input_mb = frame_mb(bars)
    chunk_mb = labeling.chunk_rows * _BYTES_PER_CHUNK_ROW * len(labeling.modes) / MB
    static_mb = budget_named("labels").static_estimate(input_mb) + chunk_mb
    with memory.step(
        context, budget="labels", input_mb=input_mb, static_estimate_mb=static_mb
    ) as step:
        step.mark("input-loaded")
        # Chunks free their working arrays into the allocator; at an emergency, hand that
        # memory back to the OS before deciding the step is really over its limit.
        step.register_cleanup(release_free_heap)

        def on_chunk(i: int, n_chunks: int, rows_done: int) -> None:
            step.mark(f"chunk-{i + 1}-of-{n_chunks}")
            if n_chunks > 1:
                context.log.debug(f"labelled {rows_done} rows ({i + 1}/{n_chunks} chunks)")

        labelled = triple_barrier_labels(bars, labeling, sessions=sessions, on_chunk=on_chunk)
        step.mark("labels-complete")
        yield step.output(labelled, metadata=balance_metadata(labelled, config))
        yield from label_check_results(labelled, config, asset=asset)


def balance_metadata(labelled: pd.DataFrame, config: LabelsConfig) -> dict[str, float]:
    """Events, non-events and the share of -1 / 0 / +1 among events, per mode."""
    tally = _LabelTally(config)
    tally.add(labelled, check=False)
    return tally.metadata()


@table_asset(
    "labels",
    reads={"daily_bars": ["symbol", "date", "close", "adj_close"]},
    check_specs=LABEL_CHECKS,
    budget="labels",
)
def weighted_labels(
    context: dg.AssetExecutionContext,
    config: LabelsConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Triple-barrier labels (int8) and uniqueness-weighted sample weights per mode."""
    labeling = config.to_labeling()
    # Before any admission: a horizon no series can reach is a configuration error.
    refuse_long_horizons(None, labeling, longest=longest_series(daily_bars))
    sessions = sessions_of(daily_bars)
    input_mb = daily_bars.memory_mb
    modes = len(labeling.modes)
    static_mb = block_estimate_mb(daily_bars, "labels", memory.limit_for("labels"), modes)
    with memory.step(
        context, budget="labels", input_mb=input_mb, static_estimate_mb=static_mb
    ) as step:
        step.register_cleanup(release_free_heap)
        plan = plan_for(step, daily_bars, "labels", modes)
        context.log.info(f"weighted_labels by blocks: {plan.reason}")
        daily_bars.spill_into(step.cache_dir)  # each row group decoded once, not per block
        tally = _LabelTally(config)

        def label(bars: pd.DataFrame) -> pd.DataFrame:
            return triple_barrier_labels(bars, labeling, sessions=sessions)

        def on_block(i: int, labelled: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}-of-{plan.blocks}")
            tally.add(labelled)

        blocks = label_blocks(daily_bars, plan, label, on_block)
        # Always whole: a row's weight is its attribution times its series' events over its
        # total attribution, so one new day changes the weight of every row of the series,
        # and the float32 weights stored cannot be rescaled to the bit.
        meta = {**plan_metadata(plan), REFRESH_KEY: "full: weights depend on each whole series"}
        yield step.output(Blocks(blocks, plan=meta, summary=tally.metadata))
        yield label_check_result(tally.problems, "weighted_labels")


class _LabelTally:
    """Balance counts and check problems, summed over the blocks."""

    def __init__(self, config: LabelsConfig) -> None:
        self.config = config
        self.rows = 0
        self.counts = {m.name: np.zeros(4, dtype=np.int64) for m in config.modes}
        self.problems: list[str] = []

    def add(self, labelled: pd.DataFrame, check: bool = True) -> None:
        self.rows += len(labelled)
        for mode in self.config.modes:
            events = labelled.loc[labelled[f"is_event_{mode.name}"], f"label_{mode.name}"]
            values = events.to_numpy()
            self.counts[mode.name] += [len(values), *((values == v).sum() for v in (-1, 0, 1))]
        if check:
            found = label_problems(labelled, self.config)
            self.problems += [p for p in found if p not in self.problems]

    def metadata(self) -> dict[str, float]:
        """Events, non-events and the share of -1 / 0 / +1 among events, per mode."""
        meta: dict[str, float] = {}
        for name, (n_events, *per_value) in self.counts.items():
            meta[f"memwise/events_{name}"] = int(n_events)
            meta[f"memwise/non_events_{name}"] = int(self.rows - n_events)
            for count, word in zip(per_value, ("down", "flat", "up"), strict=True):
                meta[f"memwise/label_{word}_share_{name}"] = round(
                    float(count) / float(n_events) if n_events else 0.0, 4
                )
        return meta
