"""The controller's first list and the watch that follows it (knative.dev/pkg's informer: list, then
watch from the list's resourceVersion)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, REVISION, Kind
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.runner import Controller
from zeroserve.controller.workqueue import WorkQueue
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.base import WatchEvent
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import configuration


class WritesWhileListed:
    """A store where a Configuration is created while the Revisions are being listed, as a worker
    reconciling an object of the first list does while the later kinds are still listed."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.written = False

    async def list(self, kind: Kind, *args: Any, **kw: Any) -> tuple[list[Obj], int]:
        if kind is REVISION and not self.written:
            self.written = True
            await self.store.create(CONFIGURATION, configuration("default", "late"))
        return await self.store.list(kind, *args, **kw)

    def watch(self, *args: Any, **kw: Any) -> AsyncIterator[WatchEvent]:
        return self.store.watch(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_a_write_to_a_kind_listed_earlier_still_comes_as_an_event() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    try:
        controller = Controller(WritesWhileListed(store), FakeRuntime(), Config, clock=clock)
        rv = await controller._list_all(WorkQueue())
        async with asyncio.timeout(5):
            async for event in store.watch((CONFIGURATION,), since=rv):
                assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "late")
                break
    finally:
        await store.close()


class SlowLists:
    """A store whose lists take a while, as a remote API server's do (the Kubernetes backend's
    first list of each kind): workers reconcile what the first kinds listed meanwhile."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def list(self, kind: Kind, *args: Any, **kw: Any) -> tuple[list[Obj], int]:
        for _ in range(20):
            await asyncio.sleep(0)  # wait-ok: yields to the loop, as a remote list's awaits do
        return await self.store.list(kind, *args, **kw)

    def watch(self, *args: Any, **kw: Any) -> AsyncIterator[WatchEvent]:
        return self.store.watch(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_a_kind_is_synced_when_its_first_reconciles_end_while_later_kinds_are_listed() -> None:
    """The gateway waits for ``synced(Route)`` before it listens: a reconcile that ended before the
    last kind was listed must still count (seen on a cluster: the gateway waited its 30 s timeout)."""
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    done: list[str] = []

    async def reconcile(_deps: object, key: Any) -> None:
        done.append(key.name)

    try:
        await store.create(CONFIGURATION, configuration("default", "early"))
        controller = Controller(SlowLists(store), FakeRuntime(), Config, clock=clock)
        controller.reconcilers[CONFIGURATION.kind] = reconcile
        async with controller:
            await asyncio.wait_for(controller.synced(CONFIGURATION.kind), 5)
        assert "early" in done
    finally:
        await store.close()
