"""Breakers: bound how many requests run at once and how many may wait (Knative ``pkg/queue/breaker.go``).

A :class:`Breaker` has ``max_concurrency + queue_depth`` slots in total. A request takes one of
them on arrival (or fails at once with :class:`QueueFull` when none is left), then waits for one
of ``capacity`` running slots; ``capacity`` may change at any time (the activator follows the
ready instances) and growing it wakes waiters. Waiters are served in arrival order: a released
slot goes straight to the oldest waiter, so ``reserve`` can never overtake one.

:class:`InfiniteBreaker` is the activator's breaker for ``containerConcurrency: 0``: its capacity
is 0 (no instance: everyone waits) or 1 (everyone passes), and it has no queue limit.

Single-threaded asyncio: no locks; every method runs on the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from zeroserve.errors import ZeroserveError

QUEUE_FULL_MESSAGE = "pending request queue full"


class QueueFull(ZeroserveError):
    """Every slot of a breaker (running and waiting) is taken (Knative ``ErrRequestQueueFull``)."""

    def __init__(self) -> None:
        super().__init__(QUEUE_FULL_MESSAGE)


class Breaker:
    """``max_concurrency`` running, ``queue_depth`` waiting, the rest rejected (see the module docstring)."""

    def __init__(self, queue_depth: int, max_concurrency: int, initial_capacity: int) -> None:
        if queue_depth <= 0:
            raise ValueError(f"queue depth must be greater than 0, was: {queue_depth}")
        if max_concurrency < 0:
            raise ValueError(f"max concurrency must be 0 or greater, was: {max_concurrency}")
        if not 0 <= initial_capacity <= max_concurrency:
            raise ValueError(f"initial capacity must be between 0 and max concurrency, was: {initial_capacity}")
        self.queue_depth = queue_depth
        self.max_concurrency = max_concurrency
        self._total_slots = queue_depth + max_concurrency
        self._capacity = initial_capacity
        self._taken = 0
        """Slots held: waiting plus running (Knative's ``inFlight``)."""
        self._running = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_flight(self) -> int:
        """Requests holding a slot, waiting or running (Knative ``Breaker.InFlight``)."""
        return self._taken

    @property
    def running(self) -> int:
        """Requests past the breaker (at most ``capacity``, unless it just shrank)."""
        return self._running

    @property
    def pending(self) -> int:
        """Requests waiting for capacity."""
        return self._taken - self._running

    def reserve(self) -> bool:
        """Take a running slot if one is free now; on True the caller must :meth:`release` it."""
        if self._taken >= self._total_slots or self._running >= self._capacity or self._waiters:
            return False
        self._taken += 1
        self._running += 1
        return True

    async def acquire(self) -> None:
        """Wait for a running slot; :class:`QueueFull` at once when every slot is taken.

        Cancellation-safe: a cancelled waiter gives its place back (or the slot it was just handed).
        """
        if self._taken >= self._total_slots:
            raise QueueFull
        self._taken += 1
        if self._running < self._capacity and not self._waiters:
            self._running += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                with contextlib.suppress(ValueError):  # already dropped by _wake
                    self._waiters.remove(waiter)
                self._taken -= 1
            raise

    def release(self) -> None:
        """Give back a running slot taken by :meth:`reserve` or :meth:`acquire`."""
        if self._running <= 0:
            raise RuntimeError("release and acquire are not paired")
        self._running -= 1
        self._taken -= 1
        self._wake()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with breaker.slot():`` acquire, run the body, release."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def update_concurrency(self, capacity: int) -> None:
        """Set how many may run at once; growing it hands slots to waiters."""
        if capacity < 0:
            raise ValueError(f"capacity must be 0 or greater, was: {capacity}")
        self._capacity = capacity
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._running < self._capacity:
            waiter = self._waiters.popleft()
            if waiter.done():  # cancelled, not yet removed by its task
                continue
            self._running += 1
            waiter.set_result(None)


class InfiniteBreaker:
    """Capacity 0 or 1, no queue limit: requests wait while there is no instance (Knative ``infiniteBreaker``).

    The event requests wait on is made by the first that waits (the activator holds a breaker for
    every revision, most of them never requested)."""

    def __init__(self) -> None:
        self._is_open = False
        self._opened: asyncio.Event | None = None
        self._in_flight = 0
        self._waiting = 0

    @property
    def capacity(self) -> int:
        return 1 if self._is_open else 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def pending(self) -> int:
        return self._waiting

    def reserve(self) -> bool:
        """True when capacity is 1 (then :meth:`release` it, as with :class:`Breaker`)."""
        if not self._is_open:
            return False
        self._in_flight += 1
        return True

    async def acquire(self) -> None:
        self._in_flight += 1
        if self._is_open:
            return
        self._waiting += 1
        try:
            if self._opened is None:
                self._opened = asyncio.Event()
            await self._opened.wait()  # through once opened, as Knative's waiters on its broadcast channel
        except BaseException:
            self._in_flight -= 1
            raise
        finally:
            self._waiting -= 1

    def release(self) -> None:
        if self._in_flight <= 0:
            raise RuntimeError("release and acquire are not paired")
        self._in_flight -= 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def update_concurrency(self, capacity: int) -> None:
        """Any capacity above 0 opens the breaker; 0 closes it."""
        if capacity < 0:
            raise ValueError(f"capacity must be 0 or greater, was: {capacity}")
        self._is_open = capacity > 0
        if self._opened is None:
            return
        if self._is_open:
            self._opened.set()
        else:
            self._opened.clear()
