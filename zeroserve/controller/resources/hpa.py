"""MakeHPA (Knative ``pkg/reconciler/autoscaling/hpa/resources/hpa.go``): the autoscaling/v2
HorizontalPodAutoscaler of an ``hpa.autoscaling.knative.dev`` PodAutoscaler on a cluster (PURE).

Named, labelled and annotated as the PodAutoscaler, controlled by it, scaling its
``scaleTargetRef``. Bounds are the PA's (``min-scale``/``max-scale``, else config-autoscaler's; no
minimum while unreachable, and no maximum means int32's largest). The metric, only with a
``target`` annotation, is the one zeroserve's own HPA runs (:func:`zeroserve.autoscaler.hpa.metric_target`):
``cpu`` at ``ceil(target)`` percent utilization, ``memory`` at an average of ``int(target)`` MiB,
any other a Pods metric of that name at an average of ``int(target)``; a ``window`` annotation
becomes both stabilization windows.

:func:`spec_matches` compares it with the HPA the cluster holds, which kube-apiserver has defaulted.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Final

from zeroserve.api import annotations as ann
from zeroserve.api.autoscaling import API_VERSION as PA_API_VERSION
from zeroserve.api.autoscaling import UNREACHABLE, PodAutoscaler
from zeroserve.api.base import INT32_MAX, Obj, to_wire
from zeroserve.api.meta import ObjectMeta
from zeroserve.autoscaler import targets
from zeroserve.autoscaler.hpa import MIB, metric_target, window_seconds
from zeroserve.config import Config
from zeroserve.config.quantity import format_quantity
from zeroserve.controller.resources import owners

API_VERSION: Final = "autoscaling/v2"
DEFAULT_CPU_UTILIZATION: Final = 80
"""The metric kube-apiserver gives an HPA without one (``autoscaling.DefaultCPUUtilization``)."""
SCALE_UP_RULES: Final[Obj] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
SCALE_DOWN_RULES: Final[Obj] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}
"""kube-apiserver's scaling rules for a ``behavior`` that leaves some out (no scale-down window: the
kube-controller-manager's ``--horizontal-pod-autoscaler-downscale-stabilization`` applies)."""


def hpa_metric(metric: str, target: float) -> Obj:
    """One ``MetricSpec``: a Resource metric for cpu (Utilization) and memory (AverageValue), else Pods."""
    if metric == ann.CPU:
        return {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": int(target)}},
        }
    if metric == ann.MEMORY:
        value = format_quantity(Fraction(int(target) * MIB), "BinarySI")
        return {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": value}},
        }
    value = format_quantity(Fraction(int(target)), "DecimalSI")
    return {
        "type": "Pods",
        "pods": {"metric": {"name": metric}, "target": {"type": "AverageValue", "averageValue": value}},
    }


def make_hpa(pa: PodAutoscaler, cfg: Config) -> Obj:
    """``MakeHPA``: the HorizontalPodAutoscaler of ``pa``."""
    meta = pa.metadata
    annotations = meta.annotations
    lo, hi = targets.scale_bounds(annotations, cfg.autoscaler, reachable=pa.spec.reachability != UNREACHABLE)
    ref = pa.spec.scale_target_ref
    spec: Obj = {
        "scaleTargetRef": {"apiVersion": ref.api_version or "", "kind": ref.kind or "", "name": ref.name or ""},
        "maxReplicas": hi or INT32_MAX,
    }
    if lo > 0:
        spec["minReplicas"] = lo
    found = metric_target(annotations)
    if found is not None:
        spec["metrics"] = [hpa_metric(*found)]
    seconds = window_seconds(annotations)
    if seconds is not None:
        window = {"stabilizationWindowSeconds": seconds}
        spec["behavior"] = {"scaleDown": dict(window), "scaleUp": dict(window)}
    metadata = ObjectMeta(
        name=meta.name,
        namespace=meta.namespace,
        labels=dict(meta.labels),
        annotations=dict(annotations),
        owner_references=[owners.controller_ref("PodAutoscaler", meta, PA_API_VERSION)],
    )
    return {"apiVersion": API_VERSION, "kind": "HorizontalPodAutoscaler", "metadata": to_wire(metadata), "spec": spec}


def defaulted_spec(spec: Obj) -> Obj:
    """``spec`` as kube-apiserver stores it (Kubernetes 1.33 ``SetDefaults_HorizontalPodAutoscaler``,
    pkg/apis/autoscaling/v2/defaults.go): ``minReplicas`` 1, CPU at 80 % when there is no metric, and a
    ``behavior``'s rules completed with the default ones."""
    out = copy.deepcopy(spec)
    out.setdefault("minReplicas", 1)
    if not out.get("metrics"):
        out["metrics"] = [hpa_metric(ann.CPU, DEFAULT_CPU_UTILIZATION)]
    behavior = out.get("behavior")
    if behavior is not None:
        out["behavior"] = {
            "scaleUp": {**copy.deepcopy(SCALE_UP_RULES), **(behavior.get("scaleUp") or {})},
            "scaleDown": {**copy.deepcopy(SCALE_DOWN_RULES), **(behavior.get("scaleDown") or {})},
        }
    return out


def spec_matches(want: Obj, have: Obj) -> bool:
    """Whether the stored spec ``have`` is ``want`` (:func:`make_hpa`'s), as built or as defaulted.

    Knative compares the built spec with the stored one as they are, so on a cluster every reconcile
    updates the HPA (a write kube-apiserver finds unchanged once defaulted); comparing the defaulted
    form too spares that. A server whose defaults differ gets that update, and nothing worse."""
    return have == want or have == defaulted_spec(want)
