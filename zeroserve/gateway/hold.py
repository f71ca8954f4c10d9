"""Holding requests for a revision that has no ready instance yet (the activator's buffering).

Until the activator (issue 5) takes this over with capacity accounting and an immediate poke to
the autoscaler, the gateway parks such a request here and routes it the moment an instance of the
revision becomes ready: a revision coming back from ``reserve`` or a fresh instance after a crash
costs a wait, never a 503. The number held per revision is bounded (Knative's breaker queue depth,
10,000): beyond it, and after ``timeout`` seconds, the caller answers 503 at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

DEFAULT_QUEUE_DEPTH = 10_000
DEFAULT_TIMEOUT = 300.0


class Holder:
    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, queue_depth: int = DEFAULT_QUEUE_DEPTH) -> None:
        self.timeout = timeout
        self.queue_depth = queue_depth
        self._waiting: defaultdict[tuple[str, str], set[asyncio.Future[None]]] = defaultdict(set)

    def held(self, namespace: str, revision: str) -> int:
        return len(self._waiting.get((namespace, revision), ()))

    def ready(self, namespace: str, revision: str) -> None:
        """The revision has a ready instance now: release everything held for it."""
        for waiter in self._waiting.pop((namespace, revision), ()):
            if not waiter.done():
                waiter.set_result(None)

    async def hold(self, namespace: str, revision: str) -> bool:
        """Wait until :meth:`ready` for this revision; False when full or timed out."""
        key = (namespace, revision)
        if len(self._waiting[key]) >= self.queue_depth:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[key].add(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                await waiter
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiting[key]
