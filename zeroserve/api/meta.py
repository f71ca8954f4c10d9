"""Kubernetes object metadata and Knative conditions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api.base import Bool, Int64, Model, OpenModel


class OwnerReference(Model):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: Bool | None = None
    block_owner_deletion: Bool | None = None


class ObjectMeta(OpenModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: Int64 | None = None
    resource_version: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)
    finalizers: list[str] = Field(default_factory=list)


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    type: str
    status: ConditionStatus = "Unknown"
    severity: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class Status(Model):
    """Knative's duckv1.Status: observedGeneration, conditions, annotations."""

    observed_generation: Int64 | None = None
    conditions: list[Condition] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)

    def get_condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)
