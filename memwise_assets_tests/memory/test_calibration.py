"""The calibrated estimator's math and the estimator replay (`memwise bench --case estimator`)."""

import numpy as np

from memwise_assets.bench import estimator as bench
from memwise_assets.memory.calibration import calibrated_estimate


def test_a_bound_holds_inside_the_sizes_seen_and_at_three_times_the_largest() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.uniform(10, 20, 20)
    history = [(float(s), float((50 + 4 * s) * rng.lognormal(0, 0.05))) for s in sizes]
    inside = calibrated_estimate(static_mb=900, input_mb=15, history=history)
    outside = calibrated_estimate(static_mb=900, input_mb=60, history=history)
    assert inside.estimator == outside.estimator == "calibrated"
    assert 110 * 1.02 < inside.mb < 110 * 1.4, "a tight bound around 50 + 4 x 15"
    assert 50 + 4 * 60 < outside.mb < (50 + 4 * 60) * 1.3, "a fixed base cost extrapolated"


def test_one_outlier_neither_inflates_other_sizes_nor_is_forgotten_for_its_own() -> None:
    history = [(float(s), 100.0 + s) for s in range(1, 20)] + [(10.0, 400.0)]
    near = calibrated_estimate(static_mb=900, input_mb=10, history=history)
    far = calibrated_estimate(static_mb=900, input_mb=19, history=history)
    assert near.mb >= 400, "never below the largest peak seen for a similar size"
    assert far.mb < 160, "the robust spread ignores the outlier elsewhere"


def test_the_recorded_histories_cover_the_four_domains() -> None:
    import json

    recorded = json.loads(bench.RECORDED.read_text())
    assert set(recorded) == {"prices", "weekly", "labels", "filings"}
    assert all(len(points) >= 10 for points in recorded.values())


def test_estimator_bench_replays_200_histories_and_memwise_beats_both_peers() -> None:
    series = bench.histories(quick=False)
    assert len(series) >= 200
    quick = bench.histories(quick=True)
    figures = {name: bench.replay(quick, fn) for name, fn in bench.ESTIMATORS.items()}
    assert figures["memwise"]["slack_percent"] < figures["static"]["slack_percent"]
    assert figures["memwise"]["slack_percent"] < figures["vpa-p90+15%"]["slack_percent"]
    assert figures["memwise"]["under_percent"] <= figures["vpa-p90+15%"]["under_percent"]
    rows = bench.run(None, quick=True)
    assert [row.impl for row in rows] == ["static", "vpa-p90+15%", "memwise"]
    assert all("slack" in row.note and "under" in row.note for row in rows)
