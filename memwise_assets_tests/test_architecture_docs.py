"""docs/architecture.md and docs/memory-safety.md stay true: the files they walk through exist,
and every step key StepFigures writes is documented."""

from __future__ import annotations

import re
from pathlib import Path

from memwise_assets.defs.figures import KEYS, READ_ONLY_KEYS

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "memwise_assets"
DOCS = REPO / "docs"


def test_every_module_the_architecture_walk_names_exists() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:defs|compute|memory|report)/[\w/]+\.py)", text))
    assert len(named) > 30, "the walk names the files it passes through"
    assert sorted(p for p in named if not (PACKAGE / p).is_file()) == []


def test_every_step_key_is_documented_with_the_old_keys_it_replaced() -> None:
    text = (DOCS / "memory-safety.md").read_text(encoding="utf-8")
    assert sorted(k for k in KEYS | READ_ONLY_KEYS if f"`{k}`" not in text) == []
    for image in re.findall(r"\]\((images/[^)]+)\)", text):
        assert (DOCS / image).is_file(), image
