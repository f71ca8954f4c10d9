"""The KPA decider: how many instances a revision wants (Knative ``pkg/autoscaler/scaling/autoscaler.go``).

``Autoscaler.scale(now)`` reads the revision-wide stable and panic averages of the scaling
metric and the ready instance count, and returns ``ScaleResult(desired_pod_count,
excess_burst_capacity, scale_valid)`` with Knative's exact arithmetic:

* desired counts are ``ceil(observed / target)``, kept within ``[floor(ready / max_down_rate),
  ceil(ready * max_up_rate)]`` (``ready`` at least 1; no lower bound when unreachable);
* ``activation_scale > 1`` lifts any non-zero count to it;
* panic starts (or is extended) when ``ceil(panic / target) / ready >= panic_threshold``, ends
  once a whole stable window has passed without that, and never scales down while it lasts;
* a scale-down delay holds the maximum desired count of the last ``scale_down_delay`` seconds;
* excess burst capacity is ``floor(ready * total - tbc - panic)`` (0 when tbc is 0, -1 when -1).

Min/max scale are not applied here (the KPA reconciler does that). Pure: time is an argument;
metrics and the ready count come through two small protocols.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from zeroserve.autoscaler.aggregation import INT32_MIN, MaxTimeWindow
from zeroserve.errors import NotFound, ZeroserveError

ScalingMetric = Literal["concurrency", "rps"]

TICK_INTERVAL = 2.0
"""Seconds between decisions (multiscaler.go ``tickInterval``); granularity of the delay window."""

# Reasons carried by ScaleResult.reasons (shown by `zeroserve autoscaler explain`).
NO_DATA = "no data"
METRICS_ERROR = "metrics error"
READY_COUNT_ERROR = "ready count error"
PANIC_ENTERED = "panic entered"
PANIC_EXTENDED = "panic extended"
PANIC_ENDED = "panic ended"
PANIC_MODE = "panic mode"
PANIC_HOLD = "panic hold"
RATE_LIMITED_UP = "rate limited up"
RATE_LIMITED_DOWN = "rate limited down"
ACTIVATION_SCALE = "activation scale"
SCALE_DOWN_DELAY = "scale-down delay"
UNREACHABLE = "unreachable"


class NoData(ZeroserveError):
    """The metric has had no data within its stable window (Knative ``ErrNoData``)."""


class MetricClient(Protocol):
    def stable_and_panic_concurrency(self, now: float) -> tuple[float, float]: ...

    def stable_and_panic_rps(self, now: float) -> tuple[float, float]: ...


class PodCounter(Protocol):
    def ready_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DeciderSpec:
    """Parameters of one revision's decider (Knative ``DeciderSpec``; durations in seconds).

    Every field defaults to Go's zero value, as an unset field of Knative's struct would;
    ``zeroserve.autoscaler.targets.make_decider_spec`` fills them from annotations and config.
    """

    target_value: float = 0.0
    """Per-instance value of the metric to aim for (``total_value * utilization``)."""
    total_value: float = 0.0
    """Per-instance capacity of the metric (container concurrency, or its default)."""
    target_burst_capacity: float = 0.0
    """Spare capacity wanted on hand: 0 = activator only at zero, -1 = always in path."""
    panic_threshold: float = 0.0
    """Fraction (2.0 = 200 %) of the ready capacity at which panic mode starts."""
    max_scale_up_rate: float = 0.0
    max_scale_down_rate: float = 0.0
    stable_window: float = 0.0
    scale_down_delay: float = 0.0
    activation_scale: int = 0
    reachable: bool = False
    """Whether a route points at the revision; unreachable revisions may drop straight to 0."""
    scaling_metric: str = "concurrency"
    activator_capacity: float = 0.0
    initial_scale: int = 0


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """One decision. Compares (and unpacks) as the three Knative fields; the rest is explanation."""

    desired_pod_count: int
    excess_burst_capacity: int
    scale_valid: bool
    reasons: tuple[str, ...] = field(default=(), compare=False)
    observed_stable: float | None = field(default=None, compare=False)
    observed_panic: float | None = field(default=None, compare=False)
    ready_pods: int | None = field(default=None, compare=False)
    in_panic: bool = field(default=False, compare=False)

    def __iter__(self) -> Iterator[int | bool]:
        return iter((self.desired_pod_count, self.excess_burst_capacity, self.scale_valid))


INVALID = ScaleResult(0, 0, False)


def go_int32(x: float) -> int:
    """Go's ``int32(x)`` on amd64: truncate toward zero; NaN or out of range gives MinInt32."""
    if math.isnan(x) or math.isinf(x):
        return INT32_MIN
    t = math.trunc(x)
    return t if INT32_MIN <= t <= 2**31 - 1 else INT32_MIN


def _div(a: float, b: float) -> float:
    """IEEE division as Go does it: x/0 is ±Inf, 0/0 is NaN (Python raises)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _ceil(x: float) -> float:
    return float(math.ceil(x)) if math.isfinite(x) else x


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _max(a: float, b: float) -> float:
    """Go ``math.Max``: +Inf wins over NaN, NaN wins over everything else."""
    if math.inf in (a, b):
        return math.inf
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return max(a, b)


def _min(a: float, b: float) -> float:
    """Go ``math.Min``: -Inf wins over NaN, NaN wins over everything else."""
    if -math.inf in (a, b):
        return -math.inf
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return min(a, b)


def excess_burst_capacity(ready: int, total_value: float, tbc: float, panic: float) -> int:
    """``floor(ready * total - tbc - panic)``; 0 when tbc is 0; -1 when tbc is negative."""
    if tbc == 0:
        return 0
    if tbc > 0:
        return go_int32(_floor(ready * total_value - tbc - panic))
    return -1


def initial_excess_burst_capacity(spec: DeciderSpec) -> int:
    """EBC a new decider reports before its first tick (multiscaler.go ``createScaler``).

    tbc itself when it is -1 or 0, else ``int32(initial_scale * total - tbc)`` (truncated).
    """
    tbc = spec.target_burst_capacity
    if tbc in (-1, 0):
        return int(tbc)
    return go_int32(spec.initial_scale * spec.total_value - tbc)


def same_sign(a: int, b: int) -> bool:
    """Whether two EBCs are on the same side of zero (0 counts as non-negative); a flip is a change."""
    return (a < 0) == (b < 0)


class Autoscaler:
    """Knative's ``autoscaler``: panic state and scale-down delay across calls to ``scale``."""

    def __init__(self, spec: DeciderSpec, metrics: MetricClient, pods: PodCounter, now: float) -> None:
        self._spec = spec
        self._metrics = metrics
        self._pods = pods
        self._delay_window = MaxTimeWindow(spec.scale_down_delay, TICK_INTERVAL) if spec.scale_down_delay > 0 else None
        try:
            current = pods.ready_count()
        except Exception:  # a new revision has no endpoints yet: presume 0, as Knative does
            current = 0
        # Start in panic above one instance: after a restart the metric history is gone and
        # the current scale must be kept until there is enough data to decide.
        self.panic_time: float | None = now if current > 1 else None
        self.max_panic_pods: int = current

    @property
    def spec(self) -> DeciderSpec:
        return self._spec

    def update(self, spec: DeciderSpec) -> None:
        """Take a new spec; the delay window chosen at construction stays (as in Knative)."""
        self._spec = spec

    def _observe(self, spec: DeciderSpec, now: float) -> tuple[float, float]:
        if spec.scaling_metric == "rps":
            return self._metrics.stable_and_panic_rps(now)
        return self._metrics.stable_and_panic_concurrency(now)

    def scale(self, now: float) -> ScaleResult:
        spec = self._spec
        try:
            orig_ready = self._pods.ready_count()
        except NotFound:
            orig_ready = 0
        except Exception:
            return replace(INVALID, reasons=(READY_COUNT_ERROR,))
        try:
            stable, panic = self._observe(spec, now)
        except NoData:
            return replace(INVALID, reasons=(NO_DATA,))
        except Exception:
            return replace(INVALID, reasons=(METRICS_ERROR,))
        return self._decide(spec, now, orig_ready, stable, panic)

    def _decide(self, spec: DeciderSpec, now: float, orig_ready: int, stable: float, panic: float) -> ScaleResult:
        reasons: list[str] = []
        ready = max(1.0, float(orig_ready))
        max_up = _ceil(spec.max_scale_up_rate * ready)
        max_down = 0.0
        if spec.reachable:
            max_down = _floor(_div(ready, spec.max_scale_down_rate))
        else:
            reasons.append(UNREACHABLE)
        dspc = _ceil(_div(stable, spec.target_value))
        dppc = _ceil(_div(panic, spec.target_value))
        d_stable = go_int32(_min(_max(dspc, max_down), max_up))
        d_panic = go_int32(_min(_max(dppc, max_down), max_up))
        if spec.activation_scale > 1:
            if dspc > 0 and spec.activation_scale > d_stable:
                d_stable = spec.activation_scale
                reasons.append(ACTIVATION_SCALE)
            if dppc > 0 and spec.activation_scale > d_panic:
                d_panic = spec.activation_scale

        over = dppc / ready >= spec.panic_threshold
        if self.panic_time is None and over:
            self.panic_time = now
            reasons.append(PANIC_ENTERED)
        elif over:
            self.panic_time = now
            reasons.append(PANIC_EXTENDED)
        elif self.panic_time is not None and self.panic_time + spec.stable_window < now:
            self.panic_time = None
            self.max_panic_pods = 0
            reasons.append(PANIC_ENDED)

        desired = d_stable
        chosen = dspc
        if self.panic_time is not None:
            reasons.append(PANIC_MODE)
            if desired < d_panic:
                desired, chosen = d_panic, dppc
            if desired > self.max_panic_pods:
                self.max_panic_pods = desired
            elif desired < self.max_panic_pods:
                reasons.append(PANIC_HOLD)
            desired = self.max_panic_pods
        if chosen > max_up:
            reasons.append(RATE_LIMITED_UP)
        elif chosen < max_down:
            reasons.append(RATE_LIMITED_DOWN)

        if spec.reachable and self._delay_window is not None:
            self._delay_window.record(now, desired)
            delayed = self._delay_window.current()
            if delayed != desired:
                reasons.append(SCALE_DOWN_DELAY)
                desired = delayed

        ebc = excess_burst_capacity(orig_ready, spec.total_value, spec.target_burst_capacity, panic)
        return ScaleResult(
            desired,
            ebc,
            True,
            reasons=tuple(reasons),
            observed_stable=stable,
            observed_panic=panic,
            ready_pods=orig_ready,
            in_panic=self.panic_time is not None,
        )
