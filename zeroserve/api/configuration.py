"""Configuration: the desired template; each change stamps a new Revision."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api.base import Model
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.api.revision import RevisionTemplateSpec


class ConfigurationSpec(Model):
    template: RevisionTemplateSpec = Field(default_factory=RevisionTemplateSpec)


class ConfigurationStatus(Status):
    latest_ready_revision_name: str | None = None
    latest_created_revision_name: str | None = None


class Configuration(Model):
    api_version: Literal["serving.knative.dev/v1"] = "serving.knative.dev/v1"
    kind: Literal["Configuration"] = "Configuration"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ConfigurationSpec = Field(default_factory=ConfigurationSpec)
    status: ConfigurationStatus = Field(default_factory=ConfigurationStatus)
