"""Issue 18's tracing on a real `zeroserve up`: config-observability points tracing at a tiny OTLP/HTTP
sink in the test (http.server on 127.0.0.1, decoding ExportTraceServiceRequest with opentelemetry-proto);
a request from scale-to-zero through gateway -> activator -> queue-proxy -> app yields Knative's spans,
linked (one trace id, the parent ids chaining), and the app sees a traceparent naming the last of them.
Inline queue-proxy and sidecar (its spans exported by its own process)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.harness import Up
from tests.support.polling import wait_for
from zeroserve.observability.tracing import parse_traceparent

CLIENT_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CLIENT_SPAN = 0x00F067AA0BA902B7


@dataclass
class Span:
    name: str
    trace_id: int
    span_id: int
    parent_id: int
    start: int
    end: int
    attributes: dict[str, Any]
    service: str


class Sink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Span] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def named(self, name: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.name == name]


class _Handler(BaseHTTPRequestHandler):
    server: Sink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        assert self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for rs in request.resource_spans:
            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attributes = {a.key: _value(a.value) for a in s.attributes}
                    spans.append(
                        Span(
                            s.name,
                            int.from_bytes(s.trace_id, "big"),
                            int.from_bytes(s.span_id, "big"),
                            int.from_bytes(s.parent_span_id, "big") if s.parent_span_id else 0,
                            s.start_time_unix_nano,
                            s.end_time_unix_nano,
                            attributes,
                            resource.get("service.name", ""),
                        )
                    )
        with self.server.lock:
            self.server.spans.extend(spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running(mode: str, sink: Sink, tmp_path: Path) -> Iterator[Up]:
    """A `zeroserve up` with the queue-proxy ``mode``, tracing every request to ``sink`` (``inline-workers``:
    inline, with two gateway workers, whose spans their own processes export)."""
    workers = ("--workers", "3") if mode == "inline-workers" else ()
    up = Up(tmp_path / "data", args=("--queue-proxy", mode.removesuffix("-workers"), *workers))
    up.data_dir.mkdir(parents=True)
    up.write_config(
        "config-autoscaler:\n  initial-scale: '0'\n  allow-zero-initial-scale: 'true'\n"
        "config-observability:\n"
        f"  tracing-protocol: http/protobuf\n  tracing-endpoint: {sink.url}\n  tracing-sampling-rate: '1'\n"
    )
    up.start()
    try:
        yield up
    finally:
        if up.proc is not None:  # stop() closes the log of one that died too
            up.stop()


@pytest.fixture(params=["inline", "sidecar", "inline-workers"])
def traced(request: pytest.FixtureRequest, sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Up]:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # spans out within 0.2 s (the SDK's 5 s default)
    with running(request.param, sink, tmp_path) as up:
        yield up


@pytest.fixture
def traced_inline(sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Up]:
    """The inline mode only: a new trace starts the same way in a sidecar (the test above covers its propagation)."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    with running("inline", sink, tmp_path) as up:
        yield up


def post(up: Up, host: str, headers: dict[str, str]) -> int:
    import http.client
    from urllib.parse import urlsplit

    base = urlsplit(up.endpoints["gateway"])
    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=60)
    try:
        conn.request("POST", "/traced", body=b"{}", headers={"Host": host, **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def replicas(up: Up, name: str) -> int:
    return int(json.loads(up.cli("get", "rev", name, "-o", "json").stdout)["status"].get("actualReplicas", -1))


def test_a_request_from_zero_is_traced_through_every_hop(traced: Up, sink: Sink) -> None:
    up = traced
    up.cli("service", "create", "rec", "--cmd", "python3", "--arg", "examples/event-recorder/app.py",
           "--concurrency-limit", "2")  # fmt: skip
    wait_for(lambda: replicas(up, "rec-00001") == 0, 60, "scaled to zero")
    traceparent = f"00-{CLIENT_TRACE:032x}-{CLIENT_SPAN:016x}-01"
    assert post(up, "rec.default.localhost", {"traceparent": traceparent, "tracestate": "k=v"}) == 200

    names = ("gateway", "throttler_try", "activator_proxy", "kn.queueproxy.proxy", "kn.queueproxy.wait")
    wait_for(lambda: all(any(s.trace_id == CLIENT_TRACE for s in sink.named(n)) for n in names), 30, "spans exported")
    spans = {n: next(s for s in sink.named(n) if s.trace_id == CLIENT_TRACE) for n in names}
    # one gateway hop, whichever process accepted the connection (a worker's relay makes no span)
    assert len([s for s in sink.named("gateway") if s.trace_id == CLIENT_TRACE]) == 1
    gateway, trying, proxying = spans["gateway"], spans["throttler_try"], spans["activator_proxy"]
    queue, waiting = spans["kn.queueproxy.proxy"], spans["kn.queueproxy.wait"]
    # Linked: the client's span -> gateway -> (throttler_try, activator_proxy) -> queue-proxy -> wait.
    assert gateway.parent_id == CLIENT_SPAN
    assert trying.parent_id == gateway.span_id and proxying.parent_id == gateway.span_id
    assert queue.parent_id == proxying.span_id and waiting.parent_id == queue.span_id
    # The wait for the cold start is throttler_try's length, and says so.
    assert trying.attributes["zeroserve.cold_start"] is True
    assert trying.attributes["kn.revision.name"] == "rec-00001"
    # in causal order (one clock on one machine), not by how long anything took: the gateway's span starts
    # before the try, the try ends before the proxying starts, and that before the instance's queue-proxy
    # gets the request, which is before the proxying's and the gateway's spans end (the response ends them)
    assert gateway.start <= trying.start <= trying.end <= proxying.start <= queue.start
    assert queue.start <= proxying.end and queue.start <= gateway.end
    assert queue.attributes.get("kn.revision.name") == "rec-00001" or queue.service == "rec"
    # The status the client got, on the proxied hops' server spans.
    assert gateway.attributes["http.response.status_code"] == 200
    assert queue.attributes["http.response.status_code"] == 200

    # The app saw the trace: the incoming trace id, its parent the queue-proxy's span; tracestate passed on.
    status, body = up.get("rec.default.localhost", "/events")
    assert status == 200
    seen = [e["headers"] for e in json.loads(body) if e["headers"].get("traceparent")]
    assert len(seen) == 1, seen
    parent = parse_traceparent(seen[0]["traceparent"].encode())
    assert parent is not None and parent.trace_id == CLIENT_TRACE and parent.sampled
    assert parent.span_id == queue.span_id
    assert seen[0]["tracestate"] == "k=v"


def test_a_request_without_traceparent_starts_a_trace(traced_inline: Up, sink: Sink) -> None:
    up = traced_inline
    up.cli("service", "create", "rec", "--cmd", "python3", "--arg", "examples/event-recorder/app.py",
           "--scale-min", "1")  # fmt: skip
    wait_for(lambda: replicas(up, "rec-00001") == 1, 60, "one instance")
    assert post(up, "rec.default.localhost", {}) == 200
    _, body = up.get("rec.default.localhost", "/events")
    seen = [e["headers"]["traceparent"] for e in json.loads(body) if "traceparent" in e["headers"]]
    assert len(seen) == 1
    parent = parse_traceparent(seen[0].encode())
    assert parent is not None and parent.sampled and parent.trace_id != CLIENT_TRACE
    wait_for(lambda: any(s.trace_id == parent.trace_id for s in sink.named("kn.queueproxy.proxy")), 30, "exported")
    gateway = next(s for s in sink.named("gateway") if s.trace_id == parent.trace_id)
    assert gateway.parent_id == 0  # a root: no traceparent came
