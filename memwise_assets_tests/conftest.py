"""Shared fixtures: a throwaway Dagster home, memwise resources bound to it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def session_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test session's "host" ledger: suites running side by side must not share one."""
    folder = tmp_path_factory.mktemp("host-ledger")
    os.environ["MEMWISE_LEDGER_DIR"] = str(folder)
    return folder


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGSTER_HOME (with the repository's dagster.yaml) for one test."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    repo_yaml = Path(__file__).parent.parent / "dagster.yaml"
    if repo_yaml.exists():
        (home / "dagster.yaml").write_text(repo_yaml.read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # Steps of this test on the default resources keep their ledger in this home.
    monkeypatch.setenv("MEMWISE_LEDGER_DIR", str(home / "memwise" / "ledger"))
    return home


@pytest.fixture
def memwise_resources(tmp_path: Path):
    """Memory resource, IO manager and filings resource under tmp_path."""
    from memwise_assets.defs.filings.resources import FilingsResource
    from memwise_assets.defs.io_manager import ParquetIOManager
    from memwise_assets.defs.resources import MemoryResource

    home = tmp_path / "memwise"
    return {
        "memory": MemoryResource(home_dir=str(home)),
        "io_manager": ParquetIOManager(base_dir=str(home / "data")),
        "filings": FilingsResource(dead_letter_path=str(home / "dead_letters.sqlite")),
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """MEMWISE_TEST_ORDER=reverse runs the suite back to front: proof no test leans on order."""
    if os.environ.get("MEMWISE_TEST_ORDER") == "reverse":
        items.reverse()
