"""The eventing data plane of ``zeroserve up``: the durable log, the dispatcher and its feed, the PingSource
adapter (:mod:`zeroserve.eventing.ping`), the
metrics — one async context manager, so the composition root adds a few lines.

``plane.log`` is the :class:`~zeroserve.eventing.base.EventLog` the Broker ingress appends to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from zeroserve.api.kinds import BROKER, PINGSOURCE, TRIGGER
from zeroserve.config import EventingConfig
from zeroserve.eventing.dispatch import Dispatcher, Sender, TriggerFeed
from zeroserve.eventing.log import SqliteEventLog
from zeroserve.eventing.metrics import EventingMetrics
from zeroserve.eventing.ping import DB_NAME as PING_DB_NAME
from zeroserve.eventing.ping import PingRunner, TickStore
from zeroserve.store.base import Store

DB_NAME = "eventing.db"


class EventingPlane:
    def __init__(
        self,
        data_dir: Path,
        store: Store,
        internal: tuple[str, int] | None,
        config: Callable[[], EventingConfig] = EventingConfig,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.metrics = EventingMetrics(registry) if registry is not None else None
        self.log = SqliteEventLog(data_dir / DB_NAME, config, metrics=self.metrics)
        self.dispatcher = Dispatcher(self.log, Sender(internal), config, self.metrics)
        self.feed = TriggerFeed(store, self.dispatcher, BROKER, TRIGGER)
        self._ticks = TickStore(data_dir / PING_DB_NAME)
        self.ping = PingRunner(store, PINGSOURCE, self.dispatcher.sender, self._ticks)
        self._task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventingPlane:
        await self.log.open()
        self._task = asyncio.create_task(self.feed.run(), name="eventing-feed")
        self._ping_task = asyncio.create_task(self.ping.run(), name="pingsource-adapter")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for task in (self._ping_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.dispatcher.close()
        await self.log.close()
        self._ticks.close()
