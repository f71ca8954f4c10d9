"""Per-revision capacity of the activator (Knative ``pkg/activator/net/throttler.go``).

Each revision has one **revision breaker** and one **tracker** per instance that passed its
probe. With ``containerConcurrency`` CC > 0 the revision breaker's capacity is ``CC x trackers``
and each tracker has a breaker of CC slots, so an instance never gets more than CC requests
from this activator; with CC = 0 the revision breaker is an infinite breaker (open as soon as
one instance is healthy) and instances are chosen by their in-flight count.

A request waits for a revision slot, then the revision's load-balancing policy picks a tracker
(:mod:`zeroserve.activator.lb_policy`). Waiting is bounded: at most ``queue_depth`` requests wait
per revision (default 10,000, Knative's queue depth); the next one fails at once with
:class:`~zeroserve.queue.breaker.QueueFull`, so memory stays bounded under any burst.

With several activators in a revision's path (Knative's subsetting: its public Endpoints list
them), each takes its own slice of the instances (:func:`assign_slice`) so that no instance gets
more than CC requests from all of them together: :meth:`Throttler.set_activators` tells it how many
activators share the revision and which one it is.

Endpoints come from the outside (:meth:`Throttler.set_endpoints`). A new endpoint is probed
(:mod:`zeroserve.activator.probe`) every ``probe_frequency`` seconds until it passes and only
then gets a tracker. An endpoint that disappears loses its tracker at once: its requests in flight
finish, and their revision slots are given back immediately so the waiting requests can use the
instances that remain (Knative keeps them until the requests finish).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zeroserve import errors
from zeroserve.activator import lb_policy
from zeroserve.activator.probe import PROBE_FREQUENCY, Probe, probe_all
from zeroserve.net.proxy import Timeouts, limit
from zeroserve.queue.breaker import Breaker, InfiniteBreaker, QueueFull

logger = logging.getLogger(__name__)

Address = tuple[str, int]
RevisionKey = tuple[str, str]
"""(namespace, revision name)."""

QUEUE_DEPTH = 10_000
"""Requests that may wait per revision (Knative's activator breaker queue depth)."""
MAX_CONCURRENCY = 2**31 - 1
"""The revision breaker's ceiling (Knative uses MaxInt32: only the trackers limit concurrency)."""


_T = TypeVar("_T")

TIMEOUT_MESSAGE = "activator request timeout"
"""The body of the activator's 504 (Knative ``cmd/activator/main.go``)."""
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    """What the activator applies to a revision's requests: its concurrency and its timeouts
    (0 = none), as Knative's activator timeout handler reads them from the revision spec."""

    container_concurrency: int
    timeout_seconds: float
    response_start_timeout_seconds: float = 0.0
    idle_timeout_seconds: float = 0.0
    h2c: bool = False
    """Its app speaks HTTP/2 with prior knowledge (its port is named ``h2c``): so does the activator."""
    timeouts: Timeouts = field(init=False, compare=False, repr=False)
    """The three as the proxy applies them (504 ``activator request timeout``)."""

    def __post_init__(self) -> None:
        timeouts = Timeouts(
            connect=CONNECT_TIMEOUT,
            response_start=limit(self.response_start_timeout_seconds),
            idle=limit(self.idle_timeout_seconds),
            total=limit(self.timeout_seconds),
            message=TIMEOUT_MESSAGE,
        )
        object.__setattr__(self, "timeouts", timeouts)  # frozen: derived once, here


def serves_h2c(spec: Mapping[str, Any]) -> bool:
    """Whether a revision (its ``spec`` as the API sends it) speaks h2c: its serving container's first
    port is named ``h2c`` (Knative's ``Revision.GetProtocol``; the serving container is the only one,
    else the one with ports, as ``RevisionSpec.GetContainer``)."""
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return False
    if len(containers) == 1:
        serving = containers[0]
    else:
        serving = next((c for c in containers if isinstance(c, dict) and c.get("ports")), None)
    ports = serving.get("ports") if isinstance(serving, dict) else None
    return isinstance(ports, list) and bool(ports) and isinstance(ports[0], dict) and ports[0].get("name") == "h2c"


def pick_indices(trackers: int, index: int, activators: int) -> tuple[int, int, int]:
    """``pickIndices``: the slice ``[begin, end)`` of ``trackers`` sorted instances that activator
    ``index`` of ``activators`` takes, and how many remain after the equal slices (the remnants)."""
    if activators > trackers:  # fewer instances than activators: round robin
        begin = index % trackers
        return begin, begin + 1, 0
    size = trackers // activators
    return index * size, index * size + size, trackers % activators


def assign_slice(trackers: list[_T], index: int, activators: int) -> list[_T]:
    """``assignSlice``: this activator's share of ``trackers`` (sorted by address): an equal slice,
    plus one remnant each for the first activators; all of them while this activator is not in the
    revision's path (``index`` -1), alone, or with at most one instance."""
    if index == -1 or len(trackers) <= 1 or activators == 1:
        return trackers
    begin, end, remnants = pick_indices(len(trackers), index, activators)
    out = trackers[begin:end]
    if remnants > 0:
        tail = trackers[len(trackers) - remnants :]
        if len(tail) > index:
            out.append(tail[index])
    return out


class Tracker:
    """One healthy instance as this activator sees it (Knative ``podTracker``)."""

    __slots__ = ("address", "breaker", "leases", "weight")

    def __init__(self, address: Address, container_concurrency: int) -> None:
        self.address = address
        self.weight = 0
        """Requests this activator has in flight to the instance."""
        self.breaker: Breaker | None = None
        if container_concurrency > 0:
            cc = container_concurrency
            self.breaker = Breaker(queue_depth=QUEUE_DEPTH, max_concurrency=cc, initial_capacity=cc)
        self.leases: set[Lease] = set()

    def reserve(self) -> bool:
        return self.breaker is None or self.breaker.reserve()

    def __repr__(self) -> str:
        return f"Tracker({self.address[0]}:{self.address[1]}, weight={self.weight})"


class Lease:
    """A request's slot on a revision and an instance; :meth:`release` exactly once when done."""

    __slots__ = ("_revision", "orphaned", "released", "tracker")

    def __init__(self, revision: _Revision, tracker: Tracker) -> None:
        self._revision = revision
        self.tracker = tracker
        self.released = False
        self.orphaned = False
        """The instance left: the revision slot was already given back."""
        tracker.weight += 1
        tracker.leases.add(self)

    @property
    def address(self) -> Address:
        return self.tracker.address

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        tracker = self.tracker
        tracker.weight -= 1
        tracker.leases.discard(self)
        if tracker.breaker is not None:
            tracker.breaker.release()
        if not self.orphaned:
            self._revision.release_slot()
        self._revision.pulse()


class _Revision:
    """State of one revision: breaker, trackers, endpoints, probing."""

    def __init__(self, key: RevisionKey, info: RevisionInfo, rand: lb_policy.Rand) -> None:
        self.key = key
        self.info = info
        cc = info.container_concurrency
        self.breaker: Breaker | InfiniteBreaker
        if cc > 0:
            self.breaker = Breaker(queue_depth=QUEUE_DEPTH, max_concurrency=MAX_CONCURRENCY, initial_capacity=0)
        else:
            self.breaker = InfiniteBreaker()
        self.policy: lb_policy.Policy[Tracker] = lb_policy.policy_for(cc, rand)
        self.endpoints: frozenset[Address] = frozenset()
        self.trackers: dict[Address, Tracker] = {}
        self.ordered: list[Tracker] = []
        """The trackers this activator sends to (its slice of them, with other activators in the path)."""
        self.activators = 1
        self.index = -1
        """This activator's place among the ``activators`` in the revision's path (-1: not in it)."""
        self.waiting = 0
        self.probing: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None
        """Made when a request waits on it (most releases have nobody to wake)."""

    @property
    def capacity(self) -> int:
        cc = self.info.container_concurrency
        if cc > 0:
            return cc * len(self.ordered)
        return MAX_CONCURRENCY if self.ordered else 0

    def unproven(self) -> list[Address]:
        return sorted(self.endpoints - self.trackers.keys())

    def add(self, addresses: Iterable[Address]) -> None:
        for address in addresses:
            if address in self.endpoints and address not in self.trackers:
                self.trackers[address] = Tracker(address, self.info.container_concurrency)
        self._reorder()

    def keep_only(self, endpoints: frozenset[Address]) -> None:
        """Drop the trackers of endpoints that left; their requests in flight run on."""
        gone = [tracker for address, tracker in self.trackers.items() if address not in endpoints]
        for tracker in gone:
            del self.trackers[tracker.address]
        self._reorder()
        for tracker in gone:
            for lease in list(tracker.leases):
                if not lease.orphaned:
                    lease.orphaned = True
                    self.release_slot()

    def _reorder(self) -> None:
        ordered = [self.trackers[address] for address in sorted(self.trackers)]
        if self.info.container_concurrency > 0:  # with CC 0 every activator may use every instance
            ordered = assign_slice(ordered, self.index, self.activators)
        self.ordered = ordered
        self.breaker.update_concurrency(self.capacity)  # the infinite breaker opens on any capacity
        self.pulse()

    def release_slot(self) -> None:
        self.breaker.release()

    def open_for_removal(self) -> None:
        """Let every waiter through so it sees that the revision is gone."""
        self.breaker.update_concurrency(MAX_CONCURRENCY)
        self.pulse()

    def pick(self) -> Tracker | None:
        return self.policy(self.ordered)

    def pulse(self) -> None:
        """Wake requests that found no tracker (a slot freed or the trackers changed)."""
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def change_event(self) -> asyncio.Event:
        """Set at the next :meth:`pulse`."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed


class Throttler:
    """Holds requests until an instance of their revision has room; owns the probing tasks."""

    def __init__(
        self,
        probe: Probe | None,
        *,
        rand: lb_policy.Rand = random.randrange,
        queue_depth: int = QUEUE_DEPTH,
        probe_frequency: float = PROBE_FREQUENCY,
    ) -> None:
        self._probe = probe
        """None: endpoints are ready as published (the runtime probed them; inline queue-proxy mode),
        so requests waiting for one get it in the same loop turn, before other work."""
        self._rand = rand
        self.queue_depth = queue_depth
        self.probe_frequency = probe_frequency
        self._revisions: dict[RevisionKey, _Revision] = {}
        self._endpoints: dict[RevisionKey, frozenset[Address]] = {}
        """Endpoints as last published, also for revisions not (yet) known."""
        self._activators: dict[RevisionKey, tuple[int, int]] = {}
        """Per revision: the activators in its path and this one's index, also before the revision is known."""
        self._tasks: set[asyncio.Task[None]] = set()

    # -- configuration ------------------------------------------------------------------

    def set_revision(
        self,
        namespace: str,
        revision: str,
        container_concurrency: int,
        timeout_seconds: float,
        response_start_timeout_seconds: float = 0.0,
        idle_timeout_seconds: float = 0.0,
        *,
        h2c: bool = False,
    ) -> None:
        """Learn (or update) a revision: its containerConcurrency, its three timeouts (0 = none) and
        whether it speaks h2c (:func:`serves_h2c`)."""
        key = (namespace, revision)
        cc = max(0, container_concurrency)
        rev = self._revisions.get(key)
        if rev is not None and rev.info.container_concurrency != cc:
            logger.warning("revision %s/%s: containerConcurrency cannot change; ignored", *key)
            cc = rev.info.container_concurrency
        info = RevisionInfo(cc, timeout_seconds, response_start_timeout_seconds, idle_timeout_seconds, h2c)
        if rev is not None:
            rev.info = info
            return
        rev = _Revision(key, info, self._rand)
        rev.activators, rev.index = self._activators.get(key, (1, -1))
        self._revisions[key] = rev
        self._apply(rev, self._endpoints.get(key, frozenset()))

    def remove_revision(self, namespace: str, revision: str) -> None:
        self._activators.pop((namespace, revision), None)
        rev = self._revisions.pop((namespace, revision), None)
        if rev is None:
            return
        if rev.probing is not None:
            rev.probing.cancel()
        rev.open_for_removal()  # waiters look the revision up again and get NotFound

    def set_endpoints(self, namespace: str, revision: str, endpoints: Iterable[Address]) -> None:
        key = (namespace, revision)
        addresses = frozenset(endpoints)
        if addresses:
            self._endpoints[key] = addresses
        else:
            self._endpoints.pop(key, None)
        rev = self._revisions.get(key)
        if rev is not None:
            self._apply(rev, addresses)

    def set_activators(self, namespace: str, revision: str, activators: int, index: int) -> None:
        """How many activators are in the revision's path and this one's place among them (-1: not
        there); the revision's instances are sliced among them at once."""
        key = (namespace, revision)
        self._activators[key] = (max(1, activators), index)
        rev = self._revisions.get(key)
        if rev is not None and (rev.activators, rev.index) != self._activators[key]:
            logger.info(
                "revision %s/%s: this activator is %d of %d (was %d of %d)",
                *key,
                index,
                activators,
                rev.index,
                rev.activators,
            )
            rev.activators, rev.index = self._activators[key]
            rev.add(())  # re-slices

    def _apply(self, rev: _Revision, endpoints: frozenset[Address]) -> None:
        rev.endpoints = endpoints
        rev.keep_only(endpoints)
        if self._probe is None:
            rev.add(endpoints)
            return
        if rev.unproven() and rev.probing is None:
            task = asyncio.get_running_loop().create_task(self._probe_loop(rev))
            rev.probing = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _probe_loop(self, rev: _Revision) -> None:
        assert self._probe is not None, "probing without a probe"
        try:
            while todo := rev.unproven():
                rev.add(await probe_all(self._probe, todo))
                if rev.unproven():
                    await asyncio.sleep(self.probe_frequency)
        finally:
            rev.probing = None

    # -- queries ------------------------------------------------------------------------

    def revision(self, namespace: str, revision: str) -> RevisionInfo | None:
        rev = self._revisions.get((namespace, revision))
        return None if rev is None else rev.info

    def capacity(self, namespace: str, revision: str) -> int:
        rev = self._revisions.get((namespace, revision))
        return 0 if rev is None else rev.capacity

    def healthy(self, namespace: str, revision: str) -> list[Address]:
        rev = self._revisions.get((namespace, revision))
        return [] if rev is None else [t.address for t in rev.ordered]

    def waiting(self, namespace: str, revision: str) -> int:
        rev = self._revisions.get((namespace, revision))
        return 0 if rev is None else rev.waiting

    # -- requests -----------------------------------------------------------------------

    def _get(self, key: RevisionKey) -> _Revision:
        rev = self._revisions.get(key)
        if rev is None:
            raise errors.NotFound(f"revision {key[0]}/{key[1]} not found")
        return rev

    def try_acquire(self, namespace: str, revision: str) -> Lease | None:
        """A lease at once if an instance has room and no request of the revision waits (the
        common case under load: no coroutine, no timer); else None, and :meth:`acquire` waits."""
        rev = self._revisions.get((namespace, revision))
        if rev is None or rev.waiting or not rev.breaker.reserve():
            return None
        tracker = rev.pick()
        if tracker is None:
            rev.release_slot()
            return None
        return Lease(rev, tracker)

    async def acquire(self, namespace: str, revision: str) -> Lease:
        """Wait for room on an instance of the revision; the caller releases the lease.

        Raises NotFound for an unknown (or removed) revision and QueueFull when ``queue_depth``
        requests already wait. Cancel it (``asyncio.timeout``) to give up waiting.
        """
        key = (namespace, revision)
        rev = self._get(key)
        if rev.waiting >= self.queue_depth:
            raise QueueFull()
        rev.waiting += 1
        try:
            while True:
                changed = rev.change_event()
                await rev.breaker.acquire()
                if self._revisions.get(key) is not rev:
                    rev.release_slot()
                    raise errors.NotFound(f"revision {namespace}/{revision} was removed")
                tracker = rev.pick()
                if tracker is not None:
                    return Lease(rev, tracker)
                rev.release_slot()  # a race with a capacity change: wait for the next one
                await changed.wait()
        finally:
            rev.waiting -= 1

    # -- lifecycle ----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop probing."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
