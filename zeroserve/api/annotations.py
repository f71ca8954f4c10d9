"""Knative's user-facing annotations: keys, legacy aliases and their validation.

Mirrors ``pkg/apis/autoscaling/register.go`` (keys and ``kmap.KeyPriority`` aliases),
``pkg/apis/autoscaling/annotation_validation.go`` (every ``autoscaling.knative.dev/*`` rule),
``pkg/apis/serving/metadata_validation.go`` (rollout-duration, "autoscaling annotations must be
put under spec.template"), ``pkg/apis/serving/v1/revision_validation.go`` (progress-deadline,
``queue.sidecar.serving.knative.dev/*``) and knative/networking
``pkg/apis/networking/metadata_validation.go`` (``networking.knative.dev/*``).

Every function returns FieldErrors whose paths are the annotation keys; callers prefix them with
``metadata.annotations`` (Knative's ``ViaField``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from zeroserve.api import labels
from zeroserve.config import AutoscalerConfig, quantity
from zeroserve.config.duration import HOUR, SECOND, format_duration, parse_duration
from zeroserve.config.gotemplate.values import format_float
from zeroserve.errors import FieldError

GROUP = labels.AUTOSCALING
KPA = f"kpa.{GROUP}"
HPA = f"hpa.{GROUP}"

CLASS = f"{GROUP}/class"
METRIC = f"{GROUP}/metric"
TARGET = f"{GROUP}/target"
TARGET_UTILIZATION_PERCENTAGE = f"{GROUP}/target-utilization-percentage"
TARGET_BURST_CAPACITY = f"{GROUP}/target-burst-capacity"
WINDOW = f"{GROUP}/window"
PANIC_WINDOW_PERCENTAGE = f"{GROUP}/panic-window-percentage"
PANIC_THRESHOLD_PERCENTAGE = f"{GROUP}/panic-threshold-percentage"
MIN_SCALE = f"{GROUP}/min-scale"
MAX_SCALE = f"{GROUP}/max-scale"
INITIAL_SCALE = f"{GROUP}/initial-scale"
ACTIVATION_SCALE = f"{GROUP}/activation-scale"
SCALE_DOWN_DELAY = f"{GROUP}/scale-down-delay"
SCALE_TO_ZERO_POD_RETENTION_PERIOD = f"{GROUP}/scale-to-zero-pod-retention-period"
METRIC_AGGREGATION_ALGORITHM = f"{GROUP}/metric-aggregation-algorithm"
PROGRESS_DEADLINE = labels.PROGRESS_DEADLINE
ROLLOUT_DURATION = labels.ROLLOUT_DURATION

CONCURRENCY, RPS, CPU, MEMORY = "concurrency", "rps", "cpu", "memory"
AGGREGATION_ALGORITHMS = ("linear", "weighted-exponential", "weightedExponential")

ALIASES: dict[str, tuple[str, ...]] = {
    INITIAL_SCALE: (f"{GROUP}/initialScale",),
    MAX_SCALE: (f"{GROUP}/maxScale",),
    MIN_SCALE: (f"{GROUP}/minScale",),
    METRIC_AGGREGATION_ALGORITHM: (f"{GROUP}/metricAggregationAlgorithm",),
    PANIC_THRESHOLD_PERCENTAGE: (f"{GROUP}/panicThresholdPercentage",),
    PANIC_WINDOW_PERCENTAGE: (f"{GROUP}/panicWindowPercentage",),
    SCALE_DOWN_DELAY: (f"{GROUP}/scaleDownDelay",),
    SCALE_TO_ZERO_POD_RETENTION_PERIOD: (f"{GROUP}/scaleToZeroPodRetentionPeriod",),
    TARGET_BURST_CAPACITY: (f"{GROUP}/targetBurstCapacity",),
    TARGET_UTILIZATION_PERCENTAGE: (f"{GROUP}/targetUtilizationPercentage",),
    ROLLOUT_DURATION: (f"{labels.GROUP}/rolloutDuration",),
}

INT32_MAX = 2**31 - 1
TARGET_MIN = 0.01
WINDOW_MIN = 6 * SECOND
WINDOW_MAX = HOUR


def get_annotation(annotations: Mapping[str, str], key: str) -> tuple[str, str] | None:
    """``(key actually used, value)`` for ``key`` or its first present legacy alias (kmap.KeyPriority)."""
    for k in (key, *ALIASES.get(key, ())):
        if k in annotations:
            return k, annotations[k]
    return None


# ----------------------------------------------------------------------------- Knative's error shapes


def _invalid(value: object, path: str, details: str = "") -> FieldError:
    return FieldError(f"invalid value: {value}", (path,), details)


def _bounds(value: object, lower: object, upper: object, path: str) -> FieldError:
    return FieldError(f"expected {lower} <= {value} <= {upper}", (path,))


def _go_float(text: str) -> float | None:
    """``strconv.ParseFloat``; None when Go would refuse the text."""
    if "_" in text or text.strip() != text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _go_int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def _go_duration(text: str) -> int | None:
    try:
        return parse_duration(text)
    except ValueError:
        return None


def _g(x: float) -> str:
    """Go ``%v``/``%g`` of a float bound: 1 -> ``1``, 0.01 -> ``0.01``."""
    return str(int(x)) if x == int(x) else repr(x)


# ----------------------------------------------------------------------------- autoscaling.knative.dev/*


def validate_autoscaling(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> list[FieldError]:
    """``autoscaling.ValidateAnnotations``: every rule, all errors."""
    return [
        *_validate_class(annotations),
        *_validate_min_max_scale(annotations, cfg),
        *_validate_floats(annotations),
        *_validate_window(annotations),
        *_validate_duration(annotations, SCALE_TO_ZERO_POD_RETENTION_PERIOD, second_precision=False),
        *_validate_duration(annotations, SCALE_DOWN_DELAY, second_precision=True),
        *_validate_metric(annotations, cfg),
        *_validate_algorithm(annotations),
        *_validate_initial_scale(annotations, cfg),
    ]


def _validate_class(m: Mapping[str, str]) -> list[FieldError]:
    found = get_annotation(m, CLASS)
    if found and found[1].endswith(".knative.dev") and found[1] not in (KPA, HPA):
        return [_invalid(found[1], found[0])]
    return []


def _validate_algorithm(m: Mapping[str, str]) -> list[FieldError]:
    cls = get_annotation(m, CLASS)
    if cls is None or cls[1] != KPA:  # Knative checks it only with an explicit KPA class annotation
        return []
    found = get_annotation(m, METRIC_AGGREGATION_ALGORITHM)
    if found and found[1] and found[1] not in AGGREGATION_ALGORITHMS:
        return [_invalid(found[1], found[0])]
    return []


def _int_ge0(m: Mapping[str, str], key: str) -> tuple[int, list[FieldError]]:
    found = get_annotation(m, key)
    if found is None:
        return 0, []
    k, v = found
    i = _go_int(v)
    if i is None:
        return 0, [_invalid(v, k)]
    if i < 0 or i > INT32_MAX:
        return 0, [_bounds(v, 0, INT32_MAX, k)]
    return i, []


def _validate_min_max_scale(m: Mapping[str, str], cfg: AutoscalerConfig) -> list[FieldError]:
    lo, errs = _int_ge0(m, MIN_SCALE)
    hi, more = _int_ge0(m, MAX_SCALE)
    errs += more
    if hi != 0 and hi < lo:
        errs.append(FieldError(f"max-scale={hi} is less than min-scale={lo}", (MAX_SCALE, MIN_SCALE)))
    found = get_annotation(m, MAX_SCALE)
    if found and cfg.max_scale_limit:
        if hi > cfg.max_scale_limit:
            errs.append(_bounds(hi, 1, cfg.max_scale_limit, found[0]))
        if hi == 0:
            errs.append(FieldError(f"max-scale=0 (unlimited), must be less than {cfg.max_scale_limit}", (found[0],)))
    act = get_annotation(m, ACTIVATION_SCALE)
    if act:
        k, v = act
        n = _go_int(v)
        if n is None or not -(2**31) <= n <= INT32_MAX:
            errs.append(_invalid(v, k))
        elif lo > n:
            errs.append(FieldError(f"min-scale={lo} is greater than activation-scale={n}", (k,)))
        elif hi != 0 and hi < n:
            errs.append(FieldError(f"max-scale={hi} is less than activation-scale={n}", (k,)))
        elif n < 2:
            errs.append(FieldError(f"activation-scale={n} must be greater than 1", (k,)))
    return errs


def _validate_floats(m: Mapping[str, str]) -> list[FieldError]:
    errs: list[FieldError] = []
    ranged = (
        (PANIC_WINDOW_PERCENTAGE, 1.0, 100.0),
        (PANIC_THRESHOLD_PERCENTAGE, 110.0, 1000.0),
        (TARGET_UTILIZATION_PERCENTAGE, 1.0, 100.0),
    )
    for key, lo, hi in ranged:
        found = get_annotation(m, key)
        if found is None:
            continue
        k, v = found
        f = _go_float(v)
        if f is None:
            errs.append(_invalid(v, k))
        elif not lo <= f <= hi:
            errs.append(_bounds(v, _g(lo), _g(hi), k))
    found = get_annotation(m, TARGET)
    if found:
        k, v = found
        f = _go_float(v)
        if f is None:
            errs.append(_invalid(v, k))
        elif f < TARGET_MIN:
            errs.append(FieldError(f"target {v} should be at least {_g(TARGET_MIN)}", (k,)))
    found = get_annotation(m, TARGET_BURST_CAPACITY)
    if found:
        k, v = found
        f = _go_float(v)
        if f is None or (f < 0 and f != -1):
            errs.append(_invalid(v, k))
    return errs


def _validate_window(m: Mapping[str, str]) -> list[FieldError]:
    found = get_annotation(m, WINDOW)
    if found is None:
        return []
    v = found[1]
    d = _go_duration(v)
    if d is None:
        return [_invalid(v, WINDOW)]
    if not WINDOW_MIN <= d <= WINDOW_MAX:
        return [_bounds(v, format_duration(WINDOW_MIN), format_duration(WINDOW_MAX), WINDOW)]
    if d % SECOND:
        return [FieldError("must be specified with at most second precision", (WINDOW,))]
    return []


def _validate_duration(m: Mapping[str, str], key: str, *, second_precision: bool) -> list[FieldError]:
    """scale-down-delay and scale-to-zero-pod-retention-period: ``[0s, 1h]``."""
    found = get_annotation(m, key)
    if found is None:
        return []
    k, v = found
    d = _go_duration(v)
    if d is None:
        return [_invalid(v, k)]
    if not 0 <= d <= WINDOW_MAX:
        return [_bounds(v, format_duration(0), format_duration(WINDOW_MAX), k)]
    if second_precision and d % SECOND:
        return [FieldError("must be specified with at most second precision", (k,))]
    return []


def _validate_metric(m: Mapping[str, str], cfg: AutoscalerConfig) -> list[FieldError]:
    found = get_annotation(m, METRIC)
    if found is None:
        return []
    metric = found[1]
    cls_found = get_annotation(m, CLASS)
    cls = cls_found[1] if cls_found else cfg.pod_autoscaler_class
    if cls == KPA and metric not in (CONCURRENCY, RPS):
        return [_invalid(metric, METRIC)]
    if cls == HPA and metric == "":
        return [_invalid(metric, METRIC)]
    return []


def _validate_initial_scale(m: Mapping[str, str], cfg: AutoscalerConfig) -> list[FieldError]:
    found = get_annotation(m, INITIAL_SCALE)
    if found is None:
        return []
    k, v = found
    n = _go_int(v)
    if n is None:
        return [_invalid(v, k)]
    if n < 0:
        return [_invalid(v, f"{k} must be greater than 0")]
    if n == 0 and not cfg.allow_zero_initial_scale:
        return [_invalid(v, f"{k}=0 not allowed by cluster")]
    return []


def validate_no_autoscaling(annotations: Mapping[str, str]) -> list[FieldError]:
    """Service/Configuration/Route metadata: autoscaling annotations belong on the template."""
    return [
        FieldError(
            f'invalid key name "{key}"',
            ("",),
            'autoscaling annotations must be put under "spec.template.metadata.annotations" to work',
        )
        for key in sorted(annotations)
        if key.startswith(GROUP)
    ]


# ----------------------------------------------------------------------------- serving.knative.dev/*


def _validate_second_duration(m: Mapping[str, str], key: str, name: str) -> list[FieldError]:
    found = get_annotation(m, key)
    if found is None or not found[1]:
        return []
    k, v = found
    d = _go_duration(v)
    if d is None:
        return [_invalid(v, k)]
    if d % SECOND:
        return [FieldError(f"{name}={v} is not at second precision", (k,))]
    if d < 0:
        return [FieldError(f"{name}={v} must be positive", (k,))]
    return []


def validate_progress_deadline(annotations: Mapping[str, str]) -> list[FieldError]:
    """``serving.knative.dev/progress-deadline`` on a revision template."""
    return _validate_second_duration(annotations, PROGRESS_DEADLINE, "progress-deadline")


def validate_rollout_duration(annotations: Mapping[str, str]) -> list[FieldError]:
    """``serving.knative.dev/rollout-duration`` on a Service or Route."""
    return _validate_second_duration(annotations, ROLLOUT_DURATION, "rollout-duration")


# ----------------------------------------------------------------------------- networking.knative.dev/*

NETWORKING_GROUP = "networking.knative.dev"
NETWORKING_ANNOTATIONS = frozenset(
    f"{NETWORKING_GROUP}/{name}"
    for name in (
        "ingress.class",
        "certificate.class",
        "disableAutoTLS",
        "disable-external-domain-tls",
        "httpOption",
        "ingress-class",
        "certificate-class",
        "disable-auto-tls",
        "http-protocol",
    )
)


def validate_networking(annotations: Mapping[str, str]) -> list[FieldError]:
    """knative/networking ``ValidateAnnotations``: only its known ``networking.knative.dev`` keys."""
    return [
        FieldError(f'invalid key name "{key}"', ("",))
        for key in sorted(annotations)
        if key.startswith(NETWORKING_GROUP) and key not in NETWORKING_ANNOTATIONS
    ]


# ----------------------------------------------------------------------------- queue.sidecar.serving.knative.dev/*

QUEUE_SIDECAR = f"queue.sidecar.{labels.GROUP}"
QUEUE_RESOURCE_PERCENTAGE = f"{QUEUE_SIDECAR}/resource-percentage"
QUEUE_RESOURCES = tuple(
    f"{QUEUE_SIDECAR}/{resource}-resource-{kind}"
    for resource in ("cpu", "memory", "ephemeral-storage")
    for kind in ("request", "limit")
)


def validate_queue_sidecar(annotations: Mapping[str, str]) -> list[FieldError]:
    """``validateQueueSidecarResourceAnnotations``: the deprecated percentage in [0.1, 100] (its
    deprecation warning aside), the resource annotations as quantities. Paths are ``[key]``."""
    errs: list[FieldError] = []
    for key in (QUEUE_RESOURCE_PERCENTAGE, f"{QUEUE_SIDECAR}/resourcePercentage"):
        if key in annotations:
            value = annotations[key]
            f = _go_float(value)
            if f is None:
                errs.append(_invalid(value, f"[{key}]"))
            elif not 0.1 <= f <= 100:
                errs.append(_bounds(format_float(f), "0.1", "100", f"[{key}]"))
            break
    for key in QUEUE_RESOURCES:
        if key in annotations:
            try:
                quantity.parse(annotations[key])
            except quantity.QuantityError:
                errs.append(_invalid(annotations[key], f"[{key}]"))
    return errs
