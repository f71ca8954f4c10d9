"""EventType (``eventing.knative.dev/v1beta2``): the event registry's entries (PURE).

Mirrors knative/eventing ``pkg/apis/eventing/v1beta2/eventtype_{types,defaults,validation,lifecycle}.go``:
``spec.type`` is required and the whole spec is immutable; ``spec.reference`` (a KReference, its
namespace defaulted to the EventType's) names where events of this type flow (a Broker, a Service…);
``ReferenceExists`` follows it (``pkg/reconciler/eventtype``: True with ``ReferenceNotSet`` when
there is none).

v1beta2 is the version Knative stores and its sources write; v1beta3 (``spec.attributes`` instead
of ``type``/``source``/``schema``) is served too, converted both ways as Knative's conversion webhook
converts (:func:`to_v1beta3`, :func:`to_v1beta2`; the API server applies them:
:attr:`zeroserve.api.kinds.Kind.conversion`). Admission runs on the v1beta2 form, as Knative's
webhook only validates v1beta1/v1beta2 EventTypes (``cmd/webhook``): a v1beta3 object without a
``type`` attribute is refused with ``spec.type``.
"""

from __future__ import annotations

import copy
from typing import Any, Final, Literal

from pydantic import Field

from zeroserve.api import validation
from zeroserve.api.base import Model, Obj
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.domainmapping import KReference
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.config import Config
from zeroserve.errors import FieldError

REFERENCE_EXISTS = "ReferenceExists"
CONDITIONS = ConditionSet(READY, (REFERENCE_EXISTS,))
V1BETA2: Final = "eventing.knative.dev/v1beta2"
V1BETA3: Final = "eventing.knative.dev/v1beta3"
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


class EventAttributeDefinition(Model):
    """v1beta3: one CloudEvents attribute (``name`` required by the CRD's schema)."""

    name: str
    required: bool = False
    value: str | None = None


class EventTypeSpecV1Beta3(Model):
    reference: KReference | None = None
    description: str | None = None
    attributes: list[EventAttributeDefinition] = Field(default_factory=list)


class EventTypeV1Beta3(Model):
    """``eventing.knative.dev/v1beta3`` EventType: served, never stored (stored as :class:`EventType`)."""

    api_version: Literal["eventing.knative.dev/v1beta3"] = "eventing.knative.dev/v1beta3"
    kind: Literal["EventType"] = "EventType"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: EventTypeSpecV1Beta3 = Field(default_factory=EventTypeSpecV1Beta3)
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


# ----------------------------------------------------------------------------- conversion
#
# Knative's webhook converts through its hub, v1beta1 (``cmd/webhook``: ``HubVersion: v1beta1``):
# v1beta2 -> v1beta1 (``v1beta1.ConvertFrom``: no ``broker``) -> v1beta2 proxy -> v1beta3
# (``v1beta2.ConvertTo``), then the target's ``SetDefaults`` (a reference's namespace). So reading
# v1beta3 loses ``broker`` (the broker-to-reference fallback in ``v1beta2.ConvertTo`` sets the
# *source's* reference, after it was copied) and ``schemaData``; writing v1beta3 keeps only the
# ``type``, ``source`` and ``schemadata`` attributes' values (the last of each name wins) and
# forgets ``specversion``, ``id``, extensions and every ``required`` flag.


def _meta_namespace(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("namespace") or "") if isinstance(meta, dict) else ""


def _reference(spec: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    """``spec.reference`` deep-copied, its namespace defaulted to the EventType's (``SetDefaults``)."""
    ref = spec.get("reference")
    if not isinstance(ref, dict):
        return None
    ref = copy.deepcopy(ref)
    if not ref.get("namespace") and namespace:
        ref["namespace"] = namespace
    return ref


def _converted(obj: Obj, api_version: str, spec: dict[str, Any]) -> Obj:
    out: Obj = {"apiVersion": api_version, "kind": obj.get("kind", "EventType")}
    for key, value in obj.items():
        if key not in ("apiVersion", "kind", "spec"):
            out[key] = copy.deepcopy(value)
    out["spec"] = spec
    if "status" in out:  # keep Go's field order: spec before status
        out["status"] = out.pop("status")
    return out


def _attribute(name: str, required: bool, value: str = "") -> dict[str, Any]:
    return {"name": name, "required": required, **({"value": value} if value else {})}


def _url_text(value: Any) -> str:
    """An ``apis.URL`` field as its ``String()`` writes it."""
    text = str(value or "")
    return go_url(text) or text


def to_v1beta3(obj: Obj) -> Obj:
    """A v1beta2 EventType (wire form) as Knative serves it in v1beta3: ``specversion`` and ``id``
    required without a value, ``type`` and ``source`` required (their values when set), and
    ``schemadata`` (not required) when ``schema`` is set; ``reference`` and ``description`` as they are."""
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    out: dict[str, Any] = {}
    ref = _reference(spec, _meta_namespace(obj))
    if ref is not None:
        out["reference"] = ref
    if spec.get("description"):
        out["description"] = spec["description"]
    attributes = [_attribute("specversion", True), _attribute("id", True)]
    attributes.append(_attribute("type", True, str(spec.get("type") or "")))
    attributes.append(_attribute("source", True, _url_text(spec.get("source"))))
    if spec.get("schema"):
        attributes.append(_attribute("schemadata", False, _url_text(spec["schema"])))
    out["attributes"] = attributes
    return _converted(obj, V1BETA3, out)


def to_v1beta2(obj: Obj) -> Obj:
    """A v1beta3 EventType (wire form) as Knative stores it in v1beta2 (``v1beta2.ConvertFrom``):
    ``type`` from the ``type`` attribute, ``source`` and ``schema`` from ``source`` and
    ``schemadata`` when Go's ``url.Parse`` takes them (:func:`go_url`), the last of a name winning;
    ``reference`` and ``description`` as they are."""
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    out: dict[str, Any] = {"type": ""}
    source: str | None = None
    schema: str | None = None
    attributes = spec.get("attributes")
    for attribute in attributes if isinstance(attributes, list) else []:
        if not isinstance(attribute, dict):
            continue
        value = attribute.get("value")
        value = value if isinstance(value, str) else ""
        name = attribute.get("name")
        if name == "source":
            source = go_url(value)
        elif name == "type":
            out["type"] = value
        elif name == "schemadata":
            schema = go_url(value)
    if source is not None:
        out["source"] = source
    if schema is not None:
        out["schema"] = schema
    ref = _reference(spec, _meta_namespace(obj))
    if ref is not None:
        out["reference"] = ref
    if spec.get("description"):
        out["description"] = spec["description"]
    return _converted(obj, V1BETA2, out)


_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _bad_escape(text: str) -> bool:
    i = text.find("%")
    while i >= 0:
        if len(text) < i + 3 or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
            return True
        i = text.find("%", i + 3)
    return False


def go_url(value: str) -> str | None:
    """``apis.ParseURL(value)`` with its error ignored, as the conversion calls it: None for ""
    and for what Go's ``url.Parse`` refuses (control characters, a bad ``%`` escape outside the
    query, a leading ``:``, a colon in the first segment of a scheme-less reference); else the value
    as written, its scheme lowered (Go would re-escape a few characters, such as a space, on the way back)."""
    if not value or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return None
    rest, _, fragment = value.partition("#")
    before_query = rest.partition("?")[0]
    if _bad_escape(before_query) or _bad_escape(fragment):
        return None
    scheme, colon, _ = before_query.partition(":")
    if colon:
        if not scheme:
            return None  # missing protocol scheme
        valid = scheme[0].isascii() and scheme[0].isalpha()
        valid = valid and all(c.isascii() and (c.isalnum() or c in "+-.") for c in scheme)
        if not valid and "/" not in scheme:
            return None  # first path segment in URL cannot contain colon
        if valid:  # url.Parse lowers the scheme
            return scheme.lower() + value[len(scheme) :]
    return value
