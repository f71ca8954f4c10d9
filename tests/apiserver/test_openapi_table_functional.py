"""/openapi/v3, ?fieldValidation= and Knative's Table columns on a real API server (real admission)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import SERVICES, admitted_session, call, service

TABLE = {
    "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
}
MERGE = {"Content-Type": "application/merge-patch+json"}
REVISIONS = "/apis/serving.knative.dev/v1/namespaces/default/revisions"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for session in admitted_session(tmp_path):
        yield session


# ---- /openapi/v3 ---------------------------------------------------------------------------------


async def test_openapi_index_and_hashed_documents(http: aiohttp.ClientSession) -> None:
    code, index = await call(http, "GET", "/openapi/v3")
    assert code == 200
    assert {"api/v1", "apis/serving.knative.dev/v1", "apis/serving.knative.dev/v1beta1"} <= set(index["paths"])
    url = index["paths"]["apis/serving.knative.dev/v1"]["serverRelativeURL"]
    async with http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "public, immutable"
        assert resp.headers["ETag"] == f'"{url.partition("hash=")[2]}"'
        assert "Expires" in resp.headers and resp.headers["Vary"] == "Accept"
        doc = await resp.json()
    assert "dev.knative.serving.v1.Service" in doc["components"]["schemas"]
    async with http.get(url, headers={"If-None-Match": resp.headers["ETag"]}) as again:
        assert again.status == 304
    path = url.partition("?")[0]
    async with http.get(path) as unhashed:
        assert unhashed.status == 200 and "Cache-Control" not in unhashed.headers
    async with http.get(path + "?hash=STALE", allow_redirects=False) as stale:
        assert (stale.status, stale.headers["Location"]) == (301, url)


async def test_openapi_refusals(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "GET", "/openapi/v3/apis/apps/v1")
    assert (code, body["reason"]) == (404, "NotFound")
    protobuf = {"Accept": "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"}
    async with http.get("/openapi/v3/api/v1", headers=protobuf) as resp:
        assert resp.status == 406
    v2 = {"Accept": "application/com.github.proto-openapi.spec.v2@v2.0+protobuf"}
    async with http.get("/openapi/v2", headers=v2) as resp:
        assert resp.status == 404  # client-go then uses the v3 documents
    async with aiohttp.ClientSession(str(http._base_url)) as anonymous, anonymous.get("/openapi/v3") as resp:
        assert resp.status == 401


# ---- fieldValidation ------------------------------------------------------------------------------


def _with_unknown() -> dict[str, Any]:
    svc = service("hello")
    svc["spec"]["foo"] = 1
    svc["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "bogus": True}]
    return svc


async def test_strict_create_names_every_unknown_and_duplicate_field(http: aiohttp.ClientSession) -> None:
    raw = json.dumps(_with_unknown())[:-1] + ', "kind": "Service"}'  # a duplicate key at the top
    code, body = await call(
        http,
        "POST",
        SERVICES,
        params={"fieldValidation": "Strict"},
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        'Service in version "v1" cannot be handled as a Service: strict decoding error: duplicate field "kind", '
        'unknown field "spec.foo", unknown field "spec.template.spec.containers[0].ports[0].bogus"'
    )
    code, _ = await call(http, "GET", f"{SERVICES}/hello")
    assert code == 404


async def test_warn_drops_unknown_fields_and_says_so(http: aiohttp.ClientSession) -> None:
    async with http.post(SERVICES, params={"fieldValidation": "Warn"}, json=_with_unknown()) as resp:
        assert resp.status == 201, await resp.text()
        assert resp.headers.getall("Warning") == [
            '299 - "unknown field \\"spec.foo\\""',
            '299 - "unknown field \\"spec.template.spec.containers[0].ports[0].bogus\\""',
        ]
        created = await resp.json()
    assert "foo" not in created["spec"]
    assert created["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]


async def test_ignore_drops_silently_and_absent_leaves_it_to_admission(http: aiohttp.ClientSession) -> None:
    async with http.post(SERVICES, params={"fieldValidation": "Ignore"}, json=_with_unknown()) as resp:
        assert resp.status == 201 and "Warning" not in resp.headers
    code, body = await call(http, "POST", SERVICES, json={**_with_unknown(), "metadata": {"name": "other"}})
    assert code == 422 and "spec.foo" in body["message"]  # Knative's webhook refuses what it does not know


async def test_field_validation_value_is_checked(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "POST", SERVICES, params={"fieldValidation": "Loud"}, json=service("hello"))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )


async def test_strict_update_and_patch(http: aiohttp.ClientSession) -> None:
    code, created = await call(http, "POST", SERVICES, json=service("hello"))
    assert code == 201
    strict = {"fieldValidation": "Strict"}
    code, body = await call(http, "PUT", f"{SERVICES}/hello", params=strict, json={**created, "extra": 1})
    assert (code, body["message"]) == (
        400,
        'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "extra"',
    )
    patch = '{"spec": {"template": {"metadata": {"labels": {"a": "1", "a": "2"}}}, "oops": 1}}'
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", params=strict, data=patch, headers=MERGE)
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith(' "" is invalid: patch: Invalid value: "{')
    (cause,) = body["details"]["causes"]
    assert (cause["field"], cause["reason"]) == ("patch", "FieldValueInvalid") and "kind" not in body["details"]
    assert cause["message"].startswith('Invalid value: "{') and cause["message"].endswith('unknown field "spec.oops"')
    assert body["message"].endswith(
        ': strict decoding error: duplicate field "spec.template.metadata.labels.a", unknown field "spec.oops"'
    )
    async with http.patch(f"{SERVICES}/hello", params={"fieldValidation": "Warn"}, data=patch, headers=MERGE) as resp:
        assert resp.status == 200
        assert resp.headers.getall("Warning") == [
            '299 - "duplicate field \\"spec.template.metadata.labels.a\\""',
            '299 - "unknown field \\"spec.oops\\""',
        ]
        patched = await resp.json()
    assert patched["spec"]["template"]["metadata"]["labels"] == {"a": "2"} and "oops" not in patched["spec"]
    json_patch = [{"op": "add", "path": "/metadata/labels", "value": {"b": "1"}, "extra": 0}]
    code, body = await call(
        http,
        "PATCH",
        f"{SERVICES}/hello",
        params=strict,
        json=json_patch,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert code == 422 and body["message"].endswith('strict decoding error: json patch unknown field "[0].extra"')


async def test_strict_core_kind(http: aiohttp.ClientSession) -> None:
    cms = "/api/v1/namespaces/default/configmaps"
    code, body = await call(
        http, "POST", cms, params={"fieldValidation": "Strict"}, json={"metadata": {"name": "c"}, "dataa": {}}
    )
    assert (code, body["message"]) == (
        400,
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dataa"',
    )


# ---- Tables ----------------------------------------------------------------------------------------


async def _ready_service(http: aiohttp.ClientSession) -> None:
    code, _ = await call(http, "POST", SERVICES, json=service("hello"))
    assert code == 201
    status = {
        "status": {
            "url": "http://hello.default.example.com",
            "latestCreatedRevisionName": "hello-00001",
            "latestReadyRevisionName": "hello-00001",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    code, _ = await call(http, "PATCH", f"{SERVICES}/hello/status", data=json.dumps(status), headers=MERGE)
    assert code == 200


async def test_service_table_has_knatives_columns(http: aiohttp.ClientSession) -> None:
    await _ready_service(http)
    code, table = await call(http, "GET", SERVICES, headers=TABLE)
    assert (code, table["kind"], table["apiVersion"]) == (200, "Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "URL",
        "LatestCreated",
        "LatestReady",
        "Ready",
        "Reason",
    ]
    (row,) = table["rows"]
    assert row["cells"] == ["hello", "http://hello.default.example.com", "hello-00001", "hello-00001", "True", None]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "hello"
    code, one = await call(http, "GET", f"{SERVICES}/hello", params={"includeObject": "Object"}, headers=TABLE)
    assert one["rows"][0]["object"]["status"]["url"] == "http://hello.default.example.com"
    code, none = await call(http, "GET", SERVICES, params={"includeObject": "None"}, headers=TABLE)
    assert "object" not in none["rows"][0]


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("application/json;g=meta.k8s.io;v=v1;as=Table", id="parameters-in-any-order"),
        pytest.param("application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io", id="by-quality"),
        pytest.param("application/json; as=Table; v=v1beta1; g=meta.k8s.io", id="v1beta1-with-spaces"),
    ],
)
async def test_accept_header_variants(http: aiohttp.ClientSession, accept: str) -> None:
    await _ready_service(http)
    code, table = await call(http, "GET", SERVICES, headers={"Accept": accept})
    assert (code, table["kind"]) == (200, "Table")
    code, plain = await call(http, "GET", SERVICES, headers={"Accept": f"{accept};q=0,application/json"})
    assert plain["kind"] == "ServiceList"


async def test_watch_sends_one_table_row_per_event_headers_first(http: aiohttp.ClientSession) -> None:
    await _ready_service(http)
    async with http.get(SERVICES, params={"watch": "true"}, headers=TABLE) as resp:
        first = json.loads(await resp.content.readline())
        assert (first["type"], first["object"]["kind"]) == ("ADDED", "Table")
        assert first["object"]["columnDefinitions"][1]["name"] == "URL"
        assert first["object"]["rows"][0]["cells"][:2] == ["hello", "http://hello.default.example.com"]
        code, _ = await call(
            http, "PATCH", f"{SERVICES}/hello", json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE
        )
        assert code == 200
        async with asyncio.timeout(10):
            event = json.loads(await resp.content.readline())
        assert (event["type"], event["object"]["columnDefinitions"]) == ("MODIFIED", None)
        assert len(event["object"]["rows"]) == 1 and event["object"]["rows"][0]["cells"][4] == "True"


async def test_revision_table(http: aiohttp.ClientSession) -> None:
    code, table = await call(http, "GET", REVISIONS, headers=TABLE)
    assert code == 200 and table["rows"] == []
    assert [c["name"] for c in table["columnDefinitions"]][1:3] == ["Config Name", "Generation"]
    assert {c["name"]: c["type"] for c in table["columnDefinitions"]}["Actual Replicas"] == "integer"
