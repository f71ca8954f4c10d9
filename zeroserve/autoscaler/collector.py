"""Per-revision metric buckets: what the scraper and the activator report, averaged over windows.

Knative ``pkg/autoscaler/metrics/collector.go``. Each watched revision has a :class:`Collection`
of four bucket sets: concurrency and requests-per-second, each over the stable and the panic
window. A recorded :class:`~zeroserve.autoscaler.metrics.Stat` adds its *direct* load (the total
minus what came through the activator, which the activator reports itself) to all four, so the
scraper's record and each activator's record of the same second add up.

``stable_and_panic_concurrency(now)`` / ``stable_and_panic_rps(now)`` return the two window
averages, or raise :class:`~zeroserve.autoscaler.scaling.NoData` when nothing was recorded within
the stable window and the revision is scraped (without a scrape target an empty window is 0).
A Collection is the decider's ``MetricClient``. Pure: every time is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zeroserve.autoscaler.aggregation import TimedBuckets, WeightedBuckets, go_round
from zeroserve.autoscaler.metrics import Stat
from zeroserve.autoscaler.scaling import NoData
from zeroserve.autoscaler.targets import BUCKET_SIZE, WEIGHTED_EXPONENTIAL, aggregation_algorithm, windows
from zeroserve.config import AutoscalerConfig
from zeroserve.errors import ZeroserveError

DEFAULT_PANIC_WINDOW_PERCENTAGE = 10.0


@dataclass(frozen=True, order=True, slots=True)
class DeciderKey:
    """A revision, as the autoscaler knows it (Knative ``types.NamespacedName``)."""

    namespace: str
    revision: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.revision}"


class NotCollecting(ZeroserveError):
    """No collection exists for the revision (Knative ``ErrNotCollecting``)."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How a revision's load is averaged (Knative ``Metric.Spec``; seconds)."""

    stable_window: float
    panic_window: float
    aggregation: str = "linear"
    """``linear`` or ``weighted-exponential``."""
    scraped: bool = True
    """Whether the revision has a scrape target; an empty window is NoData only then."""


def metric_spec(annotations: Mapping[str, str], cfg: AutoscalerConfig, *, scraped: bool = True) -> MetricSpec:
    """A revision's MetricSpec from its annotations and config-autoscaler (Knative ``MakeMetric``)."""
    stable, panic = windows(annotations, cfg)
    return MetricSpec(stable, panic, aggregation_algorithm(annotations, cfg), scraped)


def default_metric_spec(stable_window: float) -> MetricSpec:
    """MetricSpec for a stable window alone: panic window at the default 10 %, at least 1 s."""
    panic = max(go_round(stable_window * DEFAULT_PANIC_WINDOW_PERCENTAGE / 100.0), BUCKET_SIZE)
    return MetricSpec(stable_window, panic)


def _buckets(window: float, aggregation: str) -> TimedBuckets:
    if aggregation == WEIGHTED_EXPONENTIAL:
        return WeightedBuckets(window, BUCKET_SIZE)
    return TimedBuckets(window, BUCKET_SIZE)


class Collection:
    """One revision's four bucket sets; a ``scaling.MetricClient``."""

    def __init__(self, spec: MetricSpec) -> None:
        self._reset(spec)

    def _reset(self, spec: MetricSpec) -> None:
        self._spec = spec
        self.concurrency = _buckets(spec.stable_window, spec.aggregation)
        self.concurrency_panic = _buckets(spec.panic_window, spec.aggregation)
        self.rps = _buckets(spec.stable_window, spec.aggregation)
        self.rps_panic = _buckets(spec.panic_window, spec.aggregation)

    @property
    def spec(self) -> MetricSpec:
        return self._spec

    def update(self, spec: MetricSpec) -> None:
        """Take new windows, keeping the newest data (``ResizeWindow``); an algorithm change starts over."""
        if spec.aggregation != self._spec.aggregation:
            self._reset(spec)
            return
        self._spec = spec
        self.concurrency.resize_window(spec.stable_window)
        self.concurrency_panic.resize_window(spec.panic_window)
        self.rps.resize_window(spec.stable_window)
        self.rps_panic.resize_window(spec.panic_window)

    def record(self, now: float, stat: Stat) -> None:
        concurrency, rps = stat.concurrency, stat.rps
        self.concurrency.record(now, concurrency)
        self.concurrency_panic.record(now, concurrency)
        self.rps.record(now, rps)
        self.rps_panic.record(now, rps)

    def _pair(self, stable: TimedBuckets, panic: TimedBuckets, now: float) -> tuple[float, float]:
        if stable.is_empty(now) and self._spec.scraped:
            raise NoData("no data available")
        return stable.window_average(now), panic.window_average(now)

    def stable_and_panic_concurrency(self, now: float) -> tuple[float, float]:
        return self._pair(self.concurrency, self.concurrency_panic, now)

    def stable_and_panic_rps(self, now: float) -> tuple[float, float]:
        return self._pair(self.rps, self.rps_panic, now)


class Collector:
    """Every watched revision's Collection (Knative ``MetricCollector`` without its scrape ticker)."""

    def __init__(self) -> None:
        self._collections: dict[DeciderKey, Collection] = {}

    def create_or_update(self, key: DeciderKey, spec: MetricSpec) -> Collection:
        found = self._collections.get(key)
        if found is None:
            found = self._collections[key] = Collection(spec)
        elif found.spec != spec:
            found.update(spec)
        return found

    def delete(self, key: DeciderKey) -> None:
        self._collections.pop(key, None)

    def get(self, key: DeciderKey) -> Collection | None:
        return self._collections.get(key)

    def watched(self) -> list[DeciderKey]:
        return list(self._collections)

    def watches(self, key: DeciderKey) -> bool:
        return key in self._collections

    def record(self, key: DeciderKey, now: float, stat: Stat) -> bool:
        """Record ``stat`` for ``key`` at ``now``; False (and nothing recorded) for an unknown key."""
        found = self._collections.get(key)
        if found is None:
            return False
        found.record(now, stat)
        return True

    def _collection(self, key: DeciderKey) -> Collection:
        found = self._collections.get(key)
        if found is None:
            raise NotCollecting(f"no metrics are being collected for {key}")
        return found

    def stable_and_panic_concurrency(self, key: DeciderKey, now: float) -> tuple[float, float]:
        return self._collection(key).stable_and_panic_concurrency(now)

    def stable_and_panic_rps(self, key: DeciderKey, now: float) -> tuple[float, float]:
        return self._collection(key).stable_and_panic_rps(now)
