"""Structural OpenAPI v3 schemas from the resource models: what a CRD's ``openAPIV3Schema`` holds.

Every node has a ``type`` (or is ``x-kubernetes-int-or-string``, or preserves unknown fields), no
``$ref``: the schema of a kind is one tree, as apiextensions requires of a CRD. The models decide:

- ``str``/``Int32``/``Int64``/``Bool``/``float`` -> ``string``/``integer`` (``int32``, ``int64``)/
  ``boolean``/``number``; a ``Literal`` of strings adds ``enum``;
- ``list[X]`` -> ``array`` of X; ``dict[str, X]`` -> ``object`` with ``additionalProperties``;
- ``int | str`` and a quantity (``str | int | float``) -> ``x-kubernetes-int-or-string`` with
  ``anyOf: [{type: integer}, {type: string}]``;
- ``Any`` and ``dict[str, Any]`` -> ``x-kubernetes-preserve-unknown-fields`` (an object for the latter);
- the list and map types Knative's CRD declares for PodSpec fields (``env`` a map keyed by name...):
  :data:`EXTENSIONS` (what server-side apply merges item by item; any other list is atomic);
- a model -> ``object`` with ``properties``; a model met again below itself (Eventing's recursive
  filters) -> an object preserving unknown fields;
- a model that keeps fields it does not declare (``extra="allow"``): the PodSpec parts list the
  Kubernetes fields Knative's CRD has beyond the model's (:data:`KUBERNETES_FIELDS`; anything else is
  unknown, as Knative's CRD prunes it); any other (ObjectMeta) preserves unknown fields.

Descriptions come from :data:`zeroserve.api.fielddocs.DOCS`. At the root, ``apiVersion`` and
``kind`` are strings and ``metadata`` is ``{type: object}``, as a CRD must declare them (the
server's OpenAPI documents refer to ObjectMeta there instead: :mod:`zeroserve.api.openapi`). PURE.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Annotated, Any, Final, Literal, Union

from annotated_types import Ge
from pydantic import BaseModel

from zeroserve.api.base import INT32_MIN
from zeroserve.api.fielddocs import API_VERSION, DOCS, KIND
from zeroserve.api.kinds import Kind
from zeroserve.api.podspec import Container

Schema = dict[str, Any]

PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING: Final = "x-kubernetes-int-or-string"
TYPE_META: Final = ("apiVersion", "kind")

_OBJECT: Final[Schema] = {"type": "object", PRESERVE: True}
_OBJECTS: Final[Schema] = {"type": "array", "items": _OBJECT}
_BOOL: Final[Schema] = {"type": "boolean"}
_STRING: Final[Schema] = {"type": "string"}
CONTAINER_LIST: Final = "[Container]"
"""Stands for ``array`` of the Container model's schema (``initContainers``)."""

KUBERNETES_FIELDS: Final[dict[str, dict[str, Schema]]] = {
    "RevisionSpec": {
        "affinity": _OBJECT,
        "automountServiceAccountToken": _BOOL,
        "dnsConfig": _OBJECT,
        "dnsPolicy": _STRING,
        "hostAliases": _OBJECTS,
        "hostIPC": _BOOL,
        "hostNetwork": _BOOL,
        "hostPID": _BOOL,
        "initContainers": {CONTAINER_LIST: True},
        "nodeSelector": {"type": "object", "additionalProperties": _STRING},
        "priorityClassName": _STRING,
        "runtimeClassName": _STRING,
        "schedulerName": _STRING,
        "securityContext": _OBJECT,
        "shareProcessNamespace": _BOOL,
        "tolerations": _OBJECTS,
        "topologySpreadConstraints": _OBJECTS,
    },
    "Container": {"terminationMessagePath": _STRING},
    "ContainerPort": {},
    "EnvVar": {},
    "HTTPGetAction": {},
    "HTTPHeader": {},
    "Probe": {},
    "ResourceRequirements": {},
    "TCPSocketAction": {},
}
"""The fields of a partly modelled Kubernetes type that Knative's CRD declares (behind its feature
flags, validated by admission) beyond what the model declares, by model name."""

LIST_TYPE: Final = "x-kubernetes-list-type"
LIST_MAP_KEYS: Final = "x-kubernetes-list-map-keys"
MAP_TYPE: Final = "x-kubernetes-map-type"
_ATOMIC_LIST: Final[Schema] = {LIST_TYPE: "atomic"}
EXTENSIONS: Final[dict[str, Schema]] = {
    "Container.args": _ATOMIC_LIST,
    "Container.command": _ATOMIC_LIST,
    "Container.env": {LIST_MAP_KEYS: ["name"], LIST_TYPE: "map"},
    "Container.envFrom": _ATOMIC_LIST,
    "Container.volumeMounts": {LIST_MAP_KEYS: ["mountPath"], LIST_TYPE: "map"},
    "HTTPGetAction.httpHeaders": _ATOMIC_LIST,
    "RevisionSpec.imagePullSecrets": {LIST_MAP_KEYS: ["name"], LIST_TYPE: "map"},
    "RevisionSpec.imagePullSecrets[]": {MAP_TYPE: "atomic"},
    "RevisionSpec.nodeSelector": {MAP_TYPE: "atomic"},
    "RevisionSpec.volumes": {LIST_MAP_KEYS: ["name"], LIST_TYPE: "map"},
}
"""The list and map types Knative's CRD declares for PodSpec fields (the ``+listType``/``+listMapKey``
markers of Kubernetes' types), by ``Model.field`` (``[]``: the items): server-side apply merges
``env`` by name and ``volumeMounts`` by mount path; a list without one is atomic."""


def _extended(model: str, alias: str, field: Schema) -> Schema:
    extra = EXTENSIONS.get(f"{model}.{alias}")
    items = EXTENSIONS.get(f"{model}.{alias}[]")
    if extra is None and items is None:
        return field
    out = {**field, **(extra or {})}
    if items is not None and isinstance(out.get("items"), dict):
        out["items"] = {**out["items"], **items}
    return out


def crd_schema(kind: Kind) -> Schema:
    """The ``openAPIV3Schema`` of ``kind``'s CRD: the whole object, ``metadata`` as ``{type: object}``."""
    schema = model_schema(kind.model)
    props = schema["properties"]
    props["apiVersion"] = {"description": API_VERSION, "type": "string"}
    props["kind"] = {"description": KIND, "type": "string"}
    if "metadata" in props:
        props["metadata"] = {"type": "object"}
    return schema


def model_schema(model: type[BaseModel]) -> Schema:
    """The schema of one model, nested models inlined."""
    return _model(model, ())


def _model(model: type[BaseModel], above: tuple[type[BaseModel], ...]) -> Schema:
    if model in above:  # recursive: CRD schemas cannot say it, so the rest is kept as it is
        return {"type": "object", PRESERVE: True}
    out: Schema = {}
    if doc := DOCS.get(model.__name__):
        out["description"] = doc
    out["type"] = "object"
    props: Schema = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        field = _annotation(info.annotation, (*above, model))
        for meta in info.metadata:  # Annotated[...] metadata pydantic moved onto the field
            if isinstance(meta, Ge) and field.get("type") == "integer":
                field["format"] = "int32" if meta.ge == INT32_MIN else "int64"
        if doc := DOCS.get(f"{model.__name__}.{alias}"):
            field = {"description": doc, **{k: v for k, v in field.items() if k != "description"}}
        props[alias] = _extended(model.__name__, alias, field)
    if model.model_config.get("extra") == "allow":
        known = KUBERNETES_FIELDS.get(model.__name__)
        if known is None:
            out[PRESERVE] = True
        for alias, field in (known or {}).items():
            extra = _container_list(above) if field.get(CONTAINER_LIST) else copy.deepcopy(field)
            if doc := DOCS.get(f"{model.__name__}.{alias}"):
                extra = {"description": doc, **extra}
            props.setdefault(alias, _extended(model.__name__, alias, extra))
    out["properties"] = dict(sorted(props.items()))
    return out


def _container_list(above: tuple[type[BaseModel], ...]) -> Schema:
    return {"type": "array", "items": _model(Container, above)}


def _annotation(tp: Any, above: tuple[type[BaseModel], ...]) -> Schema:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Annotated:
        schema = _annotation(args[0], above)
        for meta in args[1:]:
            ge = getattr(meta, "metadata", None) or []
            if schema.get("type") == "integer" and any(isinstance(m, Ge) for m in [meta, *ge]):
                bound = next(m.ge for m in [meta, *ge] if isinstance(m, Ge))
                schema["format"] = "int32" if bound == INT32_MIN else "int64"
        return schema
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return _annotation(members[0], above)
        kinds = {_annotation(m, above).get("type") for m in members}
        if kinds <= {"integer", "string", "number"} and "string" in kinds:
            return {INT_OR_STRING: True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        return {PRESERVE: True}
    if origin is Literal:
        values = list(args)
        if all(isinstance(v, str) for v in values):
            return {"type": "string", "enum": values}
        return _annotation(type(values[0]), above)
    if origin is list:
        return {"type": "array", "items": _annotation(args[0] if args else Any, above)}
    if origin is dict:
        value = args[1] if len(args) == 2 else Any
        if value is Any:
            return {"type": "object", PRESERVE: True}
        return {"type": "object", "additionalProperties": _annotation(value, above)}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _model(tp, above)
    return _scalar(tp)


def _scalar(tp: Any) -> Schema:
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    return {PRESERVE: True}  # Any, object: whatever JSON value
