"""The README stays true: its two commands, and every configuration field documented."""

from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_leads_with_the_demo_and_test_commands() -> None:
    head = README[: README.index("## What is in the graph")]
    assert "pip install -e . && memwise demo" in head
    test_command = 'pip install -e ".[test,bench,report,k8s]" && python -m pytest -q'
    assert test_command in head
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert '-e ".[test,bench,report,k8s]"' in ci and "python -m pytest -q" in ci


@pytest.mark.parametrize(
    "cls_path",
    [
        "memwise_assets.defs.resources:MemoryResource",
        "memwise_assets.defs.io_manager:ParquetIOManager",
        "memwise_assets.defs.filings.resources:FilingsResource",
        "memwise_assets.defs.filings.edgar:EdgarResource",
        "memwise_assets.defs.prices.assets:PricesConfig",
        "memwise_assets.defs.labels.assets:LabelsConfig",
        "memwise_assets.defs.labels.assets:LabelModeConfig",
        "memwise_assets.defs.filings.assets:FilingsConfig",
        "memwise_assets.defs.intraday.assets:IntradayConfig",
        "memwise_assets.defs.weekly.config:WeeklyFeaturesConfig",
        "memwise_assets.defs.weekly.config:WeeklyAttachConfig",
    ],
)
def test_every_configuration_field_is_in_the_reference(cls_path: str) -> None:
    module, name = cls_path.split(":")
    cls = getattr(__import__(module, fromlist=[name]), name)
    section = README[README.index(f"**`{name}`**") :]
    section = section[: section.index("\n\n", section.index("|---|"))]
    missing = [field for field in cls.model_fields if f"| `{field}` |" not in section]
    assert not missing, f"README's {name} table lacks {missing}"
