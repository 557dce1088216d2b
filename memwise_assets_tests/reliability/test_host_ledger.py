"""One ledger per host by default: two Dagster homes admit against the same pool."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory import AdmissionTimeout
from memwise_assets.memory.ledger_file import default_ledger_dir


def test_default_is_one_folder_per_user_in_the_temp_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MEMWISE_LEDGER_DIR")
    folder = default_ledger_dir()
    assert folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith("memwise-")


def test_two_dagster_homes_share_the_host_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMWISE_LEDGER_DIR", str(tmp_path / "host-ledger"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "one"))
    first = MemoryResource(pool_mb=1000)
    first_home, first_ledger = first.home, first.ledger
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "two"))
    second = MemoryResource(pool_mb=1000)
    assert first_home != second.home
    assert (
        first_ledger.dir
        == second.ledger_location
        == second.ledger_location
        == tmp_path / "host-ledger"
    )
    with first_ledger.reserve(999.5, label="home one"):
        with pytest.raises(AdmissionTimeout):
            second.ledger.reserve(10, timeout_s=0.3, label="home two")
    # A private ledger stays possible, explicitly.
    private = MemoryResource(ledger_dir=str(tmp_path / "mine"))
    assert private.ledger_location == tmp_path / "mine"
