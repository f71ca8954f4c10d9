"""The activator's request path (Knative ``pkg/activator/handler``): the ``route`` hook of the proxy.

For each request, outermost first, as Knative's handler chain does:

1. probes are answered (:func:`probe_answer`): kubelet's 200, the ingress's network probe with its
   hash, ``K-Network-Probe: activator`` with ``200 activator`` (another value: 400);
2. the revision comes from ``Knative-Serving-Revision`` and ``Knative-Serving-Namespace`` (set by
   whoever routes to the activator), else from a Host ``<revision>.<namespace>.svc...``; an unknown
   revision gets 404 ``Error getting active endpoint: ...``;
3. the request is counted for the autoscaler (:mod:`~zeroserve.activator.reporter`) from now until
   its response ends;
4. it waits for capacity in the :class:`~zeroserve.activator.throttler.Throttler`; the wait counts
   toward the revision's ``timeoutSeconds``, ``responseStartTimeoutSeconds`` and
   ``idleTimeoutSeconds``, which the proxy then applies (504 ``activator request timeout``); a full
   queue gives 503 ``pending request queue full``;
5. it is proxied to the chosen instance with ``K-Proxy-Request: activator``, the Host moved to
   ``K-Original-Host`` and the revision headers stripped; the instance's slot is freed when the
   response ends. Upstream errors become 502 in :mod:`zeroserve.net.proxy`.

Traced (a ``tracer`` given: config-observability's tracing on), as Knative's handler: the wait for
capacity is the span ``throttler_try`` (an error status when no capacity came), then the proxying is
``activator_proxy`` until the response ends; both are children of the current span (the request's
server span). Knative has no attribute saying a wait was for a cold start; ``throttler_try`` here
carries ``zeroserve.cold_start`` (true: the revision had no ready instance when the request came, so
the span's length is the time the request waited for one to start), with ``kn.revision.name`` and
``k8s.namespace.name``.

Metered (``metrics`` given), as Knative's handler: ``kn.revision.request.queued`` counts the requests
waiting for capacity (a request that finds a slot at once never shows there), ``active`` those being
proxied until their response ends.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from zeroserve import errors
from zeroserve.activator.reporter import ConcurrencyReporter
from zeroserve.activator.throttler import TIMEOUT_MESSAGE as _TIMEOUT_TEXT
from zeroserve.activator.throttler import Lease, RevisionInfo, Throttler
from zeroserve.net import headers as h
from zeroserve.net.probe import network_probe
from zeroserve.net.proxy import RequestHead, Response, RouteResult, Target, Timeouts
from zeroserve.observability.metrics import ActivatorMetrics
from zeroserve.queue.breaker import QueueFull

if TYPE_CHECKING:  # OpenTelemetry is imported only where tracing is on
    from opentelemetry import trace

REVISION_HEADER = h.REVISION
NAMESPACE_HEADER = h.NAMESPACE
PROXY_NAME = b"activator"
TIMEOUT_MESSAGE = _TIMEOUT_TEXT.encode() + b"\n"

_REVISION = REVISION_HEADER.lower().encode()
_NAMESPACE = NAMESPACE_HEADER.lower().encode()
_PROBE = h.K_NETWORK_PROBE.lower().encode()
_KUBELET = h.K_KUBELET_PROBE.lower().encode()
_HASH = h.K_NETWORK_HASH.lower().encode()
# Not forwarded: the revision headers (Knative's activator.RevisionHeaders) and the network probe's
# hash (knative/networking's probe handler deletes it from every request it passes on).
_DROP_INLINE = frozenset({_REVISION, _NAMESPACE, _HASH})
_DROP = _DROP_INLINE | {b"host"}
_PROXIED = ((h.K_PROXY_REQUEST.encode(), PROXY_NAME),)
HEALTHY = Response(200, b"", ())
SCOPE = "knative.dev/serving/pkg/activator"
"""The tracer's name (instrumentation scope), Knative's activator's."""
COLD_START = "zeroserve.cold_start"


class RequestLogs(Protocol):
    """The inline queue-proxies' request logs (``zeroserve.queue.requestlog.InstanceLogs``)."""

    def watch(self, head: RequestHead, address: tuple[str, int]) -> None: ...


class Admission(Protocol):
    """The instances' queue-proxy work done in this process (``zeroserve.queue.inline``).

    Given, the activator sends a request straight to the app through ``admit``: the instance's
    breaker (shared with the gateway's direct path), its stats (as proxied), and ``timeouts``, the
    activator's (counted from when it began to hold the request), in place of the instance's."""

    def admit(
        self,
        address: tuple[str, int],
        proxied: bool,
        also: Callable[[], None] | None = None,
        *,
        headers: tuple[h.Header, ...] = (),
        drop: frozenset[bytes] = frozenset(),
        timeouts: Timeouts | None = None,
    ) -> RouteResult | Awaitable[RouteResult]: ...


def _text(status: int, message: str) -> Response:
    return Response(status, message.encode() + b"\n")


def revision_of(head: RequestHead) -> tuple[str, str] | None:
    """(namespace, revision) from the Knative headers, else from ``<rev>.<ns>.svc[.domain]`` Host."""
    marks = head.knative
    if marks is not None:
        name, namespace = marks.get(_REVISION), marks.get(_NAMESPACE)
        if name and namespace:
            return namespace.decode("latin-1"), name.decode("latin-1")
    host = head.host.rsplit(":", 1)[0] if not head.host.endswith("]") else head.host
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc" and parts[0] and parts[1]:
        return parts[1], parts[0]
    return None


def probe_answer(marks: Mapping[bytes, bytes]) -> Response | None:
    """The activator's answer to a probe, in Knative's order (``cmd/activator/main.go``); None: not one.

    * kubelet's (``K-Kubelet-Probe``, or a ``kube-probe/`` User-Agent): 200, the health check
      (``pkg/activator/handler/healthz_handler.go``);
    * the ingress's network probe, ``K-Network-Probe: probe``: its hash echoed (:mod:`zeroserve.net.probe`);
    * any other ``K-Network-Probe``: 200 ``activator`` for ``activator``, else 400
      (``pkg/activator/handler/probe_handler.go``).
    """
    agent = marks.get(h.USER_AGENT)
    if marks.get(_KUBELET) or (agent is not None and agent.startswith(h.KUBE_PROBE_UA)):
        return HEALTHY
    value = marks.get(_PROBE)
    if not value:
        return None
    if value == h.PROBE_VALUE:
        return network_probe(marks)
    if value == PROXY_NAME:
        return Response(200, PROXY_NAME)
    quoted = json.dumps(html.escape(value.decode("latin-1"), quote=True))  # Go's %q of html.EscapeString
    return _text(400, f"unexpected probe header value: {quoted}")


class Activator:
    """Routes requests for revisions that have no (or not enough) capacity in serve mode."""

    def __init__(
        self,
        throttler: Throttler,
        reporter: ConcurrencyReporter,
        *,
        clock: Callable[[], float] | None = None,
        admission: Admission | None = None,
        tracer: trace.Tracer | None = None,
        metrics: ActivatorMetrics | None = None,
    ) -> None:
        """``admission``: the instances have no queue-proxy sidecar; admit through it (see :class:`Admission`).
        ``tracer``: trace the requests (see the module). ``metrics``: Knative's ``kn.revision.request.queued``
        and ``active`` (see the module)."""
        self._metrics = metrics
        self.throttler = throttler
        self.reporter = reporter
        self._clock = clock
        self._admission = admission
        self.request_logs: RequestLogs | None = None
        """Set while request logs are on: each request sent through ``admission`` is logged as the
        instance's queue-proxy would (``zeroserve up``'s inline mode)."""
        self._tracer = tracer

    def _now(self) -> float:
        if self._clock is None:  # the loop's clock, looked up once (get_running_loop costs per call)
            self._clock = asyncio.get_running_loop().time
        return self._clock()

    def route(self, head: RequestHead) -> RouteResult | Awaitable[RouteResult]:
        """The :data:`zeroserve.net.Router` of the activator."""
        marks = head.knative
        if marks is not None:
            answer = probe_answer(marks)
            if answer is not None:
                return answer
        key = revision_of(head)
        if key is None:
            return _text(404, "Error getting active endpoint: no revision in the request (Knative-Serving-* headers)")
        info = self.throttler.revision(*key)
        if info is None:
            return _text(404, f'Error getting active endpoint: revision.serving.knative.dev "{key[1]}" not found')
        return self.dispatch(head, key[0], key[1], info)

    def dispatch(
        self,
        head: RequestHead,
        namespace: str,
        revision: str,
        info: RevisionInfo,
        headers: tuple[h.Header, ...] = (),
        drop: frozenset[bytes] = frozenset(),
    ) -> RouteResult | Awaitable[RouteResult]:
        """A Target on an instance with room, at once; else :meth:`forward` (also for in-process
        callers, which may add ``headers`` in place of the client's ``drop``, as an ingress does).
        A kubelet probe is answered 200 here: Knative's activator answers it before anything else."""
        marks = head.knative
        if marks is not None and marks.get(_KUBELET):
            return HEALTHY
        tracer = self._tracer
        trying = None
        if tracer is not None:
            attributes = {"kn.revision.name": revision, "k8s.namespace.name": namespace}
            trying = tracer.start_span("throttler_try", attributes=attributes)
            trying.set_attribute(COLD_START, self.throttler.capacity(namespace, revision) == 0)
        lease = self.throttler.try_acquire(namespace, revision)
        if lease is None:
            return self.forward(head, namespace, revision, info, headers, drop, trying=trying)
        self.reporter.request_in(namespace, revision, self._now())
        # Not held: the revision's timeouts count from now, when the proxy arms them.
        if trying is not None:
            trying.end()
            return self._traced(head, namespace, revision, lease, info.timeouts, headers, drop, info.h2c)
        return self._leased(head, namespace, revision, lease, info.timeouts, headers, drop, info.h2c)

    async def forward(
        self,
        head: RequestHead,
        namespace: str,
        revision: str,
        info: RevisionInfo,
        headers: tuple[h.Header, ...] = (),
        drop: frozenset[bytes] = frozenset(),
        *,
        trying: trace.Span | None = None,
    ) -> RouteResult:
        """Wait for capacity, then a Target on the chosen instance.

        The wait counts toward all three of the revision's timeouts (Knative wraps the throttler in
        its timeout handler, ``cmd/activator/main.go``): a request still held when the first of
        them passes gets 504 ``activator request timeout``. ``trying``: the ``throttler_try`` span,
        ended when the wait is."""
        timeouts = info.timeouts.anchored(asyncio.get_running_loop().time())
        self.reporter.request_in(namespace, revision, self._now())
        metrics = self._metrics
        queued = metrics.key(namespace, revision) if metrics is not None else None
        if metrics is not None and queued is not None:
            metrics.queued.add(queued, 1)
        try:
            async with asyncio.timeout_at(timeouts.held_until):
                lease = await self.throttler.acquire(namespace, revision)
        except BaseException as exc:
            if metrics is not None and queued is not None:
                metrics.queued.add(queued, -1)
            self.reporter.request_out(namespace, revision, self._now())
            if trying is not None:
                from opentelemetry.trace import StatusCode

                trying.set_status(StatusCode.ERROR, str(exc) or type(exc).__name__)
                trying.end()
            if isinstance(exc, TimeoutError):
                return Response(504, TIMEOUT_MESSAGE)
            if isinstance(exc, QueueFull):
                return _text(503, str(exc))
            if isinstance(exc, errors.NotFound):
                return _text(404, f"Error getting active endpoint: {exc.message}")
            raise
        if metrics is not None and queued is not None:
            metrics.queued.add(queued, -1)
        if trying is not None:
            trying.end()
            result = self._traced(head, namespace, revision, lease, timeouts, headers, drop, info.h2c)
        else:
            result = self._leased(head, namespace, revision, lease, timeouts, headers, drop, info.h2c)
        return result if isinstance(result, (Target, Response)) else await result

    def _traced(
        self,
        head: RequestHead,
        namespace: str,
        revision: str,
        lease: Lease,
        timeouts: Timeouts,
        headers: tuple[h.Header, ...],
        drop: frozenset[bytes],
        h2c: bool,
    ) -> RouteResult | Awaitable[RouteResult]:
        """:meth:`_leased` in the span ``activator_proxy`` (current while the next hop is chosen, so an
        inline queue-proxy's spans are its children), ended when the request is over."""
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        from zeroserve.net.tracing import propagate

        assert self._tracer is not None
        span = self._tracer.start_span("activator_proxy")
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = self._leased(head, namespace, revision, lease, timeouts, headers, drop, h2c, span)
        finally:
            otel_context.detach(token)
        if isinstance(result, Target):
            propagate(result, span)
        return result

    def _leased(
        self,
        head: RequestHead,
        namespace: str,
        revision: str,
        lease: Lease,
        timeouts: Timeouts,
        headers: tuple[h.Header, ...],
        drop: frozenset[bytes],
        h2c: bool,
        span: trace.Span | None = None,
    ) -> RouteResult | Awaitable[RouteResult]:
        """On to the leased instance: through the inline queue (which knows its protocol), else a
        Target (over h2c to a revision that speaks it: Knative's activator proxies HTTP/2 as HTTP/2)."""

        metrics = self._metrics
        active = metrics.key(namespace, revision) if metrics is not None else None
        if metrics is not None and active is not None:
            metrics.active.add(active, 1)

        def release() -> None:
            lease.release()
            self.reporter.request_out(namespace, revision, self._now())
            if metrics is not None and active is not None:
                metrics.active.add(active, -1)
            if span is not None:
                span.end()

        if self._admission is not None:
            # Straight to the app, through the instance's inline queue (Host left as the client sent it).
            if self.request_logs is not None:
                self.request_logs.watch(head, lease.address)
            return self._admission.admit(
                lease.address,
                True,
                release,
                headers=_PROXIED + headers if headers else _PROXIED,
                drop=_DROP_INLINE | drop if drop else _DROP_INLINE,
                timeouts=timeouts,
            )
        host, port = lease.address
        extra: list[h.Header] = [
            (b"Host", f"{host}:{port}".encode("latin-1") if ":" not in host else f"[{host}]:{port}".encode()),
            (h.K_PROXY_REQUEST.encode(), PROXY_NAME),
            *headers,
        ]
        if head.host:
            extra.append((h.K_ORIGINAL_HOST.encode(), head.host.encode("latin-1")))
        drop = _DROP | drop if drop else _DROP
        return Target(host, port, timeouts=timeouts, headers=tuple(extra), on_release=release, drop=drop, h2c=h2c)
