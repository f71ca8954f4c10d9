"""ServerlessService (SKS): whether a revision's traffic goes to its instances or through the activator.

Mirrors knative/networking ``pkg/apis/networking/v1alpha1/serverlessservice_{types,lifecycle}.go``.
The KPA reconciler owns it and sets ``spec.mode`` (``Serve``: gateway -> instances; ``Proxy``:
gateway -> activator) and ``spec.numActivators``; the SKS reconciler reports ``status``:
``EndpointsPopulated`` (-> ``Ready``) from the revision's ready instances and
``ActivatorEndpointsPopulated`` (informational) while the activator is in the path. The time since
the latter turned True is :meth:`ServerlessServiceStatus.proxy_for`, which the scale-to-zero grace
period is measured against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from zeroserve.api import validation
from zeroserve.api.autoscaling import ObjectReference, parse_time, validate_object_reference
from zeroserve.api.base import Int32, Model
from zeroserve.api.conditions import READY, ConditionSet
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.config import Config
from zeroserve.errors import FieldError

GROUP = "networking.internal.knative.dev"
API_VERSION = f"{GROUP}/v1alpha1"

Mode = Literal["Serve", "Proxy"]
SERVE: Mode = "Serve"
PROXY: Mode = "Proxy"

ENDPOINTS_POPULATED = "EndpointsPopulated"
ACTIVATOR_ENDPOINTS_POPULATED = "ActivatorEndpointsPopulated"
ACTIVATOR_MESSAGE = "Revision is backed by Activator"
SERVICE_NOT_READY_MESSAGE = "K8s Service is not ready"

SKS_CONDITIONS = ConditionSet(READY, (ENDPOINTS_POPULATED,))


class ServerlessServiceSpec(Model):
    mode: Mode | None = None
    num_activators: Int32 | None = None
    object_ref: ObjectReference = Field(default_factory=ObjectReference)
    protocol_type: str | None = None


class ServerlessServiceStatus(Status):
    service_name: str | None = None
    private_service_name: str | None = None

    def proxy_for(self, now: datetime) -> float:
        """Seconds the activator has been in the path (0 when it is not), Knative ``ProxyFor``."""
        cond = self.get_condition(ACTIVATOR_ENDPOINTS_POPULATED)
        since = parse_time(cond.last_transition_time) if cond is not None else None
        if cond is None or cond.status != "True" or since is None:
            return 0.0
        return (now - since).total_seconds()

    def is_ready(self) -> bool:
        cond = self.get_condition(READY)
        return cond is not None and cond.status == "True"


class ServerlessService(Model):
    api_version: Literal["networking.internal.knative.dev/v1alpha1"] = "networking.internal.knative.dev/v1alpha1"
    kind: Literal["ServerlessService"] = "ServerlessService"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ServerlessServiceSpec = Field(default_factory=ServerlessServiceSpec)
    status: ServerlessServiceStatus = Field(default_factory=ServerlessServiceStatus)


def validate_serverless_service(sks: ServerlessService, old: ServerlessService | None, cfg: Config) -> list[FieldError]:
    """knative/networking ``serverlessservice_validation.go``: metadata, mode, objectRef, numActivators."""
    errs = validation.via(validation.validate_object_meta(sks.metadata, dns1035=False), "metadata")
    spec: list[FieldError] = []
    if sks.spec.mode is None:
        spec.append(validation.err_missing("mode"))
    if sks.spec.num_activators is not None and sks.spec.num_activators < 0:
        spec.append(validation.err_invalid_value(sks.spec.num_activators, "numActivators"))
    spec += validation.via(validate_object_reference(sks.spec.object_ref), "objectRef")
    return errs + validation.via(spec, "spec")
