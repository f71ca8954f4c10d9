"""The data plane on every core: gateway worker processes beside ``zeroserve up`` (issue 19).

``up --workers N`` runs N processes that accept the gateway's connections: the main one (which
also holds the controller, the autoscaler and the activator) and N-1 **workers**
(:mod:`zeroserve.cli.gatewayworker`). Each address has N listening sockets in one reuseport group
(:mod:`zeroserve.net.reuseport`): the kernel hands each new connection to one of them, by a hash of
the client's port, and wakes that process alone. Worker i inherits socket i; the main process keeps
every socket open and accepts on a worker's until the worker says it accepts (``accepting``),
while the worker answers none of its pings (:data:`STUCK_AFTER`), and from the worker's death until
its restart accepts, so a worker's death loses nothing queued in its backlog and nothing waits for
the restart.

Each worker holds a copy of the routing state, fed by :class:`Workers` over a socketpair (the
main gateway's :attr:`~zeroserve.gateway.server.Gateway.mirror`): every Route and DomainMapping
table published, each revision's serve-mode endpoints, and each revision's ready instances with
their limits (the inline queue-proxy's). A worker serves by itself what needs no state but its own:

* a request for a revision in **serve mode** whose containerConcurrency is 0 (Knative's default:
  no breaker) goes straight to the least loaded instance, through the worker's own inline queue
  (stats, revision timeouts);
* a request for a CC=0 revision in **proxy mode** that has had instances goes through the worker's
  own activator (its throttler fed from the same instances; its stats, the first request's poke
  included, sent to the main process's autoscaler as another activator pod's, which Knative sums);
* everything else is **relayed** to the main process's relay listeners (a loopback hop, the
  forwarding headers set once, by the worker): hosts it has no route for (the internal listener's
  system services and forward proxy), revisions it has never seen an instance of (their cold start
  is the main process's activator's), container instances (their addresses lead into their network
  namespaces from the main process only: :func:`reachable`), and revisions with
  containerConcurrency >= 1.

Why the last: Knative's queue-proxy breaker admits exactly containerConcurrency requests per pod
and queues 10 x CC more, FIFO, with the revision's timeouts counted from arrival; its activators
split each pod's CC between them (subsetting). A breaker shared between processes would need
shared memory, a cross-process lock that survives a worker's death, and cross-process wake-ups
for the queue; one owner per instance keeps the breaker exactly Knative's, in one place. The owner
is the main process, which already owns the activator's path to the same instances (both paths
share one breaker per instance), so no subsetting is needed: CC >= 1 revisions have one activator,
and CC = 0 ones have no capacity to split (Knative's activator uses an infinite breaker for them).
The cost is one loopback hop for CC >= 1 revisions, whose throughput is bounded by their instances
(CC x instances requests at a time) more than by the proxy.

The autoscaler's view: every worker reports each instance's 1 s stat (:meth:`Workers.stats`);
the main process's scraper adds them to its own (``zeroserve.cli.wiring.WorkerStats``), as one
pod's queue-proxy would have counted them all. Request metrics (``kn.serving.*``) are sent every
:data:`SERIES_PERIOD` seconds and summed with the main process's own; request logs are written by
each worker to the instance's log file (append-only writes). A worker that dies is started again
(backoff from :data:`RESTART_MIN` to :data:`RESTART_MAX`); its in-flight requests are lost, as a
killed Envoy's are.

The channel carries pickled tuples, length-prefixed: both ends are this program (the socketpair
is private to the two processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.gateway import routing
from zeroserve.gateway.server import Relays
from zeroserve.net import netns

log = logging.getLogger(__name__)

Address = tuple[str, int]
Op = tuple[Any, ...]

RESTART_MIN = 0.1
RESTART_MAX = 5.0
STABLE_AFTER = 10.0
"""A worker alive this long is healthy again: its next death restarts it after RESTART_MIN."""
SERIES_PERIOD = 1.0
HEARTBEAT = 1.0
"""Seconds between the pings the main process sends each accepting worker (answered from its loop)."""
STUCK_AFTER = 3.0
"""A worker that has answered no ping for this long is stuck (its loop blocked): the main process
accepts on its sockets until it answers again (Knative's gateway pod failing its readiness probe
leaves the Service's endpoints until it passes)."""
_HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 1024 * 1024


def encode(op: Op) -> bytes:
    data = pickle.dumps(op, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


class Channel(asyncio.Protocol):
    """One end of the channel: each operation is handled (``on_op``) as soon as its frame is in, in
    the loop's I/O callback rather than by a task woken a turn later, so that a worker's poke and the
    endpoints that answer it wait behind no other work. ``on_end`` once the channel is closed (or
    broken: a frame that is not an operation closes it)."""

    def __init__(self, on_op: Callable[[Op], None], on_end: Callable[[], None], what: str) -> None:
        self._on_op, self._on_end, self._what = on_op, on_end, what
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's are not asyncio.Transport's subclasses)

    @property
    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def write(self, frames: bytes) -> None:
        """Write encoded operations (dropped once the channel is closing)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frames)

    def send(self, op: Op) -> None:
        self.write(encode(op))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _HEADER.size and self.transport is not None and not self.transport.is_closing():
            (size,) = _HEADER.unpack_from(buffer)
            end = _HEADER.size + size
            try:
                if size > MAX_FRAME:
                    raise ValueError(f"frame of {size} bytes on the gateway worker channel")
                if len(buffer) < end:
                    return
                op = pickle.loads(bytes(buffer[_HEADER.size : end]))
                if not isinstance(op, tuple) or not op:
                    raise ValueError("not an operation on the gateway worker channel")
            except (ValueError, pickle.UnpicklingError) as err:
                log.error("%s: %s", self._what, err)
                self.transport.close()
                return
            del buffer[:end]
            try:
                self._on_op(op)
            except Exception:  # one operation failed; the channel goes on
                log.exception("%s: %r failed", self._what, op[0])

    def connection_lost(self, exc: Exception | None) -> None:
        self._buffer.clear()
        self._on_end()


async def open_channel(
    sock: socket.socket, on_op: Callable[[Op], None], on_end: Callable[[], None], what: str
) -> Channel:
    """The :class:`Channel` over ``sock`` (a connected Unix stream socket)."""
    _, channel = await asyncio.get_running_loop().create_unix_connection(
        lambda: Channel(on_op, on_end, what), sock=sock
    )
    return channel


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    writer: Channel | None = None
    stats: dict[Address, Stat] = field(default_factory=dict)
    series: dict[tuple[str, str], list[dict[str, object]]] = field(default_factory=dict)
    gauges: dict[str, dict[Any, float]] = field(default_factory=dict)
    """Its activator's ``kn.revision.request.*`` values by metric name."""
    started: float = 0.0
    restarts: int = 0
    drains: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    served: dict[tuple[str, str], int] = field(default_factory=dict)
    """The generation of each route it said it serves."""
    accepting: bool = False
    """It said it accepts on its sockets (and has not died since)."""
    answered: float = 0.0
    """Loop time of its last answer to a ping (or of its ``accepting``)."""
    stuck: bool = False
    """It answered no ping for STUCK_AFTER seconds: its sockets are the main process's meanwhile."""


class Listeners(Protocol):
    """Each gateway process's listening sockets (the main :class:`~zeroserve.gateway.server.Gateway`
    started with ``processes=count + 1``)."""

    def listeners(self, index: int) -> tuple[int, int]:
        """Worker ``index``'s (external, internal) listening sockets' fds."""
        ...

    async def adopt(self, index: int) -> None:
        """Accept on worker ``index``'s sockets in the main process (the worker is not accepting)."""
        ...

    def release(self, index: int) -> None:
        """Worker ``index`` accepts on its sockets again."""
        ...


class Workers:
    """N-1 gateway worker processes and the feed of their state (the main gateway's ``mirror``)."""

    def __init__(
        self,
        count: int,
        *,
        listeners: Listeners,
        relay_to: Relays,
        options: Mapping[str, object] | None = None,
    ) -> None:
        """``count``: worker processes besides the main one. ``listeners``: their listening sockets
        (worker i's are accepted on by the main process until it says it accepts, and again from its
        death to its restart's acceptance). ``options``: JSON given to each worker (tracing,
        request-log directory, sidecar mode)."""
        self.count = count
        self._listeners = listeners
        self._relay_to = relay_to
        self._options = dict(options or {})
        self.on_stat_messages: Callable[[list[StatMessage]], None] | None = None
        """Where the workers' activators' stats go (the autoscaler's ``record``, which pokes)."""
        self.on_served: Callable[[str, str], None] | None = None
        """Called when every live worker serves the generation of a route last published (the
        Route reconciler's Ingress turned ready: Knative's prober's ready callback)."""
        self._workers = [_Worker(i + 1) for i in range(count)]
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        # The state a (re)started worker is given whole, then kept in step with.
        self._routes: dict[tuple[str, str], routing.RouteLike] = {}
        self._announced: dict[tuple[str, str], int] = {}
        """The generation of each route ``on_served`` was last called for."""
        self._mappings: dict[str, routing.MappingLike] = {}
        self._endpoints: dict[tuple[str, str], tuple[tuple[routing.Endpoint, ...], bool]] = {}
        self._instances: dict[tuple[str, str], tuple[tuple[Address, ...], object]] = {}
        self._logs: object | None = None
        self._log_instances: dict[tuple[str, str], dict[Address, object]] = {}
        self._token = 0

    # -- the mirror (gateway.server.Mirror) ---------------------------------------------------

    def publish(self, route: routing.RouteLike) -> None:
        key = (route.namespace, route.name)
        if self._routes.get(key) == route:
            return  # a Route reconcile that changed nothing: the workers serve it already
        self._routes[key] = route
        self._send(("publish", route))

    def withdraw(self, namespace: str, name: str) -> None:
        self._routes.pop((namespace, name), None)
        self._announced.pop((namespace, name), None)
        for worker in self._workers:
            worker.served.pop((namespace, name), None)
        self._send(("withdraw", namespace, name))

    def remove_revision(self, namespace: str, revision: str) -> None:
        """The revision was deleted: each worker's activator answers the requests it holds for it
        (as the main process's does) and forgets it."""
        self._instances.pop((namespace, revision), None)
        self._endpoints.pop((namespace, revision), None)
        self._log_instances.pop((namespace, revision), None)
        self._send(("remove_revision", namespace, revision))

    def serves(self, namespace: str, name: str, generation: int) -> bool:
        """Whether every live worker serves ``generation`` of the route, or a later one (a worker
        being restarted is not live: it is given the whole state before it accepts)."""
        return all(w.served.get((namespace, name), -1) >= generation for w in self._workers if w.writer is not None)

    def publish_mapping(self, mapping: routing.MappingLike) -> None:
        self._mappings[routing.normalize_host(mapping.host)] = mapping
        self._send(("publish_mapping", mapping))

    def withdraw_mapping(self, namespace: str, host: str) -> None:
        self._mappings.pop(routing.normalize_host(host), None)
        self._send(("withdraw_mapping", namespace, host))

    def set_endpoints(self, namespace: str, revision: str, endpoints: tuple[routing.Endpoint, ...], h2c: bool) -> None:
        endpoints = reachable(endpoints)
        if endpoints:
            self._endpoints[(namespace, revision)] = (endpoints, h2c)
        else:
            self._endpoints.pop((namespace, revision), None)
        self._send(("set_endpoints", namespace, revision, endpoints, h2c))

    def set_instances(self, namespace: str, revision: str, addresses: Sequence[Address], limits: object) -> None:
        """A revision's instances and their limits (``queue.inline.InstanceLimits``), before its
        endpoints change: a worker has an instance's queue when it is routed to."""
        current = reachable(addresses)
        if addresses and not current:  # container instances: the revision stays unknown there (relayed)
            return
        if current:
            self._instances[(namespace, revision)] = (current, limits)
        else:
            self._instances.pop((namespace, revision), None)
        self._send(("set_instances", namespace, revision, current, limits))

    # -- request logs (cli.requestlogs.RequestLogWiring's mirror) ------------------------------

    def configure_logs(self, settings: object | None) -> None:
        """``queue.requestlog.RequestLogSettings`` while request logs are on, None when off."""
        self._logs = settings
        if settings is None:
            self._log_instances.clear()
        self._send(("configure_logs", settings))

    def set_log_instances(self, namespace: str, revision: str, infos: Mapping[Address, object]) -> None:
        if infos:
            self._log_instances[(namespace, revision)] = dict(infos)
        else:
            self._log_instances.pop((namespace, revision), None)
        self._send(("set_log_instances", namespace, revision, dict(infos)))

    async def drain(self, address: Address) -> None:
        """Wait until no worker has a request for the instance at ``address`` (it left the tables:
        each worker retired it already), as the main process's inline queue waits for its own."""
        waits = []
        for worker in self._workers:
            if worker.writer is None or worker.writer.closing:
                continue
            self._token += 1
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            worker.drains[self._token] = future
            worker.writer.send(("drain", self._token, address))
            waits.append(future)
        if waits:
            await asyncio.gather(*waits)

    # -- what the workers report -------------------------------------------------------------

    def stats(self, address: Address) -> list[Stat]:
        """The latest 1 s stat of the instance at ``address`` from each live worker that has one."""
        found = []
        for worker in self._workers:
            stat = worker.stats.get(address)
            if stat is not None:
                found.append(stat)
        return found

    def series(self) -> list[tuple[str, tuple[str, str], list[dict[str, object]]]]:
        """Each worker's latest ``kn.serving.*`` series per revision: (worker name, revision, series)."""
        return [
            (f"gateway-worker-{w.index}", revision, series)
            for w in self._workers
            for revision, series in w.series.items()
        ]

    def gauges(self) -> list[tuple[str, dict[str, dict[Any, float]]]]:
        """Each live worker's activator gauges: (its activator's pod name, values by metric name)."""
        return [(f"activator-worker-{w.index}", w.gauges) for w in self._workers if w.gauges]

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker (returns once each has been spawned; they serve as soon as they run)."""
        for worker in self._workers:
            await self._spawn(worker)
            self._tasks.append(asyncio.create_task(self._supervise(worker), name=f"gateway-worker-{worker.index}"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="gateway-workers-heartbeat"))

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every worker (each finishes its requests for up to ``grace`` s, while the main process
        accepts on its sockets), then SIGKILL."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for worker in self._workers:
            await self._listeners.adopt(worker.index)
        procs = [w.process for w in self._workers if w.process is not None and w.process.returncode is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                async with asyncio.timeout(grace + 1.0):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for worker in self._workers:
            if worker.writer is not None:
                worker.writer.close()
                worker.writer = None

    async def _spawn(self, worker: _Worker) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        external, internal = self._listeners.listeners(worker.index)
        fds = (external, internal, theirs.fileno())
        args = {
            "index": worker.index,
            "control": theirs.fileno(),
            "external": external,
            "internal": internal,
            "relay": [list(a) for a in self._relay_to],
            **self._options,
        }
        try:
            worker.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "zeroserve.cli.gatewayworker",
                json.dumps(args),
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                start_new_session=False,
            )
        finally:
            theirs.close()
        worker.started = asyncio.get_running_loop().time()
        worker.stats = {}
        worker.served = {}
        channel = await open_channel(
            ours, lambda op: self._report(worker, op), lambda: self._ended(worker), f"gateway worker {worker.index}"
        )
        worker.writer = channel
        channel.write(b"".join(encode(op) for op in self._snapshot()))
        started = log.info if worker.restarts else log.debug  # up's start line counts the first ones
        started("gateway worker %d started (pid %d)", worker.index, worker.process.pid)

    def _snapshot(self) -> list[Op]:
        ops: list[Op] = [("configure_logs", self._logs)]
        ops += [("publish", r) for r in self._routes.values()]
        ops += [("publish_mapping", m) for m in self._mappings.values()]
        ops += [("set_instances", ns, rev, a, limits) for (ns, rev), (a, limits) in self._instances.items()]
        ops += [("set_endpoints", ns, rev, eps, h2c) for (ns, rev), (eps, h2c) in self._endpoints.items()]
        ops += [("set_log_instances", ns, rev, infos) for (ns, rev), infos in self._log_instances.items()]
        ops.append(("ready",))
        return ops

    def _report(self, worker: _Worker, op: Op) -> None:
        """One of the worker's reports."""
        if op[0] == "stats":
            worker.stats = op[1]
        elif op[0] == "stat_messages":
            if self.on_stat_messages is not None:
                self.on_stat_messages(op[1])
        elif op[0] == "drained":
            future = worker.drains.pop(op[1], None)
            if future is not None and not future.done():
                future.set_result(None)
        elif op[0] == "series":
            worker.series, worker.gauges = op[1], op[2]
        elif op[0] == "served":
            self._served(worker, op[1], op[2], op[3])
        elif op[0] == "accepting" and worker.process is not None and worker.process.returncode is None:
            worker.accepting, worker.answered = True, asyncio.get_running_loop().time()
            self._listeners.release(worker.index)  # (one seen dead already stays adopted: _supervise)
        elif op[0] == "pong":
            worker.answered = asyncio.get_running_loop().time()
            if worker.stuck and worker.accepting:
                worker.stuck = False
                log.warning("gateway worker %d answers again: it accepts on its sockets", worker.index)
                self._listeners.release(worker.index)

    def _ended(self, worker: _Worker) -> None:
        """Its end of the channel closed."""
        worker.stats = {}
        worker.gauges = {}
        for future in worker.drains.values():  # a worker gone has no request left anywhere
            if not future.done():
                future.set_result(None)
        worker.drains.clear()

    def _served(self, worker: _Worker, namespace: str, name: str, generation: int) -> None:
        key = (namespace, name)
        worker.served[key] = max(generation, worker.served.get(key, -1))
        route = self._routes.get(key)
        if route is None or route.generation > generation or self.on_served is None:
            return
        if self._announced.get(key, -1) < route.generation and self.serves(namespace, name, route.generation):
            self._announced[key] = route.generation  # once per generation: the reconcile it starts publishes again
            self.on_served(namespace, name)

    async def _supervise(self, worker: _Worker) -> None:
        delay = RESTART_MIN
        loop = asyncio.get_running_loop()
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            worker.stats = {}
            if worker.writer is not None:
                worker.writer.close()
                worker.writer = None
            if self._closing:
                return
            worker.accepting = worker.stuck = False
            await self._listeners.adopt(worker.index)  # its connections are accepted here meanwhile
            lived = loop.time() - worker.started
            delay = RESTART_MIN if lived >= STABLE_AFTER else min(delay * 2, RESTART_MAX)
            log.warning("gateway worker %d exited (%s); starting it again in %.1fs", worker.index, code, delay)
            await asyncio.sleep(delay)
            worker.restarts += 1
            await self._spawn(worker)

    async def _heartbeat(self) -> None:
        """Ping each accepting worker every HEARTBEAT; adopt the sockets of one silent for STUCK_AFTER."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEARTBEAT)
            now = loop.time()
            for worker in self._workers:
                if not worker.accepting or worker.writer is None or worker.writer.closing:
                    continue
                if not worker.stuck and now - worker.answered > STUCK_AFTER:
                    worker.stuck = True
                    log.warning(
                        "gateway worker %d has answered nothing for %.0fs: its connections are accepted here",
                        worker.index,
                        now - worker.answered,
                    )
                    await self._listeners.adopt(worker.index)
                worker.writer.send(("ping",))

    def _send(self, op: Op) -> None:
        if not any(w.writer is not None for w in self._workers):
            return
        frame = encode(op)
        for worker in self._workers:
            if worker.writer is not None and not worker.writer.closing:
                worker.writer.write(frame)


def reachable(addresses: Sequence[Address]) -> tuple[Address, ...]:
    """What a worker can connect to: a container instance's address is a reserved port that leads into
    its network namespace only from this process (``net.netns``), so its requests are relayed here."""
    return tuple(a for a in addresses if netns.lookup(a[0], a[1]) is None)


def cores() -> int:
    """The cores this process may run on (the default number of gateway processes)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["Channel", "Workers", "cores", "encode", "open_channel"]
