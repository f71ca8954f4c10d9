"""EventType served as v1beta3 and v1beta2, stored as v1beta2, through a real API server with real
admission: every path a client can take (CRUD, patches, apply, status, list, watch, Tables,
discovery, OpenAPI) converts as Knative's webhook does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import admitted_session, call

GROUP = "/apis/eventing.knative.dev"
V2 = f"{GROUP}/v1beta2/namespaces/default/eventtypes"
V3 = f"{GROUP}/v1beta3/namespaces/default/eventtypes"
MERGE = {"Content-Type": "application/merge-patch+json"}
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
BROKER = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for session in admitted_session(tmp_path):
        yield session


def v1beta3(name: str, *attributes: tuple[str, str], **spec: Any) -> dict[str, Any]:
    attrs = [{"name": "specversion", "required": True}, {"name": "id", "required": True}]
    attrs += [{"name": n, "required": True, "value": v} for n, v in attributes]
    return {
        "apiVersion": "eventing.knative.dev/v1beta3",
        "kind": "EventType",
        "metadata": {"name": name},
        "spec": {**spec, "attributes": attrs},
    }


def v1beta2(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "eventing.knative.dev/v1beta2", "kind": "EventType", "metadata": {"name": name}, "spec": spec}


def values(obj: dict[str, Any]) -> dict[str, str | None]:
    return {a["name"]: a.get("value") for a in obj["spec"]["attributes"]}


async def test_create_in_either_version_read_in_both(http: aiohttp.ClientSession) -> None:
    code, made = await call(http, "POST", V3, json=v1beta3("a", ("type", "dev.t"), ("source", "/s"), reference=BROKER))
    assert code == 201, made
    assert made["apiVersion"] == "eventing.knative.dev/v1beta3"
    assert values(made) == {"specversion": None, "id": None, "type": "dev.t", "source": "/s"}
    assert made["spec"]["reference"] == {**BROKER, "namespace": "default"}  # defaulted, as the webhook does
    code, stored = await call(http, "GET", f"{V2}/a")
    assert code == 200
    assert stored["apiVersion"] == "eventing.knative.dev/v1beta2"
    assert stored["spec"] == {"type": "dev.t", "source": "/s", "reference": {**BROKER, "namespace": "default"}}
    assert stored["metadata"]["uid"] == made["metadata"]["uid"]

    code, made = await call(http, "POST", V2, json=v1beta2("b", type="dev.u", schema="https://x/s", broker="default"))
    assert code == 201, made
    code, served = await call(http, "GET", f"{V3}/b")
    assert (code, served["apiVersion"]) == (200, "eventing.knative.dev/v1beta3")
    assert values(served) == {
        "specversion": None,
        "id": None,
        "type": "dev.u",
        "source": None,
        "schemadata": "https://x/s",
    }
    assert "reference" not in served["spec"]  # Knative's conversion drops broker

    code, listed = await call(http, "GET", V3)
    assert (code, listed["apiVersion"], listed["kind"]) == (200, "eventing.knative.dev/v1beta3", "EventTypeList")
    assert {i["metadata"]["name"]: i["apiVersion"] for i in listed["items"]} == {
        "a": "eventing.knative.dev/v1beta3",
        "b": "eventing.knative.dev/v1beta3",
    }
    code, everywhere = await call(http, "GET", f"{GROUP}/v1beta3/eventtypes")
    assert code == 200 and len(everywhere["items"]) == 2


async def test_admission_runs_on_the_stored_version(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "POST", V3, json=v1beta3("no-type", ("source", "/s")))
    assert code == 422, body
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.type"]
    bad = v1beta3("bad")
    bad["spec"]["attributes"] = [{"required": True}]
    code, body = await call(http, "POST", V3, json=bad)
    assert code == 422 and "spec.attributes[0].name" in json.dumps(body), body
    bad["spec"]["attributes"] = "type"
    code, body = await call(http, "POST", V3, json=bad)
    assert code == 422 and "spec.attributes" in json.dumps(body), body


async def test_patches_and_puts_in_v1beta3(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", V2, json=v1beta2("p", type="dev.t", source="/s"))
    patch = {"metadata": {"labels": {"team": "a"}}}
    code, body = await call(http, "PATCH", f"{V3}/p", data=json.dumps(patch), headers=MERGE)
    assert (code, body["apiVersion"], body["metadata"]["labels"]) == (
        200,
        "eventing.knative.dev/v1beta3",
        {"team": "a"},
    )
    assert values(body)["type"] == "dev.t"
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}}]
    code, body = await call(
        http, "PATCH", f"{V3}/p", data=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"}
    )
    assert (code, body["metadata"]["annotations"]) == (200, {"note": "x"}), body
    # the spec is immutable, in any version
    ops = [{"op": "replace", "path": "/spec/attributes/2/value", "value": "dev.other"}]
    code, body = await call(
        http, "PATCH", f"{V3}/p", data=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"}
    )
    assert code == 422 and "Immutable fields changed" in body["message"], body
    code, got = await call(http, "GET", f"{V3}/p")
    got["metadata"]["labels"] = {"team": "b"}
    code, body = await call(http, "PUT", f"{V3}/p", json=got)
    assert (code, body["metadata"]["labels"]) == (200, {"team": "b"}), body
    code, stored = await call(http, "GET", f"{V2}/p")
    assert stored["spec"] == {"type": "dev.t", "source": "/s"} and stored["metadata"]["labels"] == {"team": "b"}
    # a stale resourceVersion is a conflict through the converting path too
    got["metadata"]["labels"] = {"team": "c"}
    code, body = await call(http, "PUT", f"{V3}/p", json=got)
    assert code == 409, body


async def test_status_in_v1beta3(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", V3, json=v1beta3("s", ("type", "dev.t"), ("source", "/s")))
    status = {"status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}}
    code, body = await call(http, "PATCH", f"{V3}/s/status", data=json.dumps(status), headers=MERGE)
    assert (code, body["apiVersion"]) == (200, "eventing.knative.dev/v1beta3"), body
    assert body["status"]["conditions"][0]["status"] == "True"
    code, stored = await call(http, "GET", f"{V2}/s")
    assert stored["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


async def test_server_side_apply_in_v1beta3(http: aiohttp.ClientSession) -> None:
    applied = v1beta3("ssa", ("type", "dev.t"), ("source", "/s"))
    params = {"fieldManager": "me"}
    headers = {"Content-Type": "application/apply-patch+yaml"}
    code, body = await call(http, "PATCH", f"{V3}/ssa", params=params, data=json.dumps(applied), headers=headers)
    assert code == 201, body
    assert body["apiVersion"] == "eventing.knative.dev/v1beta3"
    managers = {(m["manager"], m["apiVersion"]) for m in body["metadata"]["managedFields"]}
    assert managers == {("me", "eventing.knative.dev/v1beta3")}
    applied["metadata"]["labels"] = {"x": "y"}
    code, body = await call(http, "PATCH", f"{V3}/ssa", params=params, data=json.dumps(applied), headers=headers)
    assert (code, body["metadata"]["labels"]) == (200, {"x": "y"}), body
    code, stored = await call(http, "GET", f"{V2}/ssa")
    assert stored["spec"]["type"] == "dev.t" and stored["metadata"]["labels"] == {"x": "y"}


async def test_tables_have_each_versions_columns(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", V2, json=v1beta2("t", type="dev.t", source="/s", schema="https://x/s", reference=BROKER))
    code, v3 = await call(http, "GET", V3, headers=TABLE)
    assert code == 200
    names = [c["name"] for c in v3["columnDefinitions"]]
    assert names == ["Name", "Type", "Source", "Reference Name", "Reference Kind", "Description", "Ready", "Reason"]
    assert v3["rows"][0]["cells"][:5] == ["t", "dev.t", "/s", "default", "Broker"]
    code, v2 = await call(http, "GET", V2, headers=TABLE)
    assert [c["name"] for c in v2["columnDefinitions"]][:4] == ["Name", "Type", "Source", "Schema"]
    assert v2["rows"][0]["cells"][:4] == ["t", "dev.t", "/s", "https://x/s"]


async def test_watch_events_are_converted(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", V2, json=v1beta2("w1", type="dev.one"))

    async def events(url: str, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with http.get(url, params={"watch": "true", "timeoutSeconds": "10"}, headers=headers) as resp:
            async for line in resp.content:
                out.append(json.loads(line))
                if len(out) == count:
                    break
        return out

    watching = asyncio.create_task(events(V3, {}, 3))
    tables = asyncio.create_task(events(V3, TABLE, 2))
    code, _ = await call(http, "POST", V2, json=v1beta2("w2", type="dev.two"))
    assert code == 201
    code, _ = await call(http, "DELETE", f"{V2}/w1")
    assert code == 200
    got = await asyncio.wait_for(watching, 10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "w1"),
        ("ADDED", "w2"),
        ("DELETED", "w1"),
    ]
    assert {e["object"]["apiVersion"] for e in got} == {"eventing.knative.dev/v1beta3"}
    assert values(got[1]["object"])["type"] == "dev.two"
    rows = await asyncio.wait_for(tables, 10)
    assert rows[0]["object"]["kind"] == "Table" and rows[0]["object"]["columnDefinitions"][1]["name"] == "Type"
    assert rows[1]["object"]["rows"][0]["cells"][:2] == ["w2", "dev.two"]


async def test_delete_through_v1beta3_answers_v1beta3(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", V2, json=v1beta2("d", type="dev.t"))
    code, body = await call(http, "DELETE", f"{V3}/d")
    assert (code, body["apiVersion"]) == (200, "eventing.knative.dev/v1beta3")
    code, _ = await call(http, "GET", f"{V2}/d")
    assert code == 404


async def test_discovery_lists_both_versions_in_kube_order(http: aiohttp.ClientSession) -> None:
    code, group = await call(http, "GET", GROUP)
    assert code == 200
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta3", "v1beta2"]
    assert group["preferredVersion"]["version"] == "v1"  # Broker and Trigger's; EventType's first is v1beta3
    for version in ("v1beta3", "v1beta2"):
        code, resources = await call(http, "GET", f"{GROUP}/{version}")
        assert code == 200
        assert {r["name"] for r in resources["resources"]} == {"eventtypes", "eventtypes/status"}
    accept = {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}
    async with http.get("/apis", headers=accept) as resp:
        aggregated = await resp.json(content_type=None)
    eventing = next(g for g in aggregated["items"] if g["metadata"]["name"] == "eventing.knative.dev")
    assert [v["version"] for v in eventing["versions"]] == ["v1", "v1beta3", "v1beta2"]
    serving = next(g for g in aggregated["items"] if g["metadata"]["name"] == "serving.knative.dev")
    assert [v["version"] for v in serving["versions"]] == ["v1", "v1beta1"]


async def test_openapi_documents_for_both_versions(http: aiohttp.ClientSession) -> None:
    code, index = await call(http, "GET", "/openapi/v3")
    assert code == 200
    assert {"apis/eventing.knative.dev/v1beta3", "apis/eventing.knative.dev/v1beta2"} <= set(index["paths"])
    code, doc = await call(http, "GET", "/openapi/v3/apis/eventing.knative.dev/v1beta3")
    assert code == 200
    schema = doc["components"]["schemas"]["dev.knative.eventing.v1beta3.EventType"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "eventing.knative.dev", "version": "v1beta3", "kind": "EventType"}
    ]
    spec = schema["properties"]["spec"]["properties"]
    assert set(spec) == {"attributes", "description", "reference"}
    assert set(spec["attributes"]["items"]["properties"]) == {"name", "required", "value"}
    assert "/apis/eventing.knative.dev/v1beta3/namespaces/{namespace}/eventtypes/{name}" in doc["paths"]
    code, doc = await call(http, "GET", "/openapi/v3/apis/eventing.knative.dev/v1beta2")
    spec = doc["components"]["schemas"]["dev.knative.eventing.v1beta2.EventType"]["properties"]["spec"]["properties"]
    assert {"type", "source", "schema", "broker"} <= set(spec)


async def test_an_update_through_v1beta3_drops_what_v1beta3_cannot_carry(http: aiohttp.ClientSession) -> None:
    """A known difference: Knative's webhook would refuse this (immutable spec, old seen as stored)."""
    await call(http, "POST", V2, json=v1beta2("lossy", type="dev.t", schemaData="{}", broker="default"))
    patch = {"metadata": {"labels": {"a": "b"}}}
    code, body = await call(http, "PATCH", f"{V3}/lossy", data=json.dumps(patch), headers=MERGE)
    assert code == 200, body
    code, stored = await call(http, "GET", f"{V2}/lossy")
    assert stored["spec"] == {"type": "dev.t"}
