"""Route: named endpoints splitting traffic across Revisions by percent, with tags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api.base import Bool, Int64, Model
from zeroserve.api.meta import ObjectMeta, Status


class TrafficTarget(Model):
    tag: str | None = None
    revision_name: str | None = None
    configuration_name: str | None = None
    latest_revision: Bool | None = None
    percent: Int64 | None = None
    url: str | None = None


class RouteSpec(Model):
    traffic: list[TrafficTarget] = Field(default_factory=list)


class Addressable(Model):
    url: str | None = None
    name: str | None = None


class RouteStatus(Status):
    url: str | None = None
    address: Addressable | None = None
    traffic: list[TrafficTarget] = Field(default_factory=list)


class Route(Model):
    api_version: Literal["serving.knative.dev/v1"] = "serving.knative.dev/v1"
    kind: Literal["Route"] = "Route"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RouteSpec = Field(default_factory=RouteSpec)
    status: RouteStatus = Field(default_factory=RouteStatus)
