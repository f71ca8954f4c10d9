"""What kubectl asks of a server beyond CRUD: aggregated discovery, the self-subject reviews,
the core Services of ``cluster-info``, WatchList, and TLS with a plain-http listener beside it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import SERVICES, TOKEN, Running, admit, call, running, service
from zeroserve.apiserver import ApiServer
from zeroserve.apiserver.certs import client_context, ensure_serving_certs
from zeroserve.store import SqliteStore

AUTH = {"Authorization": f"Bearer {TOKEN}"}
AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,"
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)
WATCH_LIST = {
    "watch": "1",
    "sendInitialEvents": "true",
    "resourceVersionMatch": "NotOlderThan",
    "allowWatchBookmarks": "true",
    "timeoutSeconds": "30",
}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    async for r in running(tmp_path):
        yield r


@pytest.fixture
async def http(api: Running) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=api.url, headers=AUTH) as session:
        yield session


async def test_aggregated_discovery_as_kubectl_asks(http: aiohttp.ClientSession) -> None:
    async with http.get("/apis", headers={"Accept": AGGREGATED}) as resp:
        assert resp.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        body = await resp.json(content_type=None)
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    groups = {g["metadata"]["name"]: g for g in body["items"]}
    assert {"serving.knative.dev", "authorization.k8s.io", "authentication.k8s.io"} <= set(groups)
    assert "" not in groups
    versions = groups["serving.knative.dev"]["versions"]
    assert [v["version"] for v in versions] == ["v1", "v1beta1"]
    ksvc = next(r for r in versions[0]["resources"] if r["resource"] == "services")
    assert ksvc == {
        "resource": "services",
        "responseKind": {"group": "serving.knative.dev", "version": "v1", "kind": "Service"},
        "scope": "Namespaced",
        "singularResource": "service",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        "shortNames": ["kservice", "ksvc"],
        "categories": ["all", "knative", "serving"],
        "subresources": [
            {
                "subresource": "status",
                "responseKind": {"group": "serving.knative.dev", "version": "v1", "kind": "Service"},
                "verbs": ["get", "patch", "update"],
            }
        ],
    }
    async with http.get("/api", headers={"Accept": AGGREGATED}) as resp:
        core = await resp.json(content_type=None)
    assert [g["metadata"] for g in core["items"]] == [{}]
    assert core["items"][0]["versions"][0]["version"] == "v1"
    plurals = {r["resource"] for r in core["items"][0]["versions"][0]["resources"]}
    assert {"services", "namespaces", "configmaps", "secrets"} <= plurals


async def test_legacy_discovery_when_not_asked_for_aggregated(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "GET", "/api", headers={"Accept": "application/json"})
    assert (code, body["kind"]) == (200, "APIVersions")
    code, body = await call(http, "GET", "/api/v1")
    assert {r["name"] for r in body["resources"]} >= {"services", "namespaces"}
    code, body = await call(http, "GET", "/apis/authorization.k8s.io/v1")
    reviews = {r["name"]: r["verbs"] for r in body["resources"]}
    assert reviews == {"selfsubjectaccessreviews": ["create"], "selfsubjectrulesreviews": ["create"]}


async def test_self_subject_reviews_allow_the_token_holder(http: aiohttp.ClientSession) -> None:
    attrs = {"namespace": "default", "verb": "create", "group": "serving.knative.dev", "resource": "services"}
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    code, body = await call(http, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=review)
    assert code == 201
    assert body["status"]["allowed"] is True
    assert body["spec"] == {"resourceAttributes": attrs}
    code, body = await call(http, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json={})
    assert (code, body["reason"]) == (422, "Invalid")
    rules = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "x"}}
    code, body = await call(http, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", json=rules)
    assert body["status"]["resourceRules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    who = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    code, body = await call(http, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", json=who)
    assert body["status"]["userInfo"]["username"] == "zeroserve-admin"
    code, body = await call(http, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=who)
    assert (code, body["reason"]) == (400, "BadRequest")
    code, _ = await call(http, "POST", "/apis/authorization.k8s.io/v1/selfsubjectnopereviews", json=who)
    assert code == 404


async def test_core_services_are_an_empty_list(http: aiohttp.ClientSession) -> None:
    path = "/api/v1/namespaces/kube-system/services"
    code, body = await call(http, "GET", path, params={"labelSelector": "kubernetes.io/cluster-service=true"})
    assert (code, body["kind"], body["items"]) == (200, "ServiceList", [])
    code, body = await call(http, "GET", path + "/kubernetes")
    assert (code, body["message"]) == (404, 'services "kubernetes" not found')


async def events(resp: aiohttp.ClientResponse, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while len(out) < n:
            out.append(json.loads(await resp.content.readline()))
    return out


async def test_watch_list_ends_the_initial_events_with_a_bookmark(http: aiohttp.ClientSession) -> None:
    for name in ("a", "b"):
        await call(http, "POST", SERVICES, json=service(name))
    async with http.get(SERVICES, params={**WATCH_LIST, "resourceVersion": "1"}) as resp:
        assert resp.status == 200
        initial = await events(resp, 3)
        assert [(e["type"], e["object"]["metadata"].get("name")) for e in initial] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
            ("BOOKMARK", None),
        ]
        bookmark = initial[2]["object"]
        assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert bookmark["metadata"]["resourceVersion"] == initial[1]["object"]["metadata"]["resourceVersion"]
        assert (bookmark["kind"], bookmark["apiVersion"]) == ("Service", "serving.knative.dev/v1")
        await call(http, "DELETE", SERVICES + "/a")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in await events(resp, 1)] == [("DELETED", "a")]


async def test_watch_without_initial_events_starts_now(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", SERVICES, json=service("old"))
    params = {**WATCH_LIST, "sendInitialEvents": "false"}
    async with http.get(SERVICES, params=params) as resp:
        await call(http, "POST", SERVICES, json=service("new"))
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in await events(resp, 1)] == [("ADDED", "new")]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            {"watch": "1", "sendInitialEvents": "true"},
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            id="no-match",
        ),
        pytest.param(
            {"watch": "1", "resourceVersionMatch": "NotOlderThan"},
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            id="match-alone",
        ),
        pytest.param(
            {"watch": "1", "sendInitialEvents": "true", "resourceVersionMatch": "Exact"},
            'Unsupported value: "Exact"',
            id="exact",
        ),
        pytest.param({"sendInitialEvents": "true"}, "sendInitialEvents is forbidden for list", id="list"),
    ],
)
async def test_bad_list_options_are_refused(http: aiohttp.ClientSession, params: dict[str, str], message: str) -> None:
    code, body = await call(http, "GET", SERVICES, params=params)
    assert (code, body["reason"]) == (422, "Invalid")
    assert message in body["message"]
    assert "ListOptions.meta.k8s.io" in body["message"]


async def test_tls_with_an_insecure_port_beside_it(tmp_path: Path) -> None:
    certs = ensure_serving_certs(tmp_path, datetime.now(UTC))
    store = await SqliteStore.open(tmp_path / "state.db")
    server = ApiServer(store, admit, TOKEN)
    try:
        port = await server.start(ssl_context=certs.server_context(), insecure_port=0)
        assert server.url == f"https://127.0.0.1:{port}"
        assert server.insecure_url.startswith("http://127.0.0.1:")
        tls = aiohttp.TCPConnector(ssl=client_context(certs.ca_file))
        async with aiohttp.ClientSession(headers=AUTH, connector=tls) as session:
            async with session.get(server.url + "/version") as resp:
                assert resp.status == 200
            async with session.get(server.insecure_url + "/version") as resp:
                assert resp.status == 200
        async with aiohttp.ClientSession() as anonymous, anonymous.get(server.insecure_url + "/version") as resp:
            assert resp.status == 401  # the plain listener still wants the token
        async with aiohttp.ClientSession(headers=AUTH) as untrusting:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await untrusting.get(server.url + "/version")
    finally:
        await server.stop()
        await store.close()
