"""The stored layout of block-written assets: one folder per version, one symlink to the current.

`<root>/<asset>` is a symlink to `<root>/.<asset>.versions/<version>/`, a folder of
`part-NNNNN.parquet` files sorted by symbol (then date), each block of the step one file.
A writer fills a new version folder, flushes it, and swaps the symlink in one `rename`: a
reader globbing `<root>/<asset>/*.parquet` or opening `pyarrow.dataset` on `<root>/<asset>`
sees the old version or the new one, whole, never a mix. The version it replaced is kept
for readers still inside it; older ones, and folders of writers that died, are swept.

A version may also name its files (`Part`): a block's history `part-NNNNN.parquet` and its
recent rows `part-NNNNN.tail.parquet`, and link an earlier version's unchanged history file
instead of writing it again (a hard link: no copy, and removing the old version leaves it).
`_manifest.json` beside the files says what the version was built from (`defs/refresh.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from memwise_assets.defs.atomic_files import flush_files, fsync_path, write_parquet
from memwise_assets.memory.probe import pid_alive

# Rows per row group of a block file: a reader of a few symbols skips the other groups.
BLOCK_ROW_GROUP = 65_536
_PREFIX = "v-"
# What a version was built from: not `*.parquet`, so readers globbing the folder skip it.
MANIFEST_NAME = "_manifest.json"


def versions_folder(link: Path) -> Path:
    """Where the versions of the asset stored at `link` live (hidden beside it)."""
    return link.with_name(f".{link.name}.versions")


def current_version(link: Path) -> Path | None:
    """The version folder `link` points at (None: never written by blocks)."""
    if not link.is_symlink():
        return None
    return (link.parent / os.readlink(link)).resolve()


class VersionWriter:
    """Writes one new version of an asset block by block; `commit` publishes it whole.

    One block may be in flight on the writer thread while the caller computes the next:
    the step holds at most a block's working set plus one block being encoded.
    """

    def __init__(self, link: Path) -> None:
        if link.exists() and not link.is_symlink():
            raise FileExistsError(f"{link} is a real folder or file; expected a version symlink")
        self.link = link
        self.versions = versions_folder(link)
        self.versions.mkdir(parents=True, exist_ok=True)
        _sweep_dead_versions(self.versions, current_version(link))
        name = f"{_PREFIX}{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.folder = self.versions / name
        self.folder.mkdir()
        self.files: list[Path] = []
        self.linked: list[Path] = []
        self.manifest: dict[str, Any] | None = None
        self.rows = 0
        self.bytes = 0
        self.schema: pa.Schema | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blocks")
        self._in_flight: deque[Future[int]] = deque()

    def write(self, table: pa.Table, name: str | None = None) -> None:
        """Queue one block's table (its rows sorted by symbol, then date); `name`: the file's
        name (default the next `part-NNNNN.parquet`)."""
        while self._in_flight:
            self.bytes += self._in_flight.popleft().result()
        table = _uniform_dictionaries(table)
        path = self.folder / (name or f"part-{len(self.files) + len(self.linked):05d}.parquet")
        self.files.append(path)
        self.rows += table.num_rows
        self.schema = self.schema or table.schema
        self._in_flight.append(self._writer.submit(_write, table, path))

    def link_file(self, source: Path, name: str) -> None:
        """Take an earlier version's file unchanged, as `name`, by a hard link (no copy)."""
        path = self.folder / name
        os.link(source, path)
        self.linked.append(path)
        meta = pq.read_metadata(path)
        self.rows += meta.num_rows
        self.bytes += path.stat().st_size
        self.schema = self.schema or meta.schema.to_arrow_schema()

    def commit(self) -> Path:
        """Flush every block and point the asset at this version; returns the link."""
        self._drain()
        written = list(self.files)
        if self.manifest is not None:
            path = self.folder / MANIFEST_NAME
            path.write_text(json.dumps(self.manifest, sort_keys=True))
            written.append(path)
        flush_files(written, 8)
        fsync_path(self.folder)
        previous = current_version(self.link)
        tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.link")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(self.folder, self.link.parent), tmp)
        os.replace(tmp, self.link)
        fsync_path(self.link.parent)
        legacy = self.link.with_suffix(".parquet")  # the single file of an earlier layout
        legacy.unlink(missing_ok=True)
        keep = {self.folder.resolve(), previous}
        for old in self.versions.iterdir():
            if old.resolve() not in keep:
                shutil.rmtree(old, ignore_errors=True)
        return self.link

    def discard(self) -> None:
        """Drop this version (an error before commit): the current one stays as it was."""
        try:
            self._drain()
        except BaseException:  # the error that led here is the one to report
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def _drain(self) -> None:
        while self._in_flight:
            self.bytes += self._in_flight.popleft().result()
        self._writer.shutdown(wait=True)


def read_manifest(link: Path) -> tuple[Path, dict[str, Any]] | None:
    """The current version's folder and manifest (None: no version, or one without)."""
    folder = current_version(link)
    path = folder / MANIFEST_NAME if folder is not None else None
    if path is None or not path.is_file():
        return None
    try:
        return folder, json.loads(path.read_text())  # type: ignore[return-value]
    except (OSError, ValueError):
        return None  # unreadable: the next build is a full one


def _uniform_dictionaries(table: pa.Table) -> pa.Table:
    """Categories with int32 codes in every block: pandas picks the narrowest code type for
    each block's own symbols, and a dataset's files must agree on one schema."""
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type), f.nullable)
        if pa.types.is_dictionary(f.type) and f.type.index_type != pa.int32()
        else f
        for f in table.schema
    ]
    if all(a.type == b.type for a, b in zip(fields, table.schema, strict=True)):
        return table
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _write(table: pa.Table, path: Path) -> int:
    write_parquet(table, path, row_group_rows=BLOCK_ROW_GROUP)
    return path.stat().st_size


def _sweep_dead_versions(versions: Path, current: Path | None) -> None:
    # A writer killed before its commit leaves a folder no link points at; once its pid is
    # gone, the next writer removes it.
    for folder in versions.iterdir():
        parts = folder.name.split("-")
        if folder.resolve() == current or len(parts) < 3 or not parts[2].isdigit():
            continue
        if not pid_alive(int(parts[2])):
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Part:
    """One named file of a new version: a frame to write, or an earlier file to link."""

    name: str
    frame: pd.DataFrame | None = None
    source: Path | None = None  # an earlier version's unchanged file, taken by a hard link


def named_block(item: Any) -> tuple[str | None, pd.DataFrame | None]:
    """A block as (file name, None: the next part; frame, None: a file to link)."""
    if isinstance(item, Part):
        return item.name, item.frame
    return None, item


@dataclass
class Blocks:
    """An output given to the IO manager as blocks, each stored as soon as it comes.

    `frames`: for a partitioned asset, `(partition key, frame)` pairs (each partition's file
    is replaced atomically as it comes, so a killed run keeps what it finished); otherwise
    frames sorted by symbol, one file each in a new version, published whole at the end.
    `plan`: the block plan's figures (`block_metadata`); `summary`: metadata known only once
    every block is through (counts, check tallies), called after the last block.
    The step the blocks are written for travels beside them (`step.output(Blocks(...))`).
    Unpartitioned frames may come as `Part`s (named files, or links to unchanged ones);
    `manifest`, called after the last block, is stored with the version.
    `null_types`: the Arrow type of columns a block may hold only nulls in (a join's carried
    columns where none of its rows matched); such a column is stored with that type.
    """

    frames: Iterable[pd.DataFrame] | Iterable[tuple[str, pd.DataFrame]] | Iterable[Part]
    plan: dict[str, Any] = field(default_factory=dict)
    summary: Callable[[], dict[str, Any]] | None = None
    manifest: Callable[[], dict[str, Any]] | None = None
    null_types: pa.Schema | None = None


def typed_nulls(table: pa.Table, types: pa.Schema | None) -> pa.Table:
    """`table` with its all-null columns (Arrow type null) cast to their type in `types`:
    every file of a version must agree on one schema, and nulls alone carry no type."""
    if types is None:
        return table
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type) and f.name in types.names:
            kind = types.field(f.name).type
            table = table.set_column(i, pa.field(f.name, kind), table.column(i).cast(kind))
    return table
