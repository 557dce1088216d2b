"""Size classes and resource estimates for one unit of work (a filing, a file, a chunk).

The formula is deliberately simple (base + multiplier x input MB); the Dagster layer
calibrates it from recorded peaks, this module only states the size-based starting point.
"""

from __future__ import annotations

import enum
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MB = 1024.0 * 1024.0


class FileCategory(enum.Enum):
    """Size class of an input: SMALL < small_below_mb <= MEDIUM <= large_above_mb < LARGE."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"

    @classmethod
    def of(
        cls, size_mb: float, small_below_mb: float = 20.0, large_above_mb: float = 50.0
    ) -> FileCategory:
        """Classify an input of `size_mb` megabytes."""
        _check_size(size_mb)
        _check_bounds(small_below_mb, large_above_mb)
        if size_mb < small_below_mb:
            return cls.SMALL
        if size_mb > large_above_mb:
            return cls.LARGE
        return cls.MEDIUM


DEFAULT_TIMEOUTS: dict[FileCategory, float] = {
    FileCategory.SMALL: 600.0,
    FileCategory.MEDIUM: 1200.0,
    FileCategory.LARGE: 2400.0,
}


@dataclass(frozen=True)
class ResourceEstimate:
    """What one unit of work is expected to need, and where it should run."""

    size_mb: float
    category: FileCategory
    memory_mb: float
    timeout_s: float
    pool: str


def _finite_number(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_size(size_mb: float) -> None:
    if not _finite_number(size_mb) or size_mb < 0:
        raise ValueError(f"size_mb must be a finite number >= 0; got {size_mb!r}")


def _check_bounds(small_below_mb: float, large_above_mb: float) -> None:
    if not (_finite_number(small_below_mb) and _finite_number(large_above_mb)):
        raise ValueError(
            "size class bounds must be finite numbers; "
            f"got small_below_mb={small_below_mb!r}, large_above_mb={large_above_mb!r}"
        )
    if not 0 <= small_below_mb <= large_above_mb:
        raise ValueError(
            "size class bounds need 0 <= small_below_mb <= large_above_mb; "
            f"got small_below_mb={small_below_mb}, large_above_mb={large_above_mb}"
        )


def _resolve_timeouts(
    timeouts: Mapping[FileCategory | str, float] | None,
) -> dict[FileCategory, float]:
    resolved = dict(DEFAULT_TIMEOUTS)
    for key, value in (timeouts or {}).items():
        try:
            category = key if isinstance(key, FileCategory) else FileCategory[str(key).upper()]
        except KeyError:
            raise ValueError(f"timeouts keys must be SMALL, MEDIUM or LARGE; got {key!r}") from None
        if not _finite_number(value) or value <= 0:
            raise ValueError(f"timeout for {category.name} must be > 0 seconds; got {value!r}")
        resolved[category] = float(value)
    return resolved


def estimate_for_size(
    size_mb: float,
    multiplier: float = 12.0,
    base_mb: float = 500.0,
    timeouts: Mapping[FileCategory | str, float] | None = None,
    small_below_mb: float = 20.0,
    large_above_mb: float = 50.0,
) -> ResourceEstimate:
    """Estimate memory (base_mb + multiplier x size_mb), timeout and pool for an input size.

    `timeouts` may name only some classes; the others keep 600 / 1200 / 2400 s.
    """
    if not _finite_number(multiplier) or multiplier < 0:
        raise ValueError(f"multiplier must be a finite number >= 0; got {multiplier!r}")
    if not _finite_number(base_mb) or base_mb < 0:
        raise ValueError(f"base_mb must be a finite number >= 0; got {base_mb!r}")
    category = FileCategory.of(size_mb, small_below_mb, large_above_mb)
    resolved = _resolve_timeouts(timeouts)
    return ResourceEstimate(
        size_mb=float(size_mb),
        category=category,
        memory_mb=float(base_mb + multiplier * size_mb),
        timeout_s=resolved[category],
        # LARGE inputs run in their own process so a blow-up cannot take the run down.
        pool="isolated" if category is FileCategory.LARGE else "shared",
    )


def estimate_for_file(path: str | os.PathLike[str], **options: Any) -> ResourceEstimate:
    """Estimate the resources to process the file at `path`, from its size on disk.

    `options`: the keywords of `estimate_for_size` (multiplier, base_mb, timeouts, ...).
    """
    file_path = Path(path)
    if not file_path.exists():
        raise FileNotFoundError(f"cannot estimate resources for a missing file: {file_path}")
    if not file_path.is_file():
        raise ValueError(f"estimate_for_file expects a regular file; got a directory: {file_path}")
    return estimate_for_size(file_path.stat().st_size / _MB, **options)
