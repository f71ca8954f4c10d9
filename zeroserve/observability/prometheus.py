"""Knative's metrics in the Prometheus text format, named as Knative's exporter names them.

knative/pkg ``observability/metrics/prometheus_enabled.go`` builds OpenTelemetry-Go's Prometheus
exporter with ``otlptranslator.UnderscoreEscapingWithSuffixes``: a name's characters outside
``[a-zA-Z0-9:]`` split it into tokens joined by ``_``, the unit becomes a suffix (``s`` →
``seconds``, ``By`` → ``bytes``; ``{annotations}`` are dropped; ``X/s`` → ``X_per_second``), a
monotonic counter ends in ``_total``, a gauge of unit ``1`` in ``_ratio``; attribute keys become
labels the same way (``http.response.status_code`` → ``http_response_status_code``, a leading digit
gets ``key_``). Up-down counters are gauges. Every series carries ``otel_scope_name`` (the
instrument's meter), as that exporter adds it. So ``kn.serving.invocation.duration`` (unit ``s``)
is ``kn_serving_invocation_duration_seconds_bucket|_sum|_count`` and ``kn.revision.pods.desired``
(``{item}``) is ``kn_revision_pods_desired``.

:class:`KnativeCollector` is a ``prometheus_client`` collector, so these series share a registry
(and one ``/metrics`` answer) with zeroserve's own gauges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from zeroserve.observability.metrics import HistogramValue, MeterRegistry, MetricData

_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_INVALID = re.compile(r"[^a-zA-Z0-9:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
SCOPE_LABEL = "otel_scope_name"


def _clean_unit(unit: str) -> str:
    return re.sub(r"_+", "_", _INVALID.sub("_", unit)).removeprefix("_")


def unit_suffixes(unit: str) -> tuple[str, str]:
    """otlptranslator ``buildUnitSuffixes`` + ``cleanUpUnit``: (main, per) suffixes of a UCUM unit."""
    main_otel, _, per_otel = unit.partition("/")
    main_otel, per_otel = main_otel.strip(), per_otel.strip()
    main = _UNITS.get(main_otel, main_otel) if main_otel and not any(c in main_otel for c in "{}") else ""
    per = _PER_UNITS.get(per_otel, per_otel) if per_otel and not any(c in per_otel for c in "{}") else ""
    return _clean_unit(main), _clean_unit(f"per_{per}" if per else "")


def metric_name(name: str, unit: str, kind: str) -> str:
    """otlptranslator ``normalizeName`` (UnderscoreEscapingWithSuffixes) for an instrument of ``kind``
    (``histogram``, ``gauge``, ``updowncounter``: a gauge, ``counter``: monotonic)."""
    tokens = [t for t in _INVALID.split(name) if t]
    main, per = unit_suffixes(unit)
    if main in tokens:
        main = ""
    per = "" if per == "per_" else per.removesuffix("_")
    if per in tokens:
        per = ""
    if per:
        main = main.removesuffix("_")
    tokens += [s for s in (main, per) if s]
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind in ("gauge", "updowncounter"):
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    return "_" + out if out[:1].isdigit() else out


def label_name(key: str) -> str:
    """otlptranslator ``LabelNamer.Build`` (legacy scheme): invalid characters to ``_`` (runs of
    ``_`` collapsed), a leading digit prefixed with ``key_``."""
    out = _INVALID_LABEL.sub("_", key)
    if not out.startswith("__"):
        out = re.sub(r"_+", "_", out)
    return "key_" + out if out[:1].isdigit() else out


def _go_float(value: float) -> str:
    """``le`` values as the Go exporter writes them (``0.005``, ``1``, ``+Inf``)."""
    return str(int(value)) if value == int(value) else repr(value)


class KnativeCollector(Collector):
    """Renders a :class:`MeterRegistry` for ``prometheus_client`` at each scrape."""

    def __init__(self, meters: MeterRegistry) -> None:
        self._meters = meters

    def collect(self) -> Iterator[Metric]:
        for data in self._meters.collect():
            yield self.family(data)

    @staticmethod
    def family(data: MetricData) -> Metric:
        name = metric_name(data.name, data.unit, data.kind)
        points = data.points
        keys = sorted({k for p in points for k, _ in p.attrs})
        labels = [SCOPE_LABEL, *(label_name(k) for k in keys)]

        def values(attrs: tuple[tuple[str, str | int], ...]) -> list[str]:
            found = dict(attrs)
            return [data.scope, *(str(found.get(k, "")) for k in keys)]

        if data.kind == "histogram":
            hist = HistogramMetricFamily(name, data.description, labels=labels)
            for p in points:
                v = p.value
                assert isinstance(v, HistogramValue)
                buckets: list[tuple[str, float]] = []
                total = 0
                for bound, count in zip((*v.bounds, float("inf")), v.counts, strict=True):
                    total += count
                    buckets.append(("+Inf" if bound == float("inf") else _go_float(bound), total))
                hist.add_metric(values(p.attrs), buckets, v.sum)
            return hist
        gauge: GaugeMetricFamily | CounterMetricFamily
        if data.kind == "counter":  # prometheus_client writes the _total itself
            gauge = CounterMetricFamily(name.removesuffix("_total"), data.description, labels=labels)
        else:
            gauge = GaugeMetricFamily(name, data.description, labels=labels)
        for p in points:
            assert not isinstance(p.value, HistogramValue)
            gauge.add_metric(values(p.attrs), p.value)
        return gauge


__all__ = ["SCOPE_LABEL", "KnativeCollector", "label_name", "metric_name", "unit_suffixes"]
