"""PodAutoscaler: one per Revision, how many instances it should run (autoscaling.internal.knative.dev).

Mirrors Knative ``pkg/apis/autoscaling/v1alpha1/pa_{types,lifecycle}.go``. The Revision reconciler
creates it (``zeroserve.controller.resources.pa.make_pa``); the KPA (or HPA) reconciler fills its
status: ``desiredScale`` (the decider's wish after bounds and scale-to-zero gating), ``actualScale``
(ready instances), the ``Active`` condition (True / Unknown ``Queued`` / False ``NoTraffic``) and the
service names of its ServerlessService.

One field Knative does not have: ``status.appliedScale``. Knative's KPA patches the Deployment's
``spec.replicas``; zeroserve has no Deployment object, so the replicas the KPA applied live here and
the Revision reconciler hands them to the runtime. They differ from ``desiredScale`` exactly while
scale-to-zero is gated (desired 0, one instance kept through the grace period).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from zeroserve.api import annotations as ann
from zeroserve.api import validation
from zeroserve.api.base import Int32, Int64, Model
from zeroserve.api.conditions import READY, ConditionSet
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.config import Config
from zeroserve.errors import FieldError

GROUP = "autoscaling.internal.knative.dev"
API_VERSION = f"{GROUP}/v1alpha1"

ACTIVE = "Active"
SCALE_TARGET_INITIALIZED = "ScaleTargetInitialized"
SKS_READY = "SKSReady"

Reachability = Literal["Reachable", "Unreachable", ""]
REACHABLE: Reachability = "Reachable"
UNREACHABLE: Reachability = "Unreachable"

PA_CONDITIONS = ConditionSet(READY, (ACTIVE, SCALE_TARGET_INITIALIZED, SKS_READY))


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp as written by ``zeroserve.clock.rfc3339`` (None if absent or malformed)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


SCALE_REASON = "autoscaling.zeroserve.dev/scale-reason"
"""PodAutoscaler ``status.annotations`` key: why the applied scale is what it is (for explain)."""


class ObjectReference(Model):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None


class PodAutoscalerSpec(Model):
    scale_target_ref: ObjectReference = Field(default_factory=ObjectReference)
    container_concurrency: Int64 | None = None
    reachability: Reachability | None = None
    protocol_type: str | None = None


class PodAutoscalerStatus(Status):
    service_name: str | None = None
    metrics_service_name: str | None = None
    desired_scale: Int32 | None = None
    actual_scale: Int32 | None = None
    applied_scale: Int32 | None = None
    """zeroserve: the replicas the scale target runs (Knative keeps them in ``Deployment.spec.replicas``)."""

    def active_status(self) -> str | None:
        cond = self.get_condition(ACTIVE)
        return None if cond is None else cond.status

    def is_active(self) -> bool:
        return self.active_status() == "True"

    def is_activating(self) -> bool:
        return self.active_status() == "Unknown"

    def is_inactive(self) -> bool:
        return self.active_status() == "False"

    def is_scale_target_initialized(self) -> bool:
        cond = self.get_condition(SCALE_TARGET_INITIALIZED)
        return cond is not None and cond.status == "True"

    def in_status_for(self, status: str, now: datetime) -> float:
        """Seconds the Active condition has had ``status`` (-1 when it has another, as Knative)."""
        cond = self.get_condition(ACTIVE)
        since = parse_time(cond.last_transition_time) if cond is not None else None
        if cond is None or cond.status != status or since is None:
            return -1.0
        return (now - since).total_seconds()

    def active_for(self, now: datetime) -> float:
        return self.in_status_for("True", now)

    def inactive_for(self, now: datetime) -> float:
        return self.in_status_for("False", now)

    def activating_for(self, now: datetime) -> float:
        return self.in_status_for("Unknown", now)


class PodAutoscaler(Model):
    api_version: Literal["autoscaling.internal.knative.dev/v1alpha1"] = "autoscaling.internal.knative.dev/v1alpha1"
    kind: Literal["PodAutoscaler"] = "PodAutoscaler"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodAutoscalerSpec = Field(default_factory=PodAutoscalerSpec)
    status: PodAutoscalerStatus = Field(default_factory=PodAutoscalerStatus)


def validate_object_reference(ref: ObjectReference) -> list[FieldError]:
    """``serving.ValidateNamespacedObjectReference``: apiVersion, kind and name are required."""
    missing = [p for p, v in (("apiVersion", ref.api_version), ("kind", ref.kind), ("name", ref.name)) if not v]
    return [validation.err_missing(*missing)] if missing else []


def validate_pod_autoscaler(pa: PodAutoscaler, old: PodAutoscaler | None, cfg: Config) -> list[FieldError]:
    """Knative ``pa_validation.go``: metadata, autoscaling annotations, scaleTargetRef, containerConcurrency."""
    meta = validation.validate_object_meta(pa.metadata, dns1035=False)
    meta += validation.via(ann.validate_autoscaling(pa.metadata.annotations, cfg.autoscaler), "annotations")
    errs = validation.via(meta, "metadata")
    spec = validation.via(validate_object_reference(pa.spec.scale_target_ref), "scaleTargetRef")
    cc, limit = pa.spec.container_concurrency, cfg.defaults.container_concurrency_max_limit
    if cc is not None and not 0 <= cc <= limit:
        spec.append(validation.err_out_of_bounds(cc, 0, limit, "containerConcurrency"))
    return errs + validation.via(spec, "spec")
