"""The memory report built from a real instance: figures in the HTML, images on disk, rendering."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from memwise_assets.cli.commands import main
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.weekly.assets import weekly_features
from memwise_assets.memory.ledger import MemoryLedger
from memwise_assets.report import ReportError, StepFigures, StepRecord, build_report
from memwise_assets.report.page import LATEST_HEADER, STEP_HEADER, TIMEOUT_HEADER, count, mb
from memwise_assets.report.quality import quality

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# (first month, last month) of each daily_bars run: three runs give the report some history.
DAILY_RUNS = [
    ("2024-01", "2024-05"),
    ("2024-06", "2024-08"),
    ("2024-09", "2024-09"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Dagster home with three daily_bars runs and one weekly_features run through memwise."""
    home = tmp_path_factory.mktemp("report_home")
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        resources = {
            "memory": MemoryResource(home_dir=str(home / "memwise")),
            "io_manager": ParquetIOManager(base_dir=str(home / "memwise" / "data")),
        }
        with dg.DagsterInstance.from_config(str(home)) as instance:
            for first, last in DAILY_RUNS:
                dg.materialize(
                    [daily_bars],
                    instance=instance,
                    resources=resources,
                    tags={RANGE_START: first, RANGE_END: last},
                )
            dg.materialize(
                [daily_bars, weekly_features],
                selection=["weekly_features"],
                instance=instance,
                resources=resources,
            )
        yield home


@pytest.fixture(scope="module")
def cli_report(home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`memwise report --home --out` run in-process: (the folder it wrote, what it printed)."""
    out = tmp_path_factory.mktemp("report_out")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DAGSTER_HOME", raising=False)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["report", "--home", str(home), "--out", str(out)])
    assert code == 0
    return out, printed.getvalue()


def _row(page: str, row_id: str) -> dict[str, str]:
    header = LATEST_HEADER if row_id.startswith("latest-") else STEP_HEADER
    if "<th>timeout s</th>" in page:  # steps record their enforced timeout
        header = (*header, *TIMEOUT_HEADER)
    match = re.search(rf'<tr id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page)
    assert match, f"no row {row_id} in the report"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match[1])
    cells = [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells]
    return dict(zip(header, cells, strict=True))


def _latest(instance: dg.DagsterInstance, asset: str) -> tuple[StepFigures, int]:
    """The asset's latest step figures and the row count of its latest materialization."""
    record = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert record is not None
    meta = record.asset_materialization.metadata
    figures = StepFigures.from_metadata(meta)
    assert figures is not None
    return figures, int(meta["dagster/row_count"].value)


def test_cli_writes_html_and_every_image_it_references(cli_report: tuple[Path, str]) -> None:
    out, printed = cli_report
    assert str(out) in printed
    page = (out / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 6
    for source in sources:
        image = out / source
        assert image.parent == out, "images sit beside the page"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 5000
    # Self-contained: no script, nothing loaded from elsewhere; the only addresses are the
    # links to the runs' pages in the Dagster UI.
    assert "<script" not in page and "<link" not in page
    addresses = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
    assert addresses and all(a.startswith("http://127.0.0.1:3000/runs/") for a in addresses)


def test_every_run_links_to_its_dagster_run_page_and_shows_its_checks(
    home: Path, tmp_path: Path
) -> None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        page = build_report(
            instance, tmp_path / "out", webserver_url="http://dagster.example:8080/"
        ).read_text()
        run_ids = [r.dagster_run.run_id for r in instance.get_run_records()]
        evaluations = {
            run_id: instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
            for run_id in run_ids
        }
    for run_id in run_ids:
        block = page[page.index(f'<details id="run-{run_id[:8]}">') :]
        block = block[: block.index("</details>")]
        assert f'<a href="http://dagster.example:8080/runs/{run_id}">{run_id[:8]}</a>' in block
        for record in evaluations[run_id]:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            row_id = f"check-{run_id[:8]}-{evaluation.asset_key.to_user_string()}-"
            cells = re.search(rf'<tr id="{row_id}{evaluation.check_name}">(.*?)</tr>', block)
            assert cells, f"run {run_id[:8]} lacks check {evaluation.check_name}"
            shown = unescape(re.sub(r"<[^>]+>", "", cells[1].split("</td>")[2]))
            assert shown == ("passed" if evaluation.passed else "failed")
    daily = _row(page, "latest-daily_bars")
    assert daily["checks"] == f"{len(evaluations[run_ids[1]])} ok"  # the last daily_bars run
    # Every step records its enforced timeout: the columns show it.
    assert daily["timeout basis"] in {"static", "adaptive", "override"}
    assert float(daily["timeout s"].replace(",", "")) > 0


def test_report_states_the_latest_figures_of_each_asset(
    home: Path, cli_report: tuple[Path, str]
) -> None:
    page = (cli_report[0] / "index.html").read_text()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for asset in ("daily_bars", "weekly_features"):
            figures, rows = _latest(instance, asset)
            row = _row(page, f"latest-{asset}")
            assert row["process peak RSS MB"] == mb(figures.peak_rss_mb)
            assert row["increase MB"] == mb(figures.rss_increase_mb)
            assert row["estimate MB"] == mb(figures.estimate_mb)
            assert row["limit MB"] == mb(figures.limit_mb)
            assert row["rows"] == count(rows)
            # The top table leaves sizes and times to the history (newest row first).
            assert _row(page, f"history-{asset}")["input MB"] == mb(figures.input_mb)
            assert row["estimator"] == figures.estimator
        runs = instance.get_run_records(limit=1)
    # The last daily_bars run wrote one partition; the weekly run is the latest run.
    assert _row(page, "latest-daily_bars")["partitions"] == "1"
    stored = pd.read_parquet(home / "memwise" / "data" / "daily_bars" / "2024-09.parquet")
    assert _row(page, "latest-daily_bars")["rows"] == count(len(stored))
    assert f"Latest run <b>{runs[0].dagster_run.run_id[:8]}</b>" in page


def test_history_has_one_row_per_run_with_its_partitions(cli_report: tuple[Path, str]) -> None:
    page = (cli_report[0] / "index.html").read_text()
    block = page[page.index("daily_bars: 3 materialization(s)") :]
    block = block[: block.index("</details>")]
    rows = re.findall(r'<tr id="history-daily_bars"[^>]*>(.*?)</tr>', block)
    parts = [re.findall(r"<td[^>]*>(.*?)</td>", r)[STEP_HEADER.index("partitions")] for r in rows]
    assert parts == ["1", "3", "5"]  # newest first: Sep; Jun-Aug; Jan-May


def test_estimate_quality_is_stated_as_numbers(home: Path, cli_report: tuple[Path, str]) -> None:
    page = (cli_report[0] / "index.html").read_text()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        steps = {}
        for record in instance.fetch_materializations(dg.AssetKey("daily_bars"), limit=100).records:
            figures = StepFigures.from_metadata(record.asset_materialization.metadata)
            if figures is None:
                continue  # a partition of the step: the figures sit on its last one
            steps[record.run_id] = (figures.estimate_mb, figures.rss_increase_mb)
        weekly, _ = _latest(instance, "weekly_features")
    pairs = [*steps.values(), (weekly.estimate_mb, weekly.rss_increase_mb)]
    under = sum(actual > estimate for estimate, actual in pairs)
    assert f"under-estimated <b>{under} of {len(pairs)}</b> times" in page
    headroom = np.median([estimate - actual for estimate, actual in pairs])
    assert f"median headroom of <b>{mb(float(headroom))} MB</b>" in page
    row = re.search(r'<tr id="quality-daily_bars">(.*?)</tr>', page)[1]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[1:3] == [
        "3",
        str(sum(actual > estimate for estimate, actual in steps.values())),
    ]


def test_ledger_history_is_read(home: Path, cli_report: tuple[Path, str]) -> None:
    page = (cli_report[0] / "index.html").read_text()
    events = MemoryLedger(home / "memwise" / "ledger").history()
    assert len(events) == 8  # admit and release of four steps
    assert f"Ledger: {len(events):,} admit/release events" in page


def test_limit_bounds_materializations_and_a_missing_ledger_is_tolerated(
    home: Path, tmp_path: Path
) -> None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        page = build_report(instance, tmp_path / "one", limit=1, memwise_dir=tmp_path).read_text()
    assert "daily_bars: 1 materialization(s)" in page
    assert "· 1 runs ·" in page
    assert "No memory ledger history" in page
    assert (tmp_path / "one" / "ledger.png").stat().st_size > 0


def test_empty_instance_says_run_the_demo(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        with pytest.raises(ReportError, match="run `memwise demo` first"):
            build_report(instance, tmp_path / "out")
    assert main(["report", "--home", str(tmp_path / "absent")]) == 1


def test_quality_counts_under_estimates_and_headroom() -> None:
    def step(estimate: float, actual: float) -> StepRecord:
        return StepRecord(
            asset="a", run_id="r", step_key="a", timestamp=0.0, partitions=1, rows=1,
            peak_rss_mb=100.0 + actual, rss_increase_mb=actual, limit_mb=500.0,
            estimate_mb=estimate, estimator="static", input_mb=1.0, seconds=1.0,
            within_limit=True, peak_usage_percent=1.0, admission_wait_s=0.0,
            cache_files_removed=0, cache_mb_freed=0.0,
        )  # fmt: skip

    result = quality("a", [step(100, 40), step(50, 80), step(60, 60), step(float("nan"), 5)])
    assert (result.steps, result.under_estimated) == (3, 1)
    assert result.median_headroom_mb == 0.0 and result.min_headroom_mb == -30.0
    assert result.under_share_percent == pytest.approx(100 / 3)
    assert result.median_ratio == pytest.approx(1.0)


def test_chromium_renders_the_plots(cli_report: tuple[Path, str], tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("MEMWISE_ALLOW_NO_CHROMIUM") == "1":
            pytest.skip("chromium absent and MEMWISE_ALLOW_NO_CHROMIUM=1")
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) "
            "or set MEMWISE_ALLOW_NO_CHROMIUM=1 to skip the rendering check"
        )
    shot = tmp_path / "shot.png"
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1200,2000", (cli_report[0] / "index.html").as_uri(),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert pixels.shape == (2000, 1200, 3)
    non_white = float((pixels.min(axis=2) < 235).mean())
    # Tables and text are grey; the plots' blue, orange and green lines are saturated.
    # A page whose images fail to load measured ~0.03 % saturated pixels, with them ~0.4 %.
    saturated = float((pixels.max(axis=2) - pixels.min(axis=2) > 80).mean())
    assert non_white > 0.02, f"screenshot nearly blank: {non_white:.2%} non-white"
    assert saturated > 0.0015, f"plots not visible: {saturated:.3%} saturated pixels"


def test_each_reported_run_links_to_the_report(home: Path, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            page = build_report(instance, tmp_path / "linked")
            runs = instance.get_run_records()
            assert runs
            for record in runs:
                assert record.dagster_run.tags["memwise/memory_report"] == str(page)


def test_the_top_table_fits_a_1200_pixel_window(
    cli_report: tuple[Path, str], tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} absent (test_chromium_renders_the_plots says how to install it)")
    # A test-side copy of the page with a probe script; the report itself has none.
    probe = (
        "<script>const t = document.querySelector('#latest ~ div.wide');"
        "document.body.dataset.overflow = t.scrollWidth - t.clientWidth;"
        "window.addEventListener('load', () => {const i = [...document.images];"
        "document.body.dataset.decoded = i.filter(x => x.naturalWidth > 0).length + '/' +"
        " i.length;});</script></body>"
    )
    copy = tmp_path / "probe.html"
    # The copy lives elsewhere: a base address points its images at the report's folder.
    base = f'<head><base href="{cli_report[0].as_uri()}/">'
    page = (cli_report[0] / "index.html").read_text()
    copy.write_text(page.replace("<head>", base, 1).replace("</body>", probe))
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,2000", "--virtual-time-budget=10000", "--dump-dom", copy.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r'<body data-overflow="(-?\d+)"', done.stdout)
    assert match, done.stderr[-2000:]
    assert int(match[1]) <= 0, f"the top table is cut by {match[1]} px at the right edge"
    # Every figure the page names was decoded by the browser, not only written to disk.
    decoded = re.search(r'data-decoded="(\d+)/(\d+)"', done.stdout)
    assert decoded and decoded[1] == decoded[2] == "6", done.stdout[:300]
    # The latest table lists assets upstream first (graph order), not by name.
    rows = re.findall(r'<tr id="latest-(\w+)"', done.stdout)
    assert rows == ["daily_bars", "weekly_features"]
