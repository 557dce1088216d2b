"""Intraday bars (minute or dollar bars) from CSV files, and their triple-barrier labels."""

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from memwise_assets.compute.intraday import read_intraday_bars
from memwise_assets.defs.budgets import BUDGETS, MB
from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.labels.assets import LabelsConfig, label_step
from memwise_assets.defs.labels.checks import label_checks
from memwise_assets.defs.resources import MemoryResource


def sample_intraday_dir() -> Path:
    """Slices of real ES dollar bars and DBB minute bars shipped with memwise."""
    return Path(str(resources.files("memwise_assets") / "data" / "intraday"))


class IntradayConfig(dg.Config):
    """Which folder of bar files to read."""

    folder: str | None = Field(
        default=None, description="Folder of <SYMBOL>_*.csv[.gz] bar files; default the samples."
    )
    pattern: str = Field(default="*.csv*", description="Which files of the folder to read.")


@dg.asset(
    group_name="labels", kinds={"pandas", "parquet"}, metadata=column_metadata("intraday_bars")
)
def intraday_bars(
    context: dg.AssetExecutionContext, config: IntradayConfig, memory: MemoryResource
) -> Iterator[dg.Output]:
    """Intraday OHLCV bars (minute, dollar, volume or tick bars) per symbol."""
    folder = Path(config.folder) if config.folder else sample_intraday_dir()
    files = sorted(folder.glob(config.pattern)) if folder.is_dir() else []
    input_mb = sum(p.stat().st_size for p in files) / MB
    # Parsing CSV text into float columns takes a few times the file size.
    with memory.step(
        context, budget="labels", input_mb=input_mb, static_estimate_mb=64 + 8 * input_mb
    ) as step:
        bars = read_intraday_bars(folder, pattern=config.pattern)
        step.mark("read-complete")
        context.log.info(f"read {len(bars)} bars of {bars['symbol'].nunique()} symbols")
        yield dg.Output(bars)


class IntradayLabelsConfig(LabelsConfig):
    """`LabelsConfig` for intraday bars: they carry one price series, `close`."""

    price_field: Literal["close"] = Field(
        default="close", description="Intraday bars have no adj_close: labels read close."
    )


@dg.asset(
    group_name="labels",
    check_specs=label_checks("intraday_labels"),
    pool=BUDGETS["labels"].pool,
    metadata=column_metadata("intraday_labels"),
)
def intraday_labels(
    context: dg.AssetExecutionContext,
    config: IntradayLabelsConfig,
    memory: MemoryResource,
    intraday_bars: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Triple-barrier labels and weights on intraday bars (no barrier crosses a symbol)."""
    yield from label_step(context, memory, intraday_bars, config, asset="intraday_labels")
