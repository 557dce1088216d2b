"""The memory report: what every step took, from a Dagster instance, as HTML and PNG files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg

from memwise_assets.defs.figures import StepFigures
from memwise_assets.report import plots
from memwise_assets.report.collect import (
    ReportData,
    ReportError,
    RunFigures,
    StepRecord,
    collect,
)
from memwise_assets.report.page import DEFAULT_WEBSERVER_URL, render
from memwise_assets.report.quality import EstimateQuality, quality_by_asset

__all__ = [
    "EstimateQuality",
    "ReportData",
    "ReportError",
    "RunFigures",
    "StepFigures",
    "StepRecord",
    "build_report",
    "collect",
]

_log = logging.getLogger(__name__)
REPORT_FILE = "index.html"
REPORT_TAG = "memwise/memory_report"


def build_report(
    instance: dg.DagsterInstance,
    out_dir: str | os.PathLike[str],
    limit: int = 20,
    memwise_dir: str | os.PathLike[str] | None = None,
    webserver_url: str = DEFAULT_WEBSERVER_URL,
) -> Path:
    """Write the report (HTML plus PNG figures) into `out_dir`; return the HTML path.

    `limit` bounds the materializations per asset and the runs shown; `memwise_dir` is
    where the ledger lives (default: the instance's home/memwise); run ids link to their
    pages under `webserver_url`, the Dagster UI.
    """
    data = collect(instance, limit=limit, memwise_dir=Path(memwise_dir) if memwise_dir else None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    latest = [steps[-1] for steps in data.assets.values()]
    figures = {
        "asset_memory": plots.asset_memory(data, out / "asset_memory.png"),
        "asset_time": plots.asset_time(data, out / "asset_time.png"),
        "estimate_quality": plots.estimate_quality(data, out / "estimate_quality.png"),
        "stages": plots.stages(latest, out / "stages.png"),
        "run_steps": plots.run_steps(data.runs, out / "run_steps.png"),
        "ledger": plots.ledger_runs(data.runs, data.ledger, out / "ledger.png"),
    }
    names = {name: path.name for name, path in figures.items()}
    page = render(data, latest, quality_by_asset(data.assets), names, webserver_url)
    html_path = out / REPORT_FILE
    tmp = html_path.with_name(f".{REPORT_FILE}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    # Readers (a browser left open on the page) see the old report or the new one.
    os.replace(tmp, html_path)
    # The run page in the UI shows tags: each reported run links to the report it is in.
    for run in data.runs:
        instance.add_run_tags(run.run_id, {REPORT_TAG: str(html_path)})
    _log.info("memory report of %d assets written to %s", len(data.assets), html_path)
    return html_path
