"""The event recorder: Kubernetes Events about objects, written to the store (client-go ``record``).

Reconcilers call :meth:`Recorder.event` as Knative's call ``recorder.Eventf``: it never blocks and
never fails. The event is built and correlated at once (:mod:`zeroserve.controller.correlator`:
repeats counted, similar ones combined, spam dropped), then queued; :meth:`EventRecorder.run`
writes the queue to the store on its own task (a create, or the repeat's count, lastTimestamp and
message on the event written before) and, every :data:`SWEEP_EVERY` seconds, deletes the events last
seen more than ``ttl`` ago (kube-apiserver's ``--event-ttl``, one hour): those it wrote itself,
which it remembers by when they were last seen, and once every ``ttl`` (and at start) every stored
event (written by an API client, or before a restart), so an idle minute reads no event at all. The queue holds at most
``queue_size`` events (client-go's ``maxQueuedEvents``); past that, events are dropped with a log
line, as the broadcaster drops them. A write the store refuses is dropped too (client-go retries
only transport errors, and the store has none).

What an event holds of its object is its reference (kind, apiVersion, namespace, name, uid,
resourceVersion) and the message its caller wrote: messages name objects and say what failed,
and no error of ours carries a Secret value.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Final, Protocol

from zeroserve.api.base import Obj
from zeroserve.api.kinds import EVENT
from zeroserve.clock import Clock
from zeroserve.controller import correlator
from zeroserve.errors import AlreadyExists, ApiError, NotFound
from zeroserve.store.base import Store

log = logging.getLogger(__name__)

QUEUE_SIZE: Final = 1000
"""client-go's ``maxQueuedEvents``."""
SWEEP_EVERY: Final = 60.0
"""Seconds between two retention sweeps."""
DROPS_LOGGED_EVERY: Final = 5.0
"""Seconds between two lines about events dropped from a full queue: the first drop is logged at once,
the ones after it counted in a line at most this often (klog, which client-go logs each drop to, writes
its buffer every 5 s; a line each, here, is a write each: 1,000 Services created at once dropped
~3,600)."""


class Recorder(Protocol):
    """What a reconciler records events with (knative.dev/pkg's ``controller.GetEventRecorder``)."""

    def event(self, source: str, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record that ``reason``/``message`` happened to ``obj`` (a stored object), as ``source``
        (the controller's agent name) saw it; ``type_`` is ``Normal`` or ``Warning``."""


class NullRecorder:
    """Records nothing."""

    def event(self, source: str, obj: Obj, type_: str, reason: str, message: str) -> None:
        return None


class EventRecorder:
    """Events to ``store``: :meth:`event` queues, :meth:`run` (or :meth:`flush`) writes."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ttl: float = correlator.TTL,
        queue_size: int = QUEUE_SIZE,
        sweep_every: float = SWEEP_EVERY,
        events: correlator.EventCorrelator | None = None,
        sweeps: bool = True,
    ) -> None:
        """``sweeps``: False where the API server deletes expired events itself (kube-apiserver's
        ``--event-ttl``): then the recorder only writes."""
        self._store = store
        self._sweeps = sweeps
        self._clock = clock
        self.ttl = ttl
        self._queue_size = queue_size
        self._sweep_every = sweep_every
        self._correlator = events or correlator.EventCorrelator()
        self._queue: collections.deque[correlator.Correlated] = collections.deque()
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()
        self._written: dict[tuple[str, str], float] = {}
        """When each event this recorder wrote was last seen (Unix seconds), by namespace and name."""
        self._next_full: float | None = None
        """When the next sweep reads every stored event (Unix seconds; None: the first one does)."""
        self.dropped = 0
        """Events dropped because the queue was full."""
        self._unlogged = 0
        """Of those, the ones no log line has counted yet."""
        self._drops_logged_at: float | None = None
        """When the last line about drops was logged (Unix seconds)."""

    def event(self, source: str, obj: Obj, type_: str, reason: str, message: str) -> None:
        now = self._clock.wall()
        ref = correlator.reference(obj)
        made = correlator.make_event(ref, source, type_, reason, message, now, self._correlator.unix_nano(now))
        found = self._correlator.correlate(made, now)
        if found is None:
            log.debug("event %s %s on %s/%s filtered as spam", type_, reason, ref.get("kind"), ref.get("name"))
            return
        if len(self._queue) >= self._queue_size:
            self.dropped += 1
            self._unlogged += 1
            at = self._drops_logged_at
            if at is None or now.timestamp() - at >= DROPS_LOGGED_EVERY:
                self._log_drops(now.timestamp(), f"the last: {type_} {reason} on {ref.get('name')}")
            return
        self._queue.append(found)
        self._wake.set()

    def _log_drops(self, now: float, last: str) -> None:
        log.warning("event queue full (%d): dropped %d events (%s)", self._queue_size, self._unlogged, last)
        self._unlogged, self._drops_logged_at = 0, now

    async def flush(self) -> None:
        """Write every queued event (in order) now; then count the drops no line has counted yet."""
        async with self._writing:
            while self._queue:
                await self._write(self._queue.popleft())
        if self._unlogged:
            self._log_drops(self._clock.wall().timestamp(), "the queue has room again")

    async def _write(self, item: correlator.Correlated) -> None:
        event = item.event
        try:
            stored = await self._update(event) if item.update else None
            if stored is None:
                stored = await self._store.create(EVENT, {**event, "metadata": dict(event["metadata"])})
        except AlreadyExists:
            return  # written under that name already (client-go: "Server rejected event (will not retry!)")
        except ApiError as err:
            log.warning("event %s on %s dropped: %s", event.get("reason"), event["involvedObject"].get("name"), err)
            return
        self._correlator.written(stored)
        self._remember(stored)

    def _remember(self, event: Obj) -> None:
        seen = correlator.last_seen(event)
        if seen is not None:
            meta = event["metadata"]
            self._written[(meta.get("namespace", ""), meta["name"])] = seen.timestamp()

    async def _update(self, event: Obj) -> Obj | None:
        """The repeat of an event written before: its count, lastTimestamp and message; None if it is
        gone (expired or deleted: it is written anew, as client-go creates it on NotFound)."""
        meta = event["metadata"]
        try:
            current = await self._store.get(EVENT, meta["namespace"], meta["name"])
        except NotFound:
            return None
        changes = {k: event[k] for k in ("count", "lastTimestamp", "message")}
        return await self._store.update(EVENT, {**current, **changes})

    async def sweep(self) -> int:
        """Delete the events past their retention; how many went. The first sweep and one every
        ``ttl`` read every stored event; the others only those this recorder wrote that are due."""
        now = self._clock.wall()
        if self._next_full is None or now.timestamp() >= self._next_full:
            self._next_full = now.timestamp() + self.ttl
            events, _ = await self._store.list(EVENT)
            for event in events:
                self._remember(event)
        horizon = now.timestamp() - self.ttl
        gone = 0
        for key, seen in list(self._written.items()):
            if seen >= horizon:
                continue
            try:
                event = await self._store.get(EVENT, *key)
                if not correlator.expired(event, now, self.ttl):
                    self._remember(event)  # seen again since (a repeat written elsewhere)
                    continue
                await self._store.delete(EVENT, *key)
            except NotFound:
                self._written.pop(key, None)
                continue
            self._written.pop(key, None)
            gone += 1
        return gone

    async def run(self) -> None:
        """Write what is queued as it comes, and sweep expired events; until cancelled."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() if self._sweeps else float("inf")
        while True:
            if loop.time() >= next_sweep:
                swept = await self.sweep()
                if swept:
                    log.debug("%d events past their %gs retention deleted", swept, self.ttl)
                next_sweep = loop.time() + self._sweep_every
            try:
                async with asyncio.timeout(None if next_sweep == float("inf") else max(0.0, next_sweep - loop.time())):
                    await self._wake.wait()
            except TimeoutError:
                continue
            self._wake.clear()
            await self.flush()
