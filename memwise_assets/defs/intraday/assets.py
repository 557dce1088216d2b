"""Intraday bars (minute, dollar, volume or tick bars) read from CSV files."""

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import dagster as dg
from pydantic import Field

from memwise_assets.compute.prices.intraday import read_intraday_bars
from memwise_assets.defs.budgets import MB
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.table_asset import table_asset


def sample_intraday_dir() -> Path:
    """Slices of real ES dollar bars and DBB minute bars shipped with memwise."""
    return Path(str(resources.files("memwise_assets") / "data" / "intraday"))


class IntradayConfig(dg.Config):
    """Which folder of bar files to read."""

    folder: str | None = Field(
        default=None, description="Folder of <SYMBOL>_*.csv[.gz] bar files; default the samples."
    )
    pattern: str = Field(default="*.csv*", description="Which files of the folder to read.")


@table_asset("labels", budget="labels")
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
        yield step.output(bars)
