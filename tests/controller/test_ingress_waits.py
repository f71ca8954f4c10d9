"""A Route reconcile that published a table waits for the gateway's workers to serve it, and writes
the Route Ready in that pass (issue 19): with a real gateway and a real worker process."""

from __future__ import annotations

import asyncio
import contextlib

from zeroserve.api.kinds import ROUTE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.ingress import IngressWaits
from zeroserve.controller.runner import Controller
from zeroserve.gateway import Gateway
from zeroserve.gateway.workers import Workers
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import condition, eventually, service


async def test_served_wakes_the_reconcile_that_waits_and_only_it() -> None:
    waits = IngressWaits(timeout=30)
    assert not waits.served("default", "hello"), "nobody waits: the route must be enqueued"
    waiting = asyncio.ensure_future(waits.wait("default", "hello"))
    await asyncio.sleep(0)  # wait-ok: one turn of the loop, so that the reconcile waits
    assert not waits.served("default", "other")
    assert waits.served("default", "hello")
    await waiting
    assert not waits.served("default", "hello"), "woken once"


async def test_a_wait_that_ends_unanswered_leaves_no_waiter() -> None:
    """A reconcile cancelled while it waits (its deadline, up stopping) is not woken later: the
    route's next ``served`` enqueues the route."""
    waits = IngressWaits(timeout=30)
    waiting = asyncio.ensure_future(waits.wait("default", "hello"))
    await asyncio.sleep(0)  # wait-ok: one turn of the loop, so that the reconcile waits
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert not waits.served("default", "hello"), "nobody waits any more"


async def test_the_route_is_written_ready_in_the_pass_that_published_it() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    gateway = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    await gateway.start(processes=2)
    workers = Workers(1, listeners=gateway, relay_to=await gateway.start_relays())
    gateway.mirror = workers
    try:
        controller = Controller(store, FakeRuntime(auto_ready=True), Config, clock=clock, ingress=gateway)
        workers.on_served = controller.on_ingress_ready
        controller.wait_for_ingress()  # as up wires it
        assert controller.deps.ingress_waits is not None
        controller.deps.ingress_waits.timeout = 30  # however slow this machine is
        await workers.start()
        statuses: list[tuple[str | None, str | None]] = []

        async def watch() -> None:
            async for event in store.watch((ROUTE,), since=0):
                if "status" in event.object:
                    traffic = condition(event.object, "AllTrafficAssigned").get("status")
                    statuses.append((traffic, condition(event.object, "IngressReady").get("status")))

        watching = asyncio.ensure_future(watch())
        async with controller:
            await store.create(SERVICE, service("default", "hello"))

            async def route_ready() -> bool:
                return ("True", "True") in statuses

            await eventually(route_ready)
        watching.cancel()
        assert ("True", "Unknown") not in statuses, f"a pass with the traffic assigned and no ingress: {statuses}"
        assert gateway.is_ready("default", "hello", 1)
    finally:
        await workers.stop(1)
        await gateway.stop(1)
        await store.close()
