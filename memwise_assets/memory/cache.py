"""Per-run scratch folders and a purge that cannot escape its root.

The purge walks without following symlinks: a link inside the cache is removed as a link,
and whatever it points to (another run's data, the user's home) is never touched.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_MB = 1024.0 * 1024.0
_log = logging.getLogger(__name__)


def safe_name(step_key: str) -> str:
    """A step key as a plain file or folder name (mapped steps carry brackets)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in step_key) or "step"


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string; got {name!r}")
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if os.path.isabs(name) or any(sep in name for sep in seps):
        raise ValueError(f"{what} must be a plain folder name without separators; got {name!r}")
    if ".." in name or name == "." or "\x00" in name:
        raise ValueError(f"{what} must not contain '..', be '.' or hold NUL; got {name!r}")
    return name


def _within(child: Path, root: Path) -> bool:
    # Lexical check on purpose: resolving would follow the very links we refuse to follow.
    return os.path.commonpath([str(child), str(root)]) == str(root) and child != root


class SessionCache:
    """Scratch folder of one run (`root/session_id`), with per-step subfolders."""

    def __init__(self, root: str | os.PathLike[str], session_id: str) -> None:
        self.session_id = _check_name(session_id, "session_id")
        # The root is trusted configuration; resolve it once so every later check is lexical.
        self.root = Path(os.path.abspath(os.path.realpath(root)))
        self._dir = self.root / self.session_id

    @property
    def path(self) -> Path:
        """The session folder, created on first use."""
        if self._dir.is_symlink():
            raise ValueError(f"session cache {self._dir} is a symlink; refusing to use it")
        self._dir.mkdir(parents=True, exist_ok=True)
        return self._dir

    def step(self, name: str) -> Path:
        """The subfolder for one step of the run, created on first use."""
        step_dir = self.path / _check_name(name, "step name")
        if step_dir.is_symlink():
            raise ValueError(f"step cache {step_dir} is a symlink; refusing to use it")
        step_dir.mkdir(exist_ok=True)
        return step_dir

    def purge(self, step: str | None = None) -> dict[str, Any]:
        """Remove the session folder (or one step's folder); report files and MB removed."""
        target = self._dir if step is None else self._dir / _check_name(step, "step name")
        report: dict[str, Any] = {
            "cache_dir": str(target),
            "files_removed": 0,
            "disk_freed_mb": 0.0,
            "success": True,
        }
        if not _within(target, self.root):
            raise ValueError(f"refusing to purge {target}: it is not inside {self.root}")
        if not os.path.lexists(target):
            return report
        freed_bytes = 0
        try:
            if os.path.islink(target) or not os.path.isdir(target):
                # The session folder itself replaced by a link or file: drop that entry only.
                freed_bytes += os.lstat(target).st_size
                os.unlink(target)
                report["files_removed"] += 1
            else:
                removed, freed_bytes = _remove_tree(target, self.root)
                report["files_removed"] = removed
        except OSError as error:
            report["success"] = False
            _log.error("cache purge of %s stopped: %s", target, error)
        report["disk_freed_mb"] = round(freed_bytes / _MB, 6)
        _log.info(
            "purged cache %s: %d files, %.3f MB",
            target,
            report["files_removed"],
            report["disk_freed_mb"],
        )
        return report


def _remove_tree(top: Path, root: Path) -> tuple[int, int]:
    removed = 0
    freed = 0
    for dirpath, dirnames, filenames in os.walk(top, topdown=False, followlinks=False):
        here = Path(dirpath)
        if not (here == top or _within(here, root)):
            raise OSError(f"walk left the cache root at {here}")
        # With followlinks=False, links to folders are listed among dirnames, never entered.
        for name in filenames + dirnames:
            entry = here / name
            info = os.lstat(entry)
            if stat.S_ISDIR(info.st_mode):
                os.rmdir(entry)
                continue
            os.unlink(entry)
            removed += 1
            freed += info.st_size
    os.rmdir(top)
    return removed, freed


def purge_stale_sessions(
    root: str | os.PathLike[str], keep: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Purge every session folder under `root` whose name is not in `keep`."""
    root_path = Path(root)
    if not root_path.is_dir():
        return []
    kept = set(keep)
    reports = []
    for entry in sorted(os.scandir(root_path), key=lambda e: e.name):
        # Only real folders are sessions; anything else under the root is left alone.
        if entry.name in kept or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            cache = SessionCache(root_path, entry.name)
        except ValueError:
            continue
        reports.append(cache.purge())
    return reports
