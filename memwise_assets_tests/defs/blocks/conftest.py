"""The ragged history every block test reads (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memwise_assets_tests.builders.history import ragged_history


@pytest.fixture(scope="session")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, list[Path]]:
    """210 symbols x 30 years with holes, late listings and delistings, one file per decade."""
    return ragged_history(tmp_path_factory.mktemp("daily_bars"))
