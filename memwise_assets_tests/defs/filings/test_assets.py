"""sec_filing_sections in Dagster: batch runs, dead letters and their retry, the landing sensor."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import psutil
import pytest

from memwise_assets.compute.filings.landing import scan_landing
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.filings.assets import sec_filing_sections
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.sensors import (
    filings_landing_sensor,
    retry_dead_letters,
    retry_run_config,
)
from memwise_assets.defs.filings.worker import close_filing_pools
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory.run_metrics import METRICS_FILE
from memwise_assets_tests.builders import hostile

FIXTURES = Path(__file__).parents[2] / "fixtures" / "filings"
SHIPPED = Path(__file__).parents[3] / "memwise_assets" / "data" / "filings"
K1994 = "apple_10-K_1994.txt"
Q2018 = "alcoa_10-Q_2018.htm"
K2015 = "commonwealth-income-growth-fund-v_10-K_2015.htm"
K2021 = "galaxy-next-generation_10-K_2021.htm"
ITEMS = {
    K1994: "1 2 3 4 5 6 7 8 9 10 11 12 13 14 SIGNATURES".split(),
    Q2018: "P1-1 P1-2 P1-3 P1-4 P2-1 P2-4 P2-6 SIGNATURES".split(),
    K2015: "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15 SIGNATURES".split(),
    K2021: "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15 16 SIGNATURES".split(),
}
KEYS = sorted(ITEMS)
ASSET = "sec_filing_sections"


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing folder with four small real filings (decompressed fixtures)."""
    folder = tmp_path_factory.mktemp("landing")
    for name in KEYS:
        with gzip.open(FIXTURES / f"{name}.gz", "rb") as src, open(folder / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    yield folder
    # The warm workers outlive each step on purpose; the module is done with them.
    close_filing_pools()


def _resources(home: Path, landing: Path) -> dict[str, object]:
    return {
        "memory": MemoryResource(home_dir=str(home)),
        "io_manager": ParquetIOManager(base_dir=str(home / "data")),
        "filings": FilingsResource(
            landing_dir=str(landing), dead_letter_path=str(home / "dead_letters.sqlite")
        ),
    }


def _instance(keys: list[str] = KEYS) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(filing_partitions.name, keys)
    return instance


def _run_range(
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    first: str,
    last: str,
    config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [sec_filing_sections],
        instance=instance,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        run_config={"ops": {ASSET: {"config": config}}} if config else None,
        raise_on_error=False,
    )


def _stored(home: Path, key: str) -> Path:
    return home / "data" / ASSET / f"{key}.parquet"


def _by_partition(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    """Each materialized partition's own metadata."""
    return {
        str(m.partition): {k: v.value for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node(ASSET)
    }


def _step_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The step's figures: on exactly one materialization of the step."""
    (step,) = [m for m in _by_partition(result).values() if "memwise/filings" in m]
    return step


def _status(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, str]:
    """Dagster's partition status of each key: MATERIALIZED, FAILED, or missing."""
    found = instance.get_status_by_partition(dg.AssetKey(ASSET), keys, filing_partitions) or {}
    return {key: found[key].value if found.get(key) else "missing" for key in keys}


def _assert_own_metadata(home: Path, landing: Path, key: str, meta: dict[str, object]) -> None:
    stored = pd.read_parquet(_stored(home, key))
    assert meta["dagster/row_count"] == meta["memwise/items"] == len(stored)
    assert meta["memwise/path"] == str(_stored(home, key))
    assert meta["memwise/item_input_mb"] == pytest.approx((landing / key).stat().st_size / 2**20)
    assert 40 < meta["memwise/item_peak_mb"] < 2000  # a whole worker's RSS


def test_batch_over_a_partition_range_stores_one_parquet_per_filing(
    tmp_path: Path, landing: Path
) -> None:
    resources = _resources(tmp_path, landing)
    instance = _instance()
    result = _run_range(instance, resources, KEYS[0], KEYS[-1])
    assert result.success
    partitions = _by_partition(result)
    assert sorted(partitions) == KEYS
    assert _status(instance, KEYS) == dict.fromkeys(KEYS, "MATERIALIZED")
    for key, items in ITEMS.items():
        frame = pd.read_parquet(_stored(tmp_path, key))
        assert list(frame["item"].astype(str)) == items
        assert (frame["n_chars"] > 0).all() and (frame["n_tokens"] > 0).all()
        # Each partition says what its own file holds, not what the batch did.
        _assert_own_metadata(tmp_path, landing, key, partitions[key])
        assert (partitions[key]["memwise/category"], partitions[key]["memwise/item_timeout_s"]) == (
            "SMALL",
            600.0,
        )
    step = _step_metadata(result)
    assert step["memwise/filings"] == 4
    assert step["memwise/items_found"] == sum(len(v) for v in ITEMS.values())
    assert (step["memwise/dead_letters"], step["memwise/dead_letter_filings"]) == (0, "none")
    figures = StepFigures.from_metadata(step)
    assert figures is not None and figures.peak_rss_mb > 0 and figures.within_limit is True
    assert (figures.timeout_basis, figures.timeout_s) == ("static", 2400.0)
    assert figures.input_mb == pytest.approx(
        sum((landing / k).stat().st_size for k in KEYS) / 2**20
    )
    # Written by the IO manager's writer, as any output: the step's write and purge are
    # recorded with its figures, once, on its last filing, and in the run's metrics file.
    assert (step["memwise/partitions_written"], step["memwise/step_rows"]) == (
        4,
        step["memwise/items_found"],
    )
    assert list(partitions)[-1] == KEYS[-1] and "memwise/step" in partitions[KEYS[-1]]
    assert [k for k in KEYS if "memwise/step" in partitions[k]] == [KEYS[-1]]
    assert (tmp_path / "data" / "_runs" / result.run_id / METRICS_FILE).exists()
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"core_10k_items_present", "no_duplicate_items", "no_dead_letters"}
    assert checks["no_dead_letters"]
    assert checks["no_duplicate_items"]
    assert resources["filings"].dead_letters().list() == []  # type: ignore[attr-defined]


def test_timeout_and_memory_failures_are_dead_lettered_then_retried(
    tmp_path: Path, landing: Path
) -> None:
    instance = _instance()
    resources = _resources(tmp_path, landing)
    store = resources["filings"].dead_letters()  # type: ignore[attr-defined]
    config = {"timeout_overrides_s": {K2021: 0.05}, "memory_cap_overrides_mb": {K2015: 60.0}}
    result = _run_range(instance, resources, KEYS[0], KEYS[-1], config)
    # The rest of the batch materializes; the two failures wait in the dead-letter store.
    assert result.success
    assert _stored(tmp_path, K1994).exists() and _stored(tmp_path, Q2018).exists()
    assert not _stored(tmp_path, K2015).exists() and not _stored(tmp_path, K2021).exists()
    assert sorted(_by_partition(result)) == sorted([K1994, Q2018])
    assert _status(instance, KEYS) == {
        K1994: "MATERIALIZED",
        Q2018: "MATERIALIZED",
        K2015: "missing",
        K2021: "missing",
    }
    meta = _step_metadata(result)
    assert meta["memwise/dead_letters"] == 2
    assert set(str(meta["memwise/dead_letter_filings"]).split(", ")) == {K2015, K2021}
    (dead_check,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "no_dead_letters"
    ]
    assert not dead_check.passed
    assert K2015 in dead_check.metadata["dead_letters"].value
    letters = {row["partition_key"]: row for row in store.list()}
    assert set(letters) == {K2015, K2021}
    timed_out, over_cap = letters[K2021], letters[K2015]
    assert (timed_out["status"], timed_out["attempts"]) == ("timeout", 1)
    assert timed_out["reason"].startswith("timed out after 0.1 s")
    assert 0.05 <= timed_out["seconds"] < 5
    assert (over_cap["status"], over_cap["attempts"]) == ("memory", 1)
    assert over_cap["reason"].startswith("exceeded its memory cap of 60 MB")
    assert over_cap["peak_mb"] > 60
    assert timed_out["path"] == str(landing / K2021)

    # What dead_letter_sensor would launch: the retry job, more room, no overrides.
    defs = dg.Definitions(
        assets=[sec_filing_sections], jobs=[retry_dead_letters], resources=resources
    )
    job = defs.resolve_job_def("retry_dead_letters")
    for key, letter in letters.items():
        retry = job.execute_in_process(
            instance=instance, partition_key=key, run_config=retry_run_config(letter["status"])
        )
        assert retry.success
    assert store.list() == []
    assert _status(instance, KEYS) == dict.fromkeys(KEYS, "MATERIALIZED")
    for key in (K2015, K2021):
        assert list(pd.read_parquet(_stored(tmp_path, key))["item"].astype(str)) == ITEMS[key]


def test_a_batch_of_ten_with_one_hostile_filing_materializes_the_nine(
    tmp_path: Path, landing: Path
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for key in KEYS:
        shutil.copy(landing / key, folder / key)
    for shipped in sorted(SHIPPED.glob("*_*.*")):
        shutil.copy(shipped, folder / shipped.name)
    (folder / "good.htm").write_bytes(hostile.good_filing())
    (folder / "latin1.htm").write_bytes(hostile.non_utf8())
    (folder / "binary.htm").write_bytes(bytes(range(256)) * 64)
    keys = [f.key for f in scan_landing(folder)[0]]  # sidecar metadata files are not filings
    assert len(keys) == 10
    good = [k for k in keys if k != "binary.htm"]
    instance = _instance(keys)
    result = _run_range(instance, _resources(tmp_path, folder), keys[0], keys[-1])
    assert result.success
    # Dagster's own partition status: nine materialized, the hostile one not.
    assert _status(instance, keys) == {
        k: "missing" if k == "binary.htm" else "MATERIALIZED" for k in keys
    }
    assert instance.get_materialized_partitions(dg.AssetKey(ASSET)) == set(good)
    partitions = _by_partition(result)
    assert sorted(partitions) == good
    for key in good:
        _assert_own_metadata(tmp_path, folder, key, partitions[key])
    assert len({str(m["memwise/path"]) for m in partitions.values()}) == 9
    assert not _stored(tmp_path, "binary.htm").exists()
    (letter,) = (
        FilingsResource(dead_letter_path=str(tmp_path / "dead_letters.sqlite"))
        .dead_letters()
        .list()
    )
    assert (letter["partition_key"], letter["status"]) == ("binary.htm", "error")
    step = _step_metadata(result)
    assert (step["memwise/filings"], step["memwise/dead_letter_filings"]) == (10, "binary.htm")
    assert step["memwise/items_found"] == sum(m["dagster/row_count"] for m in partitions.values())


def test_a_failing_filing_keeps_its_previous_sections(tmp_path: Path, landing: Path) -> None:
    instance = _instance([K1994, Q2018])
    resources = _resources(tmp_path, landing)
    assert _run_range(instance, resources, K1994, Q2018).success
    before = {
        k: (_stored(tmp_path, k).read_bytes(), _stored(tmp_path, k).stat().st_mtime_ns)
        for k in (K1994, Q2018)
    }
    time.sleep(0.01)
    # One of two fails: the other is rewritten, the failed one's file stays as it was.
    config = {"memory_cap_overrides_mb": {K1994: 60.0}}
    assert _run_range(instance, resources, K1994, Q2018, config).success
    assert (_stored(tmp_path, K1994).read_bytes(), _stored(tmp_path, K1994).stat().st_mtime_ns) == (
        before[K1994]
    )
    assert _stored(tmp_path, Q2018).stat().st_mtime_ns > before[Q2018][1]
    # A run whose only filing fails fails, and still leaves the stored file alone.
    alone = _run_range(instance, resources, K1994, K1994, config)
    assert not alone.success
    # Its run failed, so Dagster shows its partition failed; the stored file stays.
    assert _status(instance, [K1994, Q2018]) == {K1994: "FAILED", Q2018: "MATERIALIZED"}
    assert _stored(tmp_path, K1994).read_bytes() == before[K1994][0]
    letter = resources["filings"].dead_letters().get(K1994)  # type: ignore[attr-defined]
    assert (letter["status"], letter["attempts"]) == ("memory", 2)


def _sensor_tick(instance: dg.DagsterInstance, folder: Path, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"filings": FilingsResource(landing_dir=str(folder))},
    )
    result = filings_landing_sensor(context)
    return result, (result.cursor if isinstance(result, dg.SensorResult) else context.cursor)


def test_landing_sensor_requests_only_good_settled_files(tmp_path: Path, landing: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    outside = tmp_path / "outside.htm"
    outside.write_text("<html>secret</html>")
    shutil.copy(landing / K1994, folder / K1994)
    shutil.copy(landing / Q2018, folder / Q2018)
    half = folder / "half-written_10-K.htm"
    half.write_bytes((landing / K2015).read_bytes()[:50_000])
    for bad in ("bad..name.htm", "ctrl\x07bell.htm", "with space.htm", "notes.pdf"):
        (folder / bad).write_text("<html></html>")
    os.symlink(outside, folder / "escape.htm")
    instance = dg.DagsterInstance.ephemeral()

    # First sight: nothing is settled yet.
    first, cursor = _sensor_tick(instance, folder, None)
    assert isinstance(first, dg.SkipReason) and "3 still settling" in first.skip_message
    # The half-written file grows between ticks: the two stable files go, it waits.
    with open(half, "ab") as handle:
        handle.write((landing / K2015).read_bytes()[50_000:100_000])
    second, cursor = _sensor_tick(instance, folder, cursor)
    assert isinstance(second, dg.SensorResult)
    assert [r.partition_key for r in second.run_requests] == [Q2018, K1994]
    assert second.dynamic_partitions_requests[0].partition_keys == [Q2018, K1994]
    instance.add_dynamic_partitions(filing_partitions.name, [Q2018, K1994])
    # Once its size holds, the half-written file is requested, once.
    third, cursor = _sensor_tick(instance, folder, cursor)
    assert [r.partition_key for r in third.run_requests] == ["half-written_10-K.htm"]
    assert third.dynamic_partitions_requests[0].partition_keys == ["half-written_10-K.htm"]
    fourth, cursor = _sensor_tick(instance, folder, cursor)
    assert isinstance(fourth, dg.SkipReason)
    # A changed filing is requested again (a new run key) without a second partition.
    shutil.copy(landing / K2021, folder / K1994)
    _, cursor = _sensor_tick(instance, folder, cursor)
    again, cursor = _sensor_tick(instance, folder, cursor)
    assert [r.partition_key for r in again.run_requests] == [K1994]
    assert again.run_requests[0].run_key != second.run_requests[1].run_key
    assert again.dynamic_partitions_requests[0].partition_keys == []


def test_no_worker_is_left_once_the_pools_are_closed() -> None:
    close_filing_pools()
    leftovers = [
        p
        for p in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert leftovers == []
