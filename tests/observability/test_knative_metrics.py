"""Knative's metric names as its Prometheus exporter writes them, and the cheap instruments behind them."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics.export import Histogram
from prometheus_client import CollectorRegistry

from zeroserve.observability.metrics import (
    LATENCY_BOUNDS,
    AutoscalerMetrics,
    MeterRegistry,
    QueueMetrics,
    revision_attrs,
)
from zeroserve.observability.otlp import metrics_data, points_of
from zeroserve.observability.prometheus import KnativeCollector, label_name, metric_name


@pytest.mark.parametrize(
    ("name", "unit", "kind", "want"),
    [
        ("kn.serving.invocation.duration", "s", "histogram", "kn_serving_invocation_duration_seconds"),
        ("kn.serving.queue.depth", "{request}", "gauge", "kn_serving_queue_depth"),
        ("kn.revision.pods.desired", "{item}", "gauge", "kn_revision_pods_desired"),
        ("kn.revision.pods.not_ready.count", "{pod}", "gauge", "kn_revision_pods_not_ready_count"),
        ("kn.revision.rps.stable", "{request}/s", "gauge", "kn_revision_rps_stable_per_second"),
        ("kn.revision.request.queued", "{request}", "updowncounter", "kn_revision_request_queued"),
        ("kn.revision.panic.mode", "", "gauge", "kn_revision_panic_mode"),
        ("http.server.request.body.size", "By", "histogram", "http_server_request_body_size_bytes"),
        ("requests.count", "1", "counter", "requests_count_total"),
        ("requests.total", "1", "counter", "requests_total"),
        ("cpu.utilization", "1", "gauge", "cpu_utilization_ratio"),
        ("latency.seconds", "s", "histogram", "latency_seconds"),
        ("throughput", "By/s", "gauge", "throughput_bytes_per_second"),
        ("a..b--c", "ms", "gauge", "a_b_c_milliseconds"),
        ("2xx.responses", "", "gauge", "_2xx_responses"),
    ],
)
def test_names_as_otlptranslator_underscore_escaping_with_suffixes(name: str, unit: str, kind: str, want: str) -> None:
    assert metric_name(name, unit, kind) == want


@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("http.response.status_code", "http_response_status_code"),
        ("k8s.namespace.name", "k8s_namespace_name"),
        ("kn.route.tag", "kn_route_tag"),
        ("a..b", "a_b"),
        ("1st", "key_1st"),
        ("__reserved__", "__reserved__"),
    ],
)
def test_label_names(key: str, want: str) -> None:
    assert label_name(key) == want


def test_histogram_buckets_are_upper_inclusive_and_by_status() -> None:
    meters = MeterRegistry(clock=lambda: 100.0)
    rev = QueueMetrics(meters).revision(revision_attrs("ns", "r-1", "svc", "cfg"))
    for v in (0.005, 0.0051, 10.0, 11.0):
        rev.done(v, 200)
    rev.done(0.3, 503)
    registry = CollectorRegistry()
    registry.register(KnativeCollector(meters))
    labels = {
        "otel_scope_name": "knative.dev/serving/pkg/queue",
        "k8s_namespace_name": "ns",
        "kn_revision_name": "r-1",
        "kn_service_name": "svc",
        "kn_configuration_name": "cfg",
    }
    name = "kn_serving_invocation_duration_seconds"

    def bucket(le: str, status: str = "200") -> float | None:
        return registry.get_sample_value(f"{name}_bucket", {**labels, "http_response_status_code": status, "le": le})

    assert bucket("0.005") == 1  # (.., 0.005]: 0.005 is in it, as OTel's explicit buckets
    assert bucket("0.01") == 2
    assert bucket("10") == 3
    assert bucket("+Inf") == 4
    assert bucket("0.25", "503") == 0 and bucket("0.5", "503") == 1
    assert registry.get_sample_value(f"{name}_count", {**labels, "http_response_status_code": "200"}) == 4
    assert registry.get_sample_value(f"{name}_sum", {**labels, "http_response_status_code": "200"}) == pytest.approx(
        21.0101
    )
    (metric,) = points_of(metrics_data(meters))
    assert metric.name == "kn.serving.invocation.duration" and metric.unit == "s"
    assert isinstance(metric.data, Histogram)
    points = {(p.attributes or {})["http.response.status_code"]: p for p in metric.data.data_points}
    assert points[200].bucket_counts[0] == 1 and list(points[200].explicit_bounds) == list(LATENCY_BOUNDS)
    assert points[200].min == 0.005 and points[200].max == 11.0


def test_scaling_gauges_follow_the_metric_and_are_forgotten() -> None:
    meters = MeterRegistry()
    scaling = AutoscalerMetrics(meters)
    a = revision_attrs("ns", "r-1")
    scaling.decider(a, "concurrency", desired=3, excess=-5, panic=True, stable=2.5, panicked=4.0, target=7)
    names = {d.name for d in meters.collect()}
    assert {"kn.revision.concurrency.stable", "kn.revision.panic.mode", "kn.revision.pods.desired"} <= names
    scaling.decider(a, "rps", desired=1, excess=0, panic=None, stable=None, panicked=None, target=200)
    names = {d.name for d in meters.collect()}
    assert "kn.revision.rps.target" in names and "kn.revision.concurrency.stable" not in names
    assert "kn.revision.panic.mode" in names  # kept from the last valid tick
    scaling.forget(a)
    assert meters.collect() == []


def test_the_grafana_dashboard_queries_only_names_zeroserve_exports() -> None:
    """docs/grafana/zeroserve-serving.json: every metric its queries name is one of Knative's instruments
    as rendered for Prometheus (a renamed instrument breaks this, not the dashboard silently)."""
    import json
    import re
    from pathlib import Path

    from zeroserve.observability.metrics import ActivatorMetrics

    meters = MeterRegistry()
    QueueMetrics(meters)
    ActivatorMetrics(meters)
    AutoscalerMetrics(meters)
    exported: set[str] = set()
    for i in meters._instruments.values():
        base = metric_name(i.name, i.unit, i.kind)
        exported |= {base, f"{base}_bucket", f"{base}_sum", f"{base}_count"} if i.kind == "histogram" else {base}
    dashboard = json.loads((Path(__file__).parents[2] / "docs/grafana/zeroserve-serving.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    named = {m for e in exprs for m in re.findall(r"\b(kn_[a-z_]+)\b", e)}
    labels = {"kn_revision_name", "kn_service_name", "kn_configuration_name"}
    assert named - labels and named - labels <= exported, sorted(named - labels - exported)
    assert {"kn_revision_pods_desired", "kn_serving_invocation_duration_seconds_bucket"} <= named
