"""OpenAPI v3 from the resource models: structural CRD schemas and the documents kubectl reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from zeroserve.api import openapi, schema
from zeroserve.api.kinds import CONFIGMAP, KINDS, NAMESPACE, SERVICE, Kind

CRD_PATCH = ("application/json-patch+json", "application/merge-patch+json")
CORE_PATCH = (*CRD_PATCH, "application/strategic-merge-patch+json")


def patch_types(kind: Kind) -> tuple[str, ...]:
    return CORE_PATCH if not kind.group else CRD_PATCH


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node under ``node`` (properties, items, additionalProperties)."""
    yield path, node
    for key, child in (node.get("properties") or {}).items():
        yield from _nodes(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def structural_errors(root: dict[str, Any]) -> list[str]:
    """What apiextensions' ValidateStructural would refuse, in the parts our generator writes."""
    errors: list[str] = []
    if "$ref" in json.dumps(root):
        errors.append("$ref")
    for path, node in _nodes(root):
        typed = "type" in node
        if node.get(schema.INT_OR_STRING):
            if typed or node.get("anyOf") != [{"type": "integer"}, {"type": "string"}]:
                errors.append(f"{path}: int-or-string")
        elif not typed and not node.get(schema.PRESERVE):
            errors.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            errors.append(f"{path}: properties and additionalProperties")
        if node.get(schema.PRESERVE) is False:
            errors.append(f"{path}: preserve false")
        if node.get("type") == "array" and "items" not in node:
            errors.append(f"{path}: array without items")
    return errors


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_kinds_crd_schema_is_structural(kind: Kind) -> None:
    crd = schema.crd_schema(kind)
    assert structural_errors(crd) == []
    assert crd["type"] == "object"
    assert crd["properties"]["apiVersion"]["type"] == "string"
    assert crd["properties"]["metadata"] == {"type": "object"}


def test_service_schema_follows_the_model() -> None:
    spec = schema.crd_schema(SERVICE)["properties"]["spec"]
    rev = spec["properties"]["template"]["properties"]["spec"]
    assert schema.PRESERVE not in rev  # Knative's CRD lists the PodSpec fields it can take
    assert rev["properties"]["nodeSelector"]["additionalProperties"] == {"type": "string"}
    assert rev["properties"]["initContainers"]["items"]["properties"]["image"]["type"] == "string"
    container = rev["properties"]["containers"]["items"]
    assert container["properties"]["image"] == {
        "description": container["properties"]["image"]["description"],
        "type": "string",
    }
    probe = container["properties"]["readinessProbe"]["properties"]
    assert probe["httpGet"]["properties"]["port"] == {
        schema.INT_OR_STRING: True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "description": probe["httpGet"]["properties"]["port"]["description"],
    }
    assert probe["periodSeconds"]["format"] == "int32"
    assert rev["properties"]["timeoutSeconds"]["format"] == "int64"
    assert rev["properties"]["volumes"]["items"] == {"type": "object", schema.PRESERVE: True}
    limits = container["properties"]["resources"]["properties"]["limits"]
    assert limits["additionalProperties"][schema.INT_OR_STRING] is True  # a quantity
    traffic = spec["properties"]["traffic"]["items"]
    assert "x-kubernetes-preserve-unknown-fields" not in traffic
    assert traffic["properties"]["latestRevision"]["type"] == "boolean"
    condition = schema.crd_schema(SERVICE)["properties"]["status"]["properties"]["conditions"]["items"]
    assert condition["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


def test_descriptions_come_from_the_docs_table() -> None:
    spec = schema.crd_schema(SERVICE)["properties"]["spec"]
    assert "Revision" in spec["properties"]["template"]["description"]
    assert schema.crd_schema(SERVICE)["description"].startswith("Service ")


def test_a_recursive_model_stops_with_preserved_fields() -> None:
    trigger = next(k for k in KINDS if k.kind == "Trigger")
    filters = schema.crd_schema(trigger)["properties"]["spec"]["properties"]["filters"]["items"]
    assert filters["properties"]["not"] == {"type": "object", schema.PRESERVE: True}


def _doc(kind: Kind) -> dict[str, Any]:
    doc = openapi.document(KINDS, kind.group, kind.version, patch_types)
    assert doc is not None
    return doc


def test_document_shape_for_a_custom_resource() -> None:
    doc = _doc(SERVICE)
    assert doc["openapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    svc = schemas["dev.knative.serving.v1.Service"]
    assert svc["x-kubernetes-group-version-kind"] == [
        {"group": "serving.knative.dev", "version": "v1", "kind": "Service"}
    ]
    assert svc["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert schemas["dev.knative.serving.v1.ServiceList"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/dev.knative.serving.v1.Service"
    }
    for name in ("ObjectMeta", "ListMeta", "Status", "DeleteOptions", "Patch", "ManagedFieldsEntry", "Time"):
        assert openapi.META + name in schemas
    refs = {r.removeprefix(openapi.REF) for r in _refs(doc)}
    assert refs <= set(schemas), refs - set(schemas)
    item = doc["paths"]["/apis/serving.knative.dev/v1/namespaces/{namespace}/services/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    assert item["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "serving.knative.dev",
        "version": "v1",
        "kind": "Service",
    }
    assert item["patch"]["x-kubernetes-action"] == "patch"
    assert "/apis/serving.knative.dev/v1/services" in doc["paths"]  # all namespaces
    assert "/apis/serving.knative.dev/v1/namespaces/{namespace}/services/{name}/status" in doc["paths"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _operations(doc: dict[str, Any], method: str) -> list[dict[str, Any]]:
    return [item[method] for item in doc["paths"].values() if method in item]


def test_writes_declare_field_validation_so_kubectl_validates_on_the_server() -> None:
    for kind in KINDS:
        doc = _doc(kind)
        for method in ("post", "put", "patch"):
            for op in _operations(doc, method):
                names = [p["name"] for p in op["parameters"] if p["in"] == "query"]
                assert "fieldValidation" in names, (kind.kind, method, op["operationId"])


def test_strategic_merge_patch_is_advertised_for_core_kinds_only() -> None:
    for kind in KINDS:
        for op in _operations(_doc(kind), "patch"):
            smp = "application/strategic-merge-patch+json" in op["requestBody"]["content"]
            assert smp is (not kind.group), kind.kind


def test_core_document_paths_and_names() -> None:
    doc = _doc(CONFIGMAP)
    assert doc["info"]["title"] == "Kubernetes"
    assert "/api/v1/namespaces/{namespace}/configmaps/{name}" in doc["paths"]
    assert "/api/v1/namespaces/{name}" in doc["paths"]  # cluster-scoped
    assert "/api/v1/namespaces/{name}/finalize" in doc["paths"]
    namespace = doc["components"]["schemas"]["io.k8s.api.core.v1.Namespace"]
    assert namespace["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Namespace"}]
    patch = doc["paths"]["/api/v1/namespaces/{name}"]["patch"]
    assert patch["operationId"] == "patchCoreV1Namespace"
    assert patch["x-kubernetes-group-version-kind"]["kind"] == NAMESPACE.kind


def test_index_lists_every_group_version_with_the_hash_of_its_document() -> None:
    bodies = openapi.documents(KINDS, patch_types)
    index = openapi.index(bodies)
    assert set(index["paths"]) == {openapi.path_key(k.group, k.version) for k in KINDS}
    url = index["paths"]["apis/serving.knative.dev/v1"]["serverRelativeURL"]
    hash_ = url.partition("?hash=")[2]
    assert url.startswith("/openapi/v3/apis/serving.knative.dev/v1?hash=")
    assert hash_ == openapi.etag(bodies["apis/serving.knative.dev/v1"]) and len(hash_) == 128 and hash_.isupper()
    assert openapi.documents(KINDS, patch_types) == bodies  # the same bytes each time


def test_the_hash_changes_when_the_document_does() -> None:
    before = openapi.index(openapi.documents(KINDS, patch_types))["paths"]
    after = openapi.index(openapi.documents(KINDS, lambda k: CRD_PATCH))["paths"]
    assert before["api/v1"] != after["api/v1"]
    assert before["apis/serving.knative.dev/v1"] == after["apis/serving.knative.dev/v1"]
    fewer = openapi.index(openapi.documents([k for k in KINDS if k.kind != "Route"], patch_types))["paths"]
    assert fewer["apis/serving.knative.dev/v1"] != before["apis/serving.knative.dev/v1"]


def test_no_document_for_a_group_version_not_served() -> None:
    assert openapi.document(KINDS, "apps", "v1", patch_types) is None
