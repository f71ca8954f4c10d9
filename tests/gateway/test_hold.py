"""The holder parks requests for a revision without a ready instance, bounded in count and time."""

from __future__ import annotations

import asyncio

from zeroserve.gateway.hold import Holder


async def test_ready_releases_everything_held_for_that_revision_only() -> None:
    holder = Holder(timeout=30)
    a = [asyncio.create_task(holder.hold("default", "a")) for _ in range(3)]
    b = asyncio.create_task(holder.hold("default", "b"))
    while holder.held("default", "a") < 3 or holder.held("default", "b") < 1:
        await asyncio.sleep(0)
    holder.ready("default", "a")
    assert await asyncio.gather(*a) == [True, True, True]
    assert not b.done() and holder.held("default", "b") == 1
    holder.ready("default", "b")
    assert await b is True
    assert holder.held("default", "a") == holder.held("default", "b") == 0


async def test_a_full_queue_refuses_at_once() -> None:
    holder = Holder(timeout=30, queue_depth=2)
    held = [asyncio.create_task(holder.hold("default", "a")) for _ in range(2)]
    while holder.held("default", "a") < 2:
        await asyncio.sleep(0)
    assert await holder.hold("default", "a") is False
    holder.ready("default", "a")
    assert await asyncio.gather(*held) == [True, True]


async def test_timeout_gives_up_and_forgets_the_waiter() -> None:
    holder = Holder(timeout=0.01)
    assert await holder.hold("default", "a") is False
    assert holder.held("default", "a") == 0
