"""Size classes and resource estimates: boundaries, formula, timeouts, pools, bad input."""

from __future__ import annotations

import pytest

from memwise_assets.memory import (
    FileCategory,
    ResourceEstimate,
    estimate_for_file,
    estimate_for_size,
)


@pytest.mark.parametrize(
    ("size_mb", "expected"),
    [
        (0.0, FileCategory.SMALL),
        (19.99, FileCategory.SMALL),
        (20.0, FileCategory.MEDIUM),
        (50.0, FileCategory.MEDIUM),
        (50.01, FileCategory.LARGE),
    ],
)
def test_default_boundaries(size_mb: float, expected: FileCategory) -> None:
    assert FileCategory.of(size_mb) is expected


def test_boundaries_are_configurable() -> None:
    assert FileCategory.of(5, small_below_mb=1, large_above_mb=4) is FileCategory.LARGE
    assert FileCategory.of(2, small_below_mb=1, large_above_mb=4) is FileCategory.MEDIUM
    assert FileCategory.of(0.5, small_below_mb=1, large_above_mb=4) is FileCategory.SMALL


def test_estimate_for_size_formula_timeout_and_pool() -> None:
    assert estimate_for_size(10) == ResourceEstimate(
        size_mb=10.0, category=FileCategory.SMALL, memory_mb=620.0, timeout_s=600.0, pool="shared"
    )
    medium = estimate_for_size(30, multiplier=2.0, base_mb=100.0)
    assert (medium.memory_mb, medium.timeout_s, medium.pool) == (160.0, 1200.0, "shared")
    large = estimate_for_size(80, timeouts={"large": 99})
    assert (large.category, large.memory_mb, large.timeout_s, large.pool) == (
        FileCategory.LARGE,
        1460.0,
        99.0,
        "isolated",
    )


def test_estimate_for_file_uses_size_on_disk(tmp_path) -> None:
    path = tmp_path / "filing.htm"
    with open(path, "wb") as handle:
        # Sparse: 60 MB of apparent size without writing 60 MB to disk.
        handle.truncate(60 * 1024 * 1024)
    estimate = estimate_for_file(path)
    assert estimate == ResourceEstimate(60.0, FileCategory.LARGE, 1220.0, 2400.0, "isolated")
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 1024 * 1024)
    assert estimate_for_file(small, timeouts={FileCategory.SMALL: 5}).timeout_s == 5.0


def test_missing_file_and_nonsense_parameters(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        estimate_for_file(tmp_path / "nope.htm")
    with pytest.raises(ValueError, match="regular file"):
        estimate_for_file(tmp_path)
    with pytest.raises(ValueError, match="size_mb"):
        estimate_for_size(-1)
    with pytest.raises(ValueError, match="multiplier"):
        estimate_for_size(1, multiplier=float("nan"))
    with pytest.raises(ValueError, match="base_mb"):
        estimate_for_size(1, base_mb=-5)
    with pytest.raises(ValueError, match="small_below_mb <= large_above_mb"):
        estimate_for_size(1, small_below_mb=60, large_above_mb=50)
    with pytest.raises(ValueError, match="timeout for MEDIUM"):
        estimate_for_size(1, timeouts={FileCategory.MEDIUM: 0})
    with pytest.raises(ValueError, match="SMALL, MEDIUM or LARGE"):
        estimate_for_size(1, timeouts={"huge": 10})
