"""One ticker universe: daily_bars, the company data and the EDGAR download read the same one."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.compute.universe import parse_tickers, read_universe
from memwise_assets.defs.company.assets import company_fundamentals, company_profiles
from memwise_assets.defs.company.resources import CompanyDataResource
from memwise_assets.defs.filings import edgar as edgar_defs
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.universe import UNIVERSE_ENV, UniverseResource

ASSETS = [daily_bars, company_profiles, company_fundamentals]
UNIVERSE = {"resources": {"universe": {"config": {"tickers": ["AAPL", "msft", "KO"]}}}}


def _stored(io_root: Path, asset: str, column: str) -> set[str]:
    import pyarrow.dataset as ds

    path = io_root / asset
    path = path if path.is_dir() else path.with_suffix(".parquet")
    return set(ds.dataset(path).to_table(columns=[column]).column(column).to_pylist())


@pytest.fixture
def resources(memwise_resources) -> dict:
    return {**memwise_resources, "company": CompanyDataResource()}


def _run(resources: dict, run_config: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS, resources=resources, partition_key="2024-03", run_config=run_config
    )


def test_the_universe_configured_once_reaches_prices_and_company_data(resources: dict) -> None:
    result = _run(resources, UNIVERSE)
    assert result.success
    root = Path(resources["io_manager"].base_dir)
    want = {"AAPL", "MSFT", "KO"}
    assert _stored(root, "daily_bars", "symbol") == want
    assert _stored(root, "company_profiles", "ticker") == want
    assert _stored(root, "company_fundamentals", "ticker") == want


def test_a_step_s_own_tickers_still_override_the_universe(resources: dict) -> None:
    config = {**UNIVERSE, "ops": {"daily_bars": {"config": {"tickers": ["JPM"]}}}}
    assert _run(resources, config).success
    root = Path(resources["io_manager"].base_dir)
    assert _stored(root, "daily_bars", "symbol") == {"JPM"}
    assert _stored(root, "company_profiles", "ticker") == {"AAPL", "MSFT", "KO"}


def test_memwise_universe_names_a_file_for_every_run(
    resources: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "universe.txt"
    listed.write_text("# my universe\nNVDA\nXOM, jnj\n")
    monkeypatch.setenv(UNIVERSE_ENV, str(listed))
    assert _run(resources, {}).success
    root = Path(resources["io_manager"].base_dir)
    assert _stored(root, "daily_bars", "symbol") == {"NVDA", "XOM", "JNJ"}
    assert _stored(root, "company_profiles", "ticker") == {"NVDA", "XOM", "JNJ"}


def test_the_edgar_download_follows_the_universe_without_tickers_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[list[str], list[str]]] = []

    def fake_download(client, landing, *, tickers, ciks, **_kwargs):
        asked.append((list(tickers), list(ciks)))
        return []

    monkeypatch.setattr(edgar_defs, "download_new_filings", fake_download)
    monkeypatch.setenv(UNIVERSE_ENV, "AAPL,MSFT")
    filings = FilingsResource(landing_dir=str(tmp_path))
    agent = "Example Research research@example.com"
    edgar_defs.EdgarResource(user_agent=agent).download(filings, ["AAPL", "MSFT"])
    edgar_defs.EdgarResource(user_agent=agent, tickers=["KO"]).download(filings, ["AAPL"])
    edgar_defs.EdgarResource(user_agent=agent, ciks=[320193]).download(filings, ["AAPL"])
    assert asked == [(["AAPL", "MSFT"], []), (["KO"], []), ([], [320193])]
    defs = dg.Definitions(
        jobs=[edgar_defs.edgar_download_job],
        resources={
            "edgar": edgar_defs.EdgarResource(user_agent=agent),
            "filings": filings,
            "memory": MemoryResource(home_dir=str(tmp_path / "memwise")),
        },
    )
    assert defs.resolve_job_def("edgar_download_job").execute_in_process().success
    assert asked[-1] == (["AAPL", "MSFT"], [])


def test_universe_text_is_checked() -> None:
    assert parse_tickers("aapl, msft\n# comment\nBRK-B") == ["AAPL", "MSFT", "BRK-B"]
    assert read_universe("KO,PEP") == ["KO", "PEP"]
    with pytest.raises(ValueError, match="does not exist"):
        read_universe("/no/such/universe.txt")
    with pytest.raises(ValueError, match="expected tickers"):
        UniverseResource(tickers=["../etc"])
    assert len(UniverseResource().resolve()) == 66


def test_a_comma_list_longer_than_a_path_may_be_is_read_as_tickers() -> None:
    tickers = [f"T{i:04d}" for i in range(1000)]  # 5,000 characters: no file name is that long
    assert read_universe(",".join(tickers)) == tickers
