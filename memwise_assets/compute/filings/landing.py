"""The landing folder: which files are filings we may turn into partitions."""

from __future__ import annotations

import os
import re
import stat
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
            shown = entry.name.encode("unicode_escape").decode("ascii")
            try:
                problem = _check_entry(root, entry)
                if problem is None:
                    stat = (root / entry.name).stat()
                    accepted.append(
                        LandedFile(entry.name, root / entry.name, stat.st_size, stat.st_mtime_ns)
                    )
            except (OSError, RuntimeError) as error:
                # One bad entry (a symlink loop, a file gone mid-scan) never stops the tick.
                why = getattr(error, "strerror", None) or str(error)
                problem = f"cannot be read ({type(error).__name__}: {why})"
            if problem is not None:
                skipped.append(f"{shown}: {problem}")
    accepted.sort(key=lambda f: f.key)
    return accepted, skipped


def _check_entry(root: Path, entry: os.DirEntry) -> str | None:
    """Why a landing entry is no filing, or None when it is one."""
    name = entry.name
    if not SAFE_NAME.match(name) or ".." in name:
        return f"name must match {SAFE_NAME.pattern} (rename it)"
    if not name.lower().endswith(FILING_SUFFIXES):
        return f"not a filing ({', '.join(FILING_SUFFIXES)})"
    path = root / name
    if entry.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return "dangling symlink (its target is gone)"
        except (RuntimeError, OSError) as error:  # 3.11 raises RuntimeError, later OSError
            return f"symlink loop or unreadable link ({error})"
        if root not in target.parents:
            return "symlink pointing outside the landing folder"
    if not path.is_file():
        return "not a regular file"
    with open(path, "rb"):  # unreadable (permissions): raises PermissionError, skipped
        pass
    return None


# Sidecars and submissions JSON are a few KB to a few MB; past this they are refused.
MAX_JSON_BYTES = 64 << 20


def read_confined(root: Path, path: Path, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of `path`, under the landing folder's link rules (as filings are read).

    `path` must resolve inside `root` (a symlink may point within it, never out), be a
    regular file (no FIFO, device or folder) and hold at most `max_bytes`; else ValueError.
    The file is opened without following a link and checked again after opening, so a
    link swapped in between the check and the read is refused too.
    """
    base = Path(root).resolve()
    try:
        target = Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as error:
        raise ValueError(f"{path}: cannot be resolved ({error})") from error
    if base not in target.parents:
        raise ValueError(f"{path}: resolves to {target}, outside the landing folder {base}")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise ValueError(f"{path}: cannot be opened ({error.strerror or error})") from error
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path}: not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path}: {info.st_size:,} bytes, more than {max_bytes:,}")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path}: more than {max_bytes:,} bytes")
    return data


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
