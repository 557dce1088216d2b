"""Triple-barrier labels of intraday bars (the bars themselves are `defs.intraday`)."""

from collections.abc import Iterator
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from memwise_assets.defs.labels.assets import LabelsConfig, label_step
from memwise_assets.defs.labels.checks import label_checks
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.table_asset import table_asset


class IntradayLabelsConfig(LabelsConfig):
    """`LabelsConfig` for intraday bars: they carry one price series, `close`."""

    price_field: Literal["close"] = Field(
        default="close", description="Intraday bars have no adj_close: labels read close."
    )


@table_asset("labels", budget="labels", check_specs=label_checks("intraday_labels"))
def intraday_labels(
    context: dg.AssetExecutionContext,
    config: IntradayLabelsConfig,
    memory: MemoryResource,
    intraday_bars: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Triple-barrier labels and weights on intraday bars (no barrier crosses a symbol)."""
    yield from label_step(context, memory, intraday_bars, config, asset="intraday_labels")
