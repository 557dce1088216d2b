"""Long (symbol, day) series, whatever they hold: row keys, holes in the exchange's sessions,
rolling windows over segments, and how a vectorised pass uses the machine."""

from memwise_assets.compute.series.holes import (
    SessionCounter,
    any_hole,
    hole_starts,
    segment_start_days,
)
from memwise_assets.compute.series.keys import (
    EXAMPLES,
    Keyed,
    as_float64,
    day_numbers,
    in_order,
    key_rows,
    require_columns,
    require_numeric,
    symbol_codes,
)
from memwise_assets.compute.series.runtime import (
    chunks,
    halves,
    in_parallel,
    release_freed,
    small_pages,
)
from memwise_assets.compute.series.windows import Segments, window

__all__ = [
    "EXAMPLES",
    "Keyed",
    "Segments",
    "SessionCounter",
    "any_hole",
    "as_float64",
    "chunks",
    "day_numbers",
    "halves",
    "hole_starts",
    "in_order",
    "in_parallel",
    "key_rows",
    "release_freed",
    "require_columns",
    "require_numeric",
    "segment_start_days",
    "small_pages",
    "symbol_codes",
    "window",
]
