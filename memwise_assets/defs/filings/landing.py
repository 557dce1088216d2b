"""The landing folder: which files are filings we may turn into partitions."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# A partition key is the file name itself, so only plain, portable names qualify.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
FILING_SUFFIXES = (".htm", ".html", ".txt", ".xml")


def sample_landing_dir() -> Path:
    """The few real filings shipped with memwise, used by the demo."""
    return Path(str(resources.files("memwise_assets") / "data" / "filings"))


@dataclass(frozen=True)
class LandedFile:
    """A candidate filing in the landing folder."""

    key: str
    path: Path
    size: int
    mtime_ns: int


def scan_landing(folder: Path) -> tuple[list[LandedFile], list[str]]:
    """Files that may become partitions, and the reasons others were skipped."""
    if not folder.is_dir():
        raise FileNotFoundError(f"landing folder {folder} does not exist or is not a folder")
    root = folder.resolve()
    accepted: list[LandedFile] = []
    skipped: list[str] = []
    with os.scandir(root) as entries:
        for entry in entries:
            name = entry.name
            shown = name.encode("unicode_escape").decode("ascii")
            if not SAFE_NAME.match(name) or ".." in name:
                skipped.append(f"{shown}: name must match {SAFE_NAME.pattern} (rename it)")
                continue
            if not name.lower().endswith(FILING_SUFFIXES):
                skipped.append(f"{shown}: not a filing ({', '.join(FILING_SUFFIXES)})")
                continue
            path = root / name
            if entry.is_symlink():
                target = path.resolve()
                if root not in target.parents:
                    skipped.append(f"{shown}: symlink pointing outside the landing folder")
                    continue
            if not path.is_file():
                skipped.append(f"{shown}: not a regular file")
                continue
            stat = path.stat()
            accepted.append(LandedFile(name, path, stat.st_size, stat.st_mtime_ns))
    accepted.sort(key=lambda f: f.key)
    return accepted, skipped


def resolve_filing(folder: Path, key: str) -> Path:
    """The file behind a partition key, confined to the landing folder."""
    if not SAFE_NAME.match(key) or ".." in key:
        raise ValueError(f"partition key {key!r} is not a plain file name")
    root = folder.resolve()
    path = (root / key).resolve()
    if root not in path.parents:
        raise ValueError(f"filing {key!r} resolves outside the landing folder {root}")
    if not path.is_file():
        raise FileNotFoundError(f"filing {key!r} is not in the landing folder {root}")
    return path
