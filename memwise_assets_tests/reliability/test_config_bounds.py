"""Configuration that makes no sense is refused at load, and the error names the field."""

from __future__ import annotations

import pytest

from memwise_assets.defs.filings.assets import FilingsConfig
from memwise_assets.defs.prices.assets import PricesConfig
from memwise_assets.defs.resources import MemoryResource


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"pool_mb": 1e12}, "pool_mb"),
        ({"limits_mb": {"prizes": 1}}, "prizes"),
        ({"limits_mb": {"prices": float("inf")}}, "limits_mb"),
        ({"emergency_fraction": 1e300}, "emergency_fraction"),
        ({"monitor_interval_s": 1e-9}, "monitor_interval_s"),
        ({"monitor_interval_s": 1e9}, "monitor_interval_s"),
        ({"reserve_fraction": 0.99}, "reserve_fraction"),
    ],
)
def test_memory_resource_refuses_nonsense(config: dict, field: str) -> None:
    with pytest.raises(Exception, match=field):
        MemoryResource(**config)


@pytest.mark.parametrize("config", [{"memory_multiplier": 1e308}, {"timeout_multiplier": 0}])
def test_filings_config_refuses_nonsense(config: dict) -> None:
    with pytest.raises(Exception, match=next(iter(config))):
        FilingsConfig(**config)


@pytest.mark.parametrize("size", [0, -1, 10**9])
def test_prices_config_refuses_a_batch_size_out_of_bounds(size: int) -> None:
    with pytest.raises(Exception, match="yfinance_batch_size"):
        PricesConfig(yfinance_batch_size=size)


def test_sensible_values_still_load() -> None:
    MemoryResource(
        pool_mb=1000, reserve_fraction=0.5, emergency_fraction=2, limits_mb={"labels": 1}
    )
    FilingsConfig(memory_multiplier=8)
    PricesConfig(yfinance_batch_size=1)
