"""The universe case's references, each measured in a fresh child process.

- `io_floor`: what a step's I/O alone costs: pyarrow reads its input files (the columns the
  step reads) and writes its output again (same rows, columns and writer settings as the IO
  manager), with no compute. The output is re-read row group by row group outside the timer.
- `polars_weekly`: polars' streaming engine computing the weekly (W-FRI) OHLCV bars from the
  same `daily_bars` files, and writing them.

Both report seconds and the child's peak RSS above its RSS once its imports are done (the
kernel's high-water mark, VmHWM), the way the step's own figure is its peak above its start.
Run as `python -m memwise_assets.bench.universe_refs <kind> <args.json>`; prints one JSON line.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_MB = 1024 * 1024


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    import resource  # not Linux: ru_maxrss (KiB) is the best peak there is

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _flush(paths: list[Path]) -> None:
    """To disk as the IO manager flushes a batch: one syncfs from 8 files, else an fsync each."""
    if len(paths) >= 8:
        libc = ctypes.CDLL(None, use_errno=True)
        if hasattr(libc, "syncfs"):
            fd = os.open(paths[0], os.O_RDONLY)
            try:
                if libc.syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def io_floor(inputs: list[dict[str, Any]], outputs: list[str], scratch: str) -> dict[str, Any]:
    """Read every input file (its columns), then write the output files again; no compute."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = _status_mb("VmRSS")
    began = time.perf_counter()
    rows_in = 0
    for group in inputs:
        for path in group["files"]:
            table = pq.read_table(path, columns=group["columns"])
            rows_in += table.num_rows
            del table
    read_s = time.perf_counter() - began
    write_s, rows_out = 0.0, 0
    written: list[Path] = []
    for i, path in enumerate(outputs):
        source = pq.ParquetFile(path)
        schema = source.schema_arrow
        text = [f.name for f in schema if pa.types.is_dictionary(f.type) or f.type == pa.string()]
        target = Path(scratch) / f"{i}.parquet"
        t0 = time.perf_counter()
        writer = pq.ParquetWriter(target, schema, compression="zstd", use_dictionary=text)
        write_s += time.perf_counter() - t0
        for group in range(source.num_row_groups):
            table = source.read_row_group(group)  # the data to write: not timed
            t0 = time.perf_counter()
            writer.write_table(table)
            write_s += time.perf_counter() - t0
            rows_out += table.num_rows
            del table
        t0 = time.perf_counter()
        writer.close()
        write_s += time.perf_counter() - t0
        written.append(target)
    t0 = time.perf_counter()
    _flush(written)  # the IO manager's writes are durable: so are the floor's
    write_s += time.perf_counter() - t0
    for target in written:
        target.unlink()
    return {
        "seconds": read_s + write_s,
        "read_s": read_s,
        "write_s": write_s,
        "rows_in": rows_in,
        "rows": rows_out,
        "peak_increase_mb": max(0.0, _status_mb("VmHWM") - base),
    }


def polars_weekly(files: list[str], scratch: str) -> dict[str, Any]:
    """Weekly W-FRI OHLCV bars per symbol with polars' streaming engine, written as Parquet."""
    import polars as pl

    base = _status_mb("VmRSS")
    began = time.perf_counter()
    day = pl.col("date").cast(pl.Date)
    # The Friday ending each day's week (Saturday and Sunday belong to the next Friday);
    # weekday() is 1 (Monday) to 7, and 12 - it stays positive for the modulo.
    week_end = day + pl.duration(days=(12 - day.dt.weekday()) % 7)
    bars = (
        pl.scan_parquet(files)
        .select("symbol", "date", "open", "high", "low", "close", "volume")
        .with_columns(week_end.alias("week_end"))
        .group_by("symbol", "week_end")
        .agg(
            pl.col("open").sort_by("date").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").sort_by("date").last(),
            pl.col("volume").sum(),
            pl.len().alias("n_days"),
        )
        .collect(engine="streaming")
    )
    target = Path(scratch) / "polars-weekly.parquet"
    bars.write_parquet(target, compression="zstd")
    seconds = time.perf_counter() - began
    rows = bars.height
    del bars
    target.unlink()
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_increase_mb": max(0.0, _status_mb("VmHWM") - base),
    }


def in_child(kind: str, args: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run one reference in a fresh Python process; its figures, or {"error": ...}."""
    scratch.mkdir(parents=True, exist_ok=True)
    args_file = scratch / f"{kind}-args.json"
    args_file.write_text(json.dumps({**args, "scratch": str(scratch)}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "memwise_assets.bench.universe_refs", kind, str(args_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    args_file.unlink()
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{kind} child exited {done.returncode}: {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    kind, args_path = argv
    args = json.loads(Path(args_path).read_text(encoding="utf-8"))
    if kind == "io_floor":
        figures = io_floor(args["inputs"], args["outputs"], args["scratch"])
    elif kind == "polars_weekly":
        figures = polars_weekly(args["files"], args["scratch"])
    else:
        raise SystemExit(f"unknown reference {kind!r}; expected io_floor or polars_weekly")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
