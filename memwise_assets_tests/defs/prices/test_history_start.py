"""MEMWISE_HISTORY_START: the first month of daily_bars, so earlier months are not missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from memwise_assets.defs.prices.partitions import DEFAULT_HISTORY_START, history_start


def test_the_start_is_a_month_from_1971_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMWISE_HISTORY_START", raising=False)
    assert history_start() == DEFAULT_HISTORY_START == "1990-01"
    assert history_start("2015-01") == "2015-01"
    monkeypatch.setenv("MEMWISE_HISTORY_START", "2019-06")
    assert history_start() == "2019-06"
    for bad in ("1970-12", "2015-13", "2015-1", "15-01"):
        with pytest.raises(ValueError, match="MEMWISE_HISTORY_START"):
            history_start(bad)


def test_the_partitions_start_where_the_variable_says() -> None:
    probe = (
        "from memwise_assets.defs.prices.partitions import monthly_partitions as p; "
        "print(p.get_first_partition_key())"
    )
    env = {**os.environ, "MEMWISE_HISTORY_START": "2023-01"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "2023-01", done.stderr
