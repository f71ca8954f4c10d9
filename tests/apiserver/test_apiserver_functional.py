from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import SERVICES, TOKEN, Running, running, service
from zeroserve.api.kinds import SERVICE

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    async for r in running(tmp_path):
        yield r


@pytest.fixture
async def http(api: Running) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=api.url, headers=AUTH) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


async def test_crud_round_trip(http: aiohttp.ClientSession) -> None:
    code, created = await call(http, "POST", SERVICES, json=service("hello"))
    assert code == 201
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["labels"] == {"admitted": "true"}
    assert created["metadata"]["generation"] == 1
    code, got = await call(http, "GET", f"{SERVICES}/hello")
    assert (code, got) == (200, created)
    code, listed = await call(http, "GET", SERVICES)
    assert code == 200
    assert listed["kind"] == "ServiceList"
    assert listed["apiVersion"] == "serving.knative.dev/v1"
    assert listed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert [o["metadata"]["name"] for o in listed["items"]] == ["hello"]

    replaced = {**got, "spec": service("hello", "img:2")["spec"]}
    code, updated = await call(http, "PUT", f"{SERVICES}/hello", json=replaced)
    assert code == 200
    assert updated["metadata"]["generation"] == 2
    code, conflict = await call(http, "PUT", f"{SERVICES}/hello", json=replaced)
    assert code == 409
    assert conflict["reason"] == "Conflict"
    assert conflict["details"] == {"name": "hello", "group": "serving.knative.dev", "kind": "services"}
    assert conflict["message"].startswith('Operation cannot be fulfilled on services.serving.knative.dev "hello"')

    code, deleted = await call(http, "DELETE", f"{SERVICES}/hello", json={"propagationPolicy": "Background"})
    assert code == 200
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    code, missing = await call(http, "GET", f"{SERVICES}/hello")
    assert code == 404
    assert missing == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'services.serving.knative.dev "hello" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "hello", "group": "serving.knative.dev", "kind": "services"},
    }


async def test_delete_options_as_kube_apiserver_reads_them(api: Running, http: aiohttp.ClientSession) -> None:
    for name in ("orphaned", "held", "pre", "dry"):
        await call(http, "POST", SERVICES, json=service(name))
    code, marked = await call(http, "DELETE", f"{SERVICES}/orphaned?propagationPolicy=Orphan")
    assert code == 200
    assert marked["metadata"]["finalizers"] == ["orphan"] and marked["metadata"]["deletionTimestamp"]
    assert (await call(http, "GET", f"{SERVICES}/orphaned"))[1] == marked, "held until the collector is done"
    options = {"kind": "DeleteOptions", "orphanDependents": False}
    code, held = await call(http, "DELETE", f"{SERVICES}/held", json=options)
    assert code == 200, "Background: nothing holds it"
    await call(http, "POST", SERVICES, json=service("held", finalizers=["example.com/x"]))
    code, held = await call(http, "DELETE", f"{SERVICES}/held", json={"orphanDependents": False})
    assert (code, held["metadata"]["finalizers"]) == (202, ["example.com/x"])
    bad = [
        ({"propagationPolicy": "Sideways"}, 'Unsupported value: "Sideways": supported values: "Foreground"'),
        ({"propagationPolicy": "Orphan", "orphanDependents": True}, "cannot be both set"),
        ({"preconditions": {"uid": 7}}, "preconditions.uid must be a string"),
        ([1], "must be a DeleteOptions JSON object"),
    ]
    for body, message in bad:
        code, status = await call(http, "DELETE", f"{SERVICES}/pre", json=body)
        assert (code, status["reason"]) == (400, "BadRequest"), body
        assert message in status["message"]
    code, status = await call(http, "DELETE", f"{SERVICES}/pre", json={"preconditions": {"uid": "other"}})
    assert (code, status["reason"]) == (409, "Conflict")
    assert "Precondition failed: UID in precondition: other" in status["message"]
    code, _ = await call(http, "DELETE", f"{SERVICES}/dry", json={"dryRun": ["All"]})
    assert code == 200
    assert (await call(http, "GET", f"{SERVICES}/dry"))[0] == 200


async def test_create_errors(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", SERVICES, json=service("hello"))
    code, body = await call(http, "POST", SERVICES, json=service("hello"))
    assert (code, body["reason"]) == (409, "AlreadyExists")
    code, body = await call(http, "POST", SERVICES, json=service("other", namespace="prod"))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert "does not match the namespace" in body["message"]
    code, body = await call(http, "POST", SERVICES, data=b"{not json", headers={"Content-Type": "application/json"})
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = await call(http, "POST", SERVICES, data=b"a: b", headers={"Content-Type": "application/yaml"})
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")
    code, body = await call(http, "POST", SERVICES, json={**service("x"), "kind": "Route"})
    assert code == 400
    code, body = await call(http, "DELETE", SERVICES)
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = await call(http, "GET", "/apis/serving.knative.dev/v1/namespaces/default/widgets")
    assert (code, body["reason"]) == (404, "NotFound")
    code, body = await call(http, "GET", f"{SERVICES}/hello/scale")
    assert code == 404


async def test_invalid_has_one_cause_per_field(http: aiohttp.ClientSession) -> None:
    bad = service("Hello", image="")
    code, body = await call(http, "POST", SERVICES, json=bad)
    assert code == 422
    assert body["reason"] == "Invalid"
    assert body["message"].startswith('Service.serving.knative.dev "Hello" is invalid: ')
    assert body["details"]["kind"] == "Service"
    assert body["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": "invalid name", "field": "metadata.name"},
        {
            "reason": "FieldValueInvalid",
            "message": "missing field(s)",
            "field": "spec.template.spec.containers[0].image",
        },
    ]


async def test_patches(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", SERVICES, json=service("hello", labels={"a": "1", "b": "2"}))
    merge = {"metadata": {"labels": {"a": None, "c": "3"}}}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(merge), headers=MERGE)
    assert code == 200
    assert body["metadata"]["labels"] == {"b": "2", "c": "3", "admitted": "true"}
    strategic = {"Content-Type": "application/strategic-merge-patch+json"}
    spec = {"spec": {"template": {"spec": {"containers": [{"image": "img:2"}]}}}}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(spec), headers=strategic)
    assert (code, body["reason"]) == (415, "UnsupportedMediaType"), "a custom resource takes no strategic merge patch"
    assert body["message"].endswith(
        "accepted media types include: application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml"
    )
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(spec), headers=MERGE)
    assert (code, body["metadata"]["generation"]) == (200, 2)
    ops = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "img:3"}]
    json_patch = {"Content-Type": "application/json-patch+json"}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(ops), headers=json_patch)
    assert (code, body["spec"]["template"]["spec"]["containers"][0]["image"]) == (200, "img:3")
    failing = [{"op": "test", "path": "/metadata/name", "value": "nope"}]
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(failing), headers=json_patch)
    assert (code, body["reason"]) == (422, "Invalid")
    unset_image = {"spec": {"template": {"spec": {"containers": [{"image": ""}]}}}}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(unset_image), headers=MERGE)
    assert code == 422, "patches are admitted"
    stale = {"metadata": {"resourceVersion": "1"}}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=json.dumps(stale), headers=MERGE)
    assert (code, body["reason"]) == (409, "Conflict")
    code, body = await call(http, "PATCH", f"{SERVICES}/hello", data=b"{}", headers={"Content-Type": "text/plain"})
    assert code == 415
    code, body = await call(http, "PATCH", f"{SERVICES}/missing", data=b"{}", headers=MERGE)
    assert code == 404


async def test_status_subresource(http: aiohttp.ClientSession) -> None:
    _, created = await call(http, "POST", SERVICES, json=service("hello"))
    status = {"status": {"observedGeneration": 1, "url": "http://hello.default.localhost"}}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello/status", data=json.dumps(status), headers=MERGE)
    assert code == 200
    assert body["status"] == status["status"]
    assert body["metadata"]["generation"] == 1
    code, body = await call(http, "GET", f"{SERVICES}/hello/status")
    assert body["status"]["url"] == "http://hello.default.localhost"
    forged = {**body, "status": {"url": "http://evil"}}
    code, body = await call(http, "PUT", f"{SERVICES}/hello", json=forged)
    assert (code, body["status"]["url"]) == (200, "http://hello.default.localhost"), "PUT keeps the status"
    put_status = {**body, "status": {"url": "http://new"}, "spec": {}}
    code, body = await call(http, "PUT", f"{SERVICES}/hello/status", json=put_status)
    assert (code, body["status"]["url"]) == (200, "http://new")
    assert body["spec"] == created["spec"], "a status write keeps the spec"
    code, _ = await call(http, "DELETE", f"{SERVICES}/hello/status")
    assert code == 405


async def test_dry_run_writes_nothing(api: Running, http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "POST", SERVICES, params={"dryRun": "All"}, json=service("hello"))
    assert code == 201
    assert body["metadata"]["labels"] == {"admitted": "true"}
    assert body["metadata"]["uid"]
    assert (await api.store.list(SERVICE))[0] == []
    code, body = await call(http, "POST", SERVICES, params={"dryRun": "All"}, json=service("Bad"))
    assert code == 422
    _, created = await call(http, "POST", SERVICES, json=service("hello"))
    code, body = await call(http, "POST", SERVICES, params={"dryRun": "All"}, json=service("hello"))
    assert code == 409
    patch = json.dumps({"spec": {"template": {"spec": {"containers": [{"image": "img:9"}]}}}})
    path = f"{SERVICES}/hello"
    code, body = await call(http, "PATCH", path, params={"dryRun": "All"}, data=patch, headers=MERGE)
    assert (code, body["spec"]["template"]["spec"]["containers"][0]["image"]) == (200, "img:9")
    code, body = await call(http, "DELETE", path, params={"dryRun": "All"})
    assert code == 200
    stored = await api.store.get(SERVICE, "default", "hello")
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    code, body = await call(http, "POST", SERVICES, params={"dryRun": "Some"}, json=service("x"))
    assert code == 400


async def test_selectors(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", SERVICES, json=service("a", labels={"app": "x"}))
    await call(http, "POST", SERVICES, json=service("b", labels={"app": "y"}))
    await call(http, "POST", "/api/v1/namespaces", json={"metadata": {"name": "prod"}})
    await call(http, "POST", "/apis/serving.knative.dev/v1/namespaces/prod/services", json=service("c"))

    async def names(path: str, **params: str) -> list[str]:
        code, body = await call(http, "GET", path, params=params)
        assert code == 200, body
        return [o["metadata"]["name"] for o in body["items"]]

    assert await names(SERVICES, labelSelector="app=x") == ["a"]
    assert await names(SERVICES, labelSelector="app in (x,y),admitted") == ["a", "b"]
    assert await names(SERVICES, fieldSelector="metadata.name=b") == ["b"]
    assert await names("/apis/serving.knative.dev/v1/services") == ["a", "b", "c"]
    assert await names("/apis/serving.knative.dev/v1/services", fieldSelector="metadata.namespace=prod") == ["c"]
    code, body = await call(http, "GET", SERVICES, params={"labelSelector": "app in x"})
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = await call(http, "GET", SERVICES, params={"fieldSelector": "spec.x=1"})
    assert code == 400


async def read_events(resp: aiohttp.ClientResponse, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while len(out) < n:
            line = await resp.content.readline()
            assert line, "stream ended early"
            out.append(json.loads(line))
    return out


async def test_watch_lists_then_streams(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", SERVICES, json=service("a", labels={"app": "x"}))
    await call(http, "POST", SERVICES, json=service("b"))
    async with http.get(SERVICES, params={"watch": "true", "labelSelector": "app=x"}) as resp:
        assert resp.status == 200
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in await read_events(resp, 1)] == [("ADDED", "a")]
        await call(http, "POST", SERVICES, json=service("c"))
        await call(http, "POST", SERVICES, json=service("d", labels={"app": "x"}))
        await call(http, "DELETE", f"{SERVICES}/a")
        got = await read_events(resp, 2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "d"), ("DELETED", "a")]


async def test_watch_from_resource_version_and_timeout(http: aiohttp.ClientSession) -> None:
    _, first = await call(http, "POST", SERVICES, json=service("a"))
    await call(http, "POST", SERVICES, json=service("b"))
    params = {"watch": "1", "resourceVersion": first["metadata"]["resourceVersion"], "timeoutSeconds": "1"}
    async with http.get(SERVICES, params=params) as resp:
        assert [e["object"]["metadata"]["name"] for e in await read_events(resp, 1)] == ["b"]
        async with asyncio.timeout(30):
            assert await resp.content.read() == b"", "the server ends the stream after timeoutSeconds"


async def test_watch_too_old_is_an_error_event(tmp_path: Path) -> None:
    from tests.apiserver.apiserver_helpers import admit
    from zeroserve.apiserver import ApiServer
    from zeroserve.store import SqliteStore

    store = await SqliteStore.open(tmp_path / "s.db", compact_keep=2)
    async with ApiServer(store, admit, TOKEN) as server, aiohttp.ClientSession(server.url, headers=AUTH) as http:
        for name in "abcd":
            await call(http, "POST", SERVICES, json=service(name))
        async with http.get(SERVICES, params={"watch": "true", "resourceVersion": "2"}) as resp:
            assert resp.status == 200
            [event] = await read_events(resp, 1)
        assert event == {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "too old resource version: 2 (3)",  # rv 1 is the default namespace
                "reason": "Expired",
                "code": 410,
            },
        }
    await store.close()


async def test_stop_ends_open_watches(api: Running, http: aiohttp.ClientSession) -> None:
    async with http.get(SERVICES, params={"watch": "true"}) as resp:
        assert resp.status == 200
        await api.server.stop()
        async with asyncio.timeout(30):
            assert await resp.content.read() == b""


async def test_auth_is_required_everywhere(api: Running) -> None:
    async with aiohttp.ClientSession(api.url) as anon:
        for path in (SERVICES, "/apis", "/healthz", "/version", "/nope"):
            async with anon.get(path) as resp:
                assert resp.status == 401
                body = await resp.json()
                assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)
        async with anon.get(SERVICES, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with anon.get(SERVICES, headers={"Authorization": f"Basic {TOKEN}"}) as resp:
            assert resp.status == 401


async def test_discovery(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "GET", "/api")
    assert (code, body["kind"], body["versions"]) == (200, "APIVersions", ["v1"])
    code, body = await call(http, "GET", "/apis")
    assert body["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in body["groups"]}
    assert set(groups) == {
        "serving.knative.dev",
        "autoscaling.internal.knative.dev",
        "networking.internal.knative.dev",
        "eventing.knative.dev",
        "messaging.knative.dev",
        "flows.knative.dev",
        "sources.knative.dev",
        "authorization.k8s.io",  # kubectl auth can-i
        "authentication.k8s.io",  # kubectl auth whoami
    }
    group = groups["serving.knative.dev"]
    assert group["preferredVersion"] == {"groupVersion": "serving.knative.dev/v1", "version": "v1"}
    code, body = await call(http, "GET", "/apis/serving.knative.dev/v1")
    assert body["kind"] == "APIResourceList"
    by_name = {r["name"]: r for r in body["resources"]}
    assert set(by_name) >= {"services", "services/status", "configurations", "revisions", "routes"}
    assert by_name["services"]["shortNames"] == ["kservice", "ksvc"]
    assert by_name["services"]["kind"] == "Service"
    assert by_name["services"]["namespaced"] is True
    assert "watch" in by_name["services"]["verbs"]
    assert by_name["services/status"]["verbs"] == ["get", "patch", "update"]
    code, body = await call(http, "GET", "/apis/serving.knative.dev")
    assert (code, body["kind"]) == (200, "APIGroup")
    code, body = await call(http, "GET", "/apis/nothing.example.com/v1")
    assert code == 404
    code, body = await call(http, "GET", "/version")
    assert body["major"] == "1"
    for path in ("/healthz", "/readyz", "/livez"):
        async with http.get(path) as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
