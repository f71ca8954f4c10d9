"""A route hook with a span around each request: how a proxy hop is traced (zeroserve.observability.tracing).

:func:`traced_router` wraps a :data:`~zeroserve.net.proxy.Router` only when tracing is configured; with
tracing off the hook is the bare one, so the proxy's per-request path is exactly what it was. Each
request then gets a span (its parent the request's ``traceparent``, or none: a new trace) that is the
current OpenTelemetry context while the hook runs, awaited parts included, so the hops inside this
process (the activator, the inline queue-proxy) make their spans its children. The span ends when
the request is over (``Target.release``, with ``http.response.status_code`` the status the client
got: an error status from 500 on), or at once for a local answer; the request goes on with a
``traceparent`` naming the innermost span made for it (the one a hop inside set, else this one), the
client's replaced. Probes (``K-Network-Probe``, kubelet's) are not traced, as Knative's otelhttp
filters leave them out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from zeroserve.net import headers as h
from zeroserve.net.proxy import Local, RequestHead, Response, Router, RouteResult, Target
from zeroserve.observability import tracing

STATUS_CODE = "http.response.status_code"
_PROBES = (h.K_NETWORK_PROBE.lower().encode(), h.K_KUBELET_PROBE.lower().encode())


def is_probe(head: RequestHead) -> bool:
    marks = head.knative
    return marks is not None and any(marks.get(name) for name in _PROBES)


def propagate(target: Target, span: trace.Span) -> None:
    """Send ``target``'s request on with ``span`` as its parent, unless a hop inside set one already."""
    if any(name == tracing.TRACEPARENT for name, _ in target.headers):
        return
    target.headers = (*target.headers, tracing.header_of(span))
    target.drop = target.drop | tracing.DROP


def finish(result: RouteResult | Local, span: trace.Span) -> RouteResult | Local:
    """What the hook answered, with ``span`` ended when it is over and propagated to the next hop."""
    if isinstance(result, Target):
        propagate(result, span)
        result.also_on_release(_ender(result, span))
        return result
    if isinstance(result, Response):
        set_status_code(span, result.status)
    span.end()
    return result


def set_status_code(span: trace.Span, status: int) -> None:
    """``http.response.status_code`` (and an error status for 5xx, as otelhttp's server spans)."""
    span.set_attribute(STATUS_CODE, status)
    if status >= 500:
        span.set_status(trace.StatusCode.ERROR)


def _ender(target: Target, span: trace.Span) -> Callable[[], None]:
    """End ``span`` with the status the client got (the proxy sets ``target.status`` before release)."""

    def end() -> None:
        if target.status:
            set_status_code(span, target.status)
        span.end()

    return end


def traced_router(
    router: Router,
    tracer: trace.Tracer,
    name: str,
    *,
    wait: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Router:
    """``router`` with a SERVER span ``name`` per request (see the module). ``wait``: also a span of
    that name, a child, for the time the hook made the request wait (an awaitable answer: a breaker's
    queue), from the request's arrival until it got its answer; zero-length when it did not wait."""
    fixed = dict(attributes or {})

    def route(head: RequestHead) -> RouteResult | Local | Awaitable[RouteResult]:
        if is_probe(head):
            return router(head)
        attrs = {**fixed, "http.request.method": head.method, "url.path": head.path.split("?", 1)[0]}
        if head.host:
            attrs["server.address"] = head.host
        span = tracer.start_span(
            name, tracing.parent_context(head.headers), kind=trace.SpanKind.SERVER, attributes=attrs
        )
        ctx = trace.set_span_in_context(span)
        waiting = tracer.start_span(wait, ctx) if wait is not None else None
        token = otel_context.attach(ctx)
        try:
            result = router(head)
        except BaseException:
            if waiting is not None:
                waiting.end()
            span.end()
            raise
        finally:
            otel_context.detach(token)
        if isinstance(result, (Target, Response, Local)):
            if waiting is not None:
                waiting.end()
            return finish(result, span)
        return _later(result, ctx, span, waiting)

    return route


def relayed_router(router: Router) -> Router:
    """``router`` for a hop that makes no span of its own: a gateway worker's relay to the main
    process (``zeroserve.gateway.workers``), whose gateway span is already the request's
    ``traceparent``. That context is current while the hook runs, so the spans made inside (the
    activator's, the inline queue-proxy's) are the worker's span's children, as without the relay."""

    def route(head: RequestHead) -> RouteResult | Local | Awaitable[RouteResult]:
        ctx = tracing.parent_context(head.headers) or otel_context.Context()
        token = otel_context.attach(ctx)
        try:
            result = router(head)
        finally:
            otel_context.detach(token)
        if isinstance(result, (Target, Response, Local)):
            return result
        return _within(result, ctx)

    return route


async def _within(pending: Awaitable[RouteResult], ctx: otel_context.Context) -> RouteResult:
    token = otel_context.attach(ctx)
    try:
        return await pending
    finally:
        otel_context.detach(token)


async def _later(
    pending: Awaitable[RouteResult], ctx: otel_context.Context, span: trace.Span, waiting: trace.Span | None
) -> RouteResult:
    token = otel_context.attach(ctx)
    try:
        result = await pending
    except BaseException as exc:
        span.record_exception(exc)
        span.end()
        raise
    finally:
        if waiting is not None:
            waiting.end()
        otel_context.detach(token)
    finished = finish(result, span)
    assert not isinstance(finished, Local)
    return finished


__all__ = ["STATUS_CODE", "finish", "is_probe", "propagate", "relayed_router", "set_status_code", "traced_router"]
