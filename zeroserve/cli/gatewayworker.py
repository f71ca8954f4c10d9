"""One gateway worker process: ``python -m zeroserve.cli.gatewayworker ARGS-JSON`` (:mod:`zeroserve.gateway.workers`).

Started by ``zeroserve up --workers N`` with the gateway's two listening sockets and one end of a
socketpair inherited. It accepts on the sockets as the main process does, applies the state the
main process sends (routes, mappings, endpoints, instance limits, request-log settings), serves
requests of revisions with containerConcurrency 0 through its own inline queue (in proxy mode
through its own activator first), relays the rest to the main process, and reports its instances'
stats every second, its activator's as Knative's activator does, and its request metrics every
:data:`~zeroserve.gateway.workers.SERIES_PERIOD` seconds (only what changed). It stops when the channel closes (the
main process is gone) or on SIGTERM/SIGINT (finishing its requests in flight for up to ``grace`` s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from zeroserve.activator.handler import SCOPE as ACTIVATOR_SCOPE
from zeroserve.activator.handler import Activator
from zeroserve.activator.reporter import ConcurrencyReporter
from zeroserve.activator.throttler import Throttler
from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.cli import heap
from zeroserve.gateway import routing
from zeroserve.gateway.server import Gateway
from zeroserve.gateway.workers import SERIES_PERIOD, Address, Channel, Op
from zeroserve.net.proxy import RequestHead, RouteResult, install_uvloop
from zeroserve.observability.metrics import (
    ActivatorMetrics,
    Attrs,
    MeterRegistry,
    QueueMetrics,
    RevisionRequests,
    SeriesWire,
    revision_attrs,
    series_by_revision,
)
from zeroserve.queue.inline import InlineQueue, InstanceLimits
from zeroserve.queue.requestlog import InstanceLogs, RequestLog, RequestLogSettings, RevisionInfo
from zeroserve.queue.stats import REPORT_PERIOD

log = logging.getLogger("zeroserve.cli.gatewayworker")


class ChannelStatSink:
    """The worker activator's ``StatSink``: its stats (the first request's poke at once) go to the
    main process, which records them into the autoscaler as its own activator's."""

    def __init__(self, state: WorkerState) -> None:
        self._state = state

    def send(self, messages: list[StatMessage]) -> None:
        self._state.reply(("stat_messages", messages))


GRACE = 5.0


class WorkerState:
    """Applies the main process's operations to this worker's gateway and inline queue."""

    def __init__(
        self,
        gateway: Gateway,
        inline: InlineQueue,
        logs_dir: Path | None,
        sidecar: bool = False,
        activator: Activator | None = None,
    ) -> None:
        """``sidecar``: the instances have queue-proxy sidecars (``up --queue-proxy sidecar``), which
        hold the breakers: every serve-mode endpoint is routed to from here. ``activator``: this
        worker's, for proxy-mode revisions with containerConcurrency 0 (its throttler is fed here)."""
        self.gateway = gateway
        self.activator = activator
        self.sidecar = sidecar
        self.inline = inline
        registry = MeterRegistry()
        self.metrics = QueueMetrics(registry)
        self.owners: dict[tuple[str, str], tuple[str, str]] = {}
        """Each revision's Service and Configuration (for the activator's metric attributes)."""
        self.activator_metrics = ActivatorMetrics(registry, lambda ns, rev: self.owners.get((ns, rev), ("", "")))
        self._limits: dict[tuple[str, str], InstanceLimits] = {}
        self._instances: dict[tuple[str, str], tuple[Address, ...]] = {}
        self._endpoints: dict[tuple[str, str], tuple[tuple[routing.Endpoint, ...], bool]] = {}
        self._requests: dict[tuple[str, str], RevisionRequests] = {}
        self._logs_dir = logs_dir
        self._log = RequestLog()
        self._logs: InstanceLogs | None = None
        self.ready = asyncio.Event()
        self.reply: Callable[[Op], None] = lambda op: None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _drain(self, token: int, address: Address) -> None:
        await self.inline.drain(address)
        self.reply(("drained", token))

    def apply(self, op: Op) -> None:
        name = op[0]
        if name == "publish":
            self.gateway.publish(op[1])
            self.reply(("served", op[1].namespace, op[1].name, op[1].generation))
        elif name == "withdraw":
            self.gateway.withdraw(op[1], op[2])
        elif name == "publish_mapping":
            self.gateway.publish_mapping(op[1])
        elif name == "withdraw_mapping":
            self.gateway.withdraw_mapping(op[1], op[2])
        elif name == "set_instances":
            self._set_instances(op[1], op[2], op[3], op[4])
        elif name == "set_endpoints":
            key = (op[1], op[2])
            if op[3]:
                self._endpoints[key] = (op[3], op[4])
            else:
                self._endpoints.pop(key, None)
            self._show(key)
        elif name == "configure_logs":
            self._configure_logs(op[1])
        elif name == "set_log_instances":
            if self._logs is not None:
                self._logs.set_instances(op[1], op[2], op[3])
        elif name == "drain":
            task = asyncio.get_running_loop().create_task(self._drain(op[1], op[2]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif name == "remove_revision":
            self._remove_revision(op[1], op[2])
        elif name == "ready":
            self.ready.set()
        elif name == "ping":
            self.reply(("pong",))  # from the loop: a worker whose loop is stuck does not answer
        else:
            log.warning("gateway worker: unknown operation %r", name)

    def _set_instances(self, namespace: str, revision: str, current: tuple[Address, ...], given: Any) -> None:
        limits, service, configuration = given
        key = (namespace, revision)
        self.owners[key] = (service, configuration)
        previous = self._instances.get(key, ())
        if current:
            self._instances[key] = current
            self._limits[key] = limits
        else:
            self._instances.pop(key, None)
        requests = self._requests.get(key)
        if requests is None:
            a = revision_attrs(namespace, revision, service, configuration)
            requests = self._requests[key] = self.metrics.revision(a)
        self.inline.sync(previous, current, limits, requests)
        if self.activator is not None and (current or self.activator.throttler.revision(namespace, revision)):
            # known from its first instance on (then its cold starts are this worker's too)
            throttler = self.activator.throttler
            throttler.set_revision(
                namespace,
                revision,
                limits.container_concurrency,
                limits.timeout,
                limits.response_start_timeout,
                limits.idle_timeout,
                h2c=limits.h2c,
            )
            throttler.set_endpoints(namespace, revision, current)
        self._show(key)

    def _remove_revision(self, namespace: str, revision: str) -> None:
        key = (namespace, revision)
        for table in (self._instances, self._limits, self._endpoints, self._requests, self.owners):
            table.pop(key, None)
        self.gateway.set_endpoints(namespace, revision, ())
        if self.activator is not None:
            self.activator.throttler.remove_revision(namespace, revision)

    def _show(self, key: tuple[str, str]) -> None:
        """The endpoints this worker routes to itself: a revision in serve mode whose instances need
        no breaker (containerConcurrency 0); the others are relayed to the main process."""
        endpoints, h2c = self._endpoints.get(key, ((), False))
        if self.sidecar:
            self.gateway.set_endpoints(key[0], key[1], endpoints, h2c=h2c)
            return
        limits = self._limits.get(key)
        if limits is None or limits.container_concurrency != 0:
            endpoints = ()
        elif endpoints:  # an instance gone (its set_instances came first) is not routed to meanwhile
            ready = set(self._instances.get(key, ()))
            endpoints = tuple(e for e in endpoints if e in ready)
        self.gateway.set_endpoints(key[0], key[1], endpoints, h2c=h2c)

    def _configure_logs(self, settings: RequestLogSettings | None) -> None:
        if settings is None or self._logs_dir is None:
            if self._logs is not None:
                self._logs.close()
                self._logs = None
        else:
            self._log.configure(settings)
            if self._logs is None:
                self._logs = InstanceLogs(self._log, self._open)
        self.gateway.request_logs = self._logs
        if self.activator is not None:
            self.activator.request_logs = self._logs

    def _open(self, info: RevisionInfo) -> Any:
        from zeroserve.runtime import logs

        assert self._logs_dir is not None
        return logs.LogFile(self._logs_dir / info.namespace / info.name / f"{info.pod_name}.log")

    def to_activator(self, head: RequestHead, backend: routing.Backend) -> RouteResult | Awaitable[RouteResult] | None:
        """The gateway's hook for a revision it shows no endpoint: this worker's activator for a
        revision with containerConcurrency 0 that it knows (it has had instances); None (relayed to
        the main process) for the others: a CC >= 1 revision's instances are admitted there only,
        and a revision never seen here is activated there (its first request decides its scale)."""
        activator = self.activator
        if activator is None:
            return None
        info = activator.throttler.revision(backend.namespace, backend.revision)
        if info is None or info.container_concurrency != 0:
            return None
        return activator.dispatch(head, backend.namespace, backend.revision, info, backend.headers, backend.drop)

    def busy_stats(self) -> dict[Address, Stat]:
        """The last 1 s stat of each instance of ours that had requests in it (idle ones: none sent)."""
        stats = {}
        for addresses in self._instances.values():
            for address in addresses:
                instance = self.inline.get(address)
                if instance is not None and (instance.stat.request_count or instance.stat.average_concurrent_requests):
                    stats[address] = instance.stat
        return stats

    def series(self) -> dict[tuple[str, str], list[SeriesWire]]:
        """This worker's request metrics per revision (cumulative, as a sidecar's)."""
        return series_by_revision(self.metrics)

    def activator_values(self) -> dict[str, dict[Attrs, float]]:
        """This worker's activator gauges (``kn.revision.request.*``) as they are now."""
        m = self.activator_metrics
        return {g.name: dict(g.values) for g in (m.concurrency, m.queued, m.active)}


async def run(args: Mapping[str, Any]) -> None:
    relay = args["relay"]
    ext, inner, forward = ((str(a[0]), int(a[1])) for a in relay)
    relay_to = (ext, inner, forward)
    inline = InlineQueue()
    tracer = None
    tracing = args.get("tracing")
    provider = None
    admission: Any = inline
    if isinstance(tracing, dict):  # config-observability's tracing, as up read it at its start
        from zeroserve.observability.settings import OBSERVABILITY_ENV, tracing_from_env
        from zeroserve.observability.tracing import make_provider
        from zeroserve.queue.tracing import TracedInlineQueue

        cfg = tracing_from_env({OBSERVABILITY_ENV: json.dumps({"tracing": tracing})})
        provider = make_provider(cfg, "zeroserve", {"k8s.namespace.name": "knative-serving"})
        if provider is not None:
            from zeroserve.gateway.server import SCOPE

            tracer = provider.get_tracer(SCOPE)
            admission = TracedInlineQueue(inline, provider)
    sidecar = bool(args.get("sidecar"))
    control = socket.socket(fileno=int(args["control"]))
    logs_dir = args.get("logs")
    state: WorkerState | None = None

    def to_activator(head: RequestHead, backend: routing.Backend) -> RouteResult | Awaitable[RouteResult] | None:
        return state.to_activator(head, backend) if state is not None else None

    gateway = Gateway(
        admission=None if sidecar else admission, relay_to=relay_to, tracer=tracer, no_endpoints=to_activator
    )
    state = WorkerState(gateway, inline, Path(logs_dir) if isinstance(logs_dir, str) else None, sidecar)
    activator = None
    if not sidecar:  # with sidecars, the main process's activator probes them (in their namespaces)
        metrics = state.activator_metrics  # Knative's kn.revision.request.* of this activator, summed by up
        reporter = ConcurrencyReporter(ChannelStatSink(state), f"activator-worker-{args['index']}", metrics)
        activator_tracer = provider.get_tracer(ACTIVATOR_SCOPE) if provider is not None else None
        activator = Activator(Throttler(None), reporter, admission=admission, tracer=activator_tracer, metrics=metrics)
        state.activator = activator
    stop = asyncio.Event()

    def ended() -> None:
        log.info("gateway worker %s: the main process is gone; stopping", args["index"])
        stop.set()

    channel = Channel(state.apply, ended, f"gateway worker {args['index']}")
    state.reply = channel.send  # before the first frame: the state's snapshot is acknowledged as it is applied
    loop = asyncio.get_running_loop()
    await loop.create_unix_connection(lambda: channel, sock=control)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def report() -> None:
        """Each second the instances' stats, each SERIES_PERIOD the metrics; only what changed (an
        idle worker sends nothing)."""
        next_at = loop.time()
        series_at = next_at + SERIES_PERIOD
        sent_stats: dict[Address, Stat] = {}
        sent_series: object = {}
        while True:
            next_at += REPORT_PERIOD
            await asyncio.sleep(max(next_at - loop.time(), 0))
            now = loop.time()
            inline.report(now)
            stats = state.busy_stats()
            if stats or sent_stats:  # the first idle second is sent too: up forgets the last load
                state.reply(("stats", stats))
            sent_stats = stats
            if now >= series_at:
                series_at = now + SERIES_PERIOD
                series = (state.series(), state.activator_values())
                if series != sent_series:
                    state.reply(("series", *series))
                sent_series = series

    try:
        async with asyncio.timeout(30):
            await state.ready.wait()  # the whole state first: nothing is answered from empty tables
    except TimeoutError:
        log.error("gateway worker %s: no state from the main process in 30 s", args["index"])
        return
    sockets = (socket.socket(fileno=int(args["external"])), socket.socket(fileno=int(args["internal"])))
    await gateway.start(sockets=sockets)
    state.reply(("accepting",))  # the main process stops accepting on these sockets
    heap.settle()  # as up's (zeroserve.cli.heap)
    reporting = asyncio.create_task(report())
    activator_stats = asyncio.create_task(activator.reporter.run()) if activator is not None else None
    try:
        await stop.wait()
    finally:
        reporting.cancel()
        await gateway.stop(GRACE)
        if activator is not None:
            assert activator_stats is not None
            activator_stats.cancel()
            await activator.throttler.close()
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)
        channel.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(argv) != 2:
        print("usage: python -m zeroserve.cli.gatewayworker ARGS-JSON (started by zeroserve up)", file=sys.stderr)
        return 2
    args = json.loads(argv[1])
    install_uvloop()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
