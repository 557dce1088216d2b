"""plan_filings: one FilingJob per landed filing, its figures fixed before any filing runs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.defs.filings.config import FilingsConfig
from memwise_assets.defs.filings.processing import ISOLATED, POOL, plan_filings
from memwise_assets.defs.resources import MemoryResource

KEY = dg.AssetKey("sec_filing_sections")
MB = 1024 * 1024


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "small.htm").write_bytes(b"x" * MB)
    (folder / "large.htm").write_bytes(b"x" * 60 * MB)
    return folder


def _plan(landing: Path, history=(), **config):
    return plan_filings(
        ["large.htm", "gone.htm", "small.htm"],
        landing=landing,
        memory=MemoryResource(home_dir=str(landing.parent / "memwise")),
        config=FilingsConfig(**config),
        asset_key=KEY,
        history=list(history),
    )


def test_each_landed_filing_gets_its_size_runner_and_static_budget(landing: Path) -> None:
    plan = _plan(landing)
    jobs = {job.key: job for job in plan.jobs}
    assert [o.key for o in plan.missing] == ["gone.htm"]
    assert plan.missing[0].status == "error" and "not in the landing folder" in (
        plan.missing[0].reason or ""
    )
    assert plan.input_mb == pytest.approx(61.0)
    small, large = jobs["small.htm"], jobs["large.htm"]
    assert (small.category, small.runner, small.timeout_s) == ("SMALL", POOL, 600.0)
    assert (large.category, large.runner, large.timeout_s) == ("LARGE", ISOLATED, 2400.0)
    # No history: the static rule (12 x MB + 500) is both the reservation and the cap.
    assert (small.estimator, small.reserve_mb, small.cap_mb) == ("static", 512.0, 512.0)
    assert large.cap_mb == 12 * 60 + 500
    assert plan.pooled


def test_a_calibrated_reservation_keeps_the_static_cap_and_config_scales_both(
    landing: Path,
) -> None:
    history = [(0.5 + 0.1 * i, 200.0 + i) for i in range(8)]
    small = next(j for j in _plan(landing, history).jobs if j.key == "small.htm")
    assert small.estimator == "calibrated"
    assert 200 <= small.reserve_mb < 300 and small.cap_mb == 512.0
    doubled = _plan(
        landing,
        history,
        memory_multiplier=2.0,
        timeout_multiplier=2.0,
        memory_cap_overrides_mb={"large.htm": 100.0},
        timeout_overrides_s={"small.htm": 5.0},
    )
    jobs = {job.key: job for job in doubled.jobs}
    assert jobs["small.htm"].cap_mb == 1024.0
    assert jobs["small.htm"].reserve_mb == pytest.approx(2 * small.reserve_mb)
    assert jobs["small.htm"].timeout_s == 5.0 and jobs["large.htm"].timeout_s == 4800.0
    # An explicit cap wins, and nothing is reserved above it.
    assert jobs["large.htm"].cap_mb == jobs["large.htm"].reserve_mb == 100.0
