"""Kubernetes JSONPath as printer columns use it (client-go util/jsonpath semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api import jsonpath
from zeroserve.api.jsonpath import JSONPathError

OBJ: dict[str, Any] = {
    "metadata": {
        "name": "hello",
        "labels": {"serving.knative.dev/configuration": "hello", "app": "x"},
        "annotations": {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"},
    },
    "spec": {"numActivators": 3, "ratio": 1.5, "on": True},
    "status": {
        "conditions": [
            {"type": "ConfigurationsReady", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "RevisionFailed"},
            {"type": "RoutesReady", "status": "Unknown", "reason": "Waiting"},
        ],
        "traffic": [{"percent": 90, "revisionName": "a"}, {"percent": 10, "revisionName": "b"}],
    },
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        pytest.param(".metadata.name", ["hello"], id="simple"),
        pytest.param("{.metadata.name}", ["hello"], id="braces"),
        pytest.param("$.metadata.name", ["hello"], id="root"),
        pytest.param(".status.conditions[?(@.type=='Ready')].status", ["False"], id="filter-single-quotes"),
        pytest.param('.status.conditions[?(@.type=="Ready")].reason', ["RevisionFailed"], id="filter-double-quotes"),
        pytest.param(".status.conditions[?(@.type == 'Ready')].status", ["False"], id="filter-spaces"),
        pytest.param(".status.conditions[?(@.type!='Ready')].type", ["ConfigurationsReady", "RoutesReady"], id="ne"),
        pytest.param(".status.conditions[?(@.reason)].type", ["Ready", "RoutesReady"], id="exists"),
        pytest.param(".status.traffic[?(@.percent>50)].revisionName", ["a"], id="number-compare"),
        pytest.param(".status.traffic[?(@.percent<=10)].revisionName", ["b"], id="le"),
        pytest.param(".metadata.labels['serving\\.knative\\.dev/configuration']", ["hello"], id="bracket-key-escaped"),
        pytest.param('.metadata.labels["app"]', ["x"], id="bracket-double-quoted"),
        pytest.param(
            ".metadata.annotations.eventing\\.knative\\.dev/broker\\.class", ["MTChannelBasedBroker"], id="escaped-dots"
        ),
        pytest.param(".status.traffic[0].percent", [90], id="index"),
        pytest.param(".status.traffic[-1].percent", [10], id="negative-index"),
        pytest.param(".status.traffic[5].percent", [], id="index-out-of-range"),
        pytest.param(".status.traffic[*].revisionName", ["a", "b"], id="wildcard"),
        pytest.param(".status.traffic[0:1].revisionName", ["a"], id="slice"),
        pytest.param(".status.traffic[0,1].percent", [90, 10], id="union"),
        pytest.param(".spec.*", [3, True, 1.5], id="field-wildcard-sorted-keys"),
        pytest.param(".status.url", [], id="missing-key"),
        pytest.param(".status.conditions[?(@.type=='Nope')].status", [], id="filter-no-match"),
        pytest.param(".status", [OBJ["status"]], id="object"),
    ],
)
def test_find(path: str, found: list[Any]) -> None:
    assert jsonpath.parse(path).find(OBJ) == found


def test_a_dotted_key_in_brackets_needs_the_escape_as_in_client_go() -> None:
    assert jsonpath.parse(".metadata.labels['serving.knative.dev/configuration']").find(OBJ) == []


def test_comparing_different_types_is_an_error_and_an_empty_cell() -> None:
    path = jsonpath.parse(".status.traffic[?(@.percent=='90')].revisionName")
    with pytest.raises(JSONPathError, match="incompatible types"):
        path.find(OBJ)
    assert path.first(OBJ) is None


def test_filtering_what_is_not_a_list_is_an_error() -> None:
    with pytest.raises(JSONPathError, match="cannot be filtered"):
        jsonpath.parse(".metadata[?(@.name=='x')]").find(OBJ)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(".status..url", id="recursive-descent"),
        pytest.param(".status.traffic[", id="unterminated-array"),
        pytest.param(".status.traffic[?(@.a=='b']", id="unterminated-filter"),
        pytest.param(".status.traffic[x]", id="bad-index"),
        pytest.param(".status.traffic[?(@.a==b)]", id="bad-operand"),
        pytest.param(".status.traffic[?(@.a=~'b')]", id="bad-operator"),
        pytest.param("status", id="no-leading-dot"),
        pytest.param(".", id="empty-field"),
    ],
)
def test_parse_errors(path: str) -> None:
    with pytest.raises(JSONPathError):
        jsonpath.parse(path)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("text", "text", id="string"),
        pytest.param(3, "3", id="int"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(2.0, "2", id="integral-float-as-go-prints"),
        pytest.param(True, "true", id="bool"),
        pytest.param({"a": [1, "b"]}, '{"a":[1,"b"]}', id="map-as-json"),
        pytest.param([1, 2], "[1,2]", id="list-as-json"),
    ],
)
def test_text(value: Any, shown: str) -> None:
    assert jsonpath.text(value) == shown
