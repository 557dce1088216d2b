"""Asset checks of labelled frames: label values, weights finite and normalised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

VALID_LABELS = "labels_and_weights_valid"


def label_checks(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            VALID_LABELS,
            asset=asset,
            description="Labels in {-1, 0, 1}; non-events (is_event_ False) hold label 0 and "
            "weight 0; weights finite, non-negative and summing to the event count of each "
            "segment.",
        )
    ]


LABEL_CHECKS = label_checks("weighted_labels")


def label_check_results(
    labelled: pd.DataFrame, config: Any, asset: str
) -> Iterator[dg.AssetCheckResult]:
    """One result covering every mode of the labelled frame."""
    yield label_check_result(label_problems(labelled, config), asset)


def label_check_result(problems: list[str], asset: str) -> dg.AssetCheckResult:
    """The check's result from the problems found (in one frame, or in every block)."""
    return dg.AssetCheckResult(
        check_name=VALID_LABELS,
        asset_key=asset,
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none"},
    )


def label_problems(labelled: pd.DataFrame, config: Any) -> list[str]:
    """What is wrong with a labelled frame (segments are whole within it), per mode."""
    problems: list[str] = []
    segment = ["symbol", "contract"] if "contract" in labelled.columns else ["symbol"]
    for mode in config.modes:
        labels = labelled[f"label_{mode.name}"].to_numpy()
        weights = labelled[f"weight_{mode.name}"].to_numpy(dtype=np.float64)
        if not np.isin(labels, (-1, 0, 1)).all():
            problems.append(f"{mode.name}: labels outside -1/0/1")
        if not (np.isfinite(weights).all() and (weights >= 0).all()):
            problems.append(f"{mode.name}: weights not finite and non-negative")
            continue
        if getattr(config, "decay", 1.0) != 1.0:
            continue  # time decay scales weights down on purpose: no sum to compare with
        events = labelled[f"is_event_{mode.name}"].to_numpy()
        if (labels[~events] != 0).any() or (weights[~events] != 0).any():
            problems.append(f"{mode.name}: non-events with a label or a weight")
        per_segment = (
            pd.DataFrame({"w": weights, "event": events, **{k: labelled[k] for k in segment}})
            .groupby(segment, observed=True)
            .agg(w=("w", "sum"), n=("event", "sum"))
        )
        off = per_segment[~np.isclose(per_segment["w"], per_segment["n"], rtol=1e-4, atol=1e-3)]
        if len(off):
            problems.append(
                f"{mode.name}: weights do not sum to event count in {len(off)} segments"
            )
    return problems
