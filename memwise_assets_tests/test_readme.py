"""The README stays a true front door: short, its links resolve, its commands and snippets run.

The slow test does what a researcher does on the first day, from the README only: run memwise
on a folder of CSV files with a ticker list (one ticker without data), then load
`daily_with_weekly_features` for two symbols and one year with the README's own snippets.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = sorted((REPO / "docs").glob("*.md"))
MAX_LINES = 250
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _snippet(marker: str) -> str:
    """The fenced code block right after `<!-- readme-test: marker -->`."""
    found = re.search(rf"<!-- readme-test: {marker} -->\n```\w*\n(.*?)```", README, re.S)
    assert found, f"README lost its {marker!r} snippet"
    return found.group(1)


def test_readme_is_a_front_door() -> None:
    assert len(README.splitlines()) <= MAX_LINES
    assert "../shared" not in README
    for heading in (
        "## Two commands",
        "## Your own data",
        "## Where the outputs are",
        "## Load them in a notebook",
        "## The UI",
        "## Documentation",
    ):
        assert heading in README, heading  # fmt: skip


def test_readme_leads_with_the_demo_and_test_commands() -> None:
    head = README[: README.index("## Your own data")]
    assert "pip install -e . && memwise demo" in head
    test_command = 'pip install -e ".[test,bench,report,k8s]" && python -m pytest -q'
    assert test_command in head
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert '-e ".[test,bench,report,k8s]"' in ci and "python -m pytest -q" in ci


@pytest.mark.parametrize("page", [REPO / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # web addresses and anchors in the page
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{page.name} links to missing files: {broken}"


def test_every_memwise_subcommand_in_the_readme_exists() -> None:
    from memwise_assets.cli.commands import COMMANDS

    code = re.findall(r"```\w*\n(.*?)```", README, re.S) + re.findall(r"`([^`\n]+)`", README)
    used = {m for block in code for m in re.findall(r"\bmemwise ([a-z][a-z-]+)", block)}
    assert {"demo", "check-config", "path", "ui"} <= used
    assert used <= set(COMMANDS), used - set(COMMANDS)


@pytest.mark.parametrize(
    "cls_path",
    [
        "memwise_assets.defs.resources:MemoryResource",
        "memwise_assets.defs.io_manager:ParquetIOManager",
        "memwise_assets.defs.filings.resources:FilingsResource",
        "memwise_assets.defs.filings.edgar:EdgarResource",
        "memwise_assets.defs.universe:UniverseResource",
        "memwise_assets.defs.company.resources:CompanyDataResource",
        "memwise_assets.defs.prices.assets:PricesConfig",
        "memwise_assets.defs.company.resources:CompanyConfig",
        "memwise_assets.defs.company.assets:FundamentalsJoinConfig",
        "memwise_assets.defs.labels.assets:LabelsConfig",
        "memwise_assets.defs.labels.assets:LabelModeConfig",
        "memwise_assets.defs.filings.assets:FilingsConfig",
        "memwise_assets.defs.intraday.assets:IntradayConfig",
        "memwise_assets.defs.weekly.config:WeeklyFeaturesConfig",
        "memwise_assets.defs.weekly.config:WeeklyAttachConfig",
    ],
)
def test_every_configuration_field_is_in_the_reference(cls_path: str) -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    module, name = cls_path.split(":")
    cls = getattr(__import__(module, fromlist=[name]), name)
    section = reference[reference.index(f"**`{name}`**") :]
    section = section[: section.index("\n\n", section.index("|---|"))]
    missing = [field for field in cls.model_fields if f"| `{field}` |" not in section]
    assert not missing, f"docs/configuration.md's {name} table lacks {missing}"


def test_the_readme_run_config_passes_check_config(tmp_path: Path, capsys) -> None:
    from memwise_assets.cli.commands import main

    config = tmp_path / "run.yaml"
    config.write_text(_snippet("run-config"))
    assert main(["check-config", str(config)]) == 0, capsys.readouterr().err
    assert "check-config run.yaml" in README


def _csv_folder(folder: Path, tickers: list[str]) -> Path:
    """Yahoo-export CSV files of 2023 for `tickers` (from the sample source)."""
    from memwise_assets.compute.prices import SamplePriceSource

    folder.mkdir()
    bars = SamplePriceSource().fetch(tickers, "2023-01-01", "2024-01-01").frame
    yahoo = {"date": "Date", "open": "Open", "high": "High", "low": "Low", "close": "Close",
             "adj_close": "Adj Close", "volume": "Volume"}  # fmt: skip
    for symbol, rows in bars.groupby("symbol", observed=True):
        rows.drop(columns="symbol").rename(columns=yahoo).to_csv(
            folder / f"{symbol}.csv", index=False, date_format="%Y-%m-%d"
        )
    return folder


@pytest.mark.slow
@pytest.mark.e2e
def test_first_day_own_csv_and_tickers_then_a_notebook(tmp_path: Path) -> None:
    """The README's own-data command on a CSV folder, then its three loading snippets."""
    command = next(
        line for line in README.splitlines() if line.startswith("memwise demo --csv-folder")
    )
    argv = shlex.split(command)
    folder = _csv_folder(tmp_path / "prices", ["AAPL", "MSFT"])  # NVDA: no file
    argv[argv.index("--csv-folder") + 1] = str(folder)
    home = tmp_path / "home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "MEMWISE_LEDGER_DIR": str(tmp_path / "l")}
    env.pop("MEMWISE_HISTORY_START", None)
    memwise = [sys.executable, "-m", "memwise_assets", *argv[1:]]
    done = subprocess.run(memwise, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The ticker without data is named in the summary, by a WARN check that failed.
    warned = next(line for line in done.stdout.splitlines() if line.startswith("Checks warned"))
    assert "daily_bars:every_ticker_has_data" in warned and "missing: NVDA" in warned
    # The UI counts months from the first one asked for (memwise ui reads this note).
    assert (home / "memwise" / "history_start").read_text() == "2023-01"
    # The universe (3 tickers) reached the company data, not the 66 sample tickers.
    assert re.search(r"^company_profiles\s+3\s", done.stdout, re.M), done.stdout

    # The notebook: the README's snippets, run as written in a fresh interpreter.
    notebook = "\n".join(
        [
            _snippet("load"),
            "assert set(frame['symbol']) == {'AAPL', 'MSFT'}, frame['symbol'].unique()",
            "assert frame['date'].dt.year.unique().tolist() == [2023]",
            "assert list(frame.columns) == "
            "['symbol', 'date', 'adj_close', 'week_end', 'ret_4w', 'vol_13w']",
            "assert (frame['week_end'].dropna() <= frame.loc[frame['week_end'].notna(), 'date'])"
            ".all()",
            "assert len(frame) == 2 * 250, len(frame)",
            _snippet("polars"),
            "assert bars['symbol'].cast(pl.Utf8).unique().sort().to_list() == ['AAPL', 'MSFT']",
            "assert bars.height == 2 * 126, bars.height",
            _snippet("duckdb") if _has("duckdb") else "",
            "assert len(weekly) == 2 * 126, len(weekly)" if _has("duckdb") else "",
            "print('notebook ok')",
        ]
    )
    ran = subprocess.run(
        [sys.executable, "-c", notebook], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0 and "notebook ok" in ran.stdout, ran.stdout + ran.stderr
    path = subprocess.run(
        [sys.executable, "-m", "memwise_assets", "path", "daily_with_weekly_features"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert path.returncode == 0 and Path(path.stdout.strip()).exists()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
