"""What `sec_filing_sections` costs per filing: one batch of N against N one-filing runs.

    python scripts/filings_batch_cost.py [N]

Each design runs on a fresh SQLite home (the repo's dagster.yaml) over the same N small
real filings (the test fixtures and shipped samples, repeated under new names), and prints
wall seconds and event-log bytes per filing. Figures go in the README's filings section.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "memwise_assets_tests" / "fixtures" / "filings"
SHIPPED = REPO / "memwise_assets" / "data" / "filings"
# Small real filings (0.2-1.5 MB), named so the figures stay comparable as fixtures grow.
SOURCES = [
    FIXTURES / "alcoa_10-Q_2018.htm.gz",
    FIXTURES / "apple_10-K_1994.txt.gz",
    FIXTURES / "commonwealth-income-growth-fund-v_10-K_2015.htm.gz",
    FIXTURES / "galaxy-next-generation_10-K_2021.htm.gz",
    SHIPPED / "apple_10-K_2024.htm",
    SHIPPED / "apple_10-Q_1997.txt",
    SHIPPED / "medicis-pharmaceutical_10-K_1999.htm",
]


def _landing(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True)
    keys = []
    for i in range(n):
        source = SOURCES[i % len(SOURCES)]
        name = source.name.removesuffix(".gz")
        key = f"r{i:03d}-{name}"
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rb") as src, open(folder / key, "wb") as dst:
            shutil.copyfileobj(src, dst)
        keys.append(key)
    return sorted(keys)


def _db_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.rglob("*.db"))


def _measure(n: int, per_run: int) -> tuple[float, float]:
    from memwise_assets.definitions import ASSETS, build_defs
    from memwise_assets.defs.filings.partitions import filing_partitions
    from memwise_assets.defs.filings.resources import FilingsResource
    from memwise_assets.defs.filings.worker import close_filing_pools
    from memwise_assets.defs.io_manager import ParquetIOManager
    from memwise_assets.defs.resources import MemoryResource

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)  # the event log's base_dir reads it
        keys = _landing(Path(tmp) / "landing", n)
        defs = build_defs(
            memory=MemoryResource(home_dir=str(home / "memwise")),
            io_manager=ParquetIOManager(base_dir=str(home / "memwise" / "data")),
            filings=FilingsResource(landing_dir=str(Path(tmp) / "landing")),
        )
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.add_dynamic_partitions(filing_partitions.name, keys)
            before, started = _db_bytes(home), time.perf_counter()
            for i in range(0, n, per_run):
                batch = keys[i : i + per_run]
                dg.materialize(
                    ASSETS,
                    selection=["sec_filing_sections"],
                    instance=instance,
                    resources=defs.resources,
                    tags={
                        "dagster/asset_partition_range_start": batch[0],
                        "dagster/asset_partition_range_end": batch[-1],
                    },
                )
            seconds = time.perf_counter() - started
            grown = _db_bytes(home) - before
        close_filing_pools()
    return seconds / n, grown / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for label, per_run in ((f"batches of 10 ({n} filings)", 10), (f"{n} runs of 1", 1)):
        seconds, grown = _measure(n, per_run)
        sys.stdout.write(f"{label:<28} {seconds:6.2f} s/filing {grown / 1024:7.1f} KB/filing\n")


if __name__ == "__main__":
    main()
