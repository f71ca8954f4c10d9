"""The queue-proxy process: net proxy core + breaker + stats + readiness + drain (Knative ``sharedmain``).

Two listeners, both on the one streaming proxy core (:class:`~zeroserve.net.ProxyServer`):

* the **serving port**, where every request for the instance enters. Probes are answered here
  (:meth:`QueueProxy._probe`): ``K-Network-Probe: queue`` with 200 ``queue`` once the app passes
  its readiness probe, the ingress's ``K-Network-Probe: probe`` with its hash, 503 while
  draining, 400 for another probe value; a ``K-Kubelet-Probe`` request goes to the app past the
  stats and the breaker. Every other request is
  counted in the stats (before the breaker, so queued requests count), passes the breaker
  when ``containerConcurrency >= 1`` (503 ``pending request queue full`` when 11 x CC are
  already in), then goes to the app on ``USER_PORT`` with the revision's timeouts (time
  queued counts toward ``timeoutSeconds``, ``responseStartTimeoutSeconds`` and
  ``idleTimeoutSeconds``). The proxy core sets ``Forwarded`` and
  ``X-Forwarded-*`` and preserves Host; it speaks HTTP/2 to an app whose port is named ``h2c``
  (``USER_PROTOCOL``), and takes HTTP/2 (prior knowledge) as well as HTTP/1.1 on the serving port.
* the **admin port**: ``GET /stats`` (the last 1 s report, JSON of
  :class:`~zeroserve.autoscaler.metrics.Stat`), ``GET /series`` (Knative's request metrics of this
  queue-proxy, cumulative, as JSON: ``kn.serving.invocation.duration`` by status code from arrival,
  probes not counted, and ``kn.serving.queue.depth``; ``zeroserve up`` polls it and sums the pods per
  revision, where Knative's Prometheus scrapes each queue-proxy's port 9091), ``POST /drain`` and
  ``GET /wait-for-drain`` (Knative's preStop hook): both drain and answer once the instance is drained.

Drain, in Knative's order: probes fail at once; requests that still arrive are served until a
quiet period passes without any; the serving port stops accepting and in-flight requests
complete (open upgraded connections get ``websocket_grace``); then the process exits 0.
SIGTERM and SIGINT drain too. When listening, the process prints
``queue-proxy ready serving=PORT admin=PORT`` on stdout.

With ``enableRequestLog`` in ``OBSERVABILITY_CONFIG`` every request that enters the serving port
(probes only with ``enableProbeRequestLog``) is written to stdout as a line of the request-log
template (:mod:`.requestlog`), as Knative's queue-proxy writes it; a template that does not parse
is logged and request logs stay off (Knative's ``requestLogHandler``).

Traced when ``OBSERVABILITY_CONFIG`` turns tracing on (else nothing of it is loaded): each request
but the probes is the span ``kn.queueproxy.proxy`` (a child of its ``traceparent``; Knative's sits
under otelhttp's ``queue`` span, left out here) with ``kn.queueproxy.wait`` for its time in the
breaker, as Knative's ``queue.ProxyHandler``; the app gets a ``traceparent`` naming the proxy span.
The spans are exported by this process, its resource Knative's queue-proxy's (``service.name`` the
Service's name, ``k8s.container.name`` ``queue-proxy``, the pod and ``kn.*`` names).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from zeroserve.autoscaler.metrics import Stat
from zeroserve.errors import ConfigError
from zeroserve.net import headers as h
from zeroserve.net.probe import network_probe
from zeroserve.net.proxy import (
    ProxyServer,
    RequestHead,
    Response,
    Router,
    RouteResult,
    Target,
    Timeouts,
    install_uvloop,
    limit,
)
from zeroserve.observability.metrics import MeterRegistry, QueueMetrics, revision_attrs, series_wire
from zeroserve.queue.breaker import QUEUE_FULL_MESSAGE, Breaker, QueueFull
from zeroserve.queue.drain import Drainer
from zeroserve.queue.readiness import Prober
from zeroserve.queue.requestlog import RequestLog, RevisionInfo
from zeroserve.queue.settings import Settings
from zeroserve.queue.stats import REPORT_PERIOD, RequestStats

if TYPE_CHECKING:  # OpenTelemetry is loaded only where tracing is on
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

PROBE_VALUE = "queue"
SERIES_PATH = "/series"
"""The admin port's Knative request metrics, as JSON (``series_wire``): what ``zeroserve up`` polls."""
READY_LINE = "queue-proxy ready serving={serving} admin={admin}"
ACTIVATOR = b"activator"
_PROBE_HEADER = h.K_NETWORK_PROBE.lower().encode()
_PROXY_HEADER = h.K_PROXY_REQUEST.lower().encode()
_KUBELET_HEADER = h.K_KUBELET_PROBE.lower().encode()
_JSON = ((b"Content-Type", b"application/json"),)

_ORIGINAL_HOST_HEADER = h.K_ORIGINAL_HOST.lower().encode()
_RESTORE_HOST_DROP = frozenset({b"host", _ORIGINAL_HOST_HEADER})

QUEUE_FULL = Response(503, QUEUE_FULL_MESSAGE.encode() + b"\n")
REQUEST_TIMEOUT = Response(504, b"request timeout\n")
SHUTTING_DOWN = Response(503, b"shutting down\n")
NOT_READY = Response(503, b"queue not ready\n")
PROBE_OK = Response(200, PROBE_VALUE.encode())


def timeouts_of(settings: Settings) -> Timeouts:
    """The proxy core's limits for a request to the app (0 means none, as in Knative)."""
    return Timeouts(
        connect=5.0,
        response_start=limit(settings.response_start_timeout),
        idle=limit(settings.idle_timeout),
        total=limit(settings.timeout),
        message="request timeout",
    )


class QueueProxy:
    """One queue-proxy: ``start()``, then serve until :meth:`drain` (or ``close()`` in tests)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        loop = asyncio.get_running_loop()
        self._loop = loop
        cc = settings.container_concurrency
        self.breaker = Breaker(settings.queue_depth, cc, cc) if cc >= 1 else None
        self.stats = RequestStats(loop.time(), pod_name=settings.pod)
        self.stat = Stat(pod_name=settings.pod)
        """The last 1 s report, served on ``GET /stats``."""
        self.probers = [
            Prober(probe, settings.user_host, probe.port or settings.user_port)
            for probe in (settings.readiness_probe, *settings.sidecar_probes)
        ]
        """The serving container's probe, then each sidecar's (multi-container probing): all must pass."""
        self.drainer = Drainer(settings.drain_quiet_period)
        self.timeouts = timeouts_of(settings)
        self.request_log = _request_log(settings)
        self.metrics = QueueMetrics(MeterRegistry())
        """Knative's request metrics of this queue-proxy, served on ``GET /series`` (``zeroserve up`` sums them)."""
        self._requests = self.metrics.revision(
            revision_attrs(settings.namespace, settings.revision, settings.service, settings.configuration)
        )
        self._revision = RevisionInfo(
            settings.revision, settings.namespace, settings.service, settings.configuration, settings.pod, settings.host
        ).value()
        self.tracer_provider: TracerProvider | None = None
        self.serving = ProxyServer(self.route if settings.tracing.protocol == "none" else self._traced())
        self.admin = ProxyServer(self.admin_route)
        self.drained = asyncio.Event()
        self.serving_port = self.admin_port = 0
        """The real ports, once started."""
        self._reporter: asyncio.Task[None] | None = None
        self._draining: asyncio.Task[None] | None = None

    def _traced(self) -> Router:
        from zeroserve.net.tracing import traced_router
        from zeroserve.observability.tracing import make_provider

        s = self.settings
        attributes = {
            "k8s.container.name": "queue-proxy",
            "k8s.namespace.name": s.namespace,
            "k8s.pod.name": s.pod,
            "service.instance.id": s.pod,
            "kn.service.name": s.service,
            "kn.configuration.name": s.configuration,
            "kn.revision.name": s.revision,
        }
        self.tracer_provider = provider = make_provider(
            s.tracing, s.service or s.configuration or s.revision or s.pod, attributes
        )
        assert provider is not None
        tracer = provider.get_tracer("knative.dev/serving/pkg/queue")
        wait = "kn.queueproxy.wait" if self.breaker is not None else None
        return traced_router(self.route, tracer, "kn.queueproxy.proxy", wait=wait)

    async def start(self) -> None:
        s = self.settings
        self.serving_port, self.admin_port = await asyncio.gather(
            self.serving.start(s.host, s.serving_port), self.admin.start(s.host, s.admin_port)
        )
        self._reporter = self._loop.create_task(self._report_forever(), name="queue-proxy stats")

    async def close(self) -> None:
        """Stop at once (no drain): for tests and for the end of :meth:`drain`."""
        if self._reporter is not None:
            self._reporter.cancel()
            self._reporter = None
        await self.serving.stop(grace=0)
        await self.admin.stop(grace=1.0)
        if self.tracer_provider is not None:  # the spans still batched go out before the process ends
            await asyncio.to_thread(self.tracer_provider.shutdown)
            self.tracer_provider = None

    async def __aenter__(self) -> QueueProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- serving port --------------------------------------------------------------------------

    def route(self, head: RequestHead) -> RouteResult | Awaitable[RouteResult]:
        if self.request_log is not None:  # first, as Knative's: probes answered here are logged too
            head.on_done = self.request_log.watch(head, _write_stdout, self._revision)
        proxied = False
        original_host: bytes | None = None
        marks = head.knative
        if marks is not None:  # Knative's headers (nearly every request a client sends has none)
            answer = self._probe(marks)
            if answer is not None:
                return answer
            proxied = marks.get(_PROXY_HEADER) == ACTIVATOR
            original_host = marks.get(_ORIGINAL_HOST_HEADER)
            if marks.get(_KUBELET_HEADER):
                return self._kubelet_probe(original_host)
        now = self._loop.time()
        self.drainer.touch(now)
        self.stats.req_in(now, proxied)
        breaker = self.breaker
        if breaker is not None:
            self._requests.depth(breaker.in_flight)  # kn.serving.queue.depth, as each request arrives
        if breaker is None or breaker.reserve():
            return self._target(self.timeouts, proxied, breaker is not None, now, original_host)
        return self._queued(now, proxied, original_host)

    def _kubelet_probe(self, original_host: bytes | None) -> Target:
        """``K-Kubelet-Probe``: on to the app past the stats and the breaker (Knative's
        ``queue.ProxyHandler``), with the revision's timeouts; it still counts as activity for drain."""
        self.drainer.touch(self._loop.time())
        s = self.settings
        if original_host is None:
            return Target(s.user_host, s.user_port, timeouts=self.timeouts, h2c=s.h2c)
        headers = ((b"Host", original_host),)
        return Target(
            s.user_host, s.user_port, timeouts=self.timeouts, headers=headers, drop=_RESTORE_HOST_DROP, h2c=s.h2c
        )

    def _target(
        self, timeouts: Timeouts, proxied: bool, holds_slot: bool, arrived: float, original_host: bytes | None = None
    ) -> Target:
        def done() -> None:
            if holds_slot and self.breaker is not None:
                self.breaker.release()
            now = self._loop.time()
            self.stats.req_out(now, proxied)
            if target.status:  # kn.serving.invocation.duration, from arrival (the proxy set the status)
                self._requests.done(now - arrived, target.status)

        s = self.settings
        if original_host is None:
            target = Target(s.user_host, s.user_port, timeouts=timeouts, on_release=done, h2c=s.h2c)
            return target
        # The activator moved the Host aside: the app sees the one the client sent (runtime contract).
        target = Target(
            s.user_host,
            s.user_port,
            timeouts=timeouts,
            on_release=done,
            headers=((b"Host", original_host),),
            drop=_RESTORE_HOST_DROP,
            h2c=s.h2c,
        )
        return target

    async def _queued(self, arrived: float, proxied: bool, original_host: bytes | None) -> RouteResult:
        """Wait in the breaker; the wait counts toward all three timeouts (Knative's timeout handler
        wraps the breaker: ``pkg/queue/sharedmain/handlers.go``)."""
        assert self.breaker is not None
        timeouts = self.timeouts.anchored(arrived)
        try:
            async with asyncio.timeout_at(timeouts.held_until):
                await self.breaker.acquire()
        except QueueFull:
            self.stats.req_out(self._loop.time(), proxied)
            return QUEUE_FULL
        except TimeoutError:
            self.stats.req_out(self._loop.time(), proxied)
            return REQUEST_TIMEOUT
        except BaseException:  # cancelled: the client went away while queued
            self.stats.req_out(self._loop.time(), proxied)
            raise
        return self._target(timeouts, proxied, True, arrived, original_host)

    def _probe(self, marks: dict[bytes, bytes]) -> RouteResult | Awaitable[RouteResult] | None:
        """The answer to a probe, in the order of Knative's queue-proxy handlers (None: not a probe).

        * A probe's User-Agent (kubelet's, the activator's, the autoscaler's): the health check
          (``pkg/queue/health/handler.go``): ``K-Network-Probe: queue`` runs the readiness probe,
          another value (or none) is 400; 503 ``shutting down`` once draining (``network/handlers/drain.go``).
        * ``K-Network-Probe: probe``, the ingress's: 200 echoing ``K-Network-Hash`` (400 without one),
          503 ``shutting down`` once draining.
        * Another ``K-Network-Probe`` value with no probe's User-Agent: answered as by the health
          check too (Knative would send it on to the app).
        """
        value = marks.get(_PROBE_HEADER)
        if marks.get(h.USER_AGENT) is None and value is None:
            return None
        if self.drainer.draining:
            return SHUTTING_DOWN
        if value == h.PROBE_VALUE and marks.get(h.USER_AGENT) is None:
            return network_probe(marks)
        if value != PROBE_VALUE.encode():
            return Response(400, b"unexpected probe header value: " + (value or b"") + b"\n")
        return self._probe_app()

    async def _probe_app(self) -> RouteResult:
        ready = all(await asyncio.gather(*(prober.probe() for prober in self.probers)))
        if self.drainer.draining:
            return SHUTTING_DOWN
        return PROBE_OK if ready else NOT_READY

    # -- admin port ----------------------------------------------------------------------------

    def admin_route(self, head: RequestHead) -> RouteResult | Awaitable[RouteResult]:
        path = head.path.split("?", 1)[0]
        if path == "/stats" and head.method in ("GET", "HEAD"):
            return Response(200, json.dumps(self.stat.to_wire()).encode(), _JSON)
        if path == SERIES_PATH and head.method in ("GET", "HEAD"):
            series = {"pod": self.settings.pod, "series": series_wire(self.metrics)}
            return Response(200, json.dumps(series).encode(), _JSON)
        if (path, head.method) in (("/drain", "POST"), ("/wait-for-drain", "GET")):
            return self._drain_response()
        return Response(404, b"not found: GET /stats, GET /series, POST /drain, GET /wait-for-drain\n")

    async def _drain_response(self) -> RouteResult:
        await self.drain()
        return Response(200, b"drained\n")

    # -- drain and stats -----------------------------------------------------------------------

    def begin_drain(self) -> None:
        """Start draining without waiting (the SIGTERM handler)."""
        if self._draining is None:
            self._draining = self._loop.create_task(self._drain(), name="queue-proxy drain")

    async def drain(self) -> None:
        """Drain (idempotent): returns once every request has completed and the serving port is closed."""
        self.begin_drain()
        assert self._draining is not None
        await asyncio.shield(self._draining)

    async def _drain(self) -> None:
        await self.drainer.drain()
        s = self.settings
        await self.serving.stop(grace=max(s.timeout, s.websocket_grace))
        self.drained.set()

    async def _report_forever(self) -> None:
        loop = self._loop
        next_at = loop.time()
        while True:
            next_at += REPORT_PERIOD
            await asyncio.sleep(max(next_at - loop.time(), 0))
            self.stat = replace(self.stats.report(loop.time()), timestamp=int(time.time()))


def _request_log(settings: Settings) -> RequestLog | None:
    if not settings.request_log.enabled:
        return None
    try:
        return RequestLog(settings.request_log)
    except ValueError as err:
        logger.error("Error setting up request logger. Request logs will be unavailable: %s", err)
        return None


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


async def serve(settings: Settings, out: TextIO = sys.stdout) -> None:
    """Run a queue-proxy until drained (SIGTERM/SIGINT or the admin port), then return."""
    proxy = QueueProxy(settings)
    await proxy.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, proxy.begin_drain)
    print(READY_LINE.format(serving=proxy.serving_port, admin=proxy.admin_port), file=out, flush=True)
    await proxy.drained.wait()
    await proxy.close()


def main(environ: Mapping[str, str] | None = None) -> int:
    """The ``queue-proxy`` entry point: settings from the environment, serve, exit 0 once drained."""
    logging.basicConfig(level=logging.WARNING, format="queue-proxy %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
    except ConfigError as err:
        print(f"queue-proxy: {err}", file=sys.stderr)
        return 2
    install_uvloop()
    asyncio.run(serve(settings))
    return 0
