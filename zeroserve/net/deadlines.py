"""Deadlines by the thousand for the price of a set insert each: a hierarchical timer wheel.

Every proxied request has a timeout (the revision's ``timeoutSeconds``, 300 s by default) that
nearly never fires. An event-loop timer per request (``call_later`` then ``cancel``) costs about
as much as the rest of the gateway's per-request Python work, so requests share timers instead:
a deadline goes into a bucket, one loop timer serves each bucket, and a request that ends leaves
its bucket (``set.discard``) without touching the loop.

Buckets come in levels: level ``k`` spans ``FINEST * FACTOR**k`` seconds (5 ms, 40 ms, 320 ms,
2.56 s, 20.5 s, ...). A deadline goes to the coarsest level whose span fits in the time left, in
the bucket that starts before it; when that bucket's timer fires, entries not due yet move to a
finer level. So a 300 s timeout lives in a 20 s bucket, then a 2.56 s one, and so on: a few
moves for the rare request that lasts, exact to ``FINEST`` (plus the loop's own timer
resolution), while the loop holds a handful of timers however many requests are in flight.
Timers are never cancelled: a bucket left empty is dropped when its timer fires.

Pure bookkeeping: the clock and the timers come from a :class:`Scheduler` (an asyncio loop is one).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import Protocol

FINEST = 0.005
"""Span of the finest buckets: how late a deadline may be noticed, in seconds."""
FACTOR = 8
LEVELS = 8
"""Levels 0..7: the coarsest spans FINEST * 8**7 (about 11.6 days)."""

_SPANS = tuple(FINEST * FACTOR**k for k in range(LEVELS))
_FIRING: set[Expiring] = set()
"""The bucket of entries whose bucket is being fired (stays empty: ``remove`` discards from it)."""


class Scheduler(Protocol):
    def time(self) -> float: ...
    def call_at(self, when: float, callback: Callable[..., object], *args: object) -> object: ...


class Expiring(Protocol):
    """What waits for a deadline: its ``due`` time, and what to do once it passed."""

    due: float
    bucket: set[Expiring] | None
    """Where it waits (set by :meth:`Deadlines.add`, cleared when it fires or is removed)."""

    def expired(self, now: float) -> None:
        """``due`` has passed. Re-add to keep waiting (e.g. for a new, later deadline)."""


class Deadlines:
    """The timer wheel (see the module docstring)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._buckets: dict[tuple[int, int], set[Expiring]] = {}
        self.time: Callable[[], float] = scheduler.time
        """The scheduler's clock (its own bound method: one call fewer per request)."""

    def __len__(self) -> int:
        """Entries waiting (for tests and metrics)."""
        return sum(len(bucket) for bucket in self._buckets.values())

    @property
    def timers(self) -> int:
        """Loop timers pending (one per bucket)."""
        return len(self._buckets)

    def add(self, item: Expiring, due: float, now: float | None = None) -> None:
        """Wait for ``due`` (replacing what ``item`` waited for); ``item.expired`` runs once it passed."""
        if item.bucket is not None:
            item.bucket.discard(item)
        item.due = due
        level = bisect_right(_SPANS, due - (self.time() if now is None else now)) - 1
        # Level 0 fires at or after the deadline; coarser ones before it (then the entry moves down).
        if level <= 0:
            level, span = 0, FINEST
            index = math.ceil(due / span)
        else:
            span = _SPANS[level]
            index = math.floor(due / span)
        key = (level, index)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = set()
            self._scheduler.call_at(index * span, self._fire, key)
        bucket.add(item)
        item.bucket = bucket

    @staticmethod
    def remove(item: Expiring) -> None:
        """Stop waiting (the request is over)."""
        if item.bucket is not None:
            item.bucket.discard(item)
            item.bucket = None

    def _fire(self, key: tuple[int, int]) -> None:
        bucket = self._buckets.pop(key, None)
        if not bucket:
            return
        now = self.time()
        for item in bucket:
            item.bucket = _FIRING
        for item in bucket:
            if item.bucket is not _FIRING:  # removed or re-added by an earlier item's callback
                continue
            item.bucket = None
            if item.due <= now:
                item.expired(now)
            else:
                self.add(item, item.due, now)
