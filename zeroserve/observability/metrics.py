"""Knative's metrics (its OpenTelemetry instruments since v1.19), kept cheap enough for the data path.

The instruments carry Knative's names, units, descriptions, bucket bounds and attributes, as read
in knative/serving: ``pkg/queue/request_metric.go`` (``kn.serving.invocation.duration``,
``kn.serving.queue.depth``), ``pkg/activator/handler/metrics.go`` (``kn.revision.request.*``),
``pkg/autoscaler/scaling/metrics.go`` (``kn.revision.pods.desired``, ``kn.revision.capacity.excess``,
``kn.revision.panic.mode``, ``kn.revision.{concurrency,rps}.{stable,panic,target}``) and
``pkg/reconciler/autoscaling/kpa/metrics.go`` (``kn.revision.pods.{requested,count,...}``).

Why not the OpenTelemetry SDK's own instruments: a ``Histogram.record`` of the Python SDK takes
several microseconds (attribute-set hashing, a lock, per-reader storage), as much as the whole
proxying of a request costs zeroserve. Here a request costs a dict lookup, a ``bisect`` and three
additions on a per-revision object resolved once per instance. What they hold is read when
scraped or exported (:meth:`MeterRegistry.collect`): :mod:`.prometheus` renders it as Knative's
Prometheus exporter does, :mod:`.otlp` sends it as OTLP with the SDK's exporters.

Attributes: Knative's queue-proxy puts ``kn.service.name``, ``kn.configuration.name`` and
``kn.revision.name`` on its OTel *resource* (one queue-proxy per pod, so one resource per pod);
zeroserve serves every revision from one process, so they are attributes of each series.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Attrs = tuple[tuple[str, str | int], ...]
"""Attribute key/value pairs, sorted by key (so equal sets are equal tuples)."""
Kind = Literal["histogram", "gauge", "updowncounter", "counter"]

SERVICE = "kn.service.name"
CONFIGURATION = "kn.configuration.name"
REVISION = "kn.revision.name"
NAMESPACE = "k8s.namespace.name"
POD = "k8s.pod.name"
ROUTE = "kn.route.name"
ROUTE_TAG = "kn.route.tag"
STATUS_CODE = "http.response.status_code"

QUEUE_SCOPE = "knative.dev/serving/pkg/queue"
ACTIVATOR_SCOPE = "knative.dev/serving/pkg/activator"
AUTOSCALER_SCOPE = "knative.dev/serving/pkg/autoscaler"

LATENCY_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""``latencyBounds`` of the queue-proxy's ``kn.serving.invocation.duration`` (seconds)."""


def attrs(**pairs: str | int) -> Attrs:
    """Attributes from keyword pairs whose dots were written as ``__`` (``k8s__namespace__name``)."""
    return tuple(sorted((k.replace("__", "."), v) for k, v in pairs.items()))


def revision_attrs(namespace: str, revision: str, service: str = "", configuration: str = "") -> Attrs:
    """Knative's per-revision attributes (empty service/configuration left out, as the queue-proxy does)."""
    pairs: list[tuple[str, str | int]] = [(NAMESPACE, namespace), (REVISION, revision)]
    if service:
        pairs.append((SERVICE, service))
    if configuration:
        pairs.append((CONFIGURATION, configuration))
    return tuple(sorted(pairs))


@dataclass(frozen=True, slots=True)
class HistogramValue:
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    """Per bucket, not cumulative: ``counts[i]`` is of values in ``(bounds[i-1], bounds[i]]``; the last is +Inf."""
    sum: float
    count: int
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class Point:
    attrs: Attrs
    value: float | HistogramValue


@dataclass(frozen=True, slots=True)
class MetricData:
    """One instrument's points at a collection."""

    name: str
    unit: str
    description: str
    kind: Kind
    scope: str
    points: tuple[Point, ...]


class HistogramSeries:
    """One attribute set's buckets (the hot path: :meth:`record`)."""

    __slots__ = ("bounds", "count", "counts", "max", "min", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0
        self.min = float("inf")
        self.max = float("-inf")

    def record(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def value(self) -> HistogramValue:
        return HistogramValue(self.bounds, tuple(self.counts), self.sum, self.count, self.min, self.max)


class Instrument:
    """An instrument's identity and its series by attribute set."""

    def __init__(self, name: str, unit: str, description: str, kind: Kind, scope: str) -> None:
        self.name, self.unit, self.description, self.kind, self.scope = name, unit, description, kind, scope
        self.callbacks: list[Callable[[], Iterable[tuple[Attrs, float]]]] = []

    def points(self) -> Iterator[Point]:
        for callback in list(self.callbacks):
            for a, v in callback():
                yield Point(a, v)

    def forget(self, a: Attrs) -> None:
        """Drop the series of ``a`` (a deleted revision)."""


class Histogram(Instrument):
    def __init__(self, name: str, unit: str, description: str, scope: str, bounds: tuple[float, ...]) -> None:
        super().__init__(name, unit, description, "histogram", scope)
        self.bounds = bounds
        self.series: dict[Attrs, HistogramSeries] = {}

    def bind(self, a: Attrs) -> HistogramSeries:
        s = self.series.get(a)
        if s is None:
            s = self.series[a] = HistogramSeries(self.bounds)
        return s

    def points(self) -> Iterator[Point]:
        for a, s in list(self.series.items()):
            if s.count:
                yield Point(a, s.value())

    def forget(self, a: Attrs) -> None:
        for key in [k for k in self.series if _within(a, k)]:
            del self.series[key]


class Gauge(Instrument):
    """A last-value gauge, an up-down counter or a counter (by ``kind``), by attribute set;
    callbacks add observed points (observable instruments)."""

    def __init__(self, name: str, unit: str, description: str, scope: str, kind: Kind = "gauge") -> None:
        super().__init__(name, unit, description, kind, scope)
        self.values: dict[Attrs, float] = {}

    def set(self, a: Attrs, value: float) -> None:
        self.values[a] = value

    def add(self, a: Attrs, delta: float) -> None:
        self.values[a] = self.values.get(a, 0) + delta

    def points(self) -> Iterator[Point]:
        for a, v in list(self.values.items()):
            yield Point(a, v)
        yield from super().points()

    def forget(self, a: Attrs) -> None:
        for key in [k for k in self.values if _within(a, k)]:
            del self.values[key]


def _within(subset: Attrs, a: Attrs) -> bool:
    return set(subset) <= set(a)


class MeterRegistry:
    """Every instrument of one ``zeroserve up``; :meth:`collect` reads them all (any thread)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._instruments: dict[str, Instrument] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.start_time = clock()

    def _add(self, instrument: Instrument) -> Instrument:
        with self._lock:
            found = self._instruments.get(instrument.name)
            if found is not None:
                return found
            self._instruments[instrument.name] = instrument
            return instrument

    def histogram(self, name: str, unit: str, description: str, scope: str, bounds: tuple[float, ...]) -> Histogram:
        found = self._add(Histogram(name, unit, description, scope, bounds))
        assert isinstance(found, Histogram)
        return found

    def gauge(self, name: str, unit: str, description: str, scope: str, kind: Kind = "gauge") -> Gauge:
        found = self._add(Gauge(name, unit, description, scope, kind))
        assert isinstance(found, Gauge)
        return found

    def forget(self, a: Attrs) -> None:
        """Drop every series whose attributes include ``a`` (e.g. a deleted revision's)."""
        for instrument in list(self._instruments.values()):
            instrument.forget(a)

    def collect(self) -> list[MetricData]:
        out: list[MetricData] = []
        for i in list(self._instruments.values()):
            points = tuple(i.points())
            if points:
                out.append(MetricData(i.name, i.unit, i.description, i.kind, i.scope, points))
        return out

    def now(self) -> float:
        return self._clock()


# ----------------------------------------------------------------------------- Knative's instruments


class QueueMetrics:
    """The queue-proxy's request metrics (``appRequestMetricsHandler``)."""

    def __init__(self, registry: MeterRegistry) -> None:
        self.duration = registry.histogram(
            "kn.serving.invocation.duration", "s", "The duration of task execution", QUEUE_SCOPE, LATENCY_BOUNDS
        )
        self.depth = registry.gauge(
            "kn.serving.queue.depth", "{request}", "Number of current requests in the queue", QUEUE_SCOPE
        )

    def revision(self, a: Attrs) -> RevisionRequests:
        return RevisionRequests(self, a)


class RevisionRequests:
    """One revision's queue-proxy metrics: :meth:`done` per request (the hot path), :meth:`depth`."""

    __slots__ = ("_attrs", "_by_status", "_metrics")

    def __init__(self, metrics: QueueMetrics, a: Attrs) -> None:
        self._metrics = metrics
        self._attrs = a
        self._by_status: dict[int, HistogramSeries] = {}

    def done(self, seconds: float, status: int) -> None:
        series = self._by_status.get(status)
        if series is None:
            a = tuple(sorted((*self._attrs, (STATUS_CODE, status))))
            series = self._by_status[status] = self._metrics.duration.bind(a)
        series.record(seconds)

    def depth(self, in_flight: int) -> None:
        """``kn.serving.queue.depth``: the breaker's in-flight count, recorded as each request arrives."""
        self._metrics.depth.set(self._attrs, in_flight)


def _no_owners(_namespace: str, _revision: str) -> tuple[str, str]:
    return ("", "")


SeriesWire = dict[str, object]
"""One series of a sidecar's :func:`series_wire`: ``name``, ``attrs`` (pairs) and ``value``, or a
histogram's ``bounds``, ``counts``, ``sum``, ``count``, ``min``, ``max``."""


def series_by_revision(metrics: QueueMetrics) -> dict[tuple[str, str], list[SeriesWire]]:
    """:func:`series_wire` grouped by (namespace, revision) (a gateway worker's many revisions)."""
    out: dict[tuple[str, str], list[SeriesWire]] = {}
    for item in series_wire(metrics):
        attrs = item.get("attrs")
        pairs = {p[0]: p[1] for p in attrs if isinstance(p, list) and len(p) == 2} if isinstance(attrs, list) else {}
        out.setdefault((str(pairs.get(NAMESPACE, "")), str(pairs.get(REVISION, ""))), []).append(item)
    return out


def series_wire(metrics: QueueMetrics) -> list[SeriesWire]:
    """A queue-proxy's series as JSON-ready values (what a sidecar serves ``zeroserve up`` on its admin port)."""
    out: list[SeriesWire] = []
    for a, h in list(metrics.duration.series.items()):
        if h.count:
            out.append(
                {
                    "name": metrics.duration.name,
                    "attrs": [list(p) for p in a],
                    "bounds": list(h.bounds),
                    "counts": list(h.counts),
                    "sum": h.sum,
                    "count": h.count,
                    "min": h.min,
                    "max": h.max,
                }
            )
    for a, v in list(metrics.depth.values.items()):
        out.append({"name": metrics.depth.name, "attrs": [list(p) for p in a], "value": v})
    return out


class SidecarSeries:
    """The queue-proxy series of every sidecar, summed per attribute set into ``metrics``.

    Each sidecar's series are cumulative; :meth:`update` takes a pod's latest, and the revision's
    histogram is the sum over every pod seen (a pod gone keeps its last counts, so the series never
    go back); ``kn.serving.queue.depth`` is the sum over the pods still listed. :meth:`keep` forgets
    the pods of revisions no longer run. Bad input (another bound set, odd types) is skipped."""

    def __init__(self, metrics: QueueMetrics) -> None:
        self._metrics = metrics
        self._pods: dict[str, tuple[tuple[str, str], list[SeriesWire]]] = {}
        self._live: set[str] = set()
        self._owned: set[Attrs] = set()
        """The attribute sets written into ``metrics`` (rewritten from the sum at each update)."""

    def update(self, revision: tuple[str, str], pod: str, series: list[SeriesWire]) -> None:
        self._pods[pod] = (revision, series)

    def revision_of(self, pod: str) -> tuple[str, str] | None:
        """The (namespace, revision) of a pod seen before, else None."""
        found = self._pods.get(pod)
        return found[0] if found is not None else None

    def live(self, pods: Iterable[str]) -> None:
        """The pods listed now (their depth counts)."""
        self._live = set(pods)

    def keep(self, revisions: Iterable[tuple[str, str]]) -> None:
        """Forget the pods of the revisions not in ``revisions``."""
        kept = set(revisions)
        self._pods = {p: v for p, v in self._pods.items() if v[0] in kept}

    def publish(self) -> None:
        """Write the sums into ``metrics`` (replacing what was published before)."""
        duration, depth = self._metrics.duration, self._metrics.depth
        histograms: dict[Attrs, HistogramSeries] = {}
        depths: dict[Attrs, float] = {}
        for pod, (_, series) in self._pods.items():
            for item in series:
                parsed = _parse_series(item, duration.bounds)
                if parsed is None:
                    continue
                name, a, value = parsed
                if name == duration.name and isinstance(value, HistogramValue):
                    h = histograms.get(a)
                    if h is None:
                        h = histograms[a] = HistogramSeries(duration.bounds)
                    h.counts = [x + y for x, y in zip(h.counts, value.counts, strict=True)]
                    h.sum += value.sum
                    h.count += value.count
                    h.min, h.max = min(h.min, value.min), max(h.max, value.max)
                elif name == depth.name and isinstance(value, float) and pod in self._live:
                    depths[a] = depths.get(a, 0) + value
        for a in self._owned - histograms.keys():
            duration.series.pop(a, None)
        for a in self._owned - depths.keys():
            depth.values.pop(a, None)
        duration.series.update(histograms)
        depth.values.update(depths)
        self._owned = set(histograms) | set(depths)


def _parse_series(item: object, bounds: tuple[float, ...]) -> tuple[str, Attrs, HistogramValue | float] | None:
    """One :func:`series_wire` item back (None: not one, or of other bounds)."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("attrs"), list):
        return None
    pairs: list[tuple[str, str | int]] = []
    for pair in item["attrs"]:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            return None
        if not isinstance(pair[1], (str, int)):
            return None
        pairs.append((pair[0], pair[1]))
    a = tuple(sorted(pairs))
    if "value" in item:
        value = item["value"]
        return (item["name"], a, float(value)) if isinstance(value, (int, float)) else None
    counts, numbers = item.get("counts"), [item.get(k) for k in ("sum", "min", "max")]
    if item.get("bounds") != list(bounds) or not isinstance(counts, list) or len(counts) != len(bounds) + 1:
        return None
    if not all(isinstance(c, int) for c in counts) or not isinstance(item.get("count"), int):
        return None
    if not all(isinstance(n, (int, float)) for n in numbers):
        return None
    total, low, high = (float(n) for n in numbers)  # type: ignore[arg-type]
    return item["name"], a, HistogramValue(bounds, tuple(counts), total, item["count"], low, high)


class ActivatorMetrics:
    """The activator's ``kn.revision.request.{concurrency,queued,active}`` (``handler/metrics.go``).

    ``queued`` and ``active`` are up-down counters with the namespace and revision only, moved per
    request as Knative's ``activationHandler`` does: queued from arrival until the throttler gives a
    slot (or gives up), active while proxying. ``concurrency`` is a gauge of each revision's
    average concurrency in the activator over the last report period, recorded as each report is cut
    (``ConcurrencyReporter.reportToMetricsBackend``), with the service and configuration too:
    ``owners(namespace, revision)`` names them."""

    def __init__(self, registry: MeterRegistry, owners: Callable[[str, str], tuple[str, str]] = _no_owners) -> None:
        self._owners = owners
        self._keys: dict[tuple[str, str], Attrs] = {}
        self.concurrency = registry.gauge(
            "kn.revision.request.concurrency",
            "{request}",
            "Concurrent requests that are routed to Activator",
            ACTIVATOR_SCOPE,
        )
        self.queued = registry.gauge(
            "kn.revision.request.queued",
            "{request}",
            "Number of requests currently queued in the activator waiting for capacity",
            ACTIVATOR_SCOPE,
            "updowncounter",
        )
        self.active = registry.gauge(
            "kn.revision.request.active",
            "{request}",
            "Number of requests currently being proxied by the activator",
            ACTIVATOR_SCOPE,
            "updowncounter",
        )

    def key(self, namespace: str, revision: str) -> Attrs:
        """The attributes of ``queued``/``active`` for a revision, made once per revision with both
        series at 0 (Knative's handler moves both for every request, so both exist from the first)."""
        found = self._keys.get((namespace, revision))
        if found is None:
            found = self._keys[(namespace, revision)] = ((NAMESPACE, namespace), (REVISION, revision))
            self.queued.values.setdefault(found, 0)
            self.active.values.setdefault(found, 0)
        return found

    def reported(self, namespace: str, revision: str, concurrency: float) -> None:
        """A report's average concurrency of a revision (``kn.revision.request.concurrency``)."""
        self.concurrency.set(revision_attrs(namespace, revision, *self._owners(namespace, revision)), concurrency)


_DESCRIPTIONS = {
    "concurrency": (
        "{concurrency}",
        "Average of request count per observed pod over the stable window",
        "Average of request count per observed pod over the panic window",
    ),
    "rps": (
        "{request}/s",
        "Average of requests-per-second per observed pod over the stable window",
        "Average of requests-per-second per observed pod over the panic window",
    ),
}


class AutoscalerMetrics:
    """The decider's gauges (``scaling/metrics.go``; attributes: namespace, revision, service,
    configuration) and the KPA's pod counts (``kpa/metrics.go``)."""

    def __init__(self, registry: MeterRegistry) -> None:
        def gauge(name: str, unit: str, description: str) -> Gauge:
            return registry.gauge(name, unit, description, AUTOSCALER_SCOPE)

        self.desired = gauge("kn.revision.pods.desired", "{item}", "Number of pods the autoscaler wants to allocate")
        self.excess = gauge(
            "kn.revision.capacity.excess", "{concurrency}", "Excess burst capacity observed over the stable window"
        )
        self.panic_mode = gauge("kn.revision.panic.mode", "", "If greater than 0 the autoscaler is in panic mode")
        self.by_metric: dict[str, tuple[Gauge, Gauge, Gauge]] = {}
        for metric, (unit, stable, panic) in _DESCRIPTIONS.items():
            target = "The desired concurrent requests for each pod"
            self.by_metric[metric] = (
                gauge(f"kn.revision.{metric}.stable", unit, stable),
                gauge(f"kn.revision.{metric}.panic", unit, panic),
                gauge(f"kn.revision.{metric}.target", unit, target),
            )
        self.requested = gauge(
            "kn.revision.pods.requested", "{pod}", "Number of pods autoscaler requested from Kubernetes"
        )
        self.count = gauge("kn.revision.pods.count", "{pod}", "Number of pods that are allocated currently")
        self.not_ready = gauge(
            "kn.revision.pods.not_ready.count", "{pod}", "Number of pods that are not ready currently"
        )
        self.pending = gauge("kn.revision.pods.pending.count", "{pod}", "Number of pods that are pending currently")
        self.terminating = gauge(
            "kn.revision.pods.terminating.count", "{pod}", "Number of pods that are terminating currently"
        )

    def forget(self, a: Attrs) -> None:
        """Drop the series of a revision (``a`` its namespace and name, or more)."""
        for g in self.gauges():
            g.forget(a)

    def gauges(self) -> list[Gauge]:
        return [
            self.desired,
            self.excess,
            self.panic_mode,
            *(g for gs in self.by_metric.values() for g in gs),
            self.requested,
            self.count,
            self.not_ready,
            self.pending,
            self.terminating,
        ]

    def decider(
        self,
        a: Attrs,
        metric: str,
        *,
        desired: int,
        excess: float,
        panic: bool | None,
        stable: float | None,
        panicked: float | None,
        target: float,
    ) -> None:
        """A decider's tick, as ``scalingMetrics.Record``/``SetPanic`` (rps for ``rps``, else concurrency;
        cpu/memory go to the HPA, which Knative's scaling metrics do not cover either)."""
        self.desired.set(a, desired)
        self.excess.set(a, excess)
        if panic is not None:
            self.panic_mode.set(a, 1 if panic else 0)
        gauges = self.by_metric["rps" if metric == "rps" else "concurrency"]
        other = self.by_metric["concurrency" if metric == "rps" else "rps"]
        for g in other:
            g.forget(a)
        if stable is not None:
            gauges[0].set(a, stable)
        if panicked is not None:
            gauges[1].set(a, panicked)
        gauges[2].set(a, target)

    def pods(
        self, a: Attrs, *, requested: int | None, ready: int, not_ready: int, pending: int = 0, terminating: int = 0
    ) -> None:
        """``kpaMetrics.Record``: ``requested`` None (scale unknown) keeps the last value (0 at first)."""
        self.requested.set(a, requested if requested is not None else self.requested.values.get(a, 0))
        self.count.set(a, ready)
        self.not_ready.set(a, not_ready)
        self.pending.set(a, pending)
        self.terminating.set(a, terminating)


__all__ = [
    "ACTIVATOR_SCOPE",
    "AUTOSCALER_SCOPE",
    "CONFIGURATION",
    "LATENCY_BOUNDS",
    "NAMESPACE",
    "QUEUE_SCOPE",
    "REVISION",
    "ROUTE_TAG",
    "SERVICE",
    "STATUS_CODE",
    "ActivatorMetrics",
    "Attrs",
    "AutoscalerMetrics",
    "Gauge",
    "Histogram",
    "HistogramValue",
    "MeterRegistry",
    "MetricData",
    "Point",
    "QueueMetrics",
    "RevisionRequests",
    "SeriesWire",
    "SidecarSeries",
    "attrs",
    "revision_attrs",
    "series_wire",
]
