"""Unknown and duplicate fields as kube-apiserver's strict decoding reports them (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api import fieldvalidation as fv
from zeroserve.api.kinds import CONFIGMAP, SERVICE


def _service(**extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "labels": {"a": "b"}},
        "spec": {"template": {"spec": {"containers": [{"image": "x", "ports": [{"containerPort": 8080}]}]}}},
    }
    obj.update(extra)
    return obj


def test_a_known_object_has_no_unknown_fields() -> None:
    obj = _service(status={"url": "http://x", "conditions": [{"type": "Ready", "status": "True"}]})
    before = repr(obj)
    assert fv.unknown_fields(SERVICE, obj) == []
    assert repr(obj) == before


def test_unknown_fields_are_reported_metadata_first_then_sorted_and_pruned() -> None:
    obj = _service(status={"zzz": 1}, extra=True)
    obj["metadata"]["foo"] = 1
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "X", "name": "n", "uid": "u", "bad": 1}]
    obj["spec"]["foo"] = {"deep": 1}
    obj["spec"]["traffic"] = [{"percent": 100, "latestRevision": True, "weight": 3}]
    assert fv.unknown_fields(SERVICE, obj) == [
        "metadata.foo",
        "metadata.ownerReferences[0].bad",
        "extra",
        "spec.foo",
        "spec.traffic[0].weight",
        "status.zzz",
    ]
    assert "foo" not in obj["metadata"] and "extra" not in obj and "foo" not in obj["spec"]
    assert obj["spec"]["traffic"] == [{"percent": 100, "latestRevision": True}]
    assert obj["status"] == {}


def test_kubernetes_object_meta_fields_are_known() -> None:
    obj = _service()
    obj["metadata"].update(
        managedFields=[{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}],
        selfLink="",
        deletionGracePeriodSeconds=30,
    )
    assert fv.unknown_fields(SERVICE, obj) == []


def test_kubernetes_fields_knatives_crd_declares_are_known_others_not() -> None:
    obj = _service()
    spec = obj["spec"]["template"]["spec"]
    container = spec["containers"][0]
    container.update(terminationMessagePath="/dev/log", env=[{"name": "A", "value": "1"}])
    spec.update(nodeSelector={"disk": "ssd"}, affinity={"nodeAffinity": {}}, initContainers=[{"image": "i"}])
    spec["volumes"] = [{"name": "v", "emptyDir": {"anything": 1}}]  # kept as it is: admission checks volumes
    obj["spec"]["template"]["metadata"] = {"annotations": {"a": "b"}, "whatever": 1}  # metadata is preserved
    assert fv.unknown_fields(SERVICE, obj) == []
    container.update(stdin=True, env=[{"name": "A", "value": "1", "futureField": 1}])
    spec["initContainers"][0]["bogus"] = 1
    assert fv.unknown_fields(SERVICE, obj) == [
        "spec.template.spec.containers[0].env[0].futureField",
        "spec.template.spec.containers[0].stdin",
        "spec.template.spec.initContainers[0].bogus",
    ]


def test_below_a_preserved_object_declared_fields_are_still_checked() -> None:
    obj = _service()
    obj["spec"]["template"]["metadata"] = {  # ObjectMeta keeps unknown fields, OwnerReference does not
        "kept": 1,
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "n", "uid": "u", "bad": 1}],
    }
    assert fv.unknown_fields(SERVICE, obj) == ["spec.template.metadata.ownerReferences[0].bad"]
    assert obj["spec"]["template"]["metadata"]["kept"] == 1


def test_core_kind_unknown_fields() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}, "dataa": {}}
    assert fv.unknown_fields(CONFIGMAP, obj) == ["dataa"]


@pytest.mark.parametrize(
    ("raw", "found"),
    [
        pytest.param(b'{"a":1,"b":2}', [], id="none"),
        pytest.param(b'{"a":1,"a":2}', ["a"], id="top-level"),
        pytest.param(b'{"metadata":{"name":"a","name":"b","name":"c"}}', ["metadata.name"], id="reported-once"),
        pytest.param(
            b'{"spec":{"containers":[{"image":"a"},{"image":"a","image":"b"}]}}',
            ["spec.containers[1].image"],
            id="in-a-list",
        ),
        pytest.param(b'{"a":{"x":1,"x":2},"a":{}}', ["a.x", "a"], id="in-order-met"),
        pytest.param(b"[1,2]", [], id="not-an-object"),
    ],
)
def test_duplicate_fields(raw: bytes, found: list[str]) -> None:
    assert fv.duplicate_fields(raw) == found


def test_duplicates_are_bounded() -> None:
    raw = "{" + ",".join(f'"k{i}":1,"k{i}":2' for i in range(150)) + "}"
    assert len(fv.duplicate_fields(raw)) == fv.MAX_DUPLICATES


def test_messages_and_error_wording() -> None:
    problems = fv.messages(["metadata.name"], ["spec.foo", "spec.bar"])
    assert fv.strict_error(problems) == (
        'strict decoding error: duplicate field "metadata.name", unknown field "spec.foo", unknown field "spec.bar"'
    )
    assert fv.unsupported("Loud") == (
        'fieldValidation: Unsupported value: "Loud": supported values: "", "Ignore", "Strict", "Warn"'
    )
