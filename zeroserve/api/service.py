"""Service: owns one Configuration and one Route of the same name."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api.base import Model
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.api.revision import RevisionTemplateSpec
from zeroserve.api.route import Addressable, TrafficTarget


class ServiceSpec(Model):
    """ConfigurationSpec and RouteSpec, inlined."""

    template: RevisionTemplateSpec = Field(default_factory=RevisionTemplateSpec)
    traffic: list[TrafficTarget] = Field(default_factory=list)


class ServiceStatus(Status):
    latest_ready_revision_name: str | None = None
    latest_created_revision_name: str | None = None
    url: str | None = None
    address: Addressable | None = None
    traffic: list[TrafficTarget] = Field(default_factory=list)


class Service(Model):
    api_version: Literal["serving.knative.dev/v1"] = "serving.knative.dev/v1"
    kind: Literal["Service"] = "Service"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus = Field(default_factory=ServiceStatus)
