"""EventType (``eventing.knative.dev/v1beta2``): the event registry's entries (PURE).

Mirrors knative/eventing ``pkg/apis/eventing/v1beta2/eventtype_{types,defaults,validation,lifecycle}.go``:
``spec.type`` is required and the whole spec is immutable; ``spec.reference`` (a KReference, its
namespace defaulted to the EventType's) names where events of this type flow (a Broker, a Service…);
``ReferenceExists`` follows it (``pkg/reconciler/eventtype``: True with ``ReferenceNotSet`` when
there is none).

zeroserve serves v1beta2, the version Knative stores and its sources write. Knative also serves
v1beta3 (``spec.attributes`` instead of ``type``/``source``/``schema``) through a conversion
webhook; zeroserve's API serves one version per kind, so v1beta3 is not served (yet).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api import validation
from zeroserve.api.base import Model
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.domainmapping import KReference
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.config import Config
from zeroserve.errors import FieldError

REFERENCE_EXISTS = "ReferenceExists"
CONDITIONS = ConditionSet(READY, (REFERENCE_EXISTS,))
SOURCE_NAME_LABEL = "eventing.knative.dev/sourceName"
"""The label a source's EventTypes carry (``pkg/reconciler/source/duck/resources/labels.go``)."""


class EventTypeSpec(Model):
    type: str = ""
    source: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    schema_data: str | None = None
    broker: str | None = None
    reference: KReference | None = None
    description: str | None = None


class EventTypeStatus(Status):
    pass


class EventType(Model):
    api_version: Literal["eventing.knative.dev/v1beta2"] = "eventing.knative.dev/v1beta2"
    kind: Literal["EventType"] = "EventType"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: EventTypeSpec = Field(default_factory=EventTypeSpec)
    status: EventTypeStatus = Field(default_factory=EventTypeStatus)


def default_eventtype(et: EventType) -> None:
    """``EventTypeSpec.SetDefaults``: the reference's namespace is the EventType's."""
    ref = et.spec.reference
    if ref is not None and not ref.namespace:
        ref.namespace = et.metadata.namespace


def validate_eventtype(et: EventType, old: EventType | None, cfg: Config) -> list[FieldError]:
    """``EventType.Validate`` and ``CheckImmutableFields``."""
    errs = validation.via(validation.validate_object_meta(et.metadata, dns1035=False), "metadata")
    if not et.spec.type:
        errs.append(validation.err_missing("spec.type"))
    if old is not None:
        old_spec = old.spec.model_dump(by_alias=True, exclude_none=True)
        new_spec = et.spec.model_dump(by_alias=True, exclude_none=True)
        if diff := validation.short_diff(old_spec, new_spec):
            errs.append(FieldError("Immutable fields changed (-old +new)", ("spec",), diff))
    return errs


def is_empty_reference(ref: KReference | None) -> bool:
    return ref is None or not any((ref.kind, ref.group, ref.name, ref.api_version, ref.namespace, ref.address))


def mark_reference_not_set(cm: ConditionManager) -> None:
    cm.mark_true(REFERENCE_EXISTS, "ReferenceNotSet", "spec.reference is not set")


def mark_reference_does_not_exist(cm: ConditionManager) -> None:
    cm.mark_false(REFERENCE_EXISTS, "ResourceDoesNotExist", "Resource in spec.reference does not exist")
