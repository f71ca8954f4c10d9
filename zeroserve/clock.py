"""Time, injected: pure code takes ``now`` arguments; I/O code takes a Clock."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def wall(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: float = 1000.0, wall: datetime | None = None) -> None:
        self._now = start
        self._wall0 = wall or datetime(2026, 1, 1, tzinfo=UTC)
        self._start = start

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> datetime:
        from datetime import timedelta

        return self._wall0 + timedelta(seconds=self._now - self._start)

    def step(self, seconds: float) -> None:
        self._now += seconds


def rfc3339(dt: datetime) -> str:
    """Kubernetes' timestamp format: second precision, UTC, ``Z`` (formatted once per second: the
    controller stamps each condition and managed-fields entry it writes)."""
    return _second(math.floor(dt.timestamp()))


@lru_cache(maxsize=4)
def _second(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
