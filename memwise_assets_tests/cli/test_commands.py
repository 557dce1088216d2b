"""The command line: --verbose in both places, bad run config refused before launch, peers."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.bench import runner
from memwise_assets.cli.commands import build_parser, main
from memwise_assets.defs.filings.resources import LANDING_ENV, FilingsResource

BAD_CONFIGS = {
    "horizon": (
        "ops:\n  weighted_labels:\n    config: {modes: [{name: base, horizon: 0}]}\n",
        "3:14: ops.weighted_labels.config.modes: modes[base].horizon: expected an integer in "
        "1..100,000 bars, got 0",
    ),
    "csv_folder": (
        "ops:\n  daily_bars:\n    config: {source: csv, csv_folder: /no/such/prices}\n",
        "3:27: ops.daily_bars.config.csv_folder: csv_folder: source=csv needs an existing folder "
        "of <TICKER>.csv files, got '/no/such/prices'",
    ),
    "sorce": (
        "ops:\n  daily_bars:\n    config: {sorce: csv}\n",
        "3:14: ops.daily_bars.config.sorce: unknown field; did you mean `source`? expected one of "
        "source, tickers, csv_folder, seed, yfinance_batch_size, alpha_vantage_fill",
    ),
}


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["report"], False),
        (["--verbose", "report"], True),
        (["report", "--verbose"], True),
        (["--verbose", "bench", "--quick"], True),
        (["demo", "--home", "h", "--verbose"], True),
    ],
)
def test_verbose_is_accepted_before_and_after_the_subcommand(argv, verbose) -> None:
    assert build_parser().parse_args(argv).verbose is verbose


def test_report_verbose_shows_the_traceback(tmp_path: Path, capsys) -> None:
    assert main(["report", "--verbose", "--home", str(tmp_path / "absent")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "memwise report: error: no Dagster instance at" in err
    assert "run again with --verbose" not in err


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_refused_in_one_line(case: str, tmp_path: Path, capsys) -> None:
    text, expected = BAD_CONFIGS[case]
    config = tmp_path / "run.yaml"
    config.write_text(text)
    assert main(["check-config", str(config)]) == 1
    # Each problem with the file, line and column it is at.
    expected = f"memwise check-config: error: {config}:{expected}"
    assert capsys.readouterr().err.splitlines() == [expected]


def test_the_demo_refuses_bad_config_before_any_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config = tmp_path / "run.yaml"
    config.write_text(BAD_CONFIGS["horizon"][0])
    assert main(["demo", "--home", str(home), "--config", str(config)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"memwise demo: error: {config}:{BAD_CONFIGS['horizon'][1]}"
    ]
    # Refused before the home is even made: no run can have started.
    if (home / "dagster.yaml").exists():
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_run_records() == []


def test_good_config_passes_the_check(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"ops:\n  daily_bars:\n    config: {{source: csv, csv_folder: {tmp_path}}}\n")
    assert main(["check-config", str(config)]) == 0
    assert "is valid" in capsys.readouterr().out


def test_bench_names_the_missing_extra_before_running_anything(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(runner.PEERS, "memory", ("memwise_no_such_peer",))
    assert main(["bench", "--case", "prices", "--case", "memory", "--quick"]) == 1
    captured = capsys.readouterr()
    assert "bench prices" not in captured.out  # nothing ran, nothing was thrown away
    assert 'memwise_no_such_peer); run: pip install -e ".[bench]"' in captured.err


def test_landing_folder_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(LANDING_ENV, raising=False)
    default = FilingsResource().landing
    assert default == tmp_path / "home" / "memwise" / "landing" and default.is_dir()
    monkeypatch.setenv(LANDING_ENV, str(tmp_path / "landing"))
    assert FilingsResource().landing == tmp_path / "landing"
    assert FilingsResource(landing_dir=str(tmp_path / "x")).landing == tmp_path / "x"


def test_bench_says_what_a_skipped_case_needs(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--case", "filings", "--quick", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "bench filings: skipped, it needs --data <folder> with a sec/ folder" in out
    assert "0 rows" not in out


def test_quick_cases_are_named_by_the_sizes_they_ran(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--case", "labels", "--quick", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "bench labels: labels-100k: 2 rows" in out and "labels-10M" not in out


def test_the_demo_exits_1_on_a_failed_error_check_and_0_on_a_warning() -> None:
    from memwise_assets.cli.demo import AssetRow, DemoResult
    from memwise_assets.cli.demo_command import verdict
    from memwise_assets.report.checks import CheckResult

    row = AssetRow("a", 1, 0.1, 1.0, 10.0, True, 100.0)
    warned = CheckResult("a", "soft", passed=False, severity="WARN")
    error = CheckResult("a", "hard", passed=False, severity="ERROR")
    lines, code = verdict(DemoResult([row], [warned], ["r"]), Path("/h"))
    assert code == 0 and "Checks warned (WARN severity, exit code unaffected): a:soft" in lines
    lines, code = verdict(DemoResult([row], [warned, error], ["r"]), Path("/h"))
    assert code == 1 and "Checks FAILED (ERROR severity): a:hard" in lines


def test_tickers_and_csv_folder_become_run_config(tmp_path: Path) -> None:
    from memwise_assets.cli.demo_command import own_data_config

    args = build_parser().parse_args(
        ["demo", "--tickers", "aapl,MSFT", "--csv-folder", str(tmp_path)]
    )
    given = {"ops": {"daily_bars": {"config": {"seed": 3}}}}
    assert own_data_config(args, given) == {
        "ops": {
            "daily_bars": {"config": {"seed": 3, "source": "csv", "csv_folder": str(tmp_path)}}
        },
        "resources": {"universe": {"config": {"tickers": ["AAPL", "MSFT"]}}},
    }
    assert given == {"ops": {"daily_bars": {"config": {"seed": 3}}}}  # not changed in place
    assert own_data_config(build_parser().parse_args(["demo"]), None) is None
