"""Knative's metrics on a real `zeroserve up` under load: the API's /metrics (with the token), the
opt-in metrics listener (without) and OTLP/HTTP export to a sink in the test, decoded with
opentelemetry-proto. Counts in the histogram must match the requests sent, by status code."""

from __future__ import annotations

import http.client
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.e2e.harness import Up
from tests.support.polling import wait_for

GETS, POSTS = 12, 3
REV = "hello-00001"


class Sink(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.requests: list[ExportMetricsServiceRequest] = []


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    server: Sink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        assert self.path == "/v1/metrics", self.path
        assert self.headers.get("Content-Type") == "application/x-protobuf"
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


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


@pytest.fixture
def up(tmp_path: Path, sink: Sink) -> Iterator[Up]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.yaml").write_text(
        "config-observability:\n"
        "  metrics-protocol: http/protobuf\n"
        f"  metrics-endpoint: http://127.0.0.1:{sink.server_address[1]}/v1/metrics\n"
        "  metrics-export-interval: 1s\n"
    )
    server = Up(data, args=("--metrics-port", "0"))
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def send(up: Up, method: str) -> int:
    base = urlsplit(up.endpoints["gateway"])
    conn = http.client.HTTPConnection("127.0.0.1", base.port, timeout=30)
    try:
        conn.request(method, "/", body=b"x" if method == "POST" else None, headers={"Host": "hello.default.localhost"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series ``name`` whose labels include ``labels`` (None: no such series)."""
    for line in text.splitlines():
        m = re.fullmatch(r"(\w+)\{(.*)\} (\S+)", line)
        if m is None or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def test_knative_metrics_match_the_requests_sent(up: Up, sink: Sink) -> None:
    up.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py")
    statuses = [send(up, "GET") for _ in range(GETS)] + [send(up, "POST") for _ in range(POSTS)]
    assert statuses == [200] * GETS + [501] * POSTS  # BaseHTTPRequestHandler: no do_POST -> 501

    rev = {
        "kn_revision_name": REV,
        "kn_service_name": "hello",
        "kn_configuration_name": "hello",
        "k8s_namespace_name": "default",
        "otel_scope_name": "knative.dev/serving/pkg/queue",
    }
    count = "kn_serving_invocation_duration_seconds_count"

    # with gateway workers (up --workers), every process's series are summed each second: wait for the sum
    def summed() -> str | None:
        text = up.api_get("/metrics")
        got = (sample(text, count, http_response_status_code=code, **rev) for code in ("200", "501"))
        return text if tuple(got) == (GETS, POSTS) else None

    text = wait_for(summed, 10, "the requests' series")
    assert sample(text, count, http_response_status_code="200", **rev) == GETS
    assert sample(text, count, http_response_status_code="501", **rev) == POSTS
    inf = "kn_serving_invocation_duration_seconds_bucket"
    assert sample(text, inf, http_response_status_code="200", le="+Inf", **rev) == GETS
    assert sample(text, inf, http_response_status_code="200", le="10", **rev) == GETS
    total = sample(text, "kn_serving_invocation_duration_seconds_sum", http_response_status_code="200", **rev)
    assert total is not None and 0 < total < GETS * 10
    assert "# TYPE kn_serving_invocation_duration_seconds histogram" in text

    # the autoscaler's gauges, once a decider ticked with the instance ready (the count is the KPA's)
    scaling = {"kn_revision_name": REV, "k8s_namespace_name": "default", "kn_service_name": "hello"}

    def ticked() -> bool:
        text = up.api_get("/metrics")
        desired = sample(text, "kn_revision_pods_desired", **scaling)
        # panic mode once a tick had data (a tick before the first scrape records desired only)
        decided = sample(text, "kn_revision_panic_mode", **scaling) is not None
        return desired is not None and decided and sample(text, "kn_revision_pods_count", **scaling) == 1

    wait_for(ticked, 30, "kn_revision_pods_desired, kn_revision_panic_mode and kn_revision_pods_count 1")
    text = up.api_get("/metrics")
    assert 'zeroserve_autoscaler_desired_pods{namespace="default",revision="hello-00001"}' in text  # kept too
    assert sample(text, "kn_revision_concurrency_target", **scaling) == 70  # 100 x 0.7 (containerConcurrency 0)
    assert sample(text, "kn_revision_panic_mode", **scaling) in (0, 1)
    assert sample(text, "kn_revision_capacity_excess", **scaling) is not None
    assert sample(text, "kn_revision_concurrency_stable", **scaling) is not None
    # the KPA's pod gauges; the activator's (TBC 200 keeps it in the path): none held or proxied now
    assert sample(text, "kn_revision_pods_requested", **scaling) == 1
    assert sample(text, "kn_revision_pods_not_ready_count", **scaling) == 0
    assert sample(text, "kn_revision_pods_terminating_count", **scaling) == 0
    activator = {"kn_revision_name": REV, "otel_scope_name": "knative.dev/serving/pkg/activator"}
    # a gateway worker's activator (up --workers) is published with the second's sums: wait for a report
    concurrency = "kn_revision_request_concurrency"
    text = wait_for(
        lambda: (
            (t := up.api_get("/metrics"))
            and sample(t, concurrency, kn_service_name="hello", **activator) is not None
            and t
        ),
        10,
        "an activator report",
    )
    assert sample(text, "kn_revision_request_active", **activator) == 0
    assert sample(text, "kn_revision_request_queued", **activator) == 0
    assert sample(text, "kn_revision_request_concurrency", kn_service_name="hello", **activator) is not None

    # the metrics listener: the same series, no token
    listener = urlsplit(up.endpoints["metrics"])
    assert listener.hostname == "127.0.0.1"
    conn = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=30)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    plain = resp.read().decode()
    conn.close()
    assert resp.status == 200
    assert sample(plain, count, http_response_status_code="200", **rev) == GETS

    # OTLP/HTTP: the histogram with its bounds and counts, the status code an int attribute
    def exported() -> dict[int, tuple[int, list[float]]] | None:
        for request in reversed(sink.requests):
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name != "kn.serving.invocation.duration":
                            continue
                        assert sm.scope.name == "knative.dev/serving/pkg/queue"
                        assert metric.unit == "s"
                        out: dict[int, tuple[int, list[float]]] = {}
                        for p in metric.histogram.data_points:
                            a = {kv.key: kv.value for kv in p.attributes}
                            if a["kn.revision.name"].string_value == REV:
                                out[a["http.response.status_code"].int_value] = (p.count, list(p.explicit_bounds))
                        return out
        return None

    wait_for(lambda: (exported() or {}).get(200, (0, []))[0] == GETS, 30, "OTLP export of the requests")
    got = exported()
    assert got is not None
    assert got[501][0] == POSTS
    assert got[200][1] == [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


def test_sidecar_queue_proxies_metrics_reach_ups_metrics(tmp_path: Path) -> None:
    """--queue-proxy sidecar: each sidecar records them, up polls its GET /series and sums the pods."""
    up = Up(tmp_path / "data", args=("--queue-proxy", "sidecar"))
    up.start()
    try:
        up.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py")
        assert [send(up, "GET") for _ in range(3)] == [200] * 3
        labels = {"kn_revision_name": REV, "http_response_status_code": "200"}
        count = "kn_serving_invocation_duration_seconds_count"
        wait_for(lambda: sample(up.api_get("/metrics"), count, **labels) == 3, 30, "the sidecar's requests")
    finally:
        if up.proc is not None:  # stop() closes the log of one that died too
            up.stop()
