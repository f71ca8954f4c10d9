"""The cluster's own kinds the Kubernetes backend reads and writes, beside zeroserve's (:mod:`zeroserve.api.kinds`).

Their objects stay wire dicts: the backend builds them with the pure makers
(:mod:`zeroserve.controller.resources.deployment` and friends) and reads a few status fields, so
their model keeps every field it does not know (:class:`~zeroserve.api.base.OpenModel`). PURE.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from zeroserve.api.base import OpenModel
from zeroserve.api.kinds import Kind
from zeroserve.api.meta import ObjectMeta


class Unstructured(OpenModel):
    """Any object: its metadata read as Kubernetes' ObjectMeta, spec, status and the rest kept as they are."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


def _kind(
    group: str, version: str, kind: str, plural: str, subresources: tuple[str, ...] = (), *, cluster: bool = False
) -> Kind:
    return Kind(
        group,
        version,
        kind,
        plural,
        kind.lower(),
        Unstructured,
        namespaced=not cluster,
        categories=(),
        subresources=subresources,
    )


DEPLOYMENT: Final = _kind("apps", "v1", "Deployment", "deployments", ("status", "scale"))
ENDPOINTS: Final = _kind("", "v1", "Endpoints", "endpoints")
ENDPOINT_SLICE: Final = _kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
POD: Final = _kind("", "v1", "Pod", "pods", ("status",))
K8S_SERVICE: Final = _kind("", "v1", "Service", "services", ("status",))
HPA: Final = _kind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", ("status",))
LEASE: Final = _kind("coordination.k8s.io", "v1", "Lease", "leases")
CRD: Final = _kind(
    "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", ("status",), cluster=True
)
MUTATING_WEBHOOK: Final = _kind(
    "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", cluster=True
)
VALIDATING_WEBHOOK: Final = _kind(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    cluster=True,
)
CLUSTER_KINDS: Final = (
    DEPLOYMENT,
    ENDPOINTS,
    ENDPOINT_SLICE,
    POD,
    K8S_SERVICE,
    HPA,
    LEASE,
    CRD,
    MUTATING_WEBHOOK,
    VALIDATING_WEBHOOK,
)
