"""From a revision's annotations and config-autoscaler to the decider's numbers.

Knative ``pkg/reconciler/autoscaling/resources/{target,metric}.go`` and
``kpa/resources/decider.go``: per-instance target and capacity of the scaling metric, the
stable and panic windows, and the whole ``DeciderSpec``. Annotations are read as Knative's
PodAutoscaler accessors read them: legacy aliases honoured, and a value that does not parse
is ignored (validation rejects it earlier, at admission). Durations are float seconds. Pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from zeroserve.api import annotations as ann
from zeroserve.autoscaler.scaling import DeciderSpec
from zeroserve.config import AutoscalerConfig
from zeroserve.config.duration import SECOND, parse_duration

TARGET_MIN = 0.01
"""Smallest per-instance target (``autoscaling.TargetMin``)."""
BUCKET_SIZE = 1.0
"""Seconds per aggregation bucket, and the shortest panic window (``config.BucketSize``)."""
WEIGHTED_EXPONENTIAL = "weighted-exponential"
_INT32 = re.compile(r"[+-]?\d+")


def _float(annotations: Mapping[str, str], key: str) -> float | None:
    """``strconv.ParseFloat`` of the annotation (or its alias); None if absent or invalid."""
    found = ann.get_annotation(annotations, key)
    if found is None or "_" in found[1] or found[1].strip() != found[1]:
        return None
    try:
        return float(found[1])
    except ValueError:
        return None


def _int32(annotations: Mapping[str, str], key: str) -> int | None:
    found = ann.get_annotation(annotations, key)
    if found is None or not _INT32.fullmatch(found[1]):
        return None
    value = int(found[1])
    return value if -(2**31) <= value < 2**31 else None


def _duration_ns(annotations: Mapping[str, str], key: str) -> int | None:
    found = ann.get_annotation(annotations, key)
    if found is None:
        return None
    try:
        return parse_duration(found[1])
    except ValueError:
        return None


def _round_ns(d: int, m: int) -> int:
    """Go ``Duration.Round(m)`` for ``d >= 0``: halves round up (away from zero)."""
    r = d % m
    return d - r if r + r < m else d + m - r


def autoscaler_class(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> str:
    return annotations.get(ann.CLASS, cfg.pod_autoscaler_class)


def scaling_metric(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> str:
    """The ``metric`` annotation, else the class default (KPA: concurrency, HPA: cpu)."""
    if ann.METRIC in annotations:
        return annotations[ann.METRIC]
    cls = autoscaler_class(annotations, cfg)
    return {ann.KPA: ann.CONCURRENCY, ann.HPA: ann.CPU}.get(cls, "")


def resolve_metric_target(
    annotations: Mapping[str, str], container_concurrency: int, cfg: AutoscalerConfig
) -> tuple[float, float]:
    """``(target, total)``: the per-instance value to aim for and the per-instance capacity.

    RPS: total = requests-per-second-target-default (200) at 70 % utilization. Otherwise
    total = containerConcurrency, or container-concurrency-target-default (100) when 0, at
    container-concurrency-target-percentage. A ``target`` annotation replaces total (capped by
    a non-zero containerConcurrency for concurrency); ``target-utilization-percentage``
    replaces the utilization; target is never below 0.01.
    """
    metric = scaling_metric(annotations, cfg)
    if metric == ann.RPS:
        total = cfg.requests_per_second_target_default
        utilization = cfg.target_utilization
    else:
        total = float(container_concurrency) or cfg.container_concurrency_target_default
        utilization = cfg.container_concurrency_target_fraction
    target = _float(annotations, ann.TARGET)
    if target is not None:
        total = target
        if metric == ann.CONCURRENCY and container_concurrency != 0:
            total = min(target, float(container_concurrency))
    tu = _float(annotations, ann.TARGET_UTILIZATION_PERCENTAGE)
    if tu is not None:
        utilization = tu / 100
    return max(TARGET_MIN, total * utilization), total


def stable_window(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> float:
    """The ``window`` annotation, else config-autoscaler ``stable-window`` (60 s)."""
    ns = _duration_ns(annotations, ann.WINDOW)
    return cfg.stable_window if ns is None else ns / SECOND


def panic_window(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> float:
    """``stable * panic-window-percentage / 100`` rounded to the second (halves up), at least 1 s."""
    ns = _duration_ns(annotations, ann.WINDOW)
    stable_ns = round(cfg.stable_window * SECOND) if ns is None else ns
    pct = _float(annotations, ann.PANIC_WINDOW_PERCENTAGE)
    if pct is None:
        pct = cfg.panic_window_percentage
    raw = float(stable_ns) * pct / 100.0
    panic_ns = _round_ns(math.trunc(raw), SECOND) if math.isfinite(raw) and raw >= 0 else 0
    return max(panic_ns, round(BUCKET_SIZE * SECOND)) / SECOND


def windows(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> tuple[float, float]:
    """``(stable_window, panic_window)`` in seconds."""
    return stable_window(annotations, cfg), panic_window(annotations, cfg)


def panic_threshold(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> float:
    """``panic-threshold-percentage`` as a fraction (200 % -> 2.0)."""
    pct = _float(annotations, ann.PANIC_THRESHOLD_PERCENTAGE)
    return (cfg.panic_threshold_percentage if pct is None else pct) / 100.0


def target_burst_capacity(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> float:
    tbc = _float(annotations, ann.TARGET_BURST_CAPACITY)
    return cfg.target_burst_capacity if tbc is None else tbc


def scale_down_delay(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> float:
    ns = _duration_ns(annotations, ann.SCALE_DOWN_DELAY)
    return cfg.scale_down_delay if ns is None else ns / SECOND


def activation_scale(annotations: Mapping[str, str]) -> int:
    """The ``activation-scale`` annotation, else 0 (no activation scale)."""
    value = _int32(annotations, ann.ACTIVATION_SCALE)
    return 0 if value is None else value


def initial_scale(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> int:
    """The ``initial-scale`` annotation; 0 only counts if ``allow-zero-initial-scale``."""
    value = _int32(annotations, ann.INITIAL_SCALE)
    if value is None or (value == 0 and not cfg.allow_zero_initial_scale):
        return cfg.initial_scale
    return value


def scale_bounds(annotations: Mapping[str, str], cfg: AutoscalerConfig, *, reachable: bool = True) -> tuple[int, int]:
    """``(min, max)`` (PodAutoscaler ``ScaleBounds``): the annotation, else config-autoscaler's; min is 0
    while the revision is unreachable; max 0 = unlimited."""
    lo = 0
    if reachable:
        raw = _int32(annotations, ann.MIN_SCALE)
        lo = cfg.min_scale if raw is None else raw
    hi = _int32(annotations, ann.MAX_SCALE)
    return lo, cfg.max_scale if hi is None else hi


def aggregation_algorithm(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> str:
    """``linear`` or ``weighted-exponential`` (``weightedExponential`` normalized)."""
    found = ann.get_annotation(annotations, ann.METRIC_AGGREGATION_ALGORITHM)
    value = cfg.metric_aggregation_algorithm if found is None else found[1]
    return WEIGHTED_EXPONENTIAL if value == "weightedExponential" else value


def make_decider_spec(
    annotations: Mapping[str, str],
    container_concurrency: int,
    cfg: AutoscalerConfig,
    *,
    reachable: bool = True,
) -> DeciderSpec:
    """The decider's spec for a revision (Knative ``MakeDecider``)."""
    target, total = resolve_metric_target(annotations, container_concurrency, cfg)
    return DeciderSpec(
        target_value=target,
        total_value=total,
        target_burst_capacity=target_burst_capacity(annotations, cfg),
        panic_threshold=panic_threshold(annotations, cfg),
        max_scale_up_rate=cfg.max_scale_up_rate,
        max_scale_down_rate=cfg.max_scale_down_rate,
        stable_window=stable_window(annotations, cfg),
        scale_down_delay=scale_down_delay(annotations, cfg),
        activation_scale=activation_scale(annotations),
        reachable=reachable,
        scaling_metric=scaling_metric(annotations, cfg),
        activator_capacity=cfg.activator_capacity,
        initial_scale=initial_scale(annotations, cfg),
    )
