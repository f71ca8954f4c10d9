"""The event recorder against a real SQLite store: writes and counted repeats, the bounded queue,
the retention sweep, its own task, and nothing of a Secret in what it writes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import EVENT, SECRET, SERVICE
from zeroserve.clock import FakeClock, rfc3339
from zeroserve.controller.recorder import DROPS_LOGGED_EVERY, EventRecorder
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import eventually, service


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(":memory:", clock=FakeClock())
    try:
        yield s
    finally:
        await s.close()


async def events(store: SqliteStore) -> list[Obj]:
    items, _ = await store.list(EVENT, "default")
    return items


async def test_an_event_is_written_and_its_repeats_counted_on_it(store: SqliteStore) -> None:
    clock = FakeClock()
    recorder = EventRecorder(store, clock)
    svc = await store.create(SERVICE, service("default", "hello"))
    recorder.event("service-controller", svc, "Normal", "Created", 'Created Route "hello"')
    assert await events(store) == []  # queued: recording never waits for the store
    await recorder.flush()
    [first] = await events(store)
    assert first["involvedObject"]["uid"] == svc["metadata"]["uid"]
    assert (first["count"], first["lastTimestamp"]) == (1, "2026-01-01T00:00:00Z")
    clock.step(90)
    recorder.event("service-controller", svc, "Normal", "Created", 'Created Route "hello"')
    await recorder.flush()
    [again] = await events(store)
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert again["metadata"]["uid"] == first["metadata"]["uid"]  # updated in place, not made anew
    assert (again["count"], again["firstTimestamp"], again["lastTimestamp"]) == (
        2,
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:01:30Z",
    )


async def test_a_repeat_of_a_deleted_event_is_written_anew(store: SqliteStore) -> None:
    recorder = EventRecorder(store, FakeClock())
    svc = await store.create(SERVICE, service("default", "hello"))
    recorder.event("service-controller", svc, "Warning", "InternalError", "boom")
    await recorder.flush()
    [first] = await events(store)
    await store.delete(EVENT, "default", first["metadata"]["name"])
    recorder.event("service-controller", svc, "Warning", "InternalError", "boom")
    await recorder.flush()
    [again] = await events(store)
    assert (again["metadata"]["name"], again["count"]) == (first["metadata"]["name"], 2)


async def test_the_queue_is_bounded_and_drops_past_it(store: SqliteStore) -> None:
    recorder = EventRecorder(store, FakeClock(), queue_size=2)
    svc = await store.create(SERVICE, service("default", "hello"))
    for i in range(3):
        recorder.event("service-controller", svc, "Normal", f"Reason{i}", "m")
    assert recorder.dropped == 1
    await recorder.flush()
    assert sorted(e["reason"] for e in await events(store)) == ["Reason0", "Reason1"]


async def test_drops_are_logged_at_once_then_counted_every_few_seconds_and_when_the_queue_drains(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    recorder = EventRecorder(store, clock, queue_size=1)
    svc = await store.create(SERVICE, service("default", "hello"))
    caplog.set_level(logging.WARNING, logger="zeroserve.controller.recorder")
    for i in range(5):
        recorder.event("service-controller", svc, "Normal", f"Reason{i}", "m")
        clock.step(1.0)
    clock.step(DROPS_LOGGED_EVERY - 4.0)
    recorder.event("service-controller", svc, "Warning", "Late", "m")
    recorder.event("service-controller", svc, "Normal", "Later", "m")
    await recorder.flush()
    await recorder.flush()  # nothing left to count: no line
    assert recorder.dropped == 6
    assert [r.getMessage() for r in caplog.records] == [
        "event queue full (1): dropped 1 events (the last: Normal Reason1 on hello)",
        "event queue full (1): dropped 4 events (the last: Warning Late on hello)",
        "event queue full (1): dropped 1 events (the queue has room again)",
    ]


async def test_events_past_their_ttl_are_swept(store: SqliteStore) -> None:
    clock = FakeClock()
    recorder = EventRecorder(store, clock, ttl=3600)
    svc = await store.create(SERVICE, service("default", "hello"))
    recorder.event("service-controller", svc, "Normal", "Old", "m")
    await recorder.flush()
    clock.step(1800)
    recorder.event("service-controller", svc, "Normal", "Recent", "m")
    await recorder.flush()
    clock.step(1801)
    assert await recorder.sweep() == 1
    assert [e["reason"] for e in await events(store)] == ["Recent"]
    clock.step(1800)
    assert await recorder.sweep() == 1
    assert await events(store) == []


async def test_its_task_writes_as_events_come(store: SqliteStore) -> None:
    recorder = EventRecorder(store, FakeClock())
    svc = await store.create(SERVICE, service("default", "hello"))
    task = asyncio.create_task(recorder.run())
    try:
        recorder.event("service-controller", svc, "Normal", "Created", 'Created Configuration "hello"')

        async def written() -> bool:
            return len(await events(store)) == 1

        await eventually(written)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_event_about_a_secret_holds_none_of_its_values(store: SqliteStore) -> None:
    recorder = EventRecorder(store, FakeClock())
    secret = await store.create(
        SECRET,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "default"},
            "data": {"pw": "czNjcmV0"},
        },
    )
    recorder.event("revision-controller", secret, "Warning", "Missing", 'key "other" not found in Secret "db"')
    await recorder.flush()
    [event] = await events(store)
    assert event["involvedObject"]["kind"] == "Secret"
    assert "czNjcmV0" not in json.dumps(event)


async def test_a_minute_sweep_reads_only_its_own_events_and_every_ttl_all_of_them(store: SqliteStore) -> None:
    """An idle minute reads no event (1,000 Services hold ~12,000): the recorder sweeps what it
    wrote by when it was last seen; what others wrote goes at a full sweep, one per ttl."""
    clock = FakeClock()
    recorder = EventRecorder(store, clock, ttl=3600)
    svc = await store.create(SERVICE, service("default", "hello"))
    assert await recorder.sweep() == 0  # the first sweep reads everything (none yet); the next at +3600
    clock.step(100)
    recorder.event("service-controller", svc, "Normal", "Ours", "m")
    await recorder.flush()
    other = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "hello.other", "namespace": "default"},
        "involvedObject": {"kind": "Service", "namespace": "default", "name": "hello"},
        "reason": "Theirs",
        "lastTimestamp": rfc3339(clock.wall() - timedelta(seconds=3000)),
    }
    await store.create(EVENT, other)  # an API client's, past its ttl 600 s from now
    clock.step(700)
    assert await recorder.sweep() == 0  # not read: only ours, not yet due
    clock.step(2800)  # the full sweep, 3600 s after the first
    assert await recorder.sweep() == 1
    assert [e["reason"] for e in await events(store)] == ["Ours"]
    clock.step(101)
    assert await recorder.sweep() == 1
    assert await events(store) == []


async def test_a_recorder_that_does_not_sweep_only_writes(store: SqliteStore) -> None:
    """On a cluster the API server expires events itself: the recorder writes and reads none back."""
    clock = FakeClock()
    recorder = EventRecorder(store, clock, ttl=60, sweep_every=0.01, sweeps=False)
    svc = await store.create(SERVICE, service("default", "hello"))
    recorder.event("service-controller", svc, "Normal", "Created", "m")
    await recorder.flush()
    clock.step(3600)
    task = asyncio.create_task(recorder.run())
    try:
        recorder.event("service-controller", svc, "Normal", "Updated", "m")

        async def both_written() -> bool:
            return len(await events(store)) == 2

        await eventually(both_written)
    finally:
        task.cancel()
    assert sorted(e["reason"] for e in await events(store)) == ["Created", "Updated"]  # none expired
