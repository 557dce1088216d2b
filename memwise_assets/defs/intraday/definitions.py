"""The intraday domain's definitions: intraday bars (minute, dollar, volume or tick) from CSV."""

import dagster as dg

from memwise_assets.defs.intraday.assets import intraday_bars

defs = dg.Definitions(assets=[intraday_bars])
