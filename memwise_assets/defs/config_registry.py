"""Which class configures each asset and each resource, by import path, for a quick check.

`memwise check-config` imports only these modules (the Config and resource classes), not the
whole definitions with every asset, sensor and job: a config check answers in about a second.
`test_config_check.py` holds this table equal to what `definitions.py` binds.
"""

from __future__ import annotations

import importlib
from typing import Any

# asset (op) name -> "module:Class" of its `config` parameter, or None (it takes no config)
ASSET_CONFIGS: dict[str, str | None] = {
    "daily_bars": "memwise_assets.defs.prices.assets:PricesConfig",
    "weekly_features": "memwise_assets.defs.weekly.config:WeeklyFeaturesConfig",
    "daily_with_weekly_features": "memwise_assets.defs.weekly.config:WeeklyAttachConfig",
    "weighted_labels": "memwise_assets.defs.labels.assets:LabelsConfig",
    "intraday_bars": "memwise_assets.defs.intraday.assets:IntradayConfig",
    "intraday_labels": "memwise_assets.defs.labels.intraday:IntradayLabelsConfig",
    "sec_filing_sections": "memwise_assets.defs.filings.config:FilingsConfig",
    "filing_text_features": None,
    "daily_with_filing_features": "memwise_assets.defs.filings.features:FilingJoinConfig",
    "company_profiles": "memwise_assets.defs.company.resources:CompanyConfig",
    "company_fundamentals": "memwise_assets.defs.company.resources:CompanyConfig",
    "daily_with_fundamentals": "memwise_assets.defs.company.assets:FundamentalsJoinConfig",
    "sec_fundamentals": "memwise_assets.defs.filings.sec_fundamentals:SecFundamentalsConfig",
    "daily_with_sec_fundamentals": "memwise_assets.defs.filings.sec_fundamentals:SecJoinConfig",
}

# resource key -> "module:Class"
RESOURCE_CLASSES: dict[str, str] = {
    "memory": "memwise_assets.defs.resources:MemoryResource",
    "io_manager": "memwise_assets.defs.io_manager:ParquetIOManager",
    "filings": "memwise_assets.defs.filings.resources:FilingsResource",
    "edgar": "memwise_assets.defs.filings.edgar:EdgarResource",
    "company": "memwise_assets.defs.company.resources:CompanyDataResource",
    "universe": "memwise_assets.defs.universe:UniverseResource",
}


def resolve(path: str) -> Any:
    """The object a "module:Name" path names."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def asset_config_classes() -> dict[str, Any]:
    return {name: resolve(path) if path else None for name, path in ASSET_CONFIGS.items()}


def resource_classes() -> dict[str, Any]:
    return {key: resolve(path) for key, path in RESOURCE_CLASSES.items()}
