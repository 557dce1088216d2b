"""Hostile filings: refused or handled with a reason, in bounded memory and time; batches go on."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.filings import FilingError, filing_sections, load_nlp
from memwise_assets.defs.filings.assets import sec_filing_sections
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.worker import close_filing_pools
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory import MemoryMonitor, current_rss_mb, estimate_for_size, run_isolated
from memwise_assets_tests.builders import hostile

# Bounds for one small hostile file, parsed in this process.
MAX_SECONDS = 10.0
MAX_GROWTH_MB = 300.0


def _cases(secret: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (content, expected outcome: a FilingError reason or 'sectioned')."""
    return {
        "empty.htm": (b"", "empty"),
        "blank.htm": (b" \n\t " * 100, "empty"),
        "binary.htm": (bytes(range(256)) * 64, "binary"),
        "pdf.htm": (b"%PDF-1.7\n" + bytes(range(256)) * 8, "binary"),
        "truncated.htm": (hostile.good_filing()[:-40], "truncated"),
        "deep.htm": (hostile.deep_nesting(100_000), "sectioned"),
        "laughs.htm": (hostile.billion_laughs(10), "sectioned"),
        "xxe.htm": (hostile.external_entity(secret), "sectioned"),
        "latin1.htm": (hostile.non_utf8(), "sectioned"),
        "bad-gzip.htm": (b"\x1f\x8b\x08\x00garbage", "unreadable"),
    }


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


@pytest.mark.parametrize(
    "name",
    [
        "empty.htm",
        "blank.htm",
        "binary.htm",
        "pdf.htm",
        "truncated.htm",
        "deep.htm",
        "laughs.htm",
        "xxe.htm",
        "latin1.htm",
        "bad-gzip.htm",
    ],
)
def test_each_hostile_filing_is_refused_or_handled_in_bounds(tmp_path: Path, nlp, name: str):
    secret = tmp_path / "secret.txt"
    secret.write_text(hostile.SECRET)
    content, expected = _cases(secret)[name]
    path = tmp_path / name
    path.write_bytes(content)
    started = time.perf_counter()
    with MemoryMonitor(current_rss_mb() + 4 * MAX_GROWTH_MB) as monitor:
        try:
            frame: pd.DataFrame | None = filing_sections(path, nlp=nlp)
            outcome = "sectioned"
        except FilingError as exc:
            frame, outcome = None, exc.reason
            assert name in str(exc)  # the reason names the file
    seconds = time.perf_counter() - started
    metrics = monitor.metrics()
    assert outcome == expected
    assert seconds < MAX_SECONDS
    assert metrics["peak_memory_mb"] - metrics["initial_memory_mb"] < MAX_GROWTH_MB
    if frame is None:
        return
    assert frame["item"].astype(str).tolist()[:3] == ["1", "7", "8"]
    text = "\n".join(frame["text"])
    assert hostile.SECRET not in text and "file://" not in text  # no external entity read
    assert text.count("lol") < 100  # no entity expansion
    if name == "latin1.htm":
        assert "Café" in text  # cp1252 decoded, not dropped


def test_gzip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.htm"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        for _ in range(64):
            handle.write(b"\x00" * (16 << 20))  # 1 GiB of zeros in a ~1 MB file
    size_mb = bomb.stat().st_size / 2**20
    cap = estimate_for_size(size_mb).memory_mb  # what the filings step would allow it
    result = run_isolated(hostile.sections_summary, str(bomb), timeout_s=60, memory_cap_mb=cap)
    # Refused by its unpacked size, long before the cap: a clear reason, bounded memory.
    assert result.status == "ok", result.error
    assert result.value["status"] == "refused"
    assert "gzip bomb" in result.value["message"]
    assert result.peak_mb < cap


@pytest.mark.slow
def test_200_mb_of_repeated_tables_is_bounded_by_its_cap_and_timeout(tmp_path: Path) -> None:
    big = tmp_path / "tables.htm"
    size = hostile.write_repeated_tables(big, 200)
    estimate = estimate_for_size(size / 2**20)  # 12 x MB + 500: the filings step's cap
    assert estimate.category.name == "LARGE" and estimate.pool == "isolated"
    started = time.monotonic()
    result = run_isolated(
        hostile.sections_summary, str(big), timeout_s=15, memory_cap_mb=estimate.memory_mb
    )
    assert result.status in {"timeout", "ok"}, result.error
    assert time.monotonic() - started < 15 + 10  # killed promptly at its timeout
    assert result.peak_mb < estimate.memory_mb


@pytest.mark.slow
def test_a_batch_with_hostile_filings_goes_on(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(hostile.SECRET)
    cases = _cases(secret)
    chosen = ["empty.htm", "binary.htm", "truncated.htm", "xxe.htm", "laughs.htm", "latin1.htm"]
    for name in chosen:
        landing.joinpath(name).write_bytes(cases[name][0])
    landing.joinpath("good.htm").write_bytes(hostile.good_filing())
    keys = sorted([*chosen, "good.htm"])
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(filing_partitions.name, keys)
    home = tmp_path / "memwise"
    filings = FilingsResource(
        landing_dir=str(landing), dead_letter_path=str(home / "dead_letters.sqlite")
    )
    try:
        result = dg.materialize(
            [sec_filing_sections],
            instance=instance,
            resources={
                "memory": MemoryResource(home_dir=str(home)),
                "io_manager": ParquetIOManager(base_dir=str(home / "data")),
                "filings": filings,
            },
            tags={
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            },
            raise_on_error=False,
        )
    finally:
        close_filing_pools()
    assert result.success
    stored = sorted(p.stem for p in (home / "data" / "sec_filing_sections").glob("*.parquet"))
    assert stored == ["good.htm", "latin1.htm", "laughs.htm", "xxe.htm"]
    for key in stored:
        frame = pd.read_parquet(home / "data" / "sec_filing_sections" / f"{key}.parquet")
        assert hostile.SECRET not in "".join(frame["text"])
    letters = {d["partition_key"]: d for d in filings.dead_letters().list()}
    assert sorted(letters) == ["binary.htm", "empty.htm", "truncated.htm"]
    for key, reason in (
        ("binary.htm", "binary"),
        ("empty.htm", "empty"),
        ("truncated.htm", "truncated"),
    ):
        assert reason in letters[key]["reason"]
