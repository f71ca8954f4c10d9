"""The ApiServerSources' adapter: a store watch per source, its changes sent as CloudEvents to the sink
(Knative's receive adapter, ``pkg/adapter/apiserver``, as a task of ``zeroserve up``).

:class:`ApiServerSourceAdapters` lists and watches the ApiServerSources and keeps one
:class:`SourceAdapter` per source that has a ``status.sinkUri`` (the reconciler resolves it). Each
watches the store for its ``resources`` and turns every change into events
(:mod:`~zeroserve.eventing.apiserverevents`), sent one at a time, in resourceVersion order, in binary
mode to the sink through the same :class:`~zeroserve.eventing.dispatch.Sender` and
:mod:`~zeroserve.eventing.retry` rules as the Brokers' deliveries, with the adapter's retry policy
(``ContextWithRetriesExponentialBackoff(50ms, 5)``: 5 retries, 50 ms doubling). An event still failing
is logged and dropped, as Knative's adapter drops it.

**Restarts resume; they neither re-list nor lose.** Knative's adapter lists when it starts and after
a watch expires, and its store ignores that list (``resourceDelegate.Replace`` is a no-op): no
``add`` for the objects already there, and whatever changed while it was down is lost. Here each
source keeps a cursor, the resourceVersion of the last change it handled, durable in
``DATA/apiserversources.json``; after a restart (or a sink that did not resolve for a while) the
watch resumes from it, so every change made meanwhile is sent once, in order, with the verb it had.
A new source starts at its own creation: changes from then on are sent even if the adapter sees the
source late. A stop (``zeroserve up`` ending, the source changing what it watches) lets the change
being sent finish first, so a clean stop duplicates nothing. Two limits: the cursor is written after
the event is sent, so a crash between the two sends that one event again (at least once; a change
that sent nothing is written lazily, and seen again after a crash, sends nothing again); and the
store keeps its latest 10,000 changes, so a cursor older than that (the watch answers Gone) resumes
from now, with a warning that changes were missed — the one case where Knative's behaviour comes
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from zeroserve.api.base import Obj
from zeroserve.api.kinds import APISERVERSOURCE, Kind
from zeroserve.errors import Gone
from zeroserve.eventing import encoding
from zeroserve.eventing.apiserverevents import SourceConfig, events_for, source_config
from zeroserve.eventing.dispatch import Sender
from zeroserve.eventing.retry import RetryPolicy, is_success, next_delay
from zeroserve.store.base import Store, WatchEvent

log = logging.getLogger("zeroserve.eventing.apiserversource")

STATE_FILE: Final = "apiserversources.json"
ADAPTER_POLICY: Final = RetryPolicy(retry=5, backoff_policy="exponential", backoff_delay=0.05)
SAVE_EVERY: Final = 1000
STOP_GRACE: Final = 5.0
"""How long a stopping adapter lets the change it is sending finish (sends, retries, cursor write)."""
"""A cursor moved by changes that sent nothing is written at least once per this many resourceVersions."""


class Cursors:
    """Per source uid, the resourceVersion of the last change handled; a JSON file replaced
    atomically (written off the event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            self._values = {str(k): v for k, v in data.items() if isinstance(v, int)}

    def get(self, uid: str) -> int | None:
        return self._values.get(uid)

    async def save(self, uid: str, rv: int | None) -> None:
        async with self._lock:
            if rv is None:
                self._values.pop(uid, None)
            else:
                self._values[uid] = rv
            await asyncio.to_thread(self._write, json.dumps(self._values, sort_keys=True))

    def _write(self, text: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


class SourceAdapter:
    """One source: watch from its cursor, send each change's events, move the cursor."""

    def __init__(self, adapters: ApiServerSourceAdapters, cfg: SourceConfig, start: int) -> None:
        self.a = adapters
        self.cfg = cfg
        self.cursor = self._saved = start
        self._sink = asyncio.Event()
        self._handling: asyncio.Future[None] | None = None
        self.update(cfg)
        self._task = asyncio.create_task(self._run(), name=f"apiserversource {cfg.namespace}/{cfg.name}")

    def update(self, cfg: SourceConfig) -> None:
        self.cfg = cfg
        if cfg.sink:
            self._sink.set()
        else:
            self._sink.clear()

    async def stop(self) -> None:
        """Stop watching; a change being sent is finished first (up to :data:`STOP_GRACE`), so a clean
        stop leaves the cursor past everything the sink got and a restart sends none of it again."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        handling = self._handling
        if handling is not None and not handling.done():
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(handling, STOP_GRACE)

    async def _run(self) -> None:
        kinds = self.cfg.kinds
        if not kinds:
            return
        while True:
            try:
                async for change in self.a.store.watch(kinds, since=self.cursor):
                    await self._sink.wait()
                    self._handling = asyncio.ensure_future(self._handle(change))
                    await asyncio.shield(self._handling)
            except Gone:
                _, now = await self.a.store.list(kinds[0])
                log.warning(
                    "apiserversource %s/%s: changes after resourceVersion %d are no longer kept; "
                    "resuming from %d (the changes in between are not sent)",
                    self.cfg.namespace,
                    self.cfg.name,
                    self.cursor,
                    now,
                )
                self.cursor = now
                await self.a.cursors.save(self.cfg.uid, now)

    async def _handle(self, change: WatchEvent) -> None:
        cfg = self.cfg
        now = datetime.fromtimestamp(self.a.wall(), UTC)
        events = events_for(cfg, change.kind, change.type, change.object, self.a.source_url, now)
        for event in events:
            await self._send(cfg, event)
        self.cursor = change.resource_version
        if events or self.cursor - self._saved >= SAVE_EVERY:
            self._saved = self.cursor
            await self.a.cursors.save(cfg.uid, self.cursor)

    async def _send(self, cfg: SourceConfig, event: Obj) -> None:
        headers, body = encoding.to_binary(event)
        attempt = 0
        while True:
            url = self.cfg.sink or cfg.sink or ""
            answer = await self.a.sender.post(url, headers, body, None)
            if is_success(answer.status):
                return
            delay = next_delay(ADAPTER_POLICY, attempt, answer.status, None, self.a.wall())
            if delay is None:
                log.warning(
                    "apiserversource %s/%s: failed to send cloudevent %s (%s) to %s: %s",
                    cfg.namespace,
                    cfg.name,
                    event["id"],
                    event["subject"],
                    url,
                    answer.status if answer.status is not None else answer.body.decode(errors="replace"),
                )
                return
            await self.a.sleep(delay)
            attempt += 1


class ApiServerSourceAdapters:
    """Every ApiServerSource's adapter, from the sources in the store (list, then watch)."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        source_url: str,
        data_dir: Path,
        kinds: tuple[Kind, ...],
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``kinds``: what a source may watch (the API's kinds); ``source_url``: the API server's URL."""
        self.store = store
        self.sender = sender
        self.source_url = source_url
        self.kinds = kinds
        self.wall = wall
        self.sleep = sleep
        self.cursors = Cursors(data_dir / STATE_FILE)
        self.adapters: dict[str, SourceAdapter] = {}
        self.listed = asyncio.Event()

    async def run(self) -> None:
        self.cursors.load()
        try:
            while True:
                items, rv = await self.store.list(APISERVERSOURCE)
                await self._resync(items)
                self.listed.set()
                try:
                    async for change in self.store.watch((APISERVERSOURCE,), since=rv):
                        if change.type == "DELETED":
                            await self._forget(change.object)
                        else:
                            await self._apply(change.object, change.resource_version)
                except Gone:
                    log.info("apiserversource feed: watch expired, listing again")
        finally:
            for adapter in list(self.adapters.values()):
                await adapter.stop()
            self.adapters.clear()

    async def _resync(self, items: list[Obj]) -> None:
        live = {str((o.get("metadata") or {}).get("uid")) for o in items}
        for uid in [u for u in self.adapters if u not in live]:
            await self.adapters.pop(uid).stop()
            await self.cursors.save(uid, None)
        for obj in items:
            await self._apply(obj, int((obj.get("metadata") or {}).get("resourceVersion") or 0))

    async def _apply(self, obj: Obj, rv: int) -> None:
        """A source as now stored; ``rv``: where a source never seen before starts."""
        uid = str((obj.get("metadata") or {}).get("uid", ""))
        cfg = source_config(obj, self.kinds)
        adapter = self.adapters.get(uid)
        if cfg is None:
            if adapter is not None:
                await self.adapters.pop(uid).stop()
            return
        if adapter is not None and adapter.cfg.watches == cfg.watches:
            adapter.update(cfg)
            return
        if adapter is not None:
            await self.adapters.pop(uid).stop()
        start = self.cursors.get(uid)
        if start is None:
            start = rv
            await self.cursors.save(uid, start)
        self.adapters[uid] = SourceAdapter(self, cfg, start)

    async def _forget(self, obj: Obj) -> None:
        uid = str((obj.get("metadata") or {}).get("uid", ""))
        adapter = self.adapters.pop(uid, None)
        if adapter is not None:
            await adapter.stop()
        await self.cursors.save(uid, None)
