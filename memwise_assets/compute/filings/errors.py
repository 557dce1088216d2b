"""The one error bad filings raise, with a machine-readable reason."""

from __future__ import annotations

REASONS = (
    "unreadable",
    "empty",
    "binary",
    "truncated",
    "unknown-form",
    "no-items",
)


class FilingError(ValueError):
    """A filing that cannot be sectioned; `reason` is one of `REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"FilingError reason must be one of {REASONS}; got {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
