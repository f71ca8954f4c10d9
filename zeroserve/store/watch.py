"""In-process fan-out of committed changes to watchers (Kubernetes' watch cache, much reduced).

The writer thread calls :meth:`Broadcaster.publish` through ``loop.call_soon_threadsafe`` right
after each commit, so every subscriber sees events in commit (= resourceVersion) order. A
subscriber that falls more than ``max_pending`` events behind is cut off: its next read raises
:class:`~zeroserve.errors.Gone` and the client re-lists, as a Kubernetes client does when its
watch is closed with 410.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from zeroserve.errors import Gone
from zeroserve.store.base import EventType

DEFAULT_MAX_PENDING = 100_000


@dataclass(frozen=True)
class Change:
    """One committed event as the store logged it (the kind is its storage key, ``plural.group``)."""

    rv: int
    type: EventType
    kind_key: str
    namespace: str
    name: str
    body: str
    """The object as JSON: every watcher parses its own copy, so nobody shares a mutable dict."""


class Subscription:
    """A watcher's mailbox: filtered changes, in rv order, waited on without polling."""

    def __init__(self, kind_keys: frozenset[str], namespace: str | None, max_pending: int) -> None:
        self.kind_keys = kind_keys
        self.namespace = namespace
        self._max_pending = max_pending
        self._pending: deque[Change] = deque()
        self._wakeup = asyncio.Event()
        self._overflowed = False
        self._closed = False

    def wants(self, change: Change) -> bool:
        return change.kind_key in self.kind_keys and (self.namespace is None or self.namespace == change.namespace)

    def offer(self, change: Change) -> None:
        if self._overflowed or not self.wants(change):
            return
        if len(self._pending) >= self._max_pending:
            self._overflowed = True
            self._pending.clear()
        else:
            self._pending.append(change)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def get(self) -> Change | None:
        """The next change, or None once the store is closed."""
        while not self._pending:
            if self._closed:
                return None
            if self._overflowed:
                raise Gone("watch channel overflowed: the watcher fell too far behind; re-list and watch again")
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._pending.popleft()


class Broadcaster:
    """The set of live subscriptions; :meth:`publish` must run on the event loop."""

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._subs: set[Subscription] = set()
        self._max_pending = max_pending

    def subscribe(self, kind_keys: Iterable[str], namespace: str | None) -> Subscription:
        sub = Subscription(frozenset(kind_keys), namespace, self._max_pending)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, changes: Iterable[Change]) -> None:
        for change in changes:
            for sub in self._subs:
                sub.offer(change)

    def close(self) -> None:
        for sub in self._subs:
            sub.close()
        self._subs.clear()

    def __len__(self) -> int:
        return len(self._subs)
