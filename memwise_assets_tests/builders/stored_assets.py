"""A builder of test data: an asset that stores a frame the way every memwise asset does."""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from memwise_assets.defs.resources import MemoryResource


def stored_asset(
    name: str, **asset_args: Any
) -> Callable[[Callable[[], Any]], dg.AssetsDefinition]:
    """Decorate a builder of test data into asset `name`, its result stored as a memory step's
    output (the IO manager stores nothing else); the builder's docstring describes it."""

    def decorate(build: Callable[[], Any]) -> dg.AssetsDefinition:
        @dg.asset(name=name, description=build.__doc__, **asset_args)
        def stored(
            context: dg.AssetExecutionContext, memory: MemoryResource
        ) -> Iterator[dg.Output]:
            with memory.step(context, budget="default", static_estimate_mb=64) as step:
                yield step.output(build())

        return stored

    return decorate
