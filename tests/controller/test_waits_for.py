"""A key that comes up while one it reads (named like it: a Service's Configuration and Route, the
Configuration of a Service's Route) is queued or being reconciled waits for that reconcile to end,
then reconciles once, seeing what it wrote (runner.WAITS_FOR)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, ROUTE, SERVICE, Kind
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none
from zeroserve.controller.runner import Controller
from zeroserve.controller.workqueue import WorkQueue
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import configuration, eventually, route, service

MAKERS: dict[str, Callable[[str], Obj]] = {
    SERVICE.kind: lambda name: service("default", name),
    ROUTE.kind: lambda name: route("default", name, [{"configurationName": name, "percent": 100}]),
    CONFIGURATION.kind: lambda name: configuration("default", name),
}


class Pair:
    """A reconciler of the read kind held at a gate before it writes its status, and one of the
    waiting kind that records the read object's status each of its passes saw."""

    def __init__(self, waiting: Kind, read: Kind) -> None:
        self.waiting, self.read = waiting, read
        self.gate = asyncio.Event()
        self.read_passes = 0
        self.seen: dict[str, list[Obj | None]] = {}

    async def reconcile_read(self, deps: Deps, key: Key) -> Requeue:
        self.read_passes += 1
        await self.gate.wait()
        obj = await deps.store.get(self.read, key.namespace, key.name)
        if "status" not in obj:
            await deps.store.update_status(self.read, {**obj, "status": {"observedGeneration": 1}})
        return None

    async def reconcile_waiting(self, deps: Deps, key: Key) -> Requeue:
        read = await get_or_none(deps.store, self.read, key.namespace, key.name)
        self.seen.setdefault(key.name, []).append(None if read is None else read.get("status"))
        return None


@pytest.mark.parametrize(("waiting", "read"), [(SERVICE, ROUTE), (SERVICE, CONFIGURATION), (ROUTE, CONFIGURATION)])
async def test_it_waits_for_the_reconcile_of_what_it_reads_then_reconciles_once(waiting: Kind, read: Kind) -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    pair = Pair(waiting, read)
    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=2)
        for kind in (SERVICE, ROUTE, CONFIGURATION):
            controller.reconcilers[kind.kind] = pair.reconcile_waiting if kind is waiting else pair.reconcile_read
        async with controller:
            await store.create(read, MAKERS[read.kind]("hello"))

            async def read_running() -> bool:
                return pair.read_passes == 1

            await eventually(read_running)
            await store.create(waiting, MAKERS[waiting.kind]("hello"))
            await store.create(waiting, MAKERS[waiting.kind]("alone"))  # nothing it reads is busy: at once

            async def alone_reconciled() -> bool:
                return "alone" in pair.seen

            await eventually(alone_reconciled)  # the one free worker took hello's key before alone's
            assert "hello" not in pair.seen, "it has not reconciled while what it reads is being reconciled"

            pair.gate.set()

            async def hello_reconciled() -> bool:
                return "hello" in pair.seen

            await eventually(hello_reconciled)
            assert pair.seen["hello"] == [{"observedGeneration": 1}], "once, after the status write it waited for"

            await store.create(waiting, MAKERS[waiting.kind]("marker"))

            async def marker() -> bool:
                return "marker" in pair.seen

            await eventually(marker)  # the status write's event, handled meanwhile, reconciled it no more
            assert pair.seen["hello"] == [{"observedGeneration": 1}]
    finally:
        await store.close()


async def test_a_key_that_is_only_queued_holds_those_that_wait_for_it_too() -> None:
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
    assert not queue.busy(config), "a later retry does not hold anyone"
    queue.shutdown()


async def test_one_that_waits_for_an_overdue_reconcile_goes_back_in_when_that_one_has_really_ended() -> None:
    """A Route reconcile past its deadline that ignores its cancel keeps its key until it ends (its
    worker moves on): the Service waiting for it reconciles when it has ended, not before, and not
    only at the Route's retry (backed off here far beyond the test). The Route's reconcile leaves
    what the runner's deadline leaves (``_overdue``: the task still unwinding, and TimeoutError),
    so no deadline has to pass."""
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    unwinding: asyncio.Future[Requeue] = asyncio.get_running_loop().create_future()
    routes: list[str] = []
    services: list[str] = []
    controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=2)

    async def overdue_route(deps: Deps, key: Key) -> Requeue:
        routes.append(key.name)
        if len(routes) == 1:
            controller._overdue[key] = unwinding  # as Controller._reconcile leaves a cancel it ignores
            raise TimeoutError(f"{key}: reconcile exceeded its deadline")
        return None

    async def recording_service(deps: Deps, key: Key) -> Requeue:
        services.append(key.name)
        return None

    try:
        controller.reconcilers[ROUTE.kind] = overdue_route
        controller.reconcilers[SERVICE.kind] = recording_service
        controller.reconcilers[CONFIGURATION.kind] = recording_service
        async with controller:
            assert controller.queue is not None
            controller.queue.backoff.failures[Key(ROUTE.kind, "default", "hello")] = 40  # its retry: 1000 s away
            await store.create(ROUTE, MAKERS[ROUTE.kind]("hello"))

            async def route_failed() -> bool:
                return routes == ["hello"]

            await eventually(route_failed)
            await store.create(SERVICE, MAKERS[SERVICE.kind]("hello"))
            await store.create(SERVICE, MAKERS[SERVICE.kind]("alone"))

            async def alone_reconciled() -> bool:
                return "alone" in services

            await eventually(alone_reconciled)
            assert "hello" not in services, "not while the Route's reconcile still runs"
            unwinding.set_result(None)

            async def hello_reconciled() -> bool:
                return "hello" in services

            await eventually(hello_reconciled)
            assert routes == ["hello"], "the Route's retry is still far away"
    finally:
        await store.close()
