"""The queue-proxy's per-instance work, done inside the router's process (the embedded default).

A sidecar queue-proxy costs a Python hop per request. In ``zeroserve up`` the gateway (serve
mode) and the in-process activator (proxy mode) already hold every request for a local
instance, so they can do the queue-proxy's job themselves, on the same objects it uses:

* per instance one :class:`~.breaker.Breaker` when ``containerConcurrency >= 1`` (CC running,
  10 x CC waiting, then 503 ``pending request queue full`` at once), shared by both paths, so an
  instance never gets more than CC requests whichever way they come;
* per instance one :class:`~.stats.RequestStats` (a request is *proxied* iff it came through the
  activator), reported every second into :attr:`InlineInstance.stat` for the autoscaler's
  scraper (read in-process, no HTTP);
* the revision's timeouts: ``timeoutSeconds``, ``responseStartTimeoutSeconds`` and
  ``idleTimeoutSeconds`` (504 ``request timeout``), each counting the time queued, as Knative's
  queue-proxy wraps its breaker in its timeout handler (``pkg/queue/sharedmain/handlers.go``);
* its protocol: requests for an app whose port is named ``h2c`` go to it over HTTP/2
  (``Target.h2c``), as Knative's ingress and queue-proxy speak h2c to such a revision.

The runtime probes the app directly (no network probe to answer), and drain needs no quiet
period: the routing tables change synchronously, so once an instance has left them,
:meth:`InlineQueue.drain` waits for its requests (queued ones included) and forgets it.

:meth:`InlineQueue.admit` is the whole per-request API: it returns a ``Target`` on the app (its
``release`` frees the slot and ends the accounting), a local ``Response`` (503/504), or an
awaitable of either while the request waits in the breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from zeroserve.autoscaler.metrics import Stat
from zeroserve.net import headers as h
from zeroserve.net.proxy import DEFAULT_TIMEOUTS, Response, RouteResult, Target, Timeouts, limit
from zeroserve.observability.metrics import RevisionRequests
from zeroserve.queue.breaker import QUEUE_FULL_MESSAGE, Breaker, QueueFull
from zeroserve.queue.stats import REPORT_PERIOD, RequestStats

logger = logging.getLogger(__name__)

Address = tuple[str, int]
Release = Callable[[], None]

TIMEOUT_MESSAGE = "request timeout"
QUEUE_FULL = Response(503, QUEUE_FULL_MESSAGE.encode() + b"\n")
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class InstanceLimits:
    """What the queue-proxy reads from its environment, for one revision (0 = none)."""

    container_concurrency: int = 0
    timeout: float = 300.0
    response_start_timeout: float = 0.0
    idle_timeout: float = 0.0
    h2c: bool = False
    """The app speaks HTTP/2 with prior knowledge (its port is named ``h2c``)."""
    namespace: str = ""
    revision: str = ""
    """Whose instance (a sidecar's ``SERVING_NAMESPACE``/``SERVING_REVISION``): for its spans."""

    @property
    def queue_depth(self) -> int:
        """Requests that may wait in the breaker: 10 x containerConcurrency (Knative)."""
        return 10 * self.container_concurrency

    def timeouts(self) -> Timeouts:
        return Timeouts(
            connect=CONNECT_TIMEOUT,
            response_start=limit(self.response_start_timeout),
            idle=limit(self.idle_timeout),
            total=limit(self.timeout),
            message=TIMEOUT_MESSAGE,
        )


class InlineInstance:
    """One instance's breaker, stats and timeouts (what its sidecar would hold)."""

    def __init__(
        self,
        address: Address,
        limits: InstanceLimits,
        now: float,
        pod_name: str = "",
        requests: RevisionRequests | None = None,
    ) -> None:
        self._time = asyncio.get_running_loop().time
        self.requests = requests
        """The revision's ``kn.serving.*`` metrics (None: not recorded)."""
        self.address = address
        self.limits = limits
        cc = limits.container_concurrency
        self.breaker = Breaker(limits.queue_depth, cc, cc) if cc >= 1 else None
        self.stats = RequestStats(now, pod_name=pod_name)
        self.stat = Stat(pod_name=pod_name)
        """The last 1 s report (what a sidecar serves on ``GET /stats``)."""
        self.timeouts = limits.timeouts()
        self.h2c = limits.h2c
        self.retired = False
        """Left the routing tables: forgotten once idle."""
        self._idle: asyncio.Event | None = None

    @property
    def in_flight(self) -> int:
        """Requests admitted and not over, queued ones included."""
        return self.stats.concurrency

    def admit(
        self,
        proxied: bool,
        also: Release | None = None,
        *,
        headers: tuple[h.Header, ...] = (),
        drop: frozenset[bytes] = frozenset(),
        timeouts: Timeouts | None = None,
    ) -> RouteResult | Awaitable[RouteResult]:
        """Count the request, take a breaker slot (or wait for one), aim it at the app.

        ``also`` runs once when the request is over, however it ends (the caller's own
        accounting). ``timeouts``: the caller's limits in place of the instance's (the activator's,
        counted from when it began to hold the request: on the same revision's limits, its clock
        started first, as Knative's activator timeout handler fires before the queue-proxy's)."""
        now = self._time()
        self.stats.req_in(now, proxied)
        breaker = self.breaker
        if breaker is not None and self.requests is not None:
            self.requests.depth(breaker.in_flight)  # kn.serving.queue.depth, as the queue-proxy records it
        if breaker is None or breaker.reserve():
            t = self.timeouts if timeouts is None else timeouts
            return InlineTarget(self, t, proxied, also, headers, drop, now)
        return self._queued(now, proxied, also, headers, drop, timeouts)

    def admit_probe(self, *, headers: tuple[h.Header, ...] = (), drop: frozenset[bytes] = frozenset()) -> Target:
        """A kubelet probe (``K-Kubelet-Probe``): to the app past the breaker and the stats, with the
        revision's timeouts (Knative's ``queue.ProxyHandler``)."""
        return Target(
            self.address[0], self.address[1], timeouts=self.timeouts, headers=headers, drop=drop, h2c=self.h2c
        )

    def _out(self, proxied: bool, now: float | None = None) -> None:
        self.stats.req_out(self._time() if now is None else now, proxied)
        if self._idle is not None and self.stats.concurrency <= 0:
            self._idle.set()

    async def _queued(
        self,
        arrived: float,
        proxied: bool,
        also: Release | None,
        headers: tuple[h.Header, ...],
        drop: frozenset[bytes],
        timeouts: Timeouts | None,
    ) -> RouteResult:
        """Wait in the breaker; the wait counts toward every limit (the queue-proxy's ``_queued``)."""
        assert self.breaker is not None
        limits = (self.timeouts if timeouts is None else timeouts).anchored(arrived)
        try:
            async with asyncio.timeout_at(limits.held_until):
                await self.breaker.acquire()
        except BaseException as exc:
            self._out(proxied)
            if also is not None:
                also()
            if isinstance(exc, QueueFull):
                return QUEUE_FULL
            if isinstance(exc, TimeoutError):
                return Response(504, (limits.message or TIMEOUT_MESSAGE).encode() + b"\n")
            raise
        return InlineTarget(self, limits, proxied, also, headers, drop, arrived)

    async def wait_idle(self) -> None:
        """Return once no request is admitted (queued or running)."""
        if self.stats.concurrency <= 0:
            return
        if self._idle is None or self._idle.is_set():
            self._idle = asyncio.Event()
        await self._idle.wait()

    def report(self, now: float) -> None:
        self.stat = replace(self.stats.report(now), timestamp=int(time.time()))


class InlineTarget(Target):
    """A Target on an instance, holding its breaker slot: ``release`` ends the accounting."""

    __slots__ = ("_also", "_instance", "_proxied", "_start")

    def __init__(
        self,
        instance: InlineInstance,
        timeouts: Timeouts,
        proxied: bool,
        also: Release | None,
        headers: tuple[h.Header, ...],
        drop: frozenset[bytes],
        start: float,
    ) -> None:  # sets the fields itself: Target's keyword arguments cost measurably per request
        self.host, self.port = instance.address
        self.timeouts = timeouts
        self.headers = headers
        self.drop = drop
        self.h2c = instance.h2c
        self._on_release = None
        self._instance: InlineInstance | None = instance
        self._proxied = proxied
        self._also = also
        self._start = start
        self.status = 0

    def release(self) -> None:
        instance, self._instance = self._instance, None
        if instance is None:
            return
        if instance.breaker is not None:
            instance.breaker.release()
        now = instance._time()
        instance._out(self._proxied, now)
        if instance.requests is not None and self.status:  # kn.serving.invocation.duration, from arrival
            instance.requests.done(now - self._start, self.status)
        if self._also is not None:
            self._also()

    def also_on_release(self, callback: Release) -> None:
        first = self._also
        self._also = callback if first is None else _both(first, callback)


def _both(first: Release, then: Release) -> Release:
    def run() -> None:
        try:
            first()
        finally:
            then()

    return run


class _Loads(Mapping[Address, int]):
    """Requests in flight per instance (queued ones included), for picking the least loaded."""

    def __init__(self, instances: dict[Address, InlineInstance]) -> None:
        self._instances = instances

    def __getitem__(self, address: Address) -> int:
        return self._instances[address].stats.concurrency

    def __iter__(self) -> Iterator[Address]:
        return iter(self._instances)

    def __len__(self) -> int:
        return len(self._instances)


class InlineQueue:
    """The inline queue-proxies of every local instance, by address; owns the 1 s stats report."""

    def __init__(self) -> None:
        self._instances: dict[Address, InlineInstance] = {}
        self.loads: Mapping[Address, int] = _Loads(self._instances)
        """In-flight requests per instance address (what the gateway balances by)."""

    def get(self, address: Address) -> InlineInstance | None:
        return self._instances.get(address)

    def __len__(self) -> int:
        return len(self._instances)

    def add(
        self, address: Address, limits: InstanceLimits, pod_name: str = "", requests: RevisionRequests | None = None
    ) -> InlineInstance:
        """Start accounting for an instance (idempotent); ``requests``: its revision's metrics."""
        current = self._instances.get(address)
        if current is not None:  # a retired one is the same process back in the tables (ports are not reused)
            current.retired = False
            return current
        now = asyncio.get_running_loop().time()
        instance = InlineInstance(address, limits, now, pod_name or _name(address), requests)
        self._instances[address] = instance
        return instance

    def sync(
        self,
        previous: Iterable[Address],
        current: Iterable[Address],
        limits: InstanceLimits,
        requests: RevisionRequests | None = None,
    ) -> None:
        """A revision's instances went from ``previous`` to ``current``: add the new, retire the gone."""
        now = set(current)
        for address in now:
            self.add(address, limits, requests=requests)
        for address in set(previous) - now:
            self.retire(address)

    def retire(self, address: Address) -> None:
        """The instance left the tables: forget it once its requests are over."""
        instance = self._instances.get(address)
        if instance is None:
            return
        instance.retired = True
        if instance.in_flight <= 0:
            del self._instances[address]

    async def drain(self, address: Address) -> None:
        """Wait for the requests of an instance that left the tables, then forget it."""
        instance = self._instances.get(address)
        if instance is None:
            return
        instance.retired = True
        await instance.wait_idle()
        if instance.retired and self._instances.get(address) is instance:
            del self._instances[address]

    def admit(
        self,
        address: Address,
        proxied: bool,
        also: Release | None = None,
        *,
        headers: tuple[h.Header, ...] = (),
        drop: frozenset[bytes] = frozenset(),
        timeouts: Timeouts | None = None,
    ) -> RouteResult | Awaitable[RouteResult]:
        """:meth:`InlineInstance.admit` on the instance at ``address`` (unknown: a plain Target)."""
        instance = self._instances.get(address)
        if instance is None:
            logger.debug("no inline queue for %s:%d; forwarding without one", *address)
            limits = DEFAULT_TIMEOUTS if timeouts is None else timeouts
            return Target(address[0], address[1], timeouts=limits, headers=headers, drop=drop, on_release=also)
        return instance.admit(proxied, also, headers=headers, drop=drop, timeouts=timeouts)

    def stat(self, host: str, port: int) -> Stat | None:
        """The last 1 s report of the instance at ``host:port`` (the scraper's in-process source)."""
        instance = self._instances.get((host, port))
        return None if instance is None else instance.stat

    def report(self, now: float) -> None:
        for instance in list(self._instances.values()):
            instance.report(now)
            if instance.retired and instance.in_flight <= 0:
                self._instances.pop(instance.address, None)

    async def run(self, period: float = REPORT_PERIOD) -> None:
        """Report every instance's stats each ``period`` seconds, forever (cancel to stop)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += period
            await asyncio.sleep(max(next_at - loop.time(), 0))
            self.report(loop.time())


def _name(address: Address) -> str:
    return f"{address[0]}:{address[1]}"


__all__ = ["QUEUE_FULL", "InlineInstance", "InlineQueue", "InlineTarget", "InstanceLimits"]
