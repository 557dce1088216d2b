"""The one retry policy of the online sources, and the process's one Yahoo bucket."""

from __future__ import annotations

import pytest

from memwise_assets.compute.company import YFinanceCompanySource
from memwise_assets.compute.http.pacing import (
    RetriesExhausted,
    RetryPolicy,
    yahoo_limiter,
)
from memwise_assets.compute.prices import YFinancePriceSource
from memwise_assets_tests.builders.clock import FakeClock


class Flaky:
    """Fails with the queued errors, then returns the attempt number."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.attempts: list[int] = []

    def __call__(self, attempt: int) -> int:
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return attempt


def test_exponential_backoff_on_a_fake_clock() -> None:
    clock = FakeClock()
    policy = RetryPolicy(retries=4, base_s=2.0, cap_s=10.0)
    fn = Flaky(TimeoutError("slow"), TimeoutError("slow"), TimeoutError("slow"))
    assert policy.call(fn, retry_on=lambda e: True, sleep=clock.sleep) == 3
    assert clock.sleeps == [2.0, 4.0, 8.0] and clock.now == 14.0
    assert policy.delays() == [2.0, 4.0, 8.0, 10.0]  # capped


def test_exhausted_and_non_retryable_errors() -> None:
    clock = FakeClock()
    policy = RetryPolicy(retries=2, base_s=60.0, factor=1.0)
    with pytest.raises(RetriesExhausted, match="after 3 attempt") as info:
        policy.call(
            Flaky(*[ConnectionError("down")] * 5), retry_on=lambda e: True, sleep=clock.sleep
        )
    assert isinstance(info.value.error, ConnectionError) and clock.sleeps == [60.0, 60.0]
    fn = Flaky(ConnectionError("down"), ValueError("bad symbol"))
    with pytest.raises(ValueError, match="bad symbol"):
        policy.call(fn, retry_on=lambda e: isinstance(e, ConnectionError), sleep=clock.sleep)
    assert fn.attempts == [0, 1]
    with pytest.raises(ValueError, match="retries >= 0"):
        RetryPolicy(retries=-1)


def test_yahoo_sources_share_one_bucket_per_process() -> None:
    a, b = YFinancePriceSource(), YFinancePriceSource(batch_size=5)
    company = YFinanceCompanySource(threads=2)
    assert a.limiter is b.limiter is company.limiter is yahoo_limiter()
    clock = FakeClock()
    own = YFinancePriceSource(clock=clock, sleep=clock.sleep)
    assert own.limiter is not a.limiter  # a fake clock gets a bucket of its own
