"""What a Service gives its children (pkg/reconciler/service/resources): labels, annotations, owner."""

from __future__ import annotations

from zeroserve.api import labels
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.service import Service
from zeroserve.controller.resources import owners

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def child_labels(svc: Service) -> dict[str, str]:
    return {
        **svc.metadata.labels,
        labels.SERVICE: svc.metadata.name or "",
        labels.SERVICE_UID: svc.metadata.uid or "",
    }


def child_annotations(svc: Service) -> dict[str, str]:
    return {k: v for k, v in svc.metadata.annotations.items() if k != LAST_APPLIED}


def child_meta(svc: Service, name: str) -> ObjectMeta:
    return ObjectMeta(
        name=name,
        namespace=svc.metadata.namespace,
        labels=child_labels(svc),
        annotations=child_annotations(svc),
        owner_references=[owners.controller_ref("Service", svc.metadata)],
    )
