"""Asset check results of a run, read from the event log (the demo's summary and the report)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class CheckResult:
    """One asset check evaluation of one run."""

    asset: str
    check: str
    passed: bool
    severity: str  # "ERROR" or "WARN", as Dagster records it
    partition: str | None = None
    detail: str = ""  # the check's description and metadata, as one line

    @property
    def outcome(self) -> str:
        """passed, failed (an ERROR-severity check did not pass) or warned (a WARN one)."""
        if self.passed:
            return "passed"
        return "warned" if self.severity == "WARN" else "failed"


@dataclass(frozen=True)
class CheckCounts:
    """How one asset's checks came out in a run."""

    passed: int = 0
    failed: int = 0
    warned: int = 0

    def __str__(self) -> str:
        if not (self.passed or self.failed or self.warned):
            return "none"
        return f"{self.passed} ok" + "".join(
            f", {n} {word}" for n, word in ((self.failed, "FAILED"), (self.warned, "warned")) if n
        )


def _detail(evaluation: dg.AssetCheckEvaluation, width: int = 160) -> str:
    """What the check said about its result: description, then `key: value` metadata."""
    parts = [evaluation.description] if evaluation.description else []
    for key, entry in evaluation.metadata.items():
        value = getattr(entry, "value", entry)
        if isinstance(value, str | int | float | bool):
            parts.append(f"{key}: {value}")
    text = " ".join("; ".join(parts).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def run_checks(instance: dg.DagsterInstance, run_id: str) -> list[CheckResult]:
    """Every asset check evaluation the run recorded, in the order they happened."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    found = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        found.append(
            CheckResult(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                passed=bool(evaluation.passed),
                severity=evaluation.severity.value,
                partition=evaluation.partition,
                detail=_detail(evaluation),
            )
        )
    return found


def counts_by_asset(results: Iterable[CheckResult]) -> dict[str, CheckCounts]:
    """Passed / failed / warned counts per asset."""
    tally: dict[str, dict[str, int]] = {}
    for result in results:
        per_asset = tally.setdefault(result.asset, {"passed": 0, "failed": 0, "warned": 0})
        per_asset[result.outcome] += 1
    return {asset: CheckCounts(**counts) for asset, counts in tally.items()}


def failed(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The ERROR-severity checks that did not pass: the ones that fail the demo."""
    return [r for r in results if r.outcome == "failed"]
