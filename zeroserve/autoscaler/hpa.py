"""The HPA class (``hpa.autoscaling.knative.dev``): Kubernetes' HorizontalPodAutoscaler, run here.

Knative hands such revisions to a Kubernetes HorizontalPodAutoscaler built by
``pkg/reconciler/autoscaling/hpa/resources/hpa.go`` (``MakeHPA``); we run the HPA's algorithm
ourselves (kubernetes ``pkg/controller/podautoscaler/{horizontal,replica_calculator}.go`` and the
autoscaling/v2 defaults of ``pkg/apis/autoscaling/v2/defaults.go``):

* **The metric** (``MakeHPA``), only when the ``target`` annotation is set: ``cpu`` is a Resource
  metric with an average utilization of ``ceil(target)`` percent of each instance's
  ``requests.cpu``; ``memory`` a Resource metric with an average value of ``int(target)`` MiB;
  anything else a Pods metric named so with an average value of ``int(target)``. Without a target
  the HPA has no metrics and Kubernetes defaults it to CPU at 80 % utilization.
* **Pods metrics** come from the queue's stats: ``concurrency`` (in-flight requests) and ``rps``
  per instance, averaged over the stable window. Other names have no source here: the HPA keeps the
  current count and the PodAutoscaler says why (Kubernetes: ``ScalingActive`` False,
  ``FailedGetPodsMetric``).
* **Replicas** (``replica_calculator.go``): ``ratio = average / target``; within the tolerance
  (0.1) the count stays, else ``ceil(ratio * ready)``; on a scale-up, instances not ready yet count
  as using nothing (and a change of direction keeps the count).
* **Behavior** (autoscaling/v2 defaults; ``normalizeDesiredReplicasWithBehaviors``): the
  recommendation is stabilized (scale-up: the lowest of the last 0 s; scale-down: the highest of the
  last 300 s; Knative sets both windows to the ``window`` annotation when it is present), then
  rate-limited by the policies (scale-up: the larger of +4 instances or +100 % per 15 s; scale-down:
  -100 % per 15 s) over the scale events of each policy's period, then bounded by min/max.
* **Sync**: a decision every 15 s (kube-controller-manager's ``horizontal-pod-autoscaler-sync-
  period``); the multiscaler's 2 s ticks in between return the last decision.

CPU comes as cumulative seconds per instance (cgroup ``cpu.stat``), so a rate needs two readings
of the same set of instances; the first reading (or one after the instance count changed) is a
baseline, not a decision. Pure: time is an argument; usage comes in as values.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from zeroserve.api import annotations as ann
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.scaling import ScaleResult
from zeroserve.config import AutoscalerConfig
from zeroserve.config.duration import SECOND, parse_duration

DEFAULT_CPU_UTILIZATION = 80.0
"""Percent of requests.cpu an instance should use when the HPA has no metric (Kubernetes' default)."""
DEFAULT_TOLERANCE = 0.1
SYNC_PERIOD = 15.0
"""Seconds between two decisions (kube-controller-manager ``--horizontal-pod-autoscaler-sync-period``)."""
MIB = 1024 * 1024
PODS_METRICS = (ann.CONCURRENCY, ann.RPS)
"""The Pods metrics zeroserve can measure (the queue's stats); others have no source."""

# Reasons (shown by `zeroserve autoscaler explain`), Kubernetes' condition reasons where it has one.
WITHIN_TOLERANCE = "within tolerance"
MEASURING = "measuring (first reading)"
WAITING = "waiting for the next sync"
NO_INSTANCES = "no ready instances"
NO_USAGE = "usage not accounted"
STABILIZED_UP = "ScaleUpStabilized"
STABILIZED_DOWN = "ScaleDownStabilized"
SCALE_UP_LIMIT = "ScaleUpLimit"
SCALE_DOWN_LIMIT = "ScaleDownLimit"
MIN_BOUND = "TooFewReplicas"
MAX_BOUND = "TooManyReplicas"
FAILED_GET_PODS_METRIC = "FailedGetPodsMetric"


@dataclass(frozen=True)
class ScalingPolicy:
    """autoscaling/v2 HPAScalingPolicy: at most ``value`` instances (Pods) or percent within ``period``."""

    type: Literal["Pods", "Percent"]
    value: int
    period: float


@dataclass(frozen=True)
class ScalingRules:
    """autoscaling/v2 HPAScalingRules: a stabilization window, policies and how to pick among them."""

    stabilization_window: float
    policies: tuple[ScalingPolicy, ...]
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"


DEFAULT_SCALE_UP = ScalingRules(0.0, (ScalingPolicy("Pods", 4, 15.0), ScalingPolicy("Percent", 100, 15.0)))
DEFAULT_SCALE_DOWN = ScalingRules(300.0, (ScalingPolicy("Percent", 100, 15.0),))


class UsageSample(Protocol):
    """One instance's resource use (``zeroserve.runtime.cgroups.Usage`` fits)."""

    @property
    def memory_bytes(self) -> int | None: ...

    @property
    def cpu_seconds(self) -> float | None: ...


class UsageSource(Protocol):
    """The ready instances' usage of a revision (the local runtime's ``usage``, adapted to DeciderKey)."""

    def usage(self, key: DeciderKey) -> Sequence[UsageSample]: ...


@dataclass(frozen=True)
class HpaSpec:
    metric: str = ann.CPU
    """``cpu``, ``memory`` (Resource metrics) or the name of a Pods metric."""
    target: float = DEFAULT_CPU_UTILIZATION
    """cpu: percent of ``cpu_request``; memory: MiB per instance; a Pods metric: its value per instance."""
    cpu_request: float = 1.0
    """Cores an instance requests (``resources.requests.cpu``); 1 core when the revision sets none."""
    min_scale: int = 1
    max_scale: int = 0
    """0 = unbounded."""
    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN
    tolerance: float = DEFAULT_TOLERANCE
    sync_period: float = SYNC_PERIOD
    stable_window: float = 60.0
    """Seconds the queue's stats are averaged over for a Pods metric (``window``, else config-autoscaler's)."""

    @property
    def pods_metric(self) -> bool:
        return self.metric not in (ann.CPU, ann.MEMORY)

    @property
    def measurable(self) -> bool:
        """Whether zeroserve has values for the metric (a Pods metric: only the queue's stats)."""
        return not self.pods_metric or self.metric in PODS_METRICS


def _annotation_float(annotations: Mapping[str, str], key: str) -> float | None:
    found = ann.get_annotation(annotations, key)
    if found is None:
        return None
    try:
        value = float(found[1])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def metric_target(annotations: Mapping[str, str]) -> tuple[str, float] | None:
    """``MakeHPA``'s metric and its target, None without a ``target`` annotation: ``cpu`` (the default
    metric) at ``ceil(target)`` percent, otherwise Go's ``int64(target)`` (MiB for ``memory``, the
    average value of a Pods metric)."""
    target = _annotation_float(annotations, ann.TARGET)
    if target is None:
        return None
    metric = annotations.get(ann.METRIC, ann.CPU)
    return metric, float(math.ceil(target) if metric == ann.CPU else math.trunc(target))


def window_seconds(annotations: Mapping[str, str]) -> int | None:
    """The ``window`` annotation in whole seconds (``int32(window.Seconds())``), None when absent or invalid."""
    window = ann.get_annotation(annotations, ann.WINDOW)
    if window is None:
        return None
    with contextlib.suppress(ValueError):
        return parse_duration(window[1]) // SECOND
    return None


def _with_window(rules: ScalingRules, seconds: float) -> ScalingRules:
    return ScalingRules(seconds, rules.policies, rules.select_policy)


def make_hpa_spec(
    annotations: Mapping[str, str],
    cfg: AutoscalerConfig,
    *,
    cpu_request: float | None = None,
    min_scale: int = 1,
    max_scale: int = 0,
) -> HpaSpec:
    """The HPA's spec for a revision, as Knative's ``MakeHPA`` configures it (bounds come from the PA)."""
    # No target: MakeHPA sets no metric; Kubernetes defaults to CPU at 80 % utilization.
    metric, value = metric_target(annotations) or (ann.CPU, DEFAULT_CPU_UTILIZATION)
    up, down, stable = DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN, cfg.stable_window
    seconds = window_seconds(annotations)
    if seconds is not None:
        up, down, stable = _with_window(up, seconds), _with_window(down, seconds), max(seconds, 1.0)
    return HpaSpec(
        metric=metric,
        target=value,
        cpu_request=cpu_request if cpu_request and cpu_request > 0 else 1.0,
        min_scale=max(1, min_scale),
        max_scale=max(0, max_scale),
        scale_up=up,
        scale_down=down,
        stable_window=stable,
    )


def replica_count(
    current: int, ready: int, unready: int, average: float, target: float, tolerance: float = DEFAULT_TOLERANCE
) -> int:
    """``replica_calculator.go``: ``ceil(ratio * ready)``, ``current`` within the tolerance; on a scale-up
    the ``unready`` instances count as using nothing, and a change of direction keeps ``current``."""
    if target <= 0 or ready == 0:
        return current
    ratio = average / target
    if unready == 0 or ratio <= 1.0:
        return current if abs(1.0 - ratio) <= tolerance else math.ceil(ratio * ready)
    new_ratio = average * ready / (ready + unready) / target
    if abs(1.0 - new_ratio) <= tolerance or new_ratio < 1.0:
        return current
    replicas = math.ceil(new_ratio * (ready + unready))
    return current if replicas < current else replicas


@dataclass
class _Events:
    """Scale events of the policies' periods (``timestampedScaleEvent``)."""

    up: deque[tuple[float, int]] = field(default_factory=deque)
    down: deque[tuple[float, int]] = field(default_factory=deque)

    def change(self, now: float, period: float, up: bool) -> int:
        return sum(n for at, n in (self.up if up else self.down) if at > now - period)

    def record(self, now: float, current: int, desired: int, horizon: float) -> None:
        if desired > current:
            self.up.append((now, desired - current))
        elif desired < current:
            self.down.append((now, current - desired))
        for events in (self.up, self.down):
            while events and events[0][0] <= now - horizon:
                events.popleft()


def _limit(rules: ScalingRules, current: int, events: _Events, now: float, up: bool) -> int:
    """``calculateScaleUpLimitWithScalingRules`` / ``calculateScaleDownLimitWithBehaviors``."""
    if rules.select_policy == "Disabled":
        return current
    proposals = []
    for policy in rules.policies:
        start = current - events.change(now, policy.period, True) + events.change(now, policy.period, False)
        if policy.type == "Pods":
            proposals.append(start + policy.value if up else start - policy.value)
        elif up:
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    if not proposals:
        return current
    widest = max if up else min
    return (widest if rules.select_policy == "Max" else (min if up else max))(proposals)


class HpaAutoscaler:
    """One revision's HPA: CPU-rate baseline, recommendations and scale events across calls."""

    def __init__(self, spec: HpaSpec) -> None:
        self._spec = spec
        self._recommendations: deque[tuple[float, int]] = deque()
        self._events = _Events()
        self._cpu_baseline: tuple[float, int, float] | None = None  # (time, instances, total cpu seconds)
        self._replicas: int | None = None
        """The count last decided (Kubernetes' ``scale.Spec.Replicas``, the current replicas)."""
        self._next_sync: float | None = None
        self._last: ScaleResult | None = None

    @property
    def spec(self) -> HpaSpec:
        return self._spec

    def update(self, spec: HpaSpec) -> None:
        self._spec = spec

    def scale(self, now: float, usages: Sequence[UsageSample], pods_total: float | None = None) -> ScaleResult:
        """Desired instances for the ready instances' ``usages`` (``pods_total``: a Pods metric's value
        summed over them), once per sync period; in between the last decision."""
        if self._next_sync is not None and now < self._next_sync:
            last = self._last
            return last if last is not None else ScaleResult(0, 0, False, reasons=(WAITING,))
        self._next_sync = now + self._spec.sync_period
        result = self._decide(now, usages, pods_total)
        if result.scale_valid:
            self._last = result
        return result

    def _decide(self, now: float, usages: Sequence[UsageSample], pods_total: float | None) -> ScaleResult:
        spec, ready = self._spec, len(usages)
        if ready == 0:
            self._cpu_baseline = None
            return ScaleResult(0, 0, False, reasons=(NO_INSTANCES,), ready_pods=0)
        current = self._replicas if self._replicas is not None else ready
        if spec.max_scale and current > spec.max_scale:  # horizontal.go: bounds first, no metrics
            return self._decided(now, current, spec.max_scale, [MAX_BOUND], None, ready)
        if current < spec.min_scale:
            return self._decided(now, current, spec.min_scale, [MIN_BOUND], None, ready)
        average = self._average(now, usages, pods_total)
        if isinstance(average, str):
            return ScaleResult(0, 0, False, reasons=(average,), ready_pods=ready)
        reasons: list[str] = []
        target = spec.target * MIB if spec.metric == ann.MEMORY else spec.target
        raw = replica_count(current, ready, max(0, current - ready), average, target, spec.tolerance)
        if raw == current and average != target:
            reasons.append(WITHIN_TOLERANCE)
        stabilized = self._stabilize(now, current, raw, reasons)
        return self._decided(now, current, self._rate_limit(now, current, stabilized, reasons), reasons, average, ready)

    def _decided(
        self, now: float, current: int, desired: int, reasons: list[str], average: float | None, ready: int
    ) -> ScaleResult:
        spec = self._spec
        horizon = max((p.period for p in (*spec.scale_up.policies, *spec.scale_down.policies)), default=0.0)
        self._events.record(now, current, desired, horizon)
        self._replicas = desired
        return ScaleResult(desired, 0, True, reasons=tuple(reasons), observed_stable=average, ready_pods=ready)

    def _average(self, now: float, usages: Sequence[UsageSample], pods_total: float | None) -> float | str:
        """Average per-instance value of the metric, or a reason why there is none."""
        spec = self._spec
        if spec.pods_metric:
            if pods_total is None:
                return f"{FAILED_GET_PODS_METRIC}: no values for metric {spec.metric}"
            return pods_total / len(usages)
        if spec.metric == ann.MEMORY:
            memory = [u.memory_bytes for u in usages]
            if any(m is None for m in memory):
                return NO_USAGE
            return sum(m for m in memory if m is not None) / len(memory)
        cpu = [u.cpu_seconds for u in usages]
        if any(c is None for c in cpu):
            return NO_USAGE
        total = sum(c for c in cpu if c is not None)
        baseline, self._cpu_baseline = self._cpu_baseline, (now, len(cpu), total)
        if baseline is None or baseline[1] != len(cpu) or total < baseline[2] or now <= baseline[0]:
            return MEASURING
        cores = (total - baseline[2]) / (now - baseline[0]) / len(cpu)
        return cores / spec.cpu_request * 100.0

    def _stabilize(self, now: float, current: int, desired: int, reasons: list[str]) -> int:
        """``stabilizeRecommendationWithBehaviors``: within the windows' lowest/highest recommendations."""
        spec = self._spec
        up, down = desired, desired
        for at, replicas in self._recommendations:
            if at > now - spec.scale_up.stabilization_window:
                up = min(up, replicas)
            if at > now - spec.scale_down.stabilization_window:
                down = max(down, replicas)
        self._recommendations.append((now, desired))
        horizon = now - max(spec.scale_up.stabilization_window, spec.scale_down.stabilization_window)
        while self._recommendations and self._recommendations[0][0] <= horizon:
            self._recommendations.popleft()
        result = min(max(current, up), down)
        if result != desired:
            reasons.append(STABILIZED_UP if desired >= current else STABILIZED_DOWN)
        return result

    def _rate_limit(self, now: float, current: int, desired: int, reasons: list[str]) -> int:
        """``convertDesiredReplicasWithBehaviorRate``: the policies' limits, then min/max."""
        spec = self._spec
        if desired > current:
            limit = max(_limit(spec.scale_up, current, self._events, now, up=True), current)
            if spec.max_scale and spec.max_scale <= limit:
                limit, why = spec.max_scale, MAX_BOUND
            else:
                why = SCALE_UP_LIMIT
            if desired > limit:
                reasons.append(why)
                return limit
        elif desired < current:
            limit = min(_limit(spec.scale_down, current, self._events, now, up=False), current)
            if spec.min_scale >= limit:
                limit, why = spec.min_scale, MIN_BOUND
            else:
                why = SCALE_DOWN_LIMIT
            if desired < limit:
                reasons.append(why)
                return limit
        return desired
