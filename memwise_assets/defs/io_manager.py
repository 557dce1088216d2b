"""Parquet IO manager: atomic per-partition files, memory metadata, session-cache purge."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from memwise_assets.defs.resources import StepMemory, finish_step, frame_mb, memwise_home
from memwise_assets.defs.run_metrics import record_step
from memwise_assets.memory.probe import pid_alive

# Assets whose single-run backfills return one frame for many partitions name the column
# that says which partition a row belongs to.
PARTITION_COLUMN_KEY = "memwise/partition_column"
_MB = 1024.0 * 1024.0


def atomic_write_table(table: pa.Table, path: Path) -> int:
    """Write `table` to `path` so readers see the old file or the new one, never a part.

    Temporary file in the same folder, fsync, rename, fsync of the folder: a crash or a
    kill at any point leaves the previous version intact. Returns bytes written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path.stat().st_size


def _sweep_stale_temporaries(path: Path) -> None:
    # A writer killed mid-write (SIGKILL, OOM killer) cannot remove its temporary file;
    # the next writer of the same output does, once that writer's pid is gone.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        parts = stale.name[len(path.name) + 2 :].split(".")
        if parts and parts[0].isdigit() and not pid_alive(int(parts[0])):
            stale.unlink(missing_ok=True)


def _check_key(key: str) -> str:
    if not key or key in {".", ".."} or "/" in key or "\\" in key or "\x00" in key:
        raise ValueError(f"partition key {key!r} cannot name a file; expected a plain name")
    return key


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as Parquet per asset and partition, and reports what each took."""

    base_dir: str | None = Field(
        default=None, description="Root of the stored outputs; default $DAGSTER_HOME/memwise/data."
    )

    @property
    def root(self) -> Path:
        return Path(self.base_dir) if self.base_dir else memwise_home() / "data"

    def _get_path(self, asset_key: dg.AssetKey, partition_key: str | None = None) -> Path:
        folder = self.root.joinpath(*asset_key.path)
        if partition_key is None:
            return folder.with_suffix(".parquet")
        return folder / f"{_check_key(partition_key)}.parquet"

    # -- output ----------------------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        asset_label = context.asset_key.to_user_string()
        state = finish_step(context.run_id, context.step_key)
        try:
            frames = self._frames_by_partition(context, obj, asset_label)
            tables = {key: _to_table(frame, asset_label) for key, frame in frames.items()}
            if state:
                state.mark("pre-write")
            started = time.perf_counter()
            file_bytes = sum(
                atomic_write_table(table, self._get_path(context.asset_key, key))
                for key, table in tables.items()
            )
            write_s = time.perf_counter() - started
            if state:
                state.mark("store-complete")
        except BaseException:
            if state:
                state.close()
            raise
        metrics = state.close() if state else None
        first = next(iter(tables.values()))
        metadata: dict[str, Any] = {
            "dagster/row_count": sum(t.num_rows for t in tables.values()),
            "dagster/column_schema": _table_schema(first.schema),
            "memwise/frame_mb": round(sum(frame_mb(f) for f in frames.values()), 6),
            "memwise/file_mb": round(file_bytes / _MB, 6),
            "memwise/write_seconds": round(write_s, 3),
            "memwise/partitions_written": len(tables),
            "memwise/path": dg.MetadataValue.path(
                str(
                    self._get_path(context.asset_key, next(iter(tables)))
                    if context.has_asset_partitions
                    else self._get_path(context.asset_key)
                )
            ),
        }
        if state and metrics:
            purge = state.cache.purge(state.cache_step)
            metadata.update(_memory_metadata(state, metrics, purge))
            record_step(
                self.root,
                context.run_id,
                context.step_key,
                asset_label,
                metrics,
                purge,
                rows=metadata["dagster/row_count"],
            )
        context.add_output_metadata(metadata)

    def _frames_by_partition(
        self, context: dg.OutputContext, obj: Any, asset_label: str
    ) -> dict[str | None, pd.DataFrame]:
        if not context.has_asset_partitions:
            return {None: _check_frame(obj, asset_label)}
        keys = list(context.asset_partition_keys)
        if isinstance(obj, Mapping):
            unknown = set(obj) - set(keys)
            if unknown:
                raise ValueError(
                    f"{asset_label} returned partitions {sorted(unknown)[:5]} outside the "
                    f"run's {len(keys)} partitions"
                )
            return {key: _check_frame(obj[key], asset_label) for key in keys if key in obj}
        frame = _check_frame(obj, asset_label)
        if len(keys) == 1:
            return {keys[0]: frame}
        column = (context.definition_metadata or {}).get(PARTITION_COLUMN_KEY)
        if column is None or column not in frame.columns:
            raise ValueError(
                f"{asset_label} returned one frame for {len(keys)} partitions; expected a "
                f"mapping of partition key to frame or a '{PARTITION_COLUMN_KEY}' column"
            )
        labels = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
        outside = sorted(set(labels.unique()) - set(keys))
        if outside:
            raise ValueError(
                f"{asset_label} returned rows for {outside[:5]} outside the run's partitions "
                f"{keys[0]}..{keys[-1]}"
            )
        groups = {key: idx for key, idx in frame.groupby(labels, sort=False).indices.items()}
        empty = frame.iloc[0:0]
        return {
            key: frame.iloc[groups[key]].reset_index(drop=True) if key in groups else empty
            for key in keys
        }

    # -- partitions an asset stores itself ---------------------------------------------

    def store_partition(
        self, asset_key: dg.AssetKey, partition_key: str, frame: pd.DataFrame
    ) -> dict[str, Any]:
        """Write one partition now; return that partition's own materialization metadata.

        For assets that materialize only the partitions that succeeded (an optional
        output and one `dg.AssetMaterialization` per stored partition).
        """
        asset_label = asset_key.to_user_string()
        table = _to_table(_check_frame(frame, asset_label), asset_label)
        path = self._get_path(asset_key, partition_key)
        started = time.perf_counter()
        file_bytes = atomic_write_table(table, path)
        return {
            "dagster/row_count": table.num_rows,
            "dagster/column_schema": _table_schema(table.schema),
            "memwise/frame_mb": round(frame_mb(frame), 6),
            "memwise/file_mb": round(file_bytes / _MB, 6),
            "memwise/write_seconds": round(time.perf_counter() - started, 3),
            "memwise/path": dg.MetadataValue.path(str(path)),
        }

    def close_step(
        self, state: StepMemory, run_id: str, asset_label: str, rows: int
    ) -> dict[str, Any]:
        """Close a step that stored through `store_partition`; its memory metadata, once."""
        metrics = state.close()
        purge = state.cache.purge(state.cache_step)
        record_step(self.root, run_id, state.step_key, asset_label, metrics, purge, rows=rows)
        return _memory_metadata(state, metrics, purge)

    # -- input -----------------------------------------------------------------------

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        asset_key = context.asset_key
        columns = (context.definition_metadata or {}).get("columns")
        if context.has_asset_partitions:
            paths = [self._get_path(asset_key, key) for key in context.asset_partition_keys]
        else:
            paths = [self._get_path(asset_key)]
        present = [p for p in paths if p.exists()]
        missing = len(paths) - len(present)
        if not present:
            raise FileNotFoundError(
                f"no stored output of {asset_key.to_user_string()} under {self.root} "
                f"({len(paths)} partition(s) asked for); materialize it first"
            )
        if missing:
            context.log.warning(
                f"{asset_key.to_user_string()}: {missing} of {len(paths)} partitions not "
                "materialized; loading the ones that are"
            )
        return read_parquet_files(present, columns)


def read_parquet_files(paths: Sequence[Path], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read Parquet files (only the named columns) into one frame with their stored dtypes."""
    tables = [pq.read_table(path, columns=list(columns) if columns else None) for path in paths]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    frame = table.to_pandas()
    return frame.reset_index(drop=True)


def _check_frame(obj: Any, asset_label: str) -> pd.DataFrame:
    if not isinstance(obj, pd.DataFrame):
        raise TypeError(
            f"{asset_label}: the Parquet IO manager stores pandas DataFrames only; got "
            f"{type(obj).__name__} (memwise never pickles)"
        )
    return obj


def _to_table(frame: pd.DataFrame, asset_label: str) -> pa.Table:
    for column in frame.columns[frame.dtypes.astype(str) == "object"]:
        kinds = {type(v).__name__ for v in frame[column].dropna().head(10_000)}
        if len(kinds) > 1:
            raise ValueError(
                f"{asset_label}: column {column!r} mixes types {sorted(kinds)}; Parquet "
                "stores one type per column, so convert it before returning"
            )
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"{asset_label}: cannot store this frame faithfully as Parquet: {exc}"
        ) from exc


def _table_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def _memory_metadata(
    state: StepMemory, metrics: dict[str, Any], purge: dict[str, Any]
) -> dict[str, Any]:
    return {
        "memwise/peak_rss_mb": float(metrics["peak_memory_mb"]),
        "memwise/rss_increase_mb": float(metrics["rss_increase_mb"]),
        "memwise/limit_mb": float(state.limit_mb),
        "memwise/peak_usage_percent": float(metrics["budget_usage_percent"]),
        "memwise/within_limit": bool(metrics["within_budget"]),
        "memwise/estimate_mb": float(state.estimate.mb),
        "memwise/estimator": state.estimate.estimator,
        "memwise/estimator_inputs": dg.MetadataValue.json(state.estimate.inputs),
        "memwise/input_mb": float(state.input_mb),
        "memwise/seconds": float(metrics["seconds"]),
        "memwise/admission_wait_s": float(metrics["admission_wait_s"]),
        "memwise/sample_count": int(metrics["sample_count"]),
        "memwise/samples": dg.MetadataValue.json(metrics["samples"]),
        "memwise/peak_source": str(metrics.get("peak_source", "")),
        "memwise/cache_files_removed": int(purge["files_removed"]),
        "memwise/cache_mb_freed": float(purge["disk_freed_mb"]),
        **state.limits_metadata,
    }
