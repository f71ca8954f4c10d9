"""Tracing as Knative's components do it (knative/pkg ``observability/tracing``), on the OpenTelemetry SDK.

**Configuration** (config-observability, :class:`~zeroserve.config.TracingExportConfig`):
``tracing-protocol`` ``none`` (the default: no provider at all, nothing runs per request),
``http/protobuf`` (OTLP over HTTP to ``tracing-endpoint``, a URL used as it is, e.g.
``http://127.0.0.1:4318/v1/traces``), ``grpc`` (OTLP/gRPC, when ``opentelemetry-exporter-otlp-proto-grpc``
is installed) or ``stdout``. ``tracing-sampling-rate`` samples as ``sampleFor``: 1 or more samples every
trace (a parent's decision too), 0 none, anything between is ``ParentBased(TraceIDRatioBased(rate))``;
``stdout`` samples everything. As Knative, ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` override the endpoint, ``OTEL_TRACES_SAMPLER`` the sampler and
``OTEL_TRACES_SAMPLER_ARG`` the rate; the SDK's ``OTEL_BSP_*`` variables tune the batching.

**Propagation**: W3C Trace Context (``traceparent``; ``tracestate`` is passed on as it came). The
parser here is the spec's (version ``00`` exactly 55 characters, later versions longer only after a
``-``, version ``ff``, an all-zero trace or parent id, or upper-case hex: invalid, and so ignored: the
request starts a new trace). Header values are bytes, as the proxy core holds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from zeroserve.config import TracingExportConfig
from zeroserve.errors import ConfigError

TRACEPARENT: Final = b"traceparent"
DROP: Final = frozenset({TRACEPARENT})
"""Request headers a traced hop replaces (lower-case): the client's ``traceparent``."""

_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A parsed ``traceparent``: ids as integers, the flags byte (bit 0: sampled)."""

    trace_id: int
    span_id: int
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)


def parse_traceparent(value: bytes) -> TraceParent | None:
    """The W3C ``traceparent`` header's value, or None when it is not a valid one."""
    m = _TRACEPARENT.match(value.strip(b" \t"))
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    tid, sid = int(trace_id, 16), int(span_id, 16)
    if tid == 0 or sid == 0:
        return None
    return TraceParent(tid, sid, int(flags, 16))


def format_traceparent(trace_id: int, span_id: int, flags: int) -> bytes:
    """``00-<32 hex>-<16 hex>-<2 hex>``."""
    return b"00-%032x-%016x-%02x" % (trace_id, span_id, flags & 0xFF)


def incoming(headers: Iterable[tuple[bytes, bytes]]) -> TraceParent | None:
    """The request's trace parent: its one valid ``traceparent`` (none, or several: None)."""
    found: TraceParent | None = None
    seen = False
    for name, value in headers:
        if len(name) == 11 and name.lower() == TRACEPARENT:
            if seen:
                return None  # several traceparent headers: invalid (W3C Trace Context §3.2)
            seen = True
            found = parse_traceparent(value)
    return found


def parent_context(headers: Iterable[tuple[bytes, bytes]]) -> otel_context.Context | None:
    """The OpenTelemetry context a server span of this request starts in (None: a new trace)."""
    parent = incoming(headers)
    if parent is None:
        return None
    span_context = trace.SpanContext(
        parent.trace_id, parent.span_id, is_remote=True, trace_flags=trace.TraceFlags(parent.flags & 1)
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


def header_of(span: trace.Span) -> tuple[bytes, bytes]:
    """The ``traceparent`` header that makes ``span`` the parent of the next hop."""
    sc = span.get_span_context()
    return (TRACEPARENT, format_traceparent(sc.trace_id, sc.span_id, int(sc.trace_flags)))


# ----------------------------------------------------------------------------- the provider


def sampler_for(cfg: TracingExportConfig, environ: Mapping[str, str]) -> Sampler | None:
    """knative/pkg ``sampleFor`` (None: the SDK's own, from ``OTEL_TRACES_SAMPLER``)."""
    if environ.get("OTEL_TRACES_SAMPLER"):
        return None
    if cfg.protocol == "stdout":
        return ALWAYS_ON
    rate = cfg.sampling_rate
    override = environ.get("OTEL_TRACES_SAMPLER_ARG")
    if override:
        try:
            rate = float(override)
        except ValueError:
            raise ConfigError(f"unable to parse sample rate override: OTEL_TRACES_SAMPLER_ARG={override!r}") from None
    if rate >= 1.0:
        return ALWAYS_ON
    if rate <= 0.0:
        return ALWAYS_OFF
    return ParentBased(TraceIdRatioBased(rate))


def exporter_for(cfg: TracingExportConfig, environ: Mapping[str, str]) -> SpanExporter:
    """knative/pkg ``exporterFor``: OTLP over HTTP or gRPC, or stdout."""
    overridden = bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    endpoint = None if overridden else cfg.endpoint
    if cfg.protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint)
    if cfg.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise ConfigError(
                'tracing-protocol "grpc" needs opentelemetry-exporter-otlp-proto-grpc installed; or use "http/protobuf"'
            ) from None
        exporter: SpanExporter = GrpcExporter(endpoint=endpoint)
        return exporter
    if cfg.protocol == "stdout":
        return ConsoleSpanExporter()
    raise ConfigError(f'unsupported protocol "{cfg.protocol}"')


def make_provider(
    cfg: TracingExportConfig,
    service_name: str,
    attributes: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TracerProvider | None:
    """knative/pkg ``NewTracerProvider``: None for protocol ``none`` (tracing off), else a provider that
    batches spans to the configured exporter. ``OTEL_SERVICE_NAME`` overrides ``service_name``."""
    if cfg.protocol == "none":
        return None
    env = os.environ if environ is None else environ
    resource = Resource.create({**(attributes or {}), "service.name": env.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource, sampler=sampler_for(cfg, env))
    provider.add_span_processor(BatchSpanProcessor(exporter_for(cfg, env)))
    return provider


__all__ = [
    "DROP",
    "TRACEPARENT",
    "TraceParent",
    "exporter_for",
    "format_traceparent",
    "header_of",
    "incoming",
    "make_provider",
    "parent_context",
    "parse_traceparent",
    "sampler_for",
]
