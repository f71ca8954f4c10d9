"""The inline queue-proxy's spans, as Knative's ``queue.ProxyHandler`` makes them (``pkg/queue/handler.go``).

:class:`TracedInlineQueue` stands in front of an :class:`~zeroserve.queue.inline.InlineQueue` where
tracing is configured (nothing changes where it is not): each request admitted to an instance gets
``kn.queueproxy.proxy`` (until the request is over, then with ``http.response.status_code``) and,
when the instance has a breaker (``containerConcurrency >= 1``), its child ``kn.queueproxy.wait``
for the time spent waiting for a slot (zero-length when one was free). Their parent is the current
span (the gateway's, or the activator's ``activator_proxy``); the app gets a ``traceparent``
naming ``kn.queueproxy.proxy``. Kubelet probes pass untraced, as Knative's handler lets them by
first. The spans carry the revision's attributes (``kn.revision.name``, ``k8s.namespace.name``,
``k8s.pod.name``): in Knative they are the queue-proxy's resource, here one process holds every instance's queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from opentelemetry import trace

from zeroserve.net import headers as h
from zeroserve.net.proxy import Response, RouteResult, Target, Timeouts
from zeroserve.net.tracing import set_status_code
from zeroserve.observability import tracing
from zeroserve.queue.inline import Address, InlineInstance, InlineQueue, Release

SCOPE = "knative.dev/serving/pkg/queue"
"""The tracer's name (instrumentation scope), Knative's queue-proxy's."""


class TracedInstance:
    """One instance's :class:`InlineInstance`, its requests traced."""

    def __init__(self, instance: InlineInstance, tracer: trace.Tracer, attributes: Mapping[str, Any]) -> None:
        self._instance = instance
        self._tracer = tracer
        self._attributes = attributes

    @property
    def in_flight(self) -> int:
        return self._instance.in_flight

    def admit_probe(self, *, headers: tuple[h.Header, ...] = (), drop: frozenset[bytes] = frozenset()) -> Target:
        return self._instance.admit_probe(headers=headers, drop=drop)

    def admit(
        self,
        proxied: bool,
        also: Release | None = None,
        *,
        headers: tuple[h.Header, ...] = (),
        drop: frozenset[bytes] = frozenset(),
        timeouts: Timeouts | None = None,
    ) -> RouteResult | Awaitable[RouteResult]:
        tracer = self._tracer
        span = tracer.start_span("kn.queueproxy.proxy", attributes=self._attributes)
        waiting = None
        if self._instance.breaker is not None:
            waiting = tracer.start_span("kn.queueproxy.wait", trace.set_span_in_context(span))

        admitted: list[Target] = []  # the Target, once there is one: its status when it is over

        def done() -> None:
            try:
                if also is not None:
                    also()
            finally:
                if admitted and admitted[0].status:
                    set_status_code(span, admitted[0].status)
                span.end()

        headers = (*(x for x in headers if x[0] != tracing.TRACEPARENT), tracing.header_of(span))
        result = self._instance.admit(proxied, done, headers=headers, drop=drop | tracing.DROP, timeouts=timeouts)
        if isinstance(result, (Target, Response)):
            if waiting is not None:
                waiting.end()
            if isinstance(result, Target):
                admitted.append(result)
            return result
        assert waiting is not None  # only a breaker makes a request wait
        return _waited(result, waiting, span, admitted)


async def _waited(
    pending: Awaitable[RouteResult], waiting: trace.Span, span: trace.Span, admitted: list[Target]
) -> RouteResult:
    try:
        result = await pending
    finally:
        waiting.end()
    if isinstance(result, Response):  # 503 queue full or 504: the slot never came
        set_status_code(span, result.status)
    elif isinstance(result, Target):
        admitted.append(result)
    return result


class TracedInlineQueue:
    """An :class:`InlineQueue` whose admissions are traced (the gateway's and the activator's ``admission``)."""

    def __init__(self, queue: InlineQueue, provider: trace.TracerProvider) -> None:
        self._queue = queue
        self._tracer = provider.get_tracer(SCOPE)
        self.loads = queue.loads

    def _attributes(self, instance: InlineInstance) -> dict[str, Any]:
        limits = instance.limits
        return {
            "kn.revision.name": limits.revision,
            "k8s.namespace.name": limits.namespace,
            "k8s.pod.name": instance.stats.pod_name,
        }

    def get(self, address: Address) -> TracedInstance | None:
        instance = self._queue.get(address)
        return None if instance is None else TracedInstance(instance, self._tracer, self._attributes(instance))

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
        traced = self.get(address)
        if traced is None:
            return self._queue.admit(address, proxied, also, headers=headers, drop=drop, timeouts=timeouts)
        return traced.admit(proxied, also, headers=headers, drop=drop, timeouts=timeouts)


__all__ = ["SCOPE", "TracedInlineQueue", "TracedInstance"]
