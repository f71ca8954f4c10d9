"""EventType v1beta2 <-> v1beta3 as Knative's conversion webhook converts (through its v1beta1 hub),
and the order kube-apiserver gives a group's versions (the first is preferred)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from zeroserve.api.eventtype import go_url, to_v1beta2, to_v1beta3
from zeroserve.apiserver.discovery import version_priority

V1 = "eventing.knative.dev/v1"
REFERENCE = {"kind": "Broker", "name": "my-broker", "apiVersion": V1}


def v1beta2(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1beta2",
        "kind": "EventType",
        "metadata": {"name": "my-name", "namespace": "my-ns", "uid": "1234"},
        "spec": spec,
        "status": {"observedGeneration": 1234},
    }


def v1beta3(attributes: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1beta3",
        "kind": "EventType",
        "metadata": {"name": "my-name", "namespace": "my-ns", "uid": "1234"},
        "spec": {**spec, "attributes": attributes},
        "status": {"observedGeneration": 1234},
    }


def test_knatives_own_case_both_ways() -> None:
    """pkg/apis/eventing/v1beta2/eventtype_conversion_test.go TestEventTypeConversionV1Beta3."""
    stored = v1beta2(
        type="t1",
        source="https://127.0.0.1/sources/my-source",
        schema="https://127.0.0.1/schemas/my-schema",
        reference={**REFERENCE, "namespace": "my-ns"},
        description="my-description",
    )
    served = to_v1beta3(stored)
    assert served == {
        "apiVersion": "eventing.knative.dev/v1beta3",
        "kind": "EventType",
        "metadata": {"name": "my-name", "namespace": "my-ns", "uid": "1234"},
        "spec": {
            "reference": {**REFERENCE, "namespace": "my-ns"},
            "description": "my-description",
            "attributes": [
                {"name": "specversion", "required": True},
                {"name": "id", "required": True},
                {"name": "type", "required": True, "value": "t1"},
                {"name": "source", "required": True, "value": "https://127.0.0.1/sources/my-source"},
                {"name": "schemadata", "required": False, "value": "https://127.0.0.1/schemas/my-schema"},
            ],
        },
        "status": {"observedGeneration": 1234},
    }
    assert to_v1beta2(served) == {**stored, "spec": {**stored["spec"]}}
    assert list(to_v1beta2(served)) == ["apiVersion", "kind", "metadata", "spec", "status"]


def test_conversion_does_not_change_its_input() -> None:
    stored = v1beta2(type="t", reference=dict(REFERENCE))
    before = copy.deepcopy(stored)
    served = to_v1beta3(stored)
    served_before = copy.deepcopy(served)
    to_v1beta2(served)
    assert (stored, served) == (before, served_before)


def test_v1beta2_fields_v1beta3_cannot_carry_are_lost_as_in_knative() -> None:
    """``broker`` (the hub drops it; the fallback to a Broker reference sets the *source's* reference)
    and ``schemaData`` (no attribute for it) are not in the v1beta3 object."""
    served = to_v1beta3(v1beta2(type="t", broker="default", schemaData="{}"))
    assert "reference" not in served["spec"]
    assert served["spec"]["attributes"][2:] == [
        {"name": "type", "required": True, "value": "t"},
        {"name": "source", "required": True},
    ]
    assert to_v1beta2(served)["spec"] == {"type": "t"}


def test_missing_type_and_source_are_required_attributes_without_values() -> None:
    served = to_v1beta3(v1beta2())
    assert served["spec"] == {
        "attributes": [
            {"name": "specversion", "required": True},
            {"name": "id", "required": True},
            {"name": "type", "required": True},
            {"name": "source", "required": True},
        ]
    }
    assert to_v1beta2(served)["spec"] == {"type": ""}


def test_from_v1beta3_only_type_source_and_schemadata_count_and_the_last_wins() -> None:
    served = v1beta3(
        [
            {"name": "type", "required": True, "value": "first"},
            {"name": "type", "required": True, "value": "dev.example.second"},
            {"name": "source", "required": False, "value": "/apis/v1/namespaces/{namespace}/pingsources/{name}"},
            {"name": "specversion", "required": True, "value": "1.0"},
            {"name": "id", "required": True},
            {"name": "myextension", "required": True, "value": "x"},
            {"name": "schemadata", "value": "https://schemas.example/s.json"},
        ],
        description="d",
    )
    stored = to_v1beta2(served)
    assert stored["apiVersion"] == "eventing.knative.dev/v1beta2"
    assert stored["spec"] == {
        "type": "dev.example.second",
        "source": "/apis/v1/namespaces/{namespace}/pingsources/{name}",
        "schema": "https://schemas.example/s.json",
        "description": "d",
    }
    again = to_v1beta3(stored)  # what a client reads back: the standard attributes, the flags Knative's
    assert [(a["name"], a["required"], a.get("value")) for a in again["spec"]["attributes"]] == [
        ("specversion", True, None),
        ("id", True, None),
        ("type", True, "dev.example.second"),
        ("source", True, "/apis/v1/namespaces/{namespace}/pingsources/{name}"),
        ("schemadata", False, "https://schemas.example/s.json"),
    ]
    assert to_v1beta2(again) == stored


def test_a_source_go_cannot_parse_is_dropped_and_an_empty_type_wins() -> None:
    served = v1beta3(
        [
            {"name": "type", "value": "t"},
            {"name": "type"},
            {"name": "source", "value": "https://example.com/%zz"},
            {"name": "schemadata", "value": ":no-scheme"},
        ]
    )
    assert to_v1beta2(served)["spec"] == {"type": ""}


def test_the_reference_namespace_is_defaulted_both_ways() -> None:
    served = to_v1beta3(v1beta2(type="t", reference=dict(REFERENCE)))
    assert served["spec"]["reference"]["namespace"] == "my-ns"
    stored = to_v1beta2(v1beta3([{"name": "type", "value": "t"}], reference=dict(REFERENCE)))
    assert stored["spec"]["reference"] == {**REFERENCE, "namespace": "my-ns"}
    other = to_v1beta2(v1beta3([], reference={**REFERENCE, "namespace": "other"}))
    assert other["spec"]["reference"]["namespace"] == "other"


def test_status_and_metadata_are_carried() -> None:
    status = {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}], "annotations": {"a": "b"}}
    stored = {**v1beta2(type="t"), "status": status}
    stored["metadata"]["labels"] = {"eventing.knative.dev/sourceName": "ping"}
    served = to_v1beta3(stored)
    assert (served["status"], served["metadata"]) == (status, stored["metadata"])
    assert to_v1beta2(served)["status"] == status
    no_status = to_v1beta3({k: v for k, v in stored.items() if k != "status"})
    assert "status" not in no_status


def test_malformed_v1beta3_shapes_convert_without_failing() -> None:
    """Admission refuses them (the v1beta3 model); conversion itself never raises."""
    assert to_v1beta2({"spec": {"attributes": "nope"}})["spec"] == {"type": ""}
    assert to_v1beta2({"spec": {"attributes": [1, {"name": "type", "value": 3}]}})["spec"] == {"type": ""}
    assert to_v1beta2({"spec": None})["spec"] == {"type": ""}


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", None),
        ("https://example.com/a", "https://example.com/a"),
        ("HTTPS://Example.com/A", "https://Example.com/A"),
        ("/relative/path", "/relative/path"),
        ("urn:example:x", "urn:example:x"),
        ("a/b:c", "a/b:c"),
        ("1abc:def", None),
        (":x", None),
        ("http://x/%4", None),
        ("http://x/?q=%zz", "http://x/?q=%zz"),
        ("http://x/#%zz", None),
        ("http://x/\n", None),
    ],
)
def test_go_url(text: str, parsed: str | None) -> None:
    assert go_url(text) == parsed


def test_versions_in_kube_aware_order() -> None:
    """apimachinery's CompareKubeAwareVersionStrings, highest first."""
    versions = ["v1alpha1", "v1beta2", "foo", "v2", "v1", "v1beta3", "v11alpha2", "v10", "bar", "v12beta1"]
    assert sorted(versions, key=version_priority) == [
        "v10",
        "v2",
        "v1",
        "v12beta1",
        "v1beta3",
        "v1beta2",
        "v11alpha2",
        "v1alpha1",
        "bar",
        "foo",
    ]
