"""True per-partition records, one memory point per step, checks inside the step's budget."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.defs.budgets import BUDGETS, budget_named
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.weekly.assets import weekly_features

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
TICKERS = {"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "MSFT", "JPM"]}}}}


def _backfill(instance, resources, first: str, last: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [daily_bars],
        instance=instance,
        resources=resources,
        run_config=TICKERS,
        tags={RANGE_START: first, RANGE_END: last},
    )


def test_a_20_month_backfill_records_each_partition_and_one_step_point(memwise_resources) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = _backfill(instance, memwise_resources, "2023-01", "2024-08")
    materializations = result.asset_materializations_for_node("daily_bars")
    assert len(materializations) == 20
    folder = memwise_resources["io_manager"].root / "daily_bars"
    assert sorted(p.stem for p in folder.glob("*.parquet")) == [
        m.partition for m in materializations
    ], "one file per month"
    for m in materializations:
        meta = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
        stored = pd.read_parquet(meta["memwise/path"])
        assert meta["memwise/path"] == str(folder / f"{m.partition}.parquet")
        assert meta["dagster/row_count"] == len(stored) > 0
        assert (stored["date"].dt.strftime("%Y-%m") == m.partition).all()
        assert meta["memwise/first_date"] == stored["date"].min().strftime("%Y-%m-%d")
        assert meta["memwise/last_date"] == stored["date"].max().strftime("%Y-%m-%d")
    # The step's figures are recorded once, on the step's last partition.
    carriers = [m for m in materializations if "memwise/peak_rss_mb" in m.metadata]
    assert [m.partition for m in carriers] == ["2024-08"]
    step = carriers[0].metadata
    assert step["memwise/step"].value == "daily_bars"
    assert step["memwise/partitions_written"].value == 20
    assert step["memwise/step_rows"].value == sum(
        m.metadata["dagster/row_count"].value for m in materializations
    )
    assert step["memwise/tickers_returned"].value == 3
    history = memwise_resources["memory"].history(instance, dg.AssetKey("daily_bars"))
    assert len(history) == 1, "a 20-partition backfill is one point of calibration history"


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b", "c", "d", "e"]))
def copied(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """What homes written before per-step figures hold: the step's figures on every partition."""
    size = float(context.run.tags["size"])
    # Only the events matter here (nothing is stored): one result's metadata on every partition.
    return dg.MaterializeResult(
        metadata={"memwise/input_mb": size, "memwise/rss_increase_mb": 10 * size}
    )


def test_history_counts_copied_points_once_per_run_and_step(memwise_resources) -> None:
    instance = dg.DagsterInstance.ephemeral()
    for size in (1.0, 2.0, 3.0):
        dg.materialize(
            [copied],
            instance=instance,
            tags={RANGE_START: "a", RANGE_END: "e", "size": str(size)},
        )
    assert len(instance.fetch_materializations(copied.key, limit=100).records) == 15
    history = memwise_resources["memory"].history(instance, copied.key)
    assert sorted(history) == [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)]


def test_asset_checks_run_while_the_step_holds_its_reservation(memwise_resources) -> None:
    instance = dg.DagsterInstance.ephemeral()
    _backfill(instance, memwise_resources, "2024-01", "2024-03")
    result = dg.materialize(
        [daily_bars, weekly_features],
        selection=["weekly_features"],
        instance=instance,
        resources=memwise_resources,
    )
    checks = [
        e
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.step_key == "weekly_features"
    ]
    assert checks, "weekly_features evaluates its checks"
    records = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    checked_at = [r.timestamp for r in records]
    ledger = memwise_resources["memory"].ledger.history()
    label = f"{result.run_id[:8]}:weekly_features"
    admitted = next(e["ts"] for e in ledger if e["label"] == label and e["event"] == "admit")
    released = next(e["ts"] for e in ledger if e["label"] == label and e["event"] == "release")
    assert admitted < min(checked_at) and max(checked_at) < released


@dg.asset
def unknown_budget(
    context: dg.AssetExecutionContext, memory: MemoryResource
) -> Iterator[dg.Output]:
    with memory.step(context, budget="nonesuch") as step:
        yield step.output(pd.DataFrame({"x": [1]}))


def test_budgets_are_one_table_and_an_unknown_budget_names_the_known_ones(
    memwise_resources,
) -> None:
    assert {"prices", "weekly", "labels", "filings", "filing_features", "edgar", "default"} == set(
        BUDGETS
    )
    assert budget_named("prices").static_estimate(10.0) == 140.0
    assert MemoryResource(limits_mb={"prices": 300}).limit_for("prices") == 300.0
    with pytest.raises(
        ValueError, match="expected one of default, edgar, filing_features, filings"
    ):
        MemoryResource(limits_mb={"pricse": 300})
    result = dg.materialize([unknown_budget], resources=memwise_resources, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    assert "unknown memory budget 'nonesuch'" in error.message + (error.cause.message or "")


def test_a_batch_that_fails_midway_leaves_every_previous_file(tmp_path) -> None:
    import pyarrow as pa

    from memwise_assets.defs.atomic_files import AtomicBatch, atomic_write_table

    paths = [tmp_path / f"2024-{m:02d}.parquet" for m in range(1, 11)]
    for path in paths:
        atomic_write_table(pa.table({"v": [0]}), path)
    with pytest.raises(RuntimeError, match="source died"):
        with AtomicBatch() as batch:
            for i, path in enumerate(paths):
                if i == 9:
                    raise RuntimeError("source died")
                batch.add(pa.table({"v": [i + 1]}), path)
    assert [pd.read_parquet(p)["v"].tolist() for p in paths] == [[0]] * 10
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    with AtomicBatch() as batch:
        for i, path in enumerate(paths):
            batch.add(pa.table({"v": [i + 1]}), path)
    assert [pd.read_parquet(p)["v"].tolist() for p in paths] == [[i + 1] for i in range(10)]


def test_after_close_schedule_refreshes_the_month_of_each_trading_day() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from memwise_assets.defs.prices.schedules import daily_prices_after_close

    def evaluate(day: str):
        when = dt.datetime.fromisoformat(f"{day}T18:30").replace(
            tzinfo=ZoneInfo("America/New_York")
        )
        context = dg.build_schedule_context(scheduled_execution_time=when)
        return daily_prices_after_close(context)

    request = evaluate("2024-03-15")
    assert (request.partition_key, request.run_key) == ("2024-03", "2024-03-15")
    assert isinstance(evaluate("2024-07-04"), dg.SkipReason), "Independence Day"
