"""Whether a block-written asset can be brought up to date from its recent rows only.

`weekly_features` and `daily_with_weekly_features` store each block as a history file (rows
before the version's split day) and a tail file (the rest), with a manifest of what the
version was built from: a fingerprint of each month file of `daily_bars` (size, modification
time in ns: a month is replaced by writing a new file, so any rewrite gives a new one), of the
config and of the code's layout, the symbols and the block plan. A new materialization
compares and takes the tail path only when every difference lies in months at or after the
split and no symbol is new; anything else is a full rebuild, which is always correct. The
decision and its reason are recorded as `memwise/refresh`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from memwise_assets.defs.store import read_manifest
from memwise_assets.defs.stored_table import StoredTable

REFRESH_KEY = "memwise/refresh"
# Bump when the compute or the layout changes what a stored row holds: every stored version
# then counts as built from another config, and the next build is a full one.
LAYOUT = 1
# A tail that has grown past this many months is folded into the history by a full rebuild.
MAX_TAIL_MONTHS = 6
_MONTH = re.compile(r"\d{4}-\d{2}")


@dataclass(frozen=True)
class Refresh:
    """The path a build takes: `full`, `tail` (recompute rows from the split on), or `reuse`
    (nothing changed: every file of the current version is linked)."""

    path: str
    reason: str
    previous: Path | None = None
    manifest: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return f"{self.path}: {self.reason}"


def month_inputs(stored: StoredTable) -> dict[str, str] | None:
    """Fingerprint of each month file (`YYYY-MM` -> size, mtime); None unless monthly."""
    months = {path.stem: path for path in stored.files}
    if not months or not all(_MONTH.fullmatch(name) for name in months):
        return None
    out = {}
    for name, path in sorted(months.items()):
        stat = path.stat()
        out[name] = f"{stat.st_size}-{stat.st_mtime_ns}"
    return out


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-able value (configs, column lists)."""
    text = json.dumps([LAYOUT, value], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_day(inputs: dict[str, str]) -> pd.Timestamp:
    """A new version's split: the first day of the latest stored month."""
    return pd.Timestamp(f"{max(inputs)}-01")


def stored_link(stored: StoredTable, asset_path: list[str]) -> Path:
    """Where the IO manager keeps an unpartitioned asset beside `stored`'s month files."""
    root = stored.files[0].parent.parent if stored.files else Path(".")
    return root.joinpath(*asset_path)


def recent_files(stored: StoredTable, since: pd.Timestamp) -> list[Path]:
    """The month files holding days from `since` on."""
    first = since.strftime("%Y-%m")
    return [path for path in stored.files if path.stem >= first]


def decide(link: Path, inputs: dict[str, str] | None, config: str) -> Refresh:
    """Full, tail or reuse from the current version's manifest and the inputs now stored.

    The symbol checks that need the data (`check_symbols`) come after this one.
    """
    if inputs is None:
        return Refresh("full", "daily_bars is not stored as month files")
    found = read_manifest(link)
    if found is None:
        return Refresh("full", "no manifest (first build, or a version from an older layout)")
    folder, manifest = found
    if manifest.get("config") != config:
        return Refresh("full", "config or layout changed")
    old: dict[str, str] = manifest.get("inputs", {})
    removed = sorted(set(old) - set(inputs))
    if removed:
        return Refresh("full", f"{len(removed)} month(s) removed, first {removed[0]}")
    changed = sorted(name for name in inputs if old.get(name) != inputs[name])
    if not changed:
        return Refresh("reuse", "daily_bars unchanged", folder, manifest)
    split = pd.Timestamp(manifest["split"])
    if changed[0] < split.strftime("%Y-%m"):
        return Refresh("full", f"{changed[0]} changed, before the split {split.date()}")
    if len({*changed, *(m for m in old if m >= split.strftime("%Y-%m"))}) > MAX_TAIL_MONTHS:
        return Refresh("full", f"the tail spans over {MAX_TAIL_MONTHS} months: folded into history")
    what = f"{len(changed)} month(s) changed" if len(changed) > 1 else f"{changed[0]} changed"
    return Refresh("tail", f"from {split.date()} ({what})", folder, manifest)


def check_symbols(
    refresh: Refresh, daily_bars: StoredTable, since: pd.Timestamp | None = None
) -> Refresh:
    """A tail path stays one only if no symbol is new since the version was built and (with
    `since`, the history's end) every symbol with rows from the split on had rows in
    [since, split): one back after a longer gap may change a week before the split."""
    if refresh.path != "tail" or refresh.manifest is None:
        return refresh
    split = pd.Timestamp(refresh.manifest["split"])
    start = since if since is not None else split
    files = recent_files(daily_bars, start)
    rows = StoredTable(daily_bars.label, files, ["symbol", "date"]).read_all()
    dates = pd.to_datetime(rows["date"])
    symbols = rows["symbol"].astype(str)
    after = set(symbols[dates >= split].unique())
    new = sorted(after - set(refresh.manifest["symbols"]))
    if new:
        return Refresh("full", f"universe changed: {len(new)} new symbol(s), e.g. {new[0]}")
    if since is not None:
        before = set(symbols[(dates >= since) & (dates < split)].unique())
        back = sorted(after - before)
        if back:
            return Refresh("full", f"{back[0]} has rows after a gap over the split")
    return refresh


def block_records(symbols: pd.Index, bounds: Any, names: list[str | None]) -> list[dict]:
    """The manifest's blocks: first and last symbol, and the history file (None: empty)."""
    return [
        {"first": str(symbols[lo]), "last": str(symbols[hi - 1]), "history": name}
        for (lo, hi), name in zip(bounds, names, strict=True)
    ]
