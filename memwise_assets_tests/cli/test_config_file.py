"""`memwise check-config`: asset and resource config in one pass, each problem at its line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from memwise_assets.cli.commands import main
from memwise_assets.cli.config_file import position, read_config

FIVE_MISTAKES = """\
# five mistakes: two in asset config, two in a resource's, one unknown resource
ops:
  daily_bars:
    config:
      sorce: csv
  weighted_labels:
    config:
      modes:
        - {name: base, pt: 1.0, sl: 1.0, horizon: 0}
resources:
  memory:
    config:
      limits_mb: {prizes: 1}
      reserve_fraction: 0.95
  universes:
    config: {tickers: [AAPL]}
"""

# (line:column, where, what) of each of the five
EXPECTED = [
    ("5:7", "ops.daily_bars.config.sorce", "did you mean `source`?"),
    ("8:7", "ops.weighted_labels.config.modes", "horizon: expected an integer"),
    ("13:7", "resources.memory.config.limits_mb", "unknown memory budget 'prizes'"),
    ("14:7", "resources.memory.config.reserve_fraction", "must be in [0, 0.9]"),
    ("15:3", "resources.universes", "did you mean `universe`?"),
]


def test_five_mistakes_are_named_at_once_with_their_lines(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(FIVE_MISTAKES)
    assert main(["check-config", str(config)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5, lines
    for line, (at, where, what) in zip(lines, EXPECTED, strict=True):
        assert line.startswith(f"memwise check-config: error: {config}:{at}: {where}: "), line
        assert what in line


def test_check_config_answers_without_the_definitions(tmp_path: Path) -> None:
    """A fresh process: the definitions are never imported, and it answers in seconds."""
    config = tmp_path / "run.yaml"
    config.write_text(FIVE_MISTAKES)
    probe = (
        "import sys; from memwise_assets.cli.commands import main; code = main(['check-config', "
        f"{str(config)!r}]); print('definitions' , 'memwise_assets.definitions' in sys.modules);"
        " sys.exit(code)"
    )
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    seconds = time.perf_counter() - began
    assert done.returncode == 1 and done.stderr.count("error:") == 5, done.stderr
    assert "definitions False" in done.stdout
    # 1.9 s of CPU on an idle 2-core machine; the bound only catches a regression to the
    # whole definitions under a loaded machine.
    assert seconds < 60


def test_a_good_file_with_resources_passes(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "resources:\n  universe:\n    config: {tickers: [AAPL, MSFT]}\n"
        "  memory:\n    config: {limits_mb: {prices: 800}}\n"
        "  edgar:\n    config: {tickers: [AAPL]}\n"  # user_agent comes from the deployment
        "ops:\n  weekly_features:\n    config: {price_field: close}\n"
    )
    assert main(["check-config", str(config)]) == 0
    assert "is valid" in capsys.readouterr().out


def test_positions_follow_keys_and_list_items(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(FIVE_MISTAKES)
    _, node = read_config(config)
    assert position(node, "ops.weighted_labels.config.modes[0].horizon") == (9, 42)
    assert position(node, "ops.nothing.config") == (2, 1)
    assert position(node, "elsewhere") is None


def test_the_registry_is_what_the_definitions_bind() -> None:
    from memwise_assets.definitions import ASSETS, defs
    from memwise_assets.defs.config_registry import asset_config_classes, resource_classes
    from memwise_assets.defs.run_config import config_class

    assert asset_config_classes() == {a.op.name: config_class(a) for a in ASSETS}
    bound = {k: type(v) for k, v in defs.resources.items()}
    # The universe travels with the assets that read it (resource_defs), not in defs.resources.
    from memwise_assets.defs.universe import UniverseResource

    assert all("universe" not in a.resource_defs or a.op.name for a in ASSETS)
    bound["universe"] = UniverseResource
    assert resource_classes() == bound


@pytest.mark.parametrize("text", ["ops: [1, 2]\n", "- a\n"])
def test_odd_files_are_refused_in_one_line(text: str, tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(text)
    assert main(["check-config", str(config)]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
