from __future__ import annotations

import asyncio

import pytest

from zeroserve.controller.workqueue import Backoff, ShutDown, WorkQueue


async def test_key_added_twice_is_processed_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_key_re_added_while_processing_comes_back_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")
    assert len(q) == 0  # not handed to a second worker while in flight
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_add_after_fires_and_keeps_earliest_deadline() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 100.0)
    far = q.waiting("a")
    q.add_after("a", 0.01)
    at = q.waiting("a")
    assert far is not None and at is not None and at < far  # the earlier deadline replaced the later one
    q.add_after("a", 50.0)  # later deadline is ignored
    assert q.waiting("a") == at
    assert await asyncio.wait_for(q.get(), 5) == "a"
    assert q.waiting("a") is None


async def test_reschedule_replaces_the_pending_re_add_or_cancels_it() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 0.01)
    early = q.waiting("a")
    q.reschedule("a", 100.0)  # a later deadline replaces the earlier one (add_after would keep it)
    late = q.waiting("a")
    assert early is not None and late is not None and late - early == pytest.approx(99.99, abs=1.0)
    q.reschedule("a", 0.01)
    q.reschedule("a", None)
    assert q.waiting("a") is None
    q.add_after("b", 0.05)
    q.reschedule("a", None)  # another key's re-add is left alone
    assert await asyncio.wait_for(q.get(), 5) == "b"  # "a", due first, was cancelled: it never came
    assert len(q) == 0 and q.waiting("a") is None


def test_backoff_doubles_from_5ms_to_1000s_and_forget_resets() -> None:
    b: Backoff[str] = Backoff()
    assert [b.when("k") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert b.retries("k") == 4
    for _ in range(100):
        last = b.when("k")
    assert last == 1000.0
    b.forget("k")
    assert b.when("k") == 0.005
    assert b.when("other") == 0.005


async def test_add_rate_limited_schedules_with_backoff() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.backoff.failures["k"] = 10  # next delay 0.005 * 2**10 = 5.12 s
    q.add_after("sooner", 5.11)  # deadlines on either side of it, set just before and just after
    q.add_rate_limited("k")
    q.add_after("later", 5.13)
    sooner, at, later = q.waiting("sooner"), q.waiting("k"), q.waiting("later")
    assert sooner is not None and at is not None and later is not None and sooner < at < later
    q.forget("k")
    assert q.backoff.retries("k") == 0


async def test_shutdown_wakes_waiting_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)  # wait-ok: yield to the loop once
    q.add_after("x", 100)
    q.shutdown()
    with pytest.raises(ShutDown):
        await getter
    q.add("y")
    with pytest.raises(ShutDown):
        await q.get()
    assert q.waiting("x") is None
