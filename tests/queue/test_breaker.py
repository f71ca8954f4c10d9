"""Breaker scenarios ported from Knative's pkg/queue/breaker_test.go (our own code, asyncio)."""

from __future__ import annotations

import asyncio

import pytest

from zeroserve.errors import ZeroserveError
from zeroserve.queue.breaker import Breaker, InfiniteBreaker, QueueFull


class Requestor:
    """Requests that hold their slot until let through (Knative's requestor helper)."""

    def __init__(self, breaker: Breaker) -> None:
        self.breaker = breaker
        self.barrier: asyncio.Queue[None] = asyncio.Queue()
        self.results: asyncio.Queue[bool] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    def request(self) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run())
        self.tasks.append(task)
        return task

    async def _run(self) -> None:
        try:
            async with self.breaker.slot():
                await self.barrier.get()
        except (QueueFull, asyncio.CancelledError):
            await self.results.put(False)
            return
        await self.results.put(True)

    async def expect_failure(self) -> None:
        assert await asyncio.wait_for(self.results.get(), 10) is False

    async def process_successfully(self) -> None:
        await self.barrier.put(None)
        assert await asyncio.wait_for(self.results.get(), 10) is True


async def settle() -> None:
    """Let every ready task run until it blocks (no wall-clock wait)."""
    for _ in range(10):
        await asyncio.sleep(0)  # wait-ok: yield to the loop once


@pytest.mark.parametrize(
    ("queue_depth", "max_concurrency", "initial"),
    [
        pytest.param(0, 1, 1, id="queue depth 0"),
        pytest.param(1, -1, 1, id="max concurrency negative"),
        pytest.param(1, 1, -1, id="initial capacity negative"),
        pytest.param(1, 5, 6, id="initial capacity above max"),
    ],
)
def test_invalid_constructor(queue_depth: int, max_concurrency: int, initial: int) -> None:
    with pytest.raises(ValueError):
        Breaker(queue_depth, max_concurrency, initial)


def test_queue_full_is_a_zeroserve_error_with_knatives_message() -> None:
    assert isinstance(QueueFull(), ZeroserveError)
    assert str(QueueFull()) == "pending request queue full"


def test_reserve_overload() -> None:
    breaker = Breaker(1, 1, 1)
    assert breaker.reserve()
    assert not breaker.reserve()
    breaker.release()
    assert breaker.reserve()
    breaker.release()
    assert breaker.in_flight == 0


async def test_overload_mixed_reserve_and_acquire() -> None:
    breaker = Breaker(1, 1, 1)
    reqs = Requestor(breaker)
    reqs.request()
    await settle()
    assert breaker.running == 1
    assert not breaker.reserve()
    await reqs.process_successfully()
    assert breaker.reserve()
    breaker.release()


async def test_overload_fails_the_one_beyond_queue_and_concurrency() -> None:
    breaker = Breaker(1, 1, 1)
    reqs = Requestor(breaker)
    reqs.request()
    reqs.request()
    await settle()
    assert (breaker.running, breaker.pending, breaker.in_flight) == (1, 1, 2)
    reqs.request()
    await reqs.expect_failure()
    await reqs.process_successfully()
    await reqs.process_successfully()
    assert breaker.in_flight == 0


async def test_queueing_until_capacity_arrives() -> None:
    breaker = Breaker(1, 1, 0)
    reqs = Requestor(breaker)
    reqs.request()
    reqs.request()
    await settle()
    assert breaker.pending == 2
    breaker.update_concurrency(1)
    await reqs.process_successfully()
    await reqs.process_successfully()


async def test_no_overload_when_processed_in_time() -> None:
    breaker = Breaker(1, 1, 1)
    reqs = Requestor(breaker)
    reqs.request()
    reqs.request()
    for _ in range(2):
        await reqs.process_successfully()
        reqs.request()
    await reqs.process_successfully()
    await reqs.process_successfully()
    assert breaker.in_flight == 0


async def test_cancel_gives_the_slot_back() -> None:
    breaker = Breaker(1, 1, 0)
    reqs = Requestor(breaker)
    for _ in range(2):  # the second reproduced a bug Knative had freeing pending slots
        task = reqs.request()
        await settle()
        task.cancel()
        await reqs.expect_failure()
        assert breaker.in_flight == 0
    breaker.update_concurrency(1)
    reqs.request()
    reqs.request()
    reqs.request()
    await reqs.expect_failure()  # consistently at capacity
    task = reqs.request()
    await reqs.expect_failure()  # QueueFull at once, not waiting
    assert task.done()
    await reqs.process_successfully()
    await reqs.process_successfully()


async def test_cancelled_just_after_being_handed_a_slot_releases_it() -> None:
    breaker = Breaker(5, 1, 1)
    assert breaker.reserve()
    waiter = asyncio.create_task(breaker.acquire())
    await settle()
    breaker.release()  # hands the slot to the waiter ...
    waiter.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (breaker.running, breaker.in_flight) == (0, 0)
    assert breaker.reserve()


async def test_waiters_are_served_in_arrival_order_and_reserve_cannot_overtake() -> None:
    breaker = Breaker(10, 1, 1)
    assert breaker.reserve()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await breaker.acquire()
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await settle()
    breaker.release()
    assert not breaker.reserve()  # the slot went to waiter 0
    for _ in range(3):
        await settle()
        breaker.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_update_concurrency_wakes_as_many_waiters_as_it_grows() -> None:
    breaker = Breaker(10, 5, 0)
    tasks = [asyncio.create_task(breaker.acquire()) for _ in range(4)]
    await settle()
    breaker.update_concurrency(3)
    await settle()
    assert sum(task.done() for task in tasks) == 3
    assert breaker.capacity == 3
    breaker.update_concurrency(0)
    assert breaker.capacity == 0
    for _ in range(3):
        breaker.release()
    await settle()
    assert sum(task.done() for task in tasks) == 3  # shrunk: the fourth still waits
    breaker.update_concurrency(1)
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


def test_update_concurrency_rejects_negative() -> None:
    with pytest.raises(ValueError):
        Breaker(1, 1, 1).update_concurrency(-1)


def test_release_without_acquire_raises() -> None:
    breaker = Breaker(1, 1, 1)
    with pytest.raises(RuntimeError):
        breaker.release()


async def test_infinite_breaker_waits_for_capacity_without_a_queue_limit() -> None:
    breaker = InfiniteBreaker()
    assert breaker.capacity == 0
    assert not breaker.reserve()
    tasks = [asyncio.create_task(breaker.acquire()) for _ in range(1000)]
    await settle()
    assert (breaker.pending, breaker.in_flight) == (1000, 1000)
    assert not any(task.done() for task in tasks)
    breaker.update_concurrency(7)
    assert breaker.capacity == 1
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert (breaker.pending, breaker.in_flight) == (0, 1000)
    assert breaker.reserve()
    for _ in range(1001):
        breaker.release()
    breaker.update_concurrency(0)
    assert breaker.capacity == 0


async def test_infinite_breaker_cancelled_waiter_leaves() -> None:
    breaker = InfiniteBreaker()
    task = asyncio.create_task(breaker.acquire())
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (breaker.pending, breaker.in_flight) == (0, 0)


async def test_waiter_cancelled_while_capacity_grows_leaves_cleanly() -> None:
    breaker = Breaker(5, 2, 0)
    first = asyncio.create_task(breaker.acquire())
    second = asyncio.create_task(breaker.acquire())
    await settle()
    first.cancel()
    breaker.update_concurrency(1)  # _wake skips the cancelled waiter and serves the next
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert (breaker.running, breaker.in_flight) == (1, 1)
