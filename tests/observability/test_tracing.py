"""W3C traceparent parsing and propagation, knative/pkg's sampler choice, a sidecar's OBSERVABILITY_CONFIG,
a proxied request's span status."""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

from zeroserve.config import TracingExportConfig
from zeroserve.errors import ConfigError
from zeroserve.net.proxy import RequestHead, Target
from zeroserve.net.tracing import traced_router
from zeroserve.observability.settings import OBSERVABILITY_ENV, tracing_from_env, tracing_json
from zeroserve.observability.tracing import (
    TraceParent,
    format_traceparent,
    header_of,
    incoming,
    make_provider,
    parent_context,
    parse_traceparent,
    sampler_for,
)

VALID = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0bb902b7-01"


def test_a_valid_traceparent_parses_and_formats_back() -> None:
    parsed = parse_traceparent(VALID)
    assert parsed == TraceParent(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BB902B7, 1)
    assert parsed.sampled
    assert format_traceparent(parsed.trace_id, parsed.span_id, parsed.flags) == VALID
    assert not TraceParent(1, 1, 0).sampled


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"", id="empty"),
        pytest.param(VALID.upper(), id="upper-case hex"),
        pytest.param(b"00-00000000000000000000000000000000-00f067aa0bb902b7-01", id="zero trace id"),
        pytest.param(b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", id="zero parent id"),
        pytest.param(b"ff" + VALID[2:], id="version ff"),
        pytest.param(VALID + b"-extra", id="version 00 with more"),
        pytest.param(VALID[:-1], id="short flags"),
        pytest.param(b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0bb902b7-01", id="short trace id"),
        pytest.param(b"0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0bb902b7-01", id="bad version"),
        pytest.param(b"01" + VALID[2:] + b"x", id="later version, no dash after"),
    ],
)
def test_invalid_traceparents_are_ignored(value: bytes) -> None:
    assert parse_traceparent(value) is None


def test_a_later_version_is_read_as_far_as_it_is_understood() -> None:
    assert parse_traceparent(b"cc" + VALID[2:] + b"-what-comes-next") is not None
    assert parse_traceparent(b" " + VALID + b"\t") is not None  # OWS around a header value


def test_incoming_takes_the_one_traceparent_of_any_case() -> None:
    assert incoming([(b"Host", b"x"), (b"TraceParent", VALID)]) == parse_traceparent(VALID)
    assert incoming([(b"host", b"x")]) is None
    assert incoming([(b"traceparent", VALID), (b"traceparent", VALID)]) is None  # several: invalid


def test_a_child_span_continues_the_incoming_trace_and_is_the_next_hops_parent() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    span = tracer.start_span("hop", parent_context([(b"traceparent", VALID)]))
    name, value = header_of(span)
    span.end()
    sent = parse_traceparent(value)
    assert name == b"traceparent" and sent is not None
    assert sent.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736 and sent.sampled
    (finished,) = exporter.get_finished_spans()
    assert finished.parent is not None and finished.parent.span_id == 0x00F067AA0BB902B7
    assert sent.span_id == finished.context.span_id
    root = tracer.start_span("root", parent_context([]))
    root.end()
    assert root.get_span_context().trace_id != sent.trace_id
    assert exporter.get_finished_spans()[-1].parent is None
    assert isinstance(trace.get_current_span(), trace.NonRecordingSpan)  # nothing was made current


@pytest.mark.parametrize(
    ("cfg", "environ", "expected"),
    [
        pytest.param(TracingExportConfig("http/protobuf", "http://x", 1.0), {}, ALWAYS_ON, id="1: always"),
        pytest.param(TracingExportConfig("http/protobuf", "http://x", 0.0), {}, ALWAYS_OFF, id="0: never"),
        pytest.param(TracingExportConfig("stdout", "", 0.0), {}, ALWAYS_ON, id="stdout: always"),
        pytest.param(
            TracingExportConfig("http/protobuf", "http://x", 0.0), {"OTEL_TRACES_SAMPLER_ARG": "1"}, ALWAYS_ON, id="arg"
        ),
        pytest.param(TracingExportConfig("grpc", "x", 1.0), {"OTEL_TRACES_SAMPLER": "always_off"}, None, id="env"),
    ],
)
def test_sampling_as_knatives_sample_for(cfg: TracingExportConfig, environ: dict[str, str], expected: object) -> None:
    assert sampler_for(cfg, environ) is expected


def test_a_rate_between_follows_the_parent_else_the_ratio() -> None:
    sampler = sampler_for(TracingExportConfig("http/protobuf", "http://x", 0.25), {})
    assert isinstance(sampler, ParentBased)
    assert "0.25" in str(sampler.get_description())  # type: ignore[no-untyped-call]
    with pytest.raises(ConfigError, match="OTEL_TRACES_SAMPLER_ARG"):
        sampler_for(TracingExportConfig("http/protobuf", "http://x", 0.25), {"OTEL_TRACES_SAMPLER_ARG": "lots"})


def test_no_provider_when_off() -> None:
    assert make_provider(TracingExportConfig(), "x") is None
    provider = make_provider(TracingExportConfig("stdout", "", 0.0), "svc", {"k8s.pod.name": "p"}, {})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "svc"
    assert provider.resource.attributes["k8s.pod.name"] == "p"
    provider.shutdown()
    named = make_provider(TracingExportConfig("stdout", "", 0.0), "svc", None, {"OTEL_SERVICE_NAME": "mine"})
    assert named is not None and named.resource.attributes["service.name"] == "mine"
    named.shutdown()


def test_a_sidecars_configuration_round_trips_through_its_environment() -> None:
    cfg = TracingExportConfig("http/protobuf", "http://127.0.0.1:4318/v1/traces", 0.5)
    env = {OBSERVABILITY_ENV: json.dumps({"tracing": tracing_json(cfg), "enableRequestLog": True})}
    assert tracing_from_env(env) == cfg
    assert tracing_from_env({}) == TracingExportConfig()
    assert json.loads(env[OBSERVABILITY_ENV])["tracing"]["samplingRate"] == 0.5  # knative/pkg's key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "failed to parse OBSERVABILITY_CONFIG"),
        ('{"tracing": []}', "tracing: must be an object"),
        ('{"tracing": {"samplingRate": "1"}}', "samplingRate: a number"),
        ('{"tracing": {"protocol": "zipkin"}}', 'unsupported protocol "zipkin"'),
    ],
)
def test_a_bad_observability_config_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tracing_from_env({OBSERVABILITY_ENV: text})


@pytest.mark.parametrize(("status", "error"), [(200, False), (503, True)])
def test_a_proxied_requests_span_ends_with_the_status_the_client_got(status: int, error: bool) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    target = Target("127.0.0.1", 1)
    route = traced_router(lambda head: target, provider.get_tracer("test"), "gateway")
    assert route(RequestHead("GET", "/x", "HTTP/1.1", [(b"host", b"h")], "h", None)) is target
    assert exporter.get_finished_spans() == ()  # open until the request is over
    target.status = status  # as the proxy sets it before release
    target.release()
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None and span.attributes["http.response.status_code"] == status
    assert (span.status.status_code == trace.StatusCode.ERROR) is error
