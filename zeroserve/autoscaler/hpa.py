"""The HPA class (``hpa.autoscaling.knative.dev``): scale on the instances' CPU or memory.

Knative hands such revisions to a Kubernetes HorizontalPodAutoscaler built by
``pkg/reconciler/autoscaling/hpa/resources/hpa.go``; we run the HPA's algorithm ourselves
(``pkg/controller/podautoscaler/{horizontal,replica_calculator}.go``):

* the metric is averaged over the ready instances: CPU as a percentage of each instance's
  ``resources.requests.cpu`` (target from the ``target`` annotation, 80 % by default), memory
  as bytes against a target given in MiB;
* ``ratio = average / target``; within 10 % of 1 the count stays, else ``ceil(ratio * current)``;
* stabilization: a scale-up takes the lowest recommendation of the scale-up window (0 s by
  default), a scale-down the highest of the scale-down window (300 s by default); Knative's
  ``window`` annotation sets both;
* bounds: at least ``min_scale`` (never below 1: no scale to zero), at most ``max_scale``.

CPU comes as cumulative seconds per instance (cgroup ``cpu.stat``), so a rate needs two readings
of the same set of instances; the first reading (or one after the instance count changed) is a
baseline, not a decision. Pure: time is an argument; usage comes in as values.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from zeroserve.api import annotations as ann
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.scaling import ScaleResult
from zeroserve.config import AutoscalerConfig
from zeroserve.config.duration import SECOND, parse_duration

DEFAULT_CPU_UTILIZATION = 80.0
"""Percent of requests.cpu an instance should use when no target is given (Kubernetes default)."""
DEFAULT_TOLERANCE = 0.1
DEFAULT_SCALE_DOWN_WINDOW = 300.0
DEFAULT_SCALE_UP_WINDOW = 0.0
MIB = 1024 * 1024

# Reasons (shown by `zeroserve autoscaler explain`).
WITHIN_TOLERANCE = "within tolerance"
MEASURING = "measuring (first reading)"
NO_INSTANCES = "no ready instances"
NO_USAGE = "usage not accounted"
STABILIZED_UP = "scale-up stabilization"
STABILIZED_DOWN = "scale-down stabilization"
MIN_BOUND = "min bound"
MAX_BOUND = "max bound"


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
    """``cpu`` or ``memory``."""
    target: float = DEFAULT_CPU_UTILIZATION
    """cpu: percent of ``cpu_request``; memory: MiB per instance."""
    cpu_request: float = 1.0
    """Cores an instance requests (``resources.requests.cpu``); 1 core when the revision sets none."""
    min_scale: int = 1
    max_scale: int = 0
    """0 = unbounded."""
    scale_up_window: float = DEFAULT_SCALE_UP_WINDOW
    scale_down_window: float = DEFAULT_SCALE_DOWN_WINDOW
    tolerance: float = DEFAULT_TOLERANCE


def _annotation_float(annotations: Mapping[str, str], key: str) -> float | None:
    found = ann.get_annotation(annotations, key)
    if found is None:
        return None
    try:
        value = float(found[1])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def make_hpa_spec(
    annotations: Mapping[str, str],
    cfg: AutoscalerConfig,
    *,
    cpu_request: float | None = None,
    min_scale: int = 1,
    max_scale: int = 0,
) -> HpaSpec:
    """The HPA's spec for a revision, as Knative's ``MakeHPA`` configures it (bounds come from the PA)."""
    metric = annotations.get(ann.METRIC, ann.CPU)
    target = _annotation_float(annotations, ann.TARGET)
    if target is None:
        target = DEFAULT_CPU_UTILIZATION if metric == ann.CPU else 0.0
    up, down = DEFAULT_SCALE_UP_WINDOW, DEFAULT_SCALE_DOWN_WINDOW
    window = ann.get_annotation(annotations, ann.WINDOW)
    if window is not None:
        with contextlib.suppress(ValueError):
            up = down = float(parse_duration(window[1]) // SECOND)
    return HpaSpec(
        metric=metric,
        target=float(math.ceil(target)) if metric == ann.CPU else target,
        cpu_request=cpu_request if cpu_request and cpu_request > 0 else 1.0,
        min_scale=max(1, min_scale),
        max_scale=max(0, max_scale),
        scale_up_window=up,
        scale_down_window=down,
    )


def replica_count(current: int, average: float, target: float, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Kubernetes' ``ceil(current * average / target)``, or ``current`` within the tolerance."""
    if target <= 0:
        return current
    ratio = average / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(ratio * current)


class HpaAutoscaler:
    """One revision's HPA: CPU-rate baseline and recommendation history across calls to ``scale``."""

    def __init__(self, spec: HpaSpec) -> None:
        self._spec = spec
        self._recommendations: deque[tuple[float, int]] = deque()
        self._cpu_baseline: tuple[float, int, float] | None = None  # (time, instances, total cpu seconds)

    @property
    def spec(self) -> HpaSpec:
        return self._spec

    def update(self, spec: HpaSpec) -> None:
        self._spec = spec

    def _average(self, now: float, usages: Sequence[UsageSample]) -> float | str:
        """Average per-instance value of the metric, or a reason why there is none."""
        if self._spec.metric == ann.MEMORY:
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
        return cores / self._spec.cpu_request * 100.0

    def _target(self) -> float:
        return self._spec.target * MIB if self._spec.metric == ann.MEMORY else self._spec.target

    def _stabilize(self, now: float, current: int, desired: int, reasons: list[str]) -> int:
        spec = self._spec
        up, down = desired, desired
        for at, replicas in self._recommendations:
            if at > now - spec.scale_up_window:
                up = min(up, replicas)
            if at > now - spec.scale_down_window:
                down = max(down, replicas)
        self._recommendations.append((now, desired))
        horizon = now - max(spec.scale_up_window, spec.scale_down_window)
        while self._recommendations and self._recommendations[0][0] <= horizon:
            self._recommendations.popleft()
        result = max(current, up)
        if result > down:
            result = down
        if result < desired:
            reasons.append(STABILIZED_UP)
        elif result > desired:
            reasons.append(STABILIZED_DOWN)
        return result

    def _bound(self, desired: int, reasons: list[str]) -> int:
        spec = self._spec
        low = max(1, spec.min_scale)
        if desired < low:
            reasons.append(MIN_BOUND)
            return low
        if spec.max_scale and desired > spec.max_scale:
            reasons.append(MAX_BOUND)
            return spec.max_scale
        return desired

    def scale(self, now: float, usages: Sequence[UsageSample]) -> ScaleResult:
        """Desired instances for the ready instances' ``usages`` (invalid while there is no reading)."""
        current = len(usages)
        if current == 0:
            self._cpu_baseline = None
            return ScaleResult(0, 0, False, reasons=(NO_INSTANCES,), ready_pods=0)
        average = self._average(now, usages)
        if isinstance(average, str):
            return ScaleResult(0, 0, False, reasons=(average,), ready_pods=current)
        reasons: list[str] = []
        desired = replica_count(current, average, self._target(), self._spec.tolerance)
        if desired == current and average != self._target():
            reasons.append(WITHIN_TOLERANCE)
        desired = self._bound(self._stabilize(now, current, desired, reasons), reasons)
        return ScaleResult(desired, 0, True, reasons=tuple(reasons), observed_stable=average, ready_pods=current)
