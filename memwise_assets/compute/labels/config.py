"""What a labelling run is asked for: modes, the vol estimator, and bounds that make sense.

Bounds are refused when the config is built, naming the field: a horizon is a number of bars
(a year of minute bars is ~100k), a span past a million bars weighs nothing but the oldest
bars, and a chunk past ten million rows defeats the point of chunking. A horizon longer than
the series itself is refused when the bars are seen (`triple_barrier_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERTICAL_RULES = ("zero", "sign")
# The price the barriers and returns read; adj_close is the total-return series of equities.
PRICE_FIELDS = ("close", "adj_close")
MAX_HORIZON = 100_000
MAX_SPAN = 1_000_000
MAX_CHUNK_ROWS = 10_000_000


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
    price_field: str = "close"

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
            if int(mode.horizon) != mode.horizon or not 1 <= mode.horizon <= MAX_HORIZON:
                raise ValueError(
                    f"modes[{mode.name}].horizon: expected an integer in 1..{MAX_HORIZON:,} "
                    f"bars, got {mode.horizon!r}"
                )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"modes.name: expected unique names, got duplicates {duplicates}")
        if not 1 < self.vol_span <= MAX_SPAN:
            raise ValueError(
                f"vol_span: expected a span in (1, {MAX_SPAN:,}], got {self.vol_span!r}"
            )
        if int(self.vol_min_periods) != self.vol_min_periods or not (
            0 <= self.vol_min_periods <= MAX_SPAN
        ):
            raise ValueError(
                f"vol_min_periods: expected an integer in 0..{MAX_SPAN:,}, "
                f"got {self.vol_min_periods!r}"
            )
        if self.vertical not in VERTICAL_RULES:
            raise ValueError(f"vertical: expected one of {VERTICAL_RULES}, got {self.vertical!r}")
        if not -1 < self.decay <= 1:
            raise ValueError(f"decay: expected a value in (-1, 1], got {self.decay!r}")
        if int(self.chunk_rows) != self.chunk_rows or not 1 <= self.chunk_rows <= MAX_CHUNK_ROWS:
            raise ValueError(
                f"chunk_rows: expected an integer in 1..{MAX_CHUNK_ROWS:,}, got {self.chunk_rows!r}"
            )
        if self.price_field not in PRICE_FIELDS:
            raise ValueError(
                f"price_field: expected one of {PRICE_FIELDS}, got {self.price_field!r}"
            )
