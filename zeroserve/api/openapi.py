"""The OpenAPI v3 documents the API serves (``/openapi/v3``), one per group-version, as kube-apiserver
builds them for CRDs (apiextensions ``controller/openapi/builder``) and its built-in kinds.

A document has the REST ``paths`` of each kind of the group-version (list, create, get, replace,
patch, delete, the ``status`` subresource; every operation names its ``x-kubernetes-group-version-kind``
and ``x-kubernetes-action``) and ``components.schemas``: each kind's schema
(:func:`zeroserve.api.schema.crd_schema`, ``metadata`` referring to ObjectMeta, tagged with
``x-kubernetes-group-version-kind``), its list, and the ``meta.k8s.io`` types they refer to.

kubectl reads them for ``explain``, to compute ``apply``'s patch (a PATCH that accepts
``application/strategic-merge-patch+json`` gets a strategic patch, else a merge patch: only the
core kinds list it, as kube-apiserver does for built-ins but never for a custom resource) and to
decide whether the server validates fields (the ``fieldValidation`` query parameter on PATCH: then
``--validate=strict`` sends ``?fieldValidation=Strict`` instead of validating on the client).

:func:`index` is the ``/openapi/v3`` discovery document: each group-version's path with the hash
of its document (``hash``: uppercase hex SHA-512 of the JSON, kube-openapi's ``computeETag``). PURE.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from zeroserve.api.fielddocs import API_VERSION, KIND, LIST_METADATA, METADATA
from zeroserve.api.kinds import Kind
from zeroserve.api.schema import PRESERVE, Schema, crd_schema

META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
REF: Final = "#/components/schemas/"
GVK: Final = "x-kubernetes-group-version-kind"
JSON_TYPES: Final = ("application/json", "application/yaml")
STRATEGIC: Final = "application/strategic-merge-patch+json"
TITLE: Final = "Kubernetes CRD Swagger"

PatchTypes = Callable[[Kind], Sequence[str]]
"""The PATCH content types the server accepts for a kind."""


# ---- names ---------------------------------------------------------------------------------------


def path_key(group: str, version: str) -> str:
    """The group-version's key in ``/openapi/v3``: ``api/v1``, ``apis/serving.knative.dev/v1``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def model_name(kind: Kind, kind_name: str = "") -> str:
    """The component name: apiextensions' ``gvkToModelName`` (the group reversed:
    ``dev.knative.serving.v1.Service``), ``io.k8s.api.core.v1.ConfigMap`` for the core kinds."""
    name = kind_name or kind.kind
    if not kind.group:
        return f"io.k8s.api.core.{kind.version}.{name}"
    return f"{'.'.join(reversed(kind.group.split('.')))}.{kind.version}.{name}"


def _ref(name: str) -> Schema:
    return {"$ref": REF + name}


def _described_ref(name: str, description: str) -> Schema:
    """How builder3 writes a described reference: the description beside an ``allOf`` of one ref."""
    return {"description": description, "allOf": [_ref(name)]}


def _gvk(kind: Kind, kind_name: str = "") -> dict[str, str]:
    return {"group": kind.group, "version": kind.version, "kind": kind_name or kind.kind}


# ---- schemas -------------------------------------------------------------------------------------


def kind_schema(kind: Kind) -> Schema:
    """The component of ``kind``: its CRD schema with ``metadata`` referring to ObjectMeta."""
    schema = crd_schema(kind)
    if "metadata" in schema["properties"]:
        schema["properties"]["metadata"] = _described_ref(META + "ObjectMeta", METADATA)
    schema[GVK] = [_gvk(kind)]
    return schema


def list_schema(kind: Kind) -> Schema:
    return {
        "description": f"{kind.list_kind} is a list of {kind.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION, "type": "string"},
            "items": {
                "description": f"List of {kind.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": _ref(model_name(kind)),
            },
            "kind": {"description": KIND, "type": "string"},
            "metadata": _described_ref(META + "ListMeta", LIST_METADATA),
        },
        GVK: [_gvk(kind, kind.list_kind)],
    }


def _s(description: str, type_: str = "string", **more: Any) -> Schema:
    return {"description": description, "type": type_, **more}


def _strings(description: str) -> Schema:
    return _s(description, "object", additionalProperties={"type": "string"})


def _time(description: str) -> Schema:
    return _described_ref(META + "Time", description)


def meta_components() -> dict[str, Schema]:
    """The ``meta.k8s.io/v1`` types the kinds' documents refer to, with every field Kubernetes
    has (strict field validation checks ``metadata`` against ObjectMeta)."""
    owner = {
        "description": "OwnerReference contains enough information to let you identify an owning object.",
        "type": "object",
        "required": ["apiVersion", "kind", "name", "uid"],
        "properties": {
            "apiVersion": _s("API version of the referent."),
            "blockOwnerDeletion": _s("If true, the owner cannot be deleted before this object is.", "boolean"),
            "controller": _s("If true, this reference points to the managing controller.", "boolean"),
            "kind": _s("Kind of the referent."),
            "name": _s("Name of the referent."),
            "uid": _s("UID of the referent."),
        },
        "x-kubernetes-map-type": "atomic",
    }
    managed = {
        "description": "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource "
        "that the fieldset applies to.",
        "type": "object",
        "properties": {
            "apiVersion": _s("The version of the resource this field set applies to."),
            "fieldsType": _s('The format of the fields field: "FieldsV1".'),
            "fieldsV1": _described_ref(META + "FieldsV1", "The field set, in the FieldsV1 format."),
            "manager": _s("The identifier of the workflow managing these fields."),
            "operation": _s("Apply or Update: the operation that made this entry."),
            "subresource": _s("The subresource used to update the object, if any."),
            "time": _time("When these fields were last set (by an operation that changed them)."),
        },
    }
    object_meta = {
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects "
        "users must create.",
        "type": "object",
        "properties": {
            "annotations": _strings(
                "Unstructured key value map that tools store with the object. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations"
            ),
            "creationTimestamp": _time("When the object was created (RFC3339, UTC). Set by the system; read-only."),
            "deletionGracePeriodSeconds": _s(
                "Seconds allowed for the object to terminate gracefully before it is removed. Read-only.",
                "integer",
                format="int64",
            ),
            "deletionTimestamp": _time(
                "When the object will be deleted; set by the server when a graceful deletion is requested. Read-only."
            ),
            "finalizers": _s(
                "Must be empty before the object is deleted from the registry. Each entry is an identifier for "
                "the responsible component that will remove the entry from the list.",
                "array",
                items={"type": "string"},
                **{"x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
            ),
            "generateName": _s("Optional prefix used by the server to generate a unique name, if name is not set."),
            "generation": _s(
                "A sequence number representing a specific generation of the desired state. "
                "Set by the system; read-only.",
                "integer",
                format="int64",
            ),
            "labels": _strings(
                "Map of string keys and values that can be used to organize and categorize "
                "(scope and select) objects. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels"
            ),
            "managedFields": _s(
                "Maps workflow-id and version to the set of fields managed by that workflow.",
                "array",
                items=_ref(META + "ManagedFieldsEntry"),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "name": _s(
                "Name must be unique within a namespace. Cannot be updated. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
            ),
            "namespace": _s(
                "The namespace the object lives in; an empty namespace is the default one. Cannot be "
                "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces"
            ),
            "ownerReferences": _s(
                "The objects this object depends on. If all of them are deleted, this object is garbage collected.",
                "array",
                items=_ref(META + "OwnerReference"),
                **{
                    "x-kubernetes-list-map-keys": ["uid"],
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-patch-merge-key": "uid",
                    "x-kubernetes-patch-strategy": "merge",
                },
            ),
            "resourceVersion": _s(
                "An opaque value that changes whenever the object does; used for optimistic "
                "concurrency, change detection and watches. Set by the system; read-only."
            ),
            "selfLink": _s("Deprecated: no longer populated by the system."),
            "uid": _s("The unique identifier of this object in time and space. Set by the system; read-only."),
        },
    }
    list_meta = {
        "description": "ListMeta describes metadata that synthetic resources must have, including lists and various "
        "status objects.",
        "type": "object",
        "properties": {
            "continue": _s("Set when more results are available (not used by this server)."),
            "remainingItemCount": _s(
                "The number of further items (not used by this server).", "integer", format="int64"
            ),
            "resourceVersion": _s("The resource version the list was read at; watch from it to see later changes."),
            "selfLink": _s("Deprecated: no longer populated by the system."),
        },
    }
    cause = {
        "description": "StatusCause provides more information about an api.Status failure.",
        "type": "object",
        "properties": {
            "field": _s("The field of the resource that caused the error, as a JSON path (spec.template...)."),
            "message": _s("A human-readable description of the cause of the error."),
            "reason": _s("A machine-readable description of the cause of the error."),
        },
    }
    details = {
        "description": "StatusDetails is a set of additional properties that MAY be set by the server to provide "
        "additional information about a response.",
        "type": "object",
        "properties": {
            "causes": _s(
                "The causes of the error.",
                "array",
                items=_ref(META + "StatusCause"),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "group": _s("The group attribute of the resource associated with the status."),
            "kind": _s("The kind attribute of the resource associated with the status."),
            "name": _s("The name attribute of the resource associated with the status."),
            "retryAfterSeconds": _s("Seconds to wait before retrying.", "integer", format="int32"),
            "uid": _s("The UID of the resource."),
        },
    }
    status = {
        "description": "Status is a return value for calls that don't return other objects.",
        "type": "object",
        "properties": {
            "apiVersion": _s(API_VERSION),
            "code": _s("Suggested HTTP return code for this status, 0 if not set.", "integer", format="int32"),
            "details": _described_ref(META + "StatusDetails", "Extended data associated with the reason."),
            "kind": _s(KIND),
            "message": _s("A human-readable description of the status of this operation."),
            "metadata": _described_ref(META + "ListMeta", LIST_METADATA),
            "reason": _s("A machine-readable description of why this operation is in the Failure status."),
            "status": _s('Status of the operation: "Success" or "Failure".'),
        },
    }
    delete_options = {
        "description": "DeleteOptions may be provided when deleting an API object.",
        "type": "object",
        "properties": {
            "apiVersion": _s(API_VERSION),
            "dryRun": _s(
                "When present, the deletion is not persisted. Valid values: All.",
                "array",
                items={"type": "string"},
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "gracePeriodSeconds": _s("Seconds before the object should be deleted.", "integer", format="int64"),
            "kind": _s(KIND),
            "orphanDependents": _s("Deprecated: use propagationPolicy.", "boolean"),
            "preconditions": _described_ref(
                META + "Preconditions", "Must be fulfilled before a deletion is carried out."
            ),
            "propagationPolicy": _s(
                "Whether and how garbage collection is performed: Orphan, Background or Foreground."
            ),
        },
    }
    preconditions = {
        "description": "Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.",
        "type": "object",
        "properties": {
            "resourceVersion": _s("The target resourceVersion."),
            "uid": _s("The target UID."),
        },
    }
    return {
        META + "DeleteOptions": delete_options,
        META + "FieldsV1": {
            "description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.",
            "type": "object",
            PRESERVE: True,
        },
        META + "ListMeta": list_meta,
        META + "ManagedFieldsEntry": managed,
        META + "ObjectMeta": object_meta,
        META + "OwnerReference": owner,
        META + "Patch": {
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
            "type": "object",
        },
        META + "Preconditions": preconditions,
        META + "Status": status,
        META + "StatusCause": cause,
        META + "StatusDetails": details,
        META + "Time": {"description": "Time is a timestamp in RFC3339 form.", "type": "string", "format": "date-time"},
    }


# ---- paths ---------------------------------------------------------------------------------------


def _query(name: str, description: str, type_: str = "string") -> Schema:
    return {"name": name, "in": "query", "description": description, "schema": {"type": type_, "uniqueItems": True}}


DRY_RUN: Final = _query("dryRun", "When present, the modification is not persisted. Valid values: All.")
FIELD_MANAGER: Final = _query("fieldManager", "A name for the actor making these changes.")
FIELD_VALIDATION: Final = _query(
    "fieldValidation",
    "What the server does with unknown or duplicate fields in the request body: Ignore (drop them), Warn (drop "
    "them and say so in a Warning header) or Strict (refuse the request with a BadRequest listing them all).",
)
FORCE: Final = _query("force", "Apply requests only: take over the fields other managers own.", "boolean")
PRETTY: Final = _query("pretty", "If 'true', the output is pretty printed.")
LIST_PARAMS: Final = (
    _query("fieldSelector", "Select objects by their fields (metadata.name, metadata.namespace)."),
    _query("labelSelector", "Select objects by their labels."),
    _query("resourceVersion", "For a watch: the resource version after which to send changes."),
    _query("timeoutSeconds", "End a list/watch call after this many seconds.", "integer"),
    _query("watch", "Watch for changes and return them as a stream of add, update and remove events.", "boolean"),
)
DELETE_PARAMS: Final = (
    DRY_RUN,
    _query("gracePeriodSeconds", "Seconds before the object should be deleted.", "integer"),
    _query("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
    _query("propagationPolicy", "Whether and how garbage collection is performed: Orphan, Background or Foreground."),
)


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _content(name: str, types_: Sequence[str] = JSON_TYPES) -> Schema:
    return {t: {"schema": _ref(name)} for t in types_}


def _responses(name: str, *codes: str) -> Schema:
    text = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: Schema = {code: {"description": text[code], "content": _content(name)} for code in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation_id(verb: str, kind: Kind, namespaced: bool, sub: str, suffix: str = "") -> str:
    group = "".join(p.capitalize() for p in kind.group.split(".")) if kind.group else "Core"
    scope = "Namespaced" if namespaced else ""
    return f"{verb}{group}{kind.version.capitalize()}{scope}{kind.kind}{sub.capitalize()}{suffix}"


def _operation(
    kind: Kind, verb: str, action: str, description: str, namespaced: bool, sub: str = "", **more: Any
) -> Schema:
    return {
        "description": description,
        "operationId": _operation_id(verb, kind, namespaced, sub, more.pop("suffix", "")),
        **more,
        "x-kubernetes-action": action,
        GVK: _gvk(kind),
    }


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def paths(kind: Kind, patch_types: Sequence[str]) -> dict[str, Schema]:
    """The REST paths of ``kind`` (as apiextensions' builder routes a CRD's)."""
    name, list_name = model_name(kind), model_name(kind, kind.list_kind)
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    ns = kind.namespaced
    root = f"{prefix}/namespaces/{{namespace}}/{kind.plural}" if ns else f"{prefix}/{kind.plural}"
    scope = [_path_param("namespace", "object name and auth scope, such as for teams and projects")] if ns else []
    named = [_path_param("name", f"name of the {kind.kind}"), *scope, PRETTY]
    body = {"content": {"*/*": {"schema": _ref(name)}}}
    write = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
    patch_body = {"content": _content(META + "Patch", patch_types)}
    out: dict[str, Schema] = {}
    if ns:
        out[f"{prefix}/{kind.plural}"] = {
            "get": _operation(
                kind,
                "list",
                "list",
                f"list objects of kind {kind.kind}",
                False,
                suffix="ForAllNamespaces",
                parameters=list(LIST_PARAMS),
                responses=_responses(list_name, "200"),
            ),
            "parameters": [PRETTY],
        }
    out[root] = {
        "get": _operation(
            kind,
            "list",
            "list",
            f"list objects of kind {kind.kind}",
            ns,
            parameters=list(LIST_PARAMS),
            responses=_responses(list_name, "200"),
        ),
        "post": _operation(
            kind,
            "create",
            "post",
            f"create {_article(kind.kind)} {kind.kind}",
            ns,
            parameters=write,
            requestBody=body,
            responses=_responses(name, "200", "201", "202"),
        ),
        "parameters": [*scope, PRETTY],
    }
    out[f"{root}/{{name}}"] = {
        "get": _operation(
            kind, "read", "get", f"read the specified {kind.kind}", ns, responses=_responses(name, "200")
        ),
        "put": _operation(
            kind,
            "replace",
            "put",
            f"replace the specified {kind.kind}",
            ns,
            parameters=write,
            requestBody=body,
            responses=_responses(name, "200", "201"),
        ),
        "delete": _operation(
            kind,
            "delete",
            "delete",
            f"delete {_article(kind.kind)} {kind.kind}",
            ns,
            parameters=list(DELETE_PARAMS),
            requestBody={"content": {"*/*": {"schema": _ref(META + "DeleteOptions")}}},
            responses=_responses(name, "200", "202"),
        ),
        "patch": _operation(
            kind,
            "patch",
            "patch",
            f"partially update the specified {kind.kind}",
            ns,
            parameters=[*write, FORCE],
            requestBody=patch_body,
            responses=_responses(name, "200", "201"),
        ),
        "parameters": named,
    }
    for sub in kind.subresources:
        if sub == "status":
            out[f"{root}/{{name}}/status"] = {
                "get": _operation(
                    kind,
                    "read",
                    "get",
                    f"read status of the specified {kind.kind}",
                    ns,
                    sub,
                    responses=_responses(name, "200"),
                ),
                "put": _operation(
                    kind,
                    "replace",
                    "put",
                    f"replace status of the specified {kind.kind}",
                    ns,
                    sub,
                    parameters=write,
                    requestBody=body,
                    responses=_responses(name, "200", "201"),
                ),
                "patch": _operation(
                    kind,
                    "patch",
                    "patch",
                    f"partially update status of the specified {kind.kind}",
                    ns,
                    sub,
                    parameters=[*write, FORCE],
                    requestBody=patch_body,
                    responses=_responses(name, "200", "201"),
                ),
                "parameters": named,
            }
        elif sub == "finalize":
            out[f"{root}/{{name}}/finalize"] = {
                "put": _operation(
                    kind,
                    "replace",
                    "put",
                    f"replace finalize of the specified {kind.kind}",
                    ns,
                    sub,
                    parameters=write,
                    requestBody=body,
                    responses=_responses(name, "200", "201"),
                ),
                "parameters": named,
            }
    return out


# ---- documents -----------------------------------------------------------------------------------


def group_versions(kinds: Sequence[Kind]) -> list[tuple[str, str]]:
    """Every (group, version) served, in the order of ``kinds``."""
    return list(dict.fromkeys((k.group, k.version) for k in kinds))


def document(kinds: Sequence[Kind], group: str, version: str, patch_types: PatchTypes) -> Schema | None:
    """The OpenAPI v3 document of one group-version, or None when nothing is served there."""
    served = sorted((k for k in kinds if (k.group, k.version) == (group, version)), key=lambda k: k.kind)
    if not served:
        return None
    all_paths: dict[str, Schema] = {}
    schemas = meta_components()
    for kind in served:
        all_paths.update(paths(kind, patch_types(kind)))
        schemas[model_name(kind)] = kind_schema(kind)
        schemas[model_name(kind, kind.list_kind)] = list_schema(kind)
    return {
        "openapi": "3.0.0",
        "info": {"title": TITLE if group else "Kubernetes", "version": "v0.1.0"},
        "paths": dict(sorted(all_paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def encode(doc: Schema) -> bytes:
    """A document's JSON bytes (compact; the same bytes every time for the same document)."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def etag(body: bytes) -> str:
    """kube-openapi's ``computeETag``: the uppercase hex SHA-512 of the served bytes."""
    return hashlib.sha512(body).hexdigest().upper()


def server_relative_url(key: str, hash_: str) -> str:
    return f"/openapi/v3/{key}?hash={hash_}"


def index(bodies: dict[str, bytes]) -> Schema:
    """``/openapi/v3``: ``{"paths": {"apis/G/V": {"serverRelativeURL": "/openapi/v3/apis/G/V?hash=H"}}}``."""
    return {"paths": {key: {"serverRelativeURL": server_relative_url(key, etag(b))} for key, b in bodies.items()}}


def documents(kinds: Sequence[Kind], patch_types: PatchTypes) -> dict[str, bytes]:
    """Every group-version's document, encoded, by :func:`path_key`."""
    out: dict[str, bytes] = {}
    for group, version in group_versions(kinds):
        doc = document(kinds, group, version, patch_types)
        if doc is not None:
            out[path_key(group, version)] = encode(doc)
    return out
