"""A hand-written clock for tests of pacing and retries (no real sleeping)."""


class FakeClock:
    """A manual clock whose `sleep` advances time: for deterministic pacing tests."""

    def __init__(self, start: float = 0.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of blocking."""
        self.sleeps.append(seconds)
        self.now += seconds
