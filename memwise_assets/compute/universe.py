"""The ticker universe as text: a file of tickers, or a comma-separated list."""

from __future__ import annotations

import re
from pathlib import Path

_SPLIT = re.compile(r"[\s,;]+")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")


def parse_tickers(text: str, where: str = "tickers") -> list[str]:
    """Upper-case tickers from text (commas, spaces or lines; `#` starts a comment), in order."""
    words = [w for line in text.splitlines() for w in _SPLIT.split(line.split("#")[0]) if w]
    tickers = list(dict.fromkeys(w.upper() for w in words))
    bad = [t for t in tickers if not _TICKER.match(t)]
    if bad:
        raise ValueError(f"{where}: expected tickers such as AAPL or BRK-B; got {bad[:5]}")
    return tickers


def read_universe(spec: str) -> list[str]:
    """The tickers of `spec`: a path to a text file of tickers, else a comma-separated list."""
    path = Path(spec).expanduser()
    try:
        is_file = path.is_file()
    except OSError:  # a comma list longer than a path may be is no file
        is_file = False
    if is_file:
        tickers = parse_tickers(path.read_text(encoding="utf-8"), str(path))
        if not tickers:
            raise ValueError(f"{path}: the universe file names no tickers")
        return tickers
    if "/" in spec or spec.endswith((".txt", ".csv")):
        raise ValueError(f"universe file {spec!r} does not exist")
    return parse_tickers(spec)
