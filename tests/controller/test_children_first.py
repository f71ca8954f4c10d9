"""A Service that comes up while its Route (or Configuration) is queued or being reconciled waits for
that reconcile to end, then reconciles once, seeing what it wrote (runner.CHILDREN_FIRST)."""

from __future__ import annotations

import asyncio

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, ROUTE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue
from zeroserve.controller.runner import Controller
from zeroserve.controller.workqueue import WorkQueue
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import eventually, route, service


class Family:
    """A Route reconciler held at a gate before it writes its status, and a Service reconciler that
    records the Route status each of its passes saw."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.route_passes = 0
        self.seen: dict[str, list[Obj | None]] = {}

    async def route(self, deps: Deps, key: Key) -> Requeue:
        self.route_passes += 1
        await self.gate.wait()
        obj = await deps.store.get(ROUTE, key.namespace, key.name)
        if "status" not in obj:
            await deps.store.update_status(ROUTE, {**obj, "status": {"observedGeneration": 1}})
        return None

    async def service(self, deps: Deps, key: Key) -> Requeue:
        try:
            child: Obj | None = await deps.store.get(ROUTE, key.namespace, key.name)
        except Exception:
            child = None
        self.seen.setdefault(key.name, []).append(None if child is None else child.get("status"))
        return None


async def test_a_service_waits_for_its_routes_reconcile_and_then_reconciles_once() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    family = Family()
    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=2)
        controller.reconcilers[ROUTE.kind] = family.route
        controller.reconcilers[SERVICE.kind] = family.service
        async with controller:
            await store.create(ROUTE, route("default", "hello", [{"configurationName": "hello", "percent": 100}]))

            async def route_running() -> bool:
                return family.route_passes == 1

            await eventually(route_running)
            await store.create(SERVICE, service("default", "hello"))
            await store.create(SERVICE, service("default", "alone"))  # no child of it busy: at once

            async def alone_reconciled() -> bool:
                return "alone" in family.seen

            await eventually(alone_reconciled)  # the one free worker took hello's key before alone's
            assert "hello" not in family.seen, "it has not reconciled while its Route is being reconciled"

            family.gate.set()

            async def hello_reconciled() -> bool:
                return "hello" in family.seen

            await eventually(hello_reconciled)
            assert family.seen["hello"] == [{"observedGeneration": 1}], "once, after the Route's status write"

            await store.create(SERVICE, service("default", "marker"))

            async def marker() -> bool:
                return "marker" in family.seen

            await eventually(marker)  # the Route's status event, handled meanwhile, reconciled it no more
            assert family.seen["hello"] == [{"observedGeneration": 1}]
    finally:
        await store.close()


async def test_a_child_that_is_only_queued_holds_its_parent_too() -> None:
    queue: WorkQueue[Key] = WorkQueue()
    config = Key(CONFIGURATION.kind, "default", "hello")
    assert not queue.busy(config)
    queue.add(config)
    assert queue.busy(config)
    assert await queue.get() == config
    assert queue.busy(config), "being processed"
    queue.done(config)
    assert not queue.busy(config)
    queue.add_after(config, 60.0)
    assert not queue.busy(config), "a later retry does not hold its parent"
    queue.shutdown()
