"""Graceful drain (Knative ``knative/pkg network/handlers/drain.go``).

Once :meth:`Drainer.drain` is called, probes must fail at once (the instance is going away)
while requests that still arrive are served; ``drain`` returns when ``quiet_period`` seconds
have passed since it started *and* since the last request (every request restarts the quiet
period). Knative waits 30 s because endpoint changes take that long to reach every proxy of a
cluster; locally the routing tables change synchronously, so about 1 s is enough.
"""

from __future__ import annotations

import asyncio


def quiet_deadline(drain_started: float, last_request: float, quiet_period: float) -> float:
    """When the drain may end: ``quiet_period`` after the later of its start and the last request (pure)."""
    return max(drain_started, last_request) + quiet_period


class Drainer:
    def __init__(self, quiet_period: float) -> None:
        self.quiet_period = quiet_period
        self.draining = False
        self._last_request = float("-inf")
        self._started = 0.0
        self._task: asyncio.Task[None] | None = None

    def touch(self, now: float) -> None:
        """A request arrived (restarts the quiet period of a drain in progress)."""
        self._last_request = now

    async def drain(self) -> None:
        """Start draining (idempotent) and wait for the quiet period to pass."""
        if self._task is None:
            self.draining = True
            self._started = asyncio.get_running_loop().time()
            self._task = asyncio.get_running_loop().create_task(self._quiet())
        await asyncio.shield(self._task)

    async def _quiet(self) -> None:
        loop = asyncio.get_running_loop()
        while (left := quiet_deadline(self._started, self._last_request, self.quiet_period) - loop.time()) > 0:
            await asyncio.sleep(left)
