"""Landing-folder files of the EDGAR download: identifiers checked, writes confined, atomic.

Nothing a server sends names a path unchecked: accessions must read NNNNNNNNNN-NN-NNNNNN,
document names must be plain file names, and every write lands in the landing folder after
resolution (`confined`). Documents stream to `.<name>.part` files opened without following
links; a part a killed download left is swept by the next run (`sweep_partials`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from memwise_assets.compute.edgar.client import EdgarClient
from memwise_assets.compute.filings import SAFE_NAME, SUBMISSIONS_DIR

ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}")
PART_SUFFIX = ".part"
_log = logging.getLogger(__name__)


class UnsafeIdentifier(ValueError):
    """A server-supplied identifier that cannot become a path part."""


def check_accession(value: object) -> str:
    """`value` if it is an EDGAR accession number (0000950170-22-000796); else UnsafeIdentifier."""
    if not isinstance(value, str) or not ACCESSION.fullmatch(value):
        raise UnsafeIdentifier(f"accession must match {ACCESSION.pattern}; got {value!r}")
    return value


def check_document_name(value: object) -> str:
    """`value` if it is a plain file name (no folder, no '..'); else UnsafeIdentifier."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value) or ".." in value:
        raise UnsafeIdentifier(f"document name must be a plain file name; got {value!r}")
    return value


def confined(root: Path, name: str) -> Path:
    """`root / name` once it resolves to a direct child of `root`; else UnsafeIdentifier."""
    base = root.resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise UnsafeIdentifier(f"{name!r} resolves to {path}, outside {base}")
    return path


def sweep_partials(landing: Path) -> list[str]:
    """Remove the `.<name>.part` files a killed download left (landing and submissions)."""
    removed = []
    for folder in (landing, landing / SUBMISSIONS_DIR):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and entry.name.endswith(PART_SUFFIX):
                if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    os.unlink(entry.path)
                    removed.append(entry.name)
    if removed:
        _log.warning("swept %d partial download(s): %s", len(removed), ", ".join(removed[:10]))
    return removed


def _open_part(path: Path) -> tuple[Path, BinaryIO]:
    """A fresh `.<name>.part` beside `path`; never follows a link planted under that name."""
    tmp = path.with_name(f".{path.name}{PART_SUFFIX}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    return tmp, os.fdopen(fd, "w+b")


def _finish(tmp: Path, handle: BinaryIO, path: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(tmp, path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through its part file: whole or not at all."""
    _fill_atomic(path, lambda handle: handle.write(data))


def download_atomic(client: EdgarClient, url: str, path: Path) -> None:
    """Stream `url` into `path` through its part file: whole or not at all."""
    _fill_atomic(path, lambda handle: client.get_to_file(url, handle))


def _fill_atomic(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    tmp, handle = _open_part(path)
    try:
        fill(handle)
        _finish(tmp, handle, path)
    except BaseException:
        handle.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
