"""A filing replaced while it is parsed is never stored under the old id: dead-lettered."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from memwise_assets.defs.filings.assets import sec_filing_sections
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.worker import close_filing_pools
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets_tests.builders import hostile


class ReplacingMemory(MemoryResource):
    """A fake: swaps the filing for another text just as its parse is admitted."""

    replace_path: str

    @contextmanager
    def admit(self, estimate_mb: float, label: str) -> Iterator[float]:
        path = Path(self.replace_path)
        if path.name in label:
            fresh = path.with_name("incoming.tmp")
            fresh.write_bytes(hostile.good_filing("a different filing " * 50))
            os.replace(fresh, path)
        with super().admit(estimate_mb, label) as waited:
            yield waited


def test_a_filing_replaced_while_parsed_is_dead_lettered_not_stored(tmp_path: Path) -> None:
    landing, home = tmp_path / "landing", tmp_path / "memwise"
    landing.mkdir()
    (landing / "moving.htm").write_bytes(hostile.good_filing())
    (landing / "steady.htm").write_bytes(hostile.good_filing())
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(filing_partitions.name, ["moving.htm", "steady.htm"])
    filings = FilingsResource(
        landing_dir=str(landing), dead_letter_path=str(home / "dead_letters.sqlite")
    )
    try:
        dg.materialize(
            [sec_filing_sections],
            instance=instance,
            resources={
                "memory": ReplacingMemory(
                    home_dir=str(home), replace_path=str(landing / "moving.htm")
                ),
                "io_manager": ParquetIOManager(base_dir=str(home / "data")),
                "filings": filings,
            },
            tags={
                "dagster/asset_partition_range_start": "moving.htm",
                "dagster/asset_partition_range_end": "steady.htm",
            },
            raise_on_error=False,
        )
    finally:
        close_filing_pools()
    stored = sorted(p.stem for p in (home / "data" / "sec_filing_sections").glob("*.parquet"))
    assert stored == ["steady.htm"]
    letter = filings.dead_letters().get("moving.htm")
    assert letter is not None and "changed while it was parsed" in str(letter)
