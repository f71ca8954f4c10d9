"""Revision: an immutable snapshot of code and configuration (serving.knative.dev/v1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zeroserve.api.base import Bool, Int32, Int64, Model, OpenModel
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.api.podspec import Container


class RevisionSpec(OpenModel):
    """A PodSpec plus Knative's fields. Unknown PodSpec fields are kept (extra='allow')."""

    containers: list[Container] = Field(default_factory=list)
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    service_account_name: str | None = None
    image_pull_secrets: list[dict[str, Any]] = Field(default_factory=list)
    enable_service_links: Bool | None = None
    container_concurrency: Int64 | None = None
    timeout_seconds: Int64 | None = None
    response_start_timeout_seconds: Int64 | None = None
    idle_timeout_seconds: Int64 | None = None


class RevisionTemplateSpec(Model):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RevisionSpec = Field(default_factory=RevisionSpec)


class ContainerStatus(Model):
    name: str | None = None
    image_digest: str | None = None


class RevisionStatus(Status):
    log_url: str | None = None
    container_statuses: list[ContainerStatus] = Field(default_factory=list)
    init_container_statuses: list[ContainerStatus] = Field(default_factory=list)
    actual_replicas: Int32 | None = None
    desired_replicas: Int32 | None = None


class Revision(Model):
    api_version: Literal["serving.knative.dev/v1"] = "serving.knative.dev/v1"
    kind: Literal["Revision"] = "Revision"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RevisionSpec = Field(default_factory=RevisionSpec)
    status: RevisionStatus = Field(default_factory=RevisionStatus)
