"""A keyed, de-duplicating work queue with delayed and rate-limited re-adds (client-go's workqueue).

* A key added while queued is processed once (``dirty`` set).
* A key added while being processed is queued again when :meth:`WorkQueue.done` is called, so no
  change is missed and no key is processed by two workers at once.
* :meth:`WorkQueue.add_after` re-adds a key later (the earliest pending deadline wins);
  :meth:`WorkQueue.reschedule` replaces the pending one (a reconcile's own requeue, or none);
  :meth:`WorkQueue.add_rate_limited` uses per-key exponential backoff, 5 ms doubling up to 1000 s
  (client-go's ``DefaultItemBasedRateLimiter``), reset by :meth:`WorkQueue.forget`.

Time is the event loop's (``loop.call_at``), so tests can drive it with a fake loop clock.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

BASE_DELAY = 0.005
MAX_DELAY = 1000.0


class ShutDown(Exception):
    """The queue is shut down: workers should return."""


@dataclass
class Backoff(Generic[K]):
    """Per-key exponential backoff (pure): ``base * 2**failures``, capped at ``max``."""

    base: float = BASE_DELAY
    max: float = MAX_DELAY
    failures: dict[K, int] = field(default_factory=dict)

    def when(self, key: K) -> float:
        n = self.failures.get(key, 0)
        self.failures[key] = n + 1
        if n > 64:  # 2**n would overflow a float long after the cap applies
            return self.max
        return float(min(self.base * 2**n, self.max))

    def forget(self, key: K) -> None:
        self.failures.pop(key, None)

    def retries(self, key: K) -> int:
        return self.failures.get(key, 0)


class WorkQueue(Generic[K]):
    def __init__(self, backoff: Backoff[K] | None = None) -> None:
        self.backoff: Backoff[K] = backoff or Backoff()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._ready = asyncio.Event()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutdown

    def add(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._ready.set()

    def busy(self, key: K) -> bool:
        """Queued or being processed (a pending :meth:`add_after` is neither)."""
        return key in self._dirty or key in self._processing

    def add_after(self, key: K, delay: float) -> None:
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        at = loop.time() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= at:
                return
            pending[1].cancel()
        self._waiting[key] = (at, loop.call_at(at, self._fire, key))

    def reschedule(self, key: K, delay: float | None) -> None:
        """Re-add ``key`` after ``delay`` (None: not at all) in place of any pending re-add: what a
        reconcile that just succeeded asks for. Its level-triggered result supersedes the earlier
        ones (a retry's backoff, a deadline it no longer waits for), whose timers would only run a
        reconcile with nothing to do (each revision's progress deadline, 10 minutes after it was
        created) and hold a timer per object meanwhile."""
        pending = self._waiting.pop(key, None)
        if pending is not None:
            pending[1].cancel()
        if delay is not None:
            self.add_after(key, delay)

    def waiting(self, key: K) -> float | None:
        """The loop time at which a delayed ``key`` will be added, if any."""
        pending = self._waiting.get(key)
        return pending[0] if pending else None

    def _fire(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: K) -> None:
        self.add_after(key, self.backoff.when(key))

    def forget(self, key: K) -> None:
        self.backoff.forget(key)

    async def get(self) -> K:
        """The next key (marked processing until :meth:`done`); raises ShutDown once shut down."""
        while not self._queue:
            if self._shutdown:
                raise ShutDown
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shutdown:
            self._queue.append(key)
            self._ready.set()

    def shutdown(self) -> None:
        self._shutdown = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._queue.clear()
        self._dirty.clear()
        self._ready.set()
