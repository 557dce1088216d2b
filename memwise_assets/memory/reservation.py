"""What the ledger hands out and raises: a `Reservation`, and why one was not given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType


class AdmissionTimeout(TimeoutError):
    """The memory a request asked for did not become free within its timeout."""


class OversizeRequest(ValueError):
    """A request larger than the whole pool: waiting could never admit it."""


@dataclass
class Reservation:
    """Memory admitted to one holder; release it (or leave the `with` block) when done."""

    id: str
    mb: float
    label: str
    pid: int
    since: float
    waited_s: float
    _give_back: Callable[[Reservation], None] = field(repr=False)
    released: bool = False

    def release(self) -> None:
        """Give the memory back to the pool (idempotent)."""
        if not self.released:
            self._give_back(self)
            self.released = True

    def __enter__(self) -> Reservation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
