"""The report's self-contained HTML page: inline CSS, images as files beside it, no script.

The only addresses in it are links to the Dagster UI's run pages (`webserver_url`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from memwise_assets.report.checks import CheckCounts, CheckResult, counts_by_asset
from memwise_assets.report.collect import ReportData, RunFigures, StepRecord
from memwise_assets.report.quality import EstimateQuality

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232b;
       margin: 0 auto; max-width: 1400px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; margin: 8px 0 4px; } h2 { font-size: 19px; margin-top: 32px;
     border-bottom: 2px solid #e4e8ee; padding-bottom: 4px; } h3 { font-size: 15px; }
p.meta { color: #5b6570; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 12px; }
div.wide { overflow-x: auto; }
th, td { border: 1px solid #d9dee5; padding: 3px 5px; text-align: right; white-space: nowrap; }
/* Headers wrap, so the widest table still fits the page beside its numbers. */
th { background: #f1f4f8; white-space: normal; vertical-align: bottom; max-width: 76px; }
td.name, th.name { text-align: left; }
tr.over td { background: #fde8e8; } .bad { color: #b42318; font-weight: 600; }
.ok { color: #16794c; } img { max-width: 100%; border: 1px solid #e4e8ee; margin: 6px 0; }
.figure-note { color: #5b6570; font-size: 13px; } details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
"""


def mb(value: float) -> str:
    """MB as the report prints them (one decimal, thousands separated)."""
    return "n/a" if not math.isfinite(value) else f"{value:,.1f}"


def count(value: int | None) -> str:
    """A count as the report prints it."""
    return "n/a" if value is None else f"{value:,}"


def seconds(value: float) -> str:
    """Seconds as the report prints them."""
    return f"{value:,.2f}"


def when(timestamp: float | None) -> str:
    """A UTC time stamp as the report prints it."""
    if timestamp is None:
        return "n/a"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], row_attrs: Sequence[str]) -> str:
    head = "".join(
        f'<th class="name">{escape(h)}</th>' if i == 0 else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for attrs, row in zip(row_attrs, rows, strict=True):
        cells = "".join(
            f'<td class="name">{cell}</td>' if i == 0 else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr{attrs}>{cells}</tr>")
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _within(step: StepRecord) -> str:
    return '<span class="ok">yes</span>' if step.within_limit else '<span class="bad">NO</span>'


DEFAULT_WEBSERVER_URL = "http://127.0.0.1:3000"
STEP_HEADER = (
    "asset", "run", "finished (UTC)", "rows", "partitions", "increase MB", "limit MB",
    "usage %", "within limit", "estimate MB", "estimator", "process peak RSS MB", "seconds",
    "input MB", "wait s", "cache files removed", "cache MB freed", "checks",
)  # fmt: skip
# The top table: what a user checks first, narrow enough for the page (the rest in history).
LATEST_HEADER = (
    "asset", "run", "rows", "partitions", "increase MB", "limit MB", "usage %", "within limit",
    "estimate MB", "estimator", "process peak RSS MB", "seconds", "checks",
)  # fmt: skip
# Shown only once some step recorded an enforced timeout.
TIMEOUT_HEADER = ("timeout s", "timeout basis")


@dataclass(frozen=True)
class Links:
    """How step rows link to the Dagster UI and find their runs' check results."""

    webserver_url: str
    checks: Mapping[str, Sequence[CheckResult]]
    timeouts: bool

    def run(self, run_id: str) -> str:
        url = f"{self.webserver_url.rstrip('/')}/runs/{run_id}"
        return f'<a href="{escape(url)}">{escape(run_id[:8])}</a>'

    def counts(self, step: StepRecord) -> CheckCounts:
        return counts_by_asset(self.checks.get(step.run_id, [])).get(step.asset, CheckCounts())


def _checks_cell(counts: CheckCounts) -> str:
    text = escape(str(counts))
    return f'<span class="bad">{text}</span>' if counts.failed else text


def _step_cells(step: StepRecord, links: Links) -> dict[str, str]:
    cells = {
        "asset": escape(step.asset),
        "run": links.run(step.run_id),
        "finished (UTC)": when(step.timestamp),
        "rows": count(step.rows),
        "partitions": count(step.partitions),
        "increase MB": mb(step.rss_increase_mb),
        "limit MB": mb(step.limit_mb),
        "usage %": f"{step.peak_usage_percent:,.1f}",
        "within limit": _within(step),
        "estimate MB": mb(step.estimate_mb),
        "estimator": escape(step.estimator),
        "process peak RSS MB": mb(step.peak_rss_mb),
        "seconds": seconds(step.seconds),
        "input MB": mb(step.input_mb),
        "wait s": seconds(step.admission_wait_s),
        "cache files removed": count(step.cache_files_removed),
        "cache MB freed": mb(step.cache_mb_freed),
        "checks": _checks_cell(links.counts(step)),
    }
    if links.timeouts:
        cells["timeout s"] = "n/a" if step.timeout_s is None else seconds(step.timeout_s)
        cells["timeout basis"] = escape(step.timeout_basis or "n/a")
    return cells


def _steps_table(
    steps: Sequence[StepRecord], id_prefix: str, links: Links, header: Sequence[str] = STEP_HEADER
) -> str:
    attrs = [
        f' id="{id_prefix}-{escape(s.asset)}"' + ("" if s.within_limit else ' class="over"')
        for s in steps
    ]
    columns = [*header, *(TIMEOUT_HEADER if links.timeouts else ())]
    rows = [[cells[c] for c in columns] for cells in (_step_cells(s, links) for s in steps)]
    return _table(columns, rows, attrs)


def _checks_table(run: RunFigures, links: Links) -> str:
    results = links.checks.get(run.run_id, [])
    if not results:
        return "<p>no asset checks ran</p>"
    return _table(
        ("asset", "check", "result", "severity", "partition", "detail"),
        [
            [escape(r.asset), escape(r.check),
             escape(r.outcome) if r.passed else f'<span class="bad">{escape(r.outcome)}</span>',
             escape(r.severity), escape(r.partition or ""), escape(r.detail)]
            for r in results
        ],
        [f' id="check-{escape(run.run_id[:8])}-{escape(r.asset)}-{escape(r.check)}"'
         for r in results],
    )  # fmt: skip


def _quality_section(rows: Sequence[EstimateQuality], image: str) -> str:
    overall = rows[-1]
    sentence = (
        f"Over {overall.steps:,} materializations of {len(rows) - 1} assets the estimates left a "
        f"median headroom of <b>{mb(overall.median_headroom_mb)} MB</b> (smallest "
        f"{mb(overall.min_headroom_mb)} MB) and under-estimated <b>{overall.under_estimated} "
        f"of {overall.steps}</b> times ({overall.under_share_percent:.1f} %)."
    )
    table = _table(
        ("asset", "steps", "under-estimated", "under-estimated %", "median headroom MB",
         "min headroom MB", "median actual / estimate"),
        [
            [escape(q.label), count(q.steps), count(q.under_estimated),
             f"{q.under_share_percent:.1f}", mb(q.median_headroom_mb), mb(q.min_headroom_mb),
             "n/a" if not math.isfinite(q.median_ratio) else f"{q.median_ratio:.3f}"]
            for q in rows
        ],
        [f' id="quality-{escape(q.label.replace(" ", "_"))}"' for q in rows],
    )  # fmt: skip
    return (
        '<h2 id="estimate-quality">Estimate quality</h2>'
        f'<p id="quality-summary">{sentence}</p>'
        '<p class="figure-note">Headroom = estimate that admitted the step minus the RSS the '
        "step really added above its start. Negative headroom means the step was admitted "
        "with less memory than it used.</p>"
        f'<img src="{escape(image)}" alt="estimate vs actual RSS increase">{table}'
    )


def _run_sentence(run: RunFigures) -> str:
    if not run.steps:
        return f"Run {escape(run.run_id[:8])} ({escape(run.status)}) materialized no memwise step."
    top = max(run.steps, key=lambda s: s.peak_rss_mb)
    rows = sum(s.rows or 0 for s in run.steps)
    return (
        f"Latest run <b>{escape(run.run_id[:8])}</b> ({escape(run.status)}, started "
        f"{when(run.start)} UTC): {len(run.steps)} step(s), {rows:,} rows, highest peak RSS "
        f"<b>{mb(top.peak_rss_mb)} MB</b> in {escape(top.asset)}, "
        f"{sum(1 for s in run.steps if s.within_limit)} of {len(run.steps)} within their limit."
    )


def _run_title(run: RunFigures, links: Links) -> str:
    results = links.checks.get(run.run_id, [])
    totals = CheckCounts(
        passed=sum(r.outcome == "passed" for r in results),
        failed=sum(r.outcome == "failed" for r in results),
        warned=sum(r.outcome == "warned" for r in results),
    )
    return (
        f"run {escape(run.run_id[:8])} · {escape(run.job_name)} · {escape(run.status)} · "
        f"{when(run.start)} → {when(run.end)} UTC · checks: {_checks_cell(totals)}"
    )


def _runs_section(data: ReportData, images: Mapping[str, str], links: Links) -> str:
    parts = ['<h2 id="runs">Runs</h2>']
    if data.runs:
        parts.append(f'<p id="latest-run">{_run_sentence(data.runs[-1])}</p>')
    parts.append(f'<img src="{escape(images["run_steps"])}" alt="steps\' peaks per run">')
    ledger_note = (
        f"Ledger: {len(data.ledger):,} admit/release events read from "
        f"{escape(str(data.ledger_path))}."
        if data.ledger
        else "No memory ledger history was found for this home (steps ran without the ledger, "
        "or it lives elsewhere)."
    )
    parts.append(f'<p class="figure-note" id="ledger-note">{ledger_note}</p>')
    parts.append(f'<img src="{escape(images["ledger"])}" alt="ledger admitted total over time">')
    for run in reversed(data.runs):
        prefix = f"run-{run.run_id[:8]}"
        steps = _steps_table(run.steps, prefix, links) if run.steps else "<p>no steps</p>"
        parts.append(
            f'<details id="{escape(prefix)}"><summary>{_run_title(run, links)}</summary>'
            f"<p>Open it in the Dagster UI: {links.run(run.run_id)}</p>"
            f"{steps}<h3>Asset checks</h3>{_checks_table(run, links)}</details>"
        )
    return "".join(parts)


def render(
    data: ReportData,
    latest: Sequence[StepRecord],
    quality_rows: Sequence[EstimateQuality],
    images: Mapping[str, str],
    webserver_url: str = DEFAULT_WEBSERVER_URL,
) -> str:
    """The whole page; `images` maps figure names to file names beside the page.

    Run ids link to `<webserver_url>/runs/<run id>`, the run's page in the Dagster UI.
    """
    steps = [s for history in data.assets.values() for s in history]
    links = Links(
        webserver_url=webserver_url,
        checks=data.checks,
        timeouts=any(s.timeout_s is not None for s in steps),
    )
    history = "".join(
        f"<details><summary>{escape(asset)}: {len(steps)} materialization(s)</summary>"
        f"{_steps_table(list(reversed(steps)), 'history', links)}</details>"
        for asset, steps in data.assets.items()
    )
    over = [s.asset for s in latest if not s.within_limit]
    status = (
        '<span class="ok">every asset\'s latest step stayed within its limit</span>'
        if not over
        else f'<span class="bad">over their limit: {escape(", ".join(over))}</span>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>memwise memory report</title>
<style>{CSS}</style></head>
<body>
<h1>memwise memory report</h1>
<p class="meta">Dagster home {escape(str(data.home))} · generated {when(time.time())} UTC ·
{len(data.assets)} assets · {len(data.runs)} runs · {status} · run links open
{escape(webserver_url)} (<code>memwise report --webserver-url</code>)</p>
<h2 id="latest">Latest materialization of each asset</h2>
<p class="figure-note">Increase = RSS the step added above its own start; the limit and the
estimate apply to it. Process peak RSS is the whole process at the step's peak. Checks: the
asset checks of that run (FAILED: an ERROR-severity check did not pass).</p>
{_steps_table(latest, "latest", links, LATEST_HEADER)}
{_quality_section(quality_rows, images["estimate_quality"])}
<h2 id="assets">Memory per asset over recent materializations</h2>
<p class="figure-note">Each step's increase against its estimate and its limit, on one axis;
the whole process's RSS is in the run figure below, on its own.</p>
<img src="{escape(images["asset_memory"])}" alt="memory per asset">
<img src="{escape(images["stages"])}" alt="memory by stage">
<img src="{escape(images["asset_time"])}" alt="seconds and input per asset">
{history}
{_runs_section(data, images, links)}
</body></html>
"""
