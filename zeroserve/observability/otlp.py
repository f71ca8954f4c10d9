"""OTLP export of Knative's metrics (config-observability ``metrics-protocol: grpc|http/protobuf``,
``metrics-endpoint``, ``metrics-export-interval``), with the OpenTelemetry SDK's exporters.

Every interval (60 s by default, as OTel's periodic reader) the :class:`MeterRegistry` is read and
sent as cumulative data points (OTel's default temporality): histograms with their explicit
bounds, gauges, up-down counters as non-monotonic sums. The export itself (blocking HTTP or gRPC)
runs in a worker thread. ``metrics-endpoint`` is used as given, as knative/pkg passes it to
``WithEndpointURL``: for ``http/protobuf`` the full URL (``http://127.0.0.1:4318/v1/metrics``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from zeroserve.config import MetricsExportConfig
from zeroserve.observability.metrics import HistogramValue, MeterRegistry, MetricData

if TYPE_CHECKING:  # the SDK is imported only when an export is configured
    from opentelemetry.sdk.metrics.export import Metric, MetricExporter, MetricsData
    from opentelemetry.sdk.resources import Resource

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 60.0
"""OTel's default export interval, used when ``metrics-export-interval`` is 0."""


def resource(service_name: str = "zeroserve") -> Resource:
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": service_name})


def _metric(data: MetricData, start_ns: int, now_ns: int) -> Metric:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        Sum,
    )

    if data.kind == "histogram":
        points: list[HistogramDataPoint] = []
        for p in data.points:
            v = p.value
            assert isinstance(v, HistogramValue)
            points.append(
                HistogramDataPoint(
                    attributes=dict(p.attrs),
                    start_time_unix_nano=start_ns,
                    time_unix_nano=now_ns,
                    count=v.count,
                    sum=v.sum,
                    bucket_counts=list(v.counts),
                    explicit_bounds=list(v.bounds),
                    min=v.min,
                    max=v.max,
                )
            )
        return Metric(data.name, data.description, data.unit, Histogram(points, AggregationTemporality.CUMULATIVE))
    numbers = [
        NumberDataPoint(attributes=dict(p.attrs), start_time_unix_nano=start_ns, time_unix_nano=now_ns, value=v)
        for p in data.points
        if not isinstance(v := p.value, HistogramValue)
    ]
    if data.kind == "gauge":
        return Metric(data.name, data.description, data.unit, Gauge(numbers))
    monotonic = data.kind == "counter"
    return Metric(data.name, data.description, data.unit, Sum(numbers, AggregationTemporality.CUMULATIVE, monotonic))


def metrics_data(meters: MeterRegistry, res: Resource | None = None) -> MetricsData:
    """What the registry holds now, as the SDK's export data (one scope per Knative meter)."""
    from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    start_ns = int(meters.start_time * 1e9)
    now_ns = int(meters.now() * 1e9)
    scopes: dict[str, list[Metric]] = {}
    for data in meters.collect():
        scopes.setdefault(data.scope, []).append(_metric(data, start_ns, now_ns))
    scope_metrics = [ScopeMetrics(InstrumentationScope(name), ms, "") for name, ms in scopes.items()]
    return MetricsData([ResourceMetrics(res or resource(), scope_metrics, "")])


def make_exporter(cfg: MetricsExportConfig) -> MetricExporter | None:
    """The SDK exporter for ``cfg`` (None for ``none``/``prometheus``)."""
    if cfg.protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(endpoint=cfg.endpoint)
    if cfg.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        insecure = cfg.endpoint.startswith("http://")
        return GrpcExporter(endpoint=cfg.endpoint, insecure=insecure)
    return None


class OtlpMetrics:
    """Exports the registry each interval while ``config()`` asks for OTLP; follows its changes."""

    def __init__(self, meters: MeterRegistry, config: Callable[[], MetricsExportConfig]) -> None:
        self._meters = meters
        self._config = config
        self._current: MetricsExportConfig | None = None
        self._exporter: MetricExporter | None = None

    def _refresh(self) -> MetricsExportConfig:
        cfg = self._config()
        if cfg != self._current:
            if self._exporter is not None:
                self._exporter.shutdown()
            self._current, self._exporter = cfg, make_exporter(cfg)
        return cfg

    async def export_once(self) -> bool:
        """Send what the registry holds now; False if not configured or the export failed."""
        self._refresh()
        exporter = self._exporter
        if exporter is None:
            return False
        data = metrics_data(self._meters)
        result = await asyncio.to_thread(exporter.export, data)
        if result.name != "SUCCESS":
            log.warning("metrics export to %s failed", self._current.endpoint if self._current else "?")
            return False
        return True

    async def run(self, poll: float = 1.0) -> None:
        """Forever: export every ``metrics-export-interval`` (cancel to stop; a last export then)."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while True:
                await asyncio.sleep(poll)  # config changes are seen within ``poll`` seconds
                cfg = self._refresh()
                interval = cfg.export_interval or DEFAULT_INTERVAL
                if self._exporter is not None and loop.time() - last >= interval:
                    last = loop.time()
                    try:
                        await self.export_once()
                    except Exception:
                        log.exception("metrics export failed")
        finally:
            if self._exporter is not None:
                self._exporter.shutdown()


def points_of(data: MetricsData) -> Sequence[Metric]:
    """Every metric in ``data`` (for tests and logs)."""
    return [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]


__all__ = ["DEFAULT_INTERVAL", "OtlpMetrics", "make_exporter", "metrics_data", "resource"]
