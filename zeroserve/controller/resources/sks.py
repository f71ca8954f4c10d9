"""MakeSKS (Knative ``pkg/reconciler/autoscaling/resources/sks.go``) and the activator count.

The ServerlessService shares its PodAutoscaler's name, copies its labels (and only the ``metric``
annotation) and is controlled by it. Pure.
"""

from __future__ import annotations

import math

from zeroserve.api import annotations as ann
from zeroserve.api.autoscaling import API_VERSION as PA_API_VERSION
from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.networking import Mode, ServerlessService, ServerlessServiceSpec
from zeroserve.controller.resources import names, owners

MIN_ACTIVATORS = 2
"""Activators put in a revision's path at least (kpa.go ``minActivators``)."""


def sks_name(pa_name: str) -> str:
    return pa_name


def private_service_name(sks_name: str) -> str:
    return names.child_name(sks_name, "-private")


def make_sks(pa: PodAutoscaler, mode: Mode, num_activators: int) -> ServerlessService:
    meta = pa.metadata
    return ServerlessService(
        metadata=ObjectMeta(
            name=sks_name(meta.name or ""),
            namespace=meta.namespace,
            labels=dict(meta.labels),
            annotations={k: v for k, v in meta.annotations.items() if k == ann.METRIC},
            owner_references=[owners.controller_ref("PodAutoscaler", meta, PA_API_VERSION)],
        ),
        spec=ServerlessServiceSpec(
            mode=mode,
            num_activators=num_activators,
            object_ref=pa.spec.scale_target_ref.model_copy(),
            protocol_type=pa.spec.protocol_type,
        ),
    )


def num_activators(ready: int, total_value: float, tbc: float, activator_capacity: float) -> int:
    """Activators to cover the ready capacity plus the burst capacity (kpa.go ``computeNumActivators``)."""
    if tbc == 0:
        return MIN_ACTIVATORS
    cover = ready * total_value + max(tbc, 0.0)
    if activator_capacity <= 0:
        return MIN_ACTIVATORS
    return int(max(MIN_ACTIVATORS, math.ceil(cover / activator_capacity)))
