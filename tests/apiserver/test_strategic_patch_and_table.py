"""Strategic merge patch for maps, the Table's Accept negotiation and its cells (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zeroserve.api import printers
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CLUSTERDOMAINCLAIM, CONFIGMAP, NAMESPACE, SECRET
from zeroserve.apiserver import patch, table
from zeroserve.errors import BadRequest

CM: Obj = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}, "finalizers": ["x.io/f"]},
    "data": {"k": "v", "other": "o"},
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"data": {"k": "w", "new": "n"}}, {"k": "w", "new": "n", "other": "o"}, id="maps-merge"),
        pytest.param({"data": {"k": None}}, {"other": "o"}, id="null-deletes"),
        pytest.param({"data": {"$patch": "replace", "only": "1"}}, {"only": "1"}, id="replace"),
        pytest.param({"data": {"$patch": "delete"}}, None, id="delete"),
        pytest.param({"data": {"$retainKeys": ["k", "z"], "z": "9"}}, {"k": "v", "z": "9"}, id="retain-keys"),
        pytest.param({"data": {"$patch": "merge", "k": "w"}}, {"k": "w", "other": "o"}, id="merge-directive"),
        pytest.param(
            {"$setElementOrder/finalizers": ["x.io/f"], "data": {"k": "w"}},
            {"k": "w", "other": "o"},
            id="set-element-order-ignored",
        ),
    ],
)
def test_strategic_merge_of_maps(body: Obj, expected: Any) -> None:
    got = patch.apply(patch.STRATEGIC, CM, body)
    assert got.get("data") == expected
    assert got["metadata"] == CM["metadata"]
    assert CM["data"] == {"k": "v", "other": "o"}, "the stored object is not changed in place"


def test_strategic_merge_of_objectmeta_lists() -> None:
    body: Obj = {"metadata": {"finalizers": ["y.io/g", "x.io/f"], "$deleteFromPrimitiveList/finalizers": ["x.io/f"]}}
    assert patch.apply(patch.STRATEGIC, CM, body)["metadata"]["finalizers"] == ["y.io/g"]
    owned: Obj = {
        **CM,
        "metadata": {"name": "c", "ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]},
    }
    body = {"metadata": {"ownerReferences": [{"uid": "2", "name": "B"}, {"uid": "1", "$patch": "delete"}]}}
    assert patch.apply(patch.STRATEGIC, owned, body)["metadata"]["ownerReferences"] == [{"uid": "2", "name": "B"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"data": {"$patch": "explode"}}, "unknown patch type: explode", id="bad-directive"),
        pytest.param({"data": {"$retainKeys": ["k"], "z": "1"}}, "not in $retainKeys", id="retain-mismatch"),
        pytest.param({"data": {"$retainKeys": "k"}}, "$retainKeys must be a list", id="retain-type"),
        pytest.param(["op"], "must be a JSON object", id="not-an-object"),
        pytest.param({"$patch": "delete"}, "cannot delete the whole object", id="delete-everything"),
    ],
)
def test_strategic_merge_refusals(body: Any, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        patch.apply(patch.STRATEGIC, CM, body)
    assert message in info.value.message


V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        pytest.param(f"{V1},application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", "v1", id="kubectl"),
        pytest.param("application/json;g=meta.k8s.io;v=v1;as=Table", "v1", id="any-order"),
        pytest.param("application/json; as=Table; v=v1beta1; g=meta.k8s.io", "v1beta1", id="v1beta1-spaces"),
        pytest.param("application/json", None, id="json"),
        pytest.param(None, None, id="none"),
        pytest.param(f"application/json,{V1}", None, id="json-first"),
        pytest.param("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", None, id="unknown-version"),
        pytest.param("application/yaml,*/*", None, id="anything"),
        pytest.param("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", None, id="other-as"),
    ],
)
def test_table_is_served_when_asked(accept: str | None, version: str | None) -> None:
    assert table.requested(accept) == version


NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


def made(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (305, "5m5s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60 * 7, "3h7m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (731 * 86400, "2y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert printers.human_duration(seconds) == text


def test_rows_and_columns_per_kind() -> None:
    cm = {**CM, "binaryData": {"b": "AA=="}, "metadata": {**CM["metadata"], "creationTimestamp": made(90)}}
    t = table.table(CONFIGMAP, [cm], "7", NOW)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert t["rows"] == [{"cells": ["c", 3, "90s"], "object": table.partial_metadata(cm, "v1")}]
    assert (t["kind"], t["apiVersion"], t["metadata"]) == ("Table", "meta.k8s.io/v1", {"resourceVersion": "7"})
    ns = {"metadata": {"name": "prod", "creationTimestamp": made(3600)}, "status": {"phase": "Terminating"}}
    t = table.table(NAMESPACE, [ns], "7", NOW, include="None")
    assert t["rows"] == [{"cells": ["prod", "Terminating", "60m"]}]
    claim = {"metadata": {"name": "a.example.com", "creationTimestamp": made(300)}}
    t = table.table(CLUSTERDOMAINCLAIM, [claim], "7", NOW, version="v1beta1", include="Object")
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Age"], "a kind without columns of its own"
    assert t["apiVersion"] == "meta.k8s.io/v1beta1"
    assert t["rows"] == [{"cells": ["a.example.com", "5m"], "object": claim}]


def test_a_secret_row_holds_no_value() -> None:
    applied = '{"data":{"password":"czNjcmV0"}}'
    s = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied, "note": "n"},
        },
        "type": "Opaque",
        "data": {"password": "czNjcmV0"},
    }
    for include in ("Metadata", "Object", "None"):
        t = table.table(SECRET, [s], "1", NOW, include=include)
        assert "czNjcmV0" not in str(t), include
        assert t["rows"][0]["cells"][:3] == ["db", "Opaque", 1]
    assert table.table(SECRET, [s], "1", NOW)["rows"][0]["object"]["metadata"]["annotations"] == {"note": "n"}
