"""memwise: memory-safe Dagster assets for quant research data.

`memwise_assets.load(asset, start=, end=, symbols=, columns=)` reads a stored asset into pandas
and `memwise_assets.asset_path(asset)` says where it is stored (both in `reader.py`; imported
on first use, so `import memwise_assets` stays cheap).
"""

from typing import Any

__all__ = ["asset_path", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from memwise_assets import reader

        return getattr(reader, name)
    raise AttributeError(f"module 'memwise_assets' has no attribute {name!r}")
