"""Throttler capacity math, probing and holding (scenarios after Knative's throttler_test.go)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.activator.instances import eventually
from zeroserve import errors
from zeroserve.activator.throttler import (
    MAX_CONCURRENCY,
    Lease,
    RevisionInfo,
    Throttler,
    assign_slice,
    pick_indices,
    serves_h2c,
)
from zeroserve.queue.breaker import QueueFull
from zeroserve.queue.inline import InstanceLimits

A, B, C = ("10.0.0.1", 8012), ("10.0.0.2", 8012), ("10.0.0.3", 8012)
NS, REV = "default", "hello-00001"


class Probes:
    """A probe whose answer the test decides per address (the real HTTP probe is tested in test_probe.py)."""

    def __init__(self, *ready: tuple[str, int]) -> None:
        self.ready = set(ready)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> bool:
        self.calls.append((host, port))
        return (host, port) in self.ready


@pytest.fixture
def probes() -> Probes:
    return Probes(A, B, C)


@pytest.fixture
async def throttler(probes: Probes) -> AsyncIterator[Throttler]:
    t = Throttler(probes, rand=lambda n: 0, probe_frequency=0.005)
    yield t
    await t.close()


async def healthy(t: Throttler, n: int) -> None:
    await eventually(lambda: len(t.healthy(NS, REV)) == n, what=f"{n} healthy trackers")


@pytest.mark.parametrize(
    ("cc", "endpoints", "want"),
    [
        pytest.param(1, [A], 1, id="cc1-one"),
        pytest.param(2, [A, B, C], 6, id="cc2-three"),
        pytest.param(10, [A, B], 20, id="cc10-two"),
        pytest.param(0, [A], MAX_CONCURRENCY, id="cc0-infinite"),
        pytest.param(5, [], 0, id="no-endpoints"),
        pytest.param(0, [], 0, id="cc0-no-endpoints"),
    ],
)
async def test_capacity_is_cc_times_healthy_trackers(throttler: Throttler, cc: int, endpoints, want: int):
    throttler.set_revision(NS, REV, cc, 300)
    throttler.set_endpoints(NS, REV, endpoints)
    await healthy(throttler, len(endpoints))
    assert throttler.capacity(NS, REV) == want


async def test_endpoints_before_revision_are_kept(throttler: Throttler):
    throttler.set_endpoints(NS, REV, [A, B])
    assert throttler.revision(NS, REV) is None
    throttler.set_revision(NS, REV, 3, 60)
    await healthy(throttler, 2)
    assert throttler.capacity(NS, REV) == 6
    assert throttler.revision(NS, REV) is not None


async def test_endpoint_used_only_after_its_probe_passes(probes: Probes, throttler: Throttler):
    probes.ready = {A}
    throttler.set_revision(NS, REV, 1, 300)
    throttler.set_endpoints(NS, REV, [A, B])
    await healthy(throttler, 1)
    assert throttler.healthy(NS, REV) == [A]
    await eventually(lambda: probes.calls.count(B) >= 3, what="B probed again and again")
    assert throttler.capacity(NS, REV) == 1
    probes.ready.add(B)
    await healthy(throttler, 2)
    assert throttler.capacity(NS, REV) == 2
    # everybody passed: probing stops
    calls = len(probes.calls)
    lease = await throttler.acquire(NS, REV)
    lease.release()
    assert len(probes.calls) == calls


async def test_removed_endpoint_is_dropped_at_once(throttler: Throttler):
    throttler.set_revision(NS, REV, 2, 300)
    throttler.set_endpoints(NS, REV, [A, B])
    await healthy(throttler, 2)
    throttler.set_endpoints(NS, REV, [B])
    assert throttler.healthy(NS, REV) == [B]
    assert throttler.capacity(NS, REV) == 2
    throttler.set_endpoints(NS, REV, [])
    assert throttler.capacity(NS, REV) == 0


async def test_cc1_never_more_than_one_per_instance(throttler: Throttler):
    throttler.set_revision(NS, REV, 1, 300)
    throttler.set_endpoints(NS, REV, [A, B])
    await healthy(throttler, 2)
    first = await throttler.acquire(NS, REV)
    second = await throttler.acquire(NS, REV)
    assert {first.address, second.address} == {A, B}
    third = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="third waiting")
    assert not third.done()
    second.release()
    lease = await third
    assert lease.address == second.address
    first.release()
    lease.release()


async def test_first_available_for_small_cc(throttler: Throttler):
    throttler.set_revision(NS, REV, 2, 300)
    throttler.set_endpoints(NS, REV, [B, A])
    await healthy(throttler, 2)
    leases = [await throttler.acquire(NS, REV) for _ in range(4)]
    assert [lease.address for lease in leases] == [A, A, B, B]


async def test_round_robin_for_large_cc(throttler: Throttler):
    throttler.set_revision(NS, REV, 4, 300)
    throttler.set_endpoints(NS, REV, [A, B, C])
    await healthy(throttler, 3)
    leases = [await throttler.acquire(NS, REV) for _ in range(6)]
    assert [lease.address for lease in leases] == [A, B, C, A, B, C]


async def test_cc0_balances_by_in_flight(throttler: Throttler):
    throttler.set_revision(NS, REV, 0, 300)
    throttler.set_endpoints(NS, REV, [A, B])
    await healthy(throttler, 2)
    leases = [await throttler.acquire(NS, REV) for _ in range(10)]
    assert sum(lease.address == A for lease in leases) == 5
    for lease in leases:
        lease.release()
    assert [t.weight for t in (leases[0].tracker, leases[1].tracker)] == [0, 0]


async def test_holds_until_an_endpoint_passes(probes: Probes, throttler: Throttler):
    probes.ready = set()
    throttler.set_revision(NS, REV, 0, 300)
    waiters = [asyncio.create_task(throttler.acquire(NS, REV)) for _ in range(50)]
    await eventually(lambda: throttler.waiting(NS, REV) == 50, what="50 waiting")
    throttler.set_endpoints(NS, REV, [A])
    await eventually(lambda: probes.calls.count(A) >= 2, what="A probed twice")
    assert not any(w.done() for w in waiters)
    probes.ready.add(A)
    leases: list[Lease] = await asyncio.gather(*waiters)
    assert {lease.address for lease in leases} == {A}
    assert throttler.waiting(NS, REV) == 0


async def test_queue_bound_fails_at_once(probes: Probes):
    t = Throttler(probes, queue_depth=3)
    t.set_revision(NS, REV, 1, 300)
    waiters = [asyncio.create_task(t.acquire(NS, REV)) for _ in range(3)]
    await eventually(lambda: t.waiting(NS, REV) == 3, what="3 waiting")
    with pytest.raises(QueueFull, match="pending request queue full"):
        await t.acquire(NS, REV)
    waiters[0].cancel()  # one gives up: there is room again
    await eventually(lambda: t.waiting(NS, REV) == 2, what="2 waiting")
    extra = asyncio.create_task(t.acquire(NS, REV))
    await eventually(lambda: t.waiting(NS, REV) == 3, what="3 waiting again")
    t.set_endpoints(NS, REV, [A])
    first = await waiters[1]  # CC 1, one instance: one at a time
    first.release()
    second = await waiters[2]
    second.release()
    (await extra).release()
    await t.close()


async def test_unknown_revision_is_not_found(throttler: Throttler):
    with pytest.raises(errors.NotFound):
        await throttler.acquire(NS, "nope")


async def test_removing_a_revision_releases_its_waiters(probes: Probes, throttler: Throttler):
    throttler.set_revision(NS, REV, 1, 300)
    waiter = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="waiting")
    throttler.remove_revision(NS, REV)
    with pytest.raises(errors.NotFound):
        await waiter


async def test_cancelled_waiter_leaves_no_trace(throttler: Throttler):
    throttler.set_revision(NS, REV, 1, 300)
    waiter = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="waiting")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert throttler.waiting(NS, REV) == 0
    throttler.set_endpoints(NS, REV, [A])
    await healthy(throttler, 1)
    lease = await throttler.acquire(NS, REV)  # the slot was not leaked
    lease.release()


async def test_requests_on_a_removed_instance_finish_and_free_room_for_others(throttler: Throttler):
    throttler.set_revision(NS, REV, 1, 300)
    throttler.set_endpoints(NS, REV, [A])
    await healthy(throttler, 1)
    on_a = await throttler.acquire(NS, REV)
    waiter = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="waiting")
    throttler.set_endpoints(NS, REV, [B])  # A leaves while its request runs; B comes
    lease = await waiter
    assert lease.address == B  # did not wait for A's request to end
    on_a.release()  # A's request ends later: no double release of the revision slot
    lease.release()
    again = await throttler.acquire(NS, REV)
    assert again.address == B
    blocked = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="blocked on CC 1")
    assert not blocked.done()
    again.release()
    (await blocked).release()


async def test_release_is_idempotent(throttler: Throttler):
    throttler.set_revision(NS, REV, 1, 300)
    throttler.set_endpoints(NS, REV, [A])
    await healthy(throttler, 1)
    lease = await throttler.acquire(NS, REV)
    lease.release()
    lease.release()
    one = await throttler.acquire(NS, REV)
    two = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="second waits: capacity still 1")
    one.release()
    (await two).release()


async def test_without_a_probe_published_endpoints_serve_at_once() -> None:
    """Inline queue-proxy mode: the runtime probed the app, so a held request gets the new instance
    as soon as it runs again, before work scheduled after the endpoints changed."""
    t = Throttler(None, rand=lambda n: 0)
    order: list[str] = []

    async def request() -> Lease:
        lease = await t.acquire(NS, REV)
        order.append("lease")
        return lease

    try:
        t.set_revision(NS, REV, 0, 300)
        held = asyncio.create_task(request())
        await eventually(lambda: t.waiting(NS, REV) == 1, what="the request held")
        t.set_endpoints(NS, REV, [A])
        assert t.healthy(NS, REV) == [A]  # synchronously: no probe task
        asyncio.get_running_loop().call_soon(order.append, "later work")
        lease = await held
        assert lease.address == A
        assert order == ["lease", "later work"]
        lease.release()
    finally:
        await t.close()


async def test_try_acquire_leases_at_once_only_with_room_and_nobody_waiting(throttler: Throttler) -> None:
    """The fast path: a lease without waiting when an instance has room; never ahead of a waiter."""
    assert throttler.try_acquire(NS, REV) is None  # unknown revision: acquire says why
    throttler.set_revision(NS, REV, 1, 300)
    assert throttler.try_acquire(NS, REV) is None  # no instance yet
    throttler.set_endpoints(NS, REV, [A])
    await healthy(throttler, 1)
    first = throttler.try_acquire(NS, REV)
    assert first is not None and first.address == A
    assert throttler.try_acquire(NS, REV) is None  # CC 1: A is full
    waiter = asyncio.create_task(throttler.acquire(NS, REV))
    await eventually(lambda: throttler.waiting(NS, REV) == 1, what="a request waiting")
    first.release()
    assert throttler.try_acquire(NS, REV) is None  # room again, but the waiter comes first
    second = await waiter
    assert second.address == A
    second.release()
    third = throttler.try_acquire(NS, REV)
    assert third is not None
    third.release()
    assert throttler.capacity(NS, REV) == 1 and throttler.waiting(NS, REV) == 0


async def test_try_acquire_with_cc0_balances_like_acquire(throttler: Throttler) -> None:
    throttler.set_revision(NS, REV, 0, 300)
    throttler.set_endpoints(NS, REV, [A, B])
    await healthy(throttler, 2)
    leases = [throttler.try_acquire(NS, REV) for _ in range(10)]
    assert all(lease is not None for lease in leases)
    assert sum(lease.address == A for lease in leases if lease is not None) == 5
    for lease in leases:
        assert lease is not None
        lease.release()


@pytest.mark.parametrize("seconds", [pytest.param(0.0, id="zero"), pytest.param(-5.0, id="negative")])
def test_a_timeout_that_is_not_positive_is_no_limit(seconds: float) -> None:
    """pkg/http/handler/timeout.go arms a timer only for a positive duration; admission lets 0 and
    negative responseStartTimeoutSeconds/idleTimeoutSeconds through (Knative validates timeoutSeconds)."""
    timeouts = RevisionInfo(0, 300.0, seconds, seconds).timeouts
    assert (timeouts.response_start, timeouts.idle, timeouts.total) == (None, None, 300.0)
    inline = InstanceLimits(0, 300.0, seconds, seconds).timeouts()
    assert (inline.response_start, inline.idle, inline.total) == (None, None, 300.0)


@pytest.mark.parametrize(
    ("spec", "h2c"),
    [
        pytest.param({"containers": [{"ports": [{"name": "h2c"}]}]}, True, id="h2c"),
        pytest.param({"containers": [{"ports": [{"name": "http1"}, {"name": "h2c"}]}]}, False, id="first-port-only"),
        pytest.param({"containers": [{"image": "x"}]}, False, id="no-port"),
        pytest.param({"containers": [{"image": "s"}, {"ports": [{"name": "h2c"}]}]}, True, id="serving-of-two"),
        pytest.param({"containers": "junk"}, False, id="not-a-list"),
        pytest.param({}, False, id="no-containers"),
    ],
)
def test_serves_h2c_reads_the_revision_spec_as_getprotocol(spec: dict[str, object], h2c: bool) -> None:
    assert serves_h2c(spec) is h2c


async def test_a_revision_that_speaks_h2c_is_known_so(throttler: Throttler) -> None:
    throttler.set_revision("ns", "rev", 0, 300, h2c=True)
    info = throttler.revision("ns", "rev")
    assert info is not None and info.h2c


D, E = ("10.0.0.4", 8012), ("10.0.0.5", 8012)


@pytest.mark.parametrize(
    ("trackers", "index", "activators", "want"),
    [  # Knative's throttler_test.go TestAssignSlice and pickIndices' cases
        pytest.param("abc", -1, 2, "abc", id="not-in-path"),
        pytest.param("abc", 0, 1, "abc", id="alone"),
        pytest.param("a", 1, 3, "a", id="one-pod"),
        pytest.param("abc", 0, 2, "ac", id="idx0-of-2-takes-a-remnant"),
        pytest.param("abc", 1, 2, "b", id="idx1-of-2"),
        pytest.param("abcde", 2, 5, "c", id="one-each"),
        pytest.param("abc", 4, 5, "b", id="more-activators-than-pods-round-robin"),
        pytest.param("abcdefghij", 1, 3, "def", id="ten-pods-idx1-of-3"),
        pytest.param("abcdefghij", 0, 3, "abcj", id="ten-pods-idx0-of-3-remnant"),
    ],
)
def test_assign_slice_as_knative_does(trackers: str, index: int, activators: int, want: str) -> None:
    assert "".join(assign_slice(list(trackers), index, activators)) == want


def test_pick_indices() -> None:
    assert pick_indices(10, 2, 3) == (6, 9, 1)
    assert pick_indices(3, 4, 5) == (1, 2, 0)


async def test_activators_in_a_revisions_path_share_its_instances(probes: Probes, throttler: Throttler) -> None:
    """With CC 2 and five instances, two activators: one takes three (two and a remnant), the
    other two, so together they never send an instance more than CC requests."""
    probes.ready |= {D, E}
    throttler.set_activators(NS, REV, 2, 0)  # before the revision is known: kept
    throttler.set_revision(NS, REV, 2, 300)
    throttler.set_endpoints(NS, REV, [A, B, C, D, E])
    await healthy(throttler, 3)
    assert throttler.healthy(NS, REV) == [A, B, E] and throttler.capacity(NS, REV) == 6
    throttler.set_activators(NS, REV, 2, 1)
    assert throttler.healthy(NS, REV) == [C, D] and throttler.capacity(NS, REV) == 4
    throttler.set_activators(NS, REV, 1, 0)
    assert throttler.capacity(NS, REV) == 10


async def test_with_cc0_every_activator_uses_every_instance(throttler: Throttler) -> None:
    throttler.set_revision(NS, REV, 0, 300)
    throttler.set_activators(NS, REV, 3, 2)
    throttler.set_endpoints(NS, REV, [A, B, C])
    await healthy(throttler, 3)
