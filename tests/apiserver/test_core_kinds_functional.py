"""ConfigMaps, Secrets and Namespaces through a real API server on 127.0.0.1 with real admission."""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from zeroserve.api import admission
from zeroserve.api.kinds import CONFIGMAP, SERVICE
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.runner import Controller
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store import SqliteStore
from zeroserve.testing import eventually, service

TOKEN = "t"
CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
NAMESPACES = "/api/v1/namespaces"
SMP = {"Content-Type": "application/strategic-merge-patch+json"}
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io"}


class Api:
    def __init__(self, store: SqliteStore, http: aiohttp.ClientSession) -> None:
        self.store = store
        self.http = http

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any]:
        data = io.BytesIO(json.dumps(body).encode()) if body is not None else None  # 1 MiB bodies too
        headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.http.request(method, path, data=data, headers=headers, **kw) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    store = await SqliteStore.open(tmp_path / "zeroserve.db")
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status)
    try:
        async with server, aiohttp.ClientSession(server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            yield Api(store, http)
    finally:
        await store.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_discovery_lists_the_core_kinds(api: Api) -> None:
    code, doc = await api.call("GET", "/api/v1")
    assert (code, doc["groupVersion"]) == (200, "v1")
    resources = {r["name"]: r for r in doc["resources"]}
    assert resources["configmaps"]["shortNames"] == ["cm"] and resources["configmaps"]["namespaced"] is True
    assert resources["namespaces"]["shortNames"] == ["ns"] and resources["namespaces"]["namespaced"] is False
    assert "shortNames" not in resources["secrets"] and "categories" not in resources["secrets"]
    assert resources["namespaces/finalize"]["verbs"] == ["update"]
    assert "configmaps/status" not in resources and "namespaces/status" in resources
    code, doc = await api.call("GET", "/api")
    assert doc["versions"] == ["v1"]
    code, doc = await api.call("GET", "/apis")
    assert "" not in [g["name"] for g in doc["groups"]]


async def test_configmap_crud_selectors_and_strategic_merge_patch(api: Api) -> None:
    body = {"metadata": {"name": "app", "labels": {"tier": "web"}}, "data": {"a": "1", "b": "2"}}
    code, created = await api.call("POST", CMS, body)
    assert code == 201, created
    assert created["data"] == {"a": "1", "b": "2"}
    await api.call("POST", CMS, {"metadata": {"name": "other"}, "binaryData": {"bin": b64("\x00")}})
    code, listed = await api.call("GET", CMS, params={"labelSelector": "tier=web"})
    assert [o["metadata"]["name"] for o in listed["items"]] == ["app"]
    code, listed = await api.call("GET", "/api/v1/configmaps")
    assert [o["metadata"]["name"] for o in listed["items"]] == ["app", "other"]

    patch = {"data": {"a": None, "c": "3"}, "metadata": {"labels": {"$patch": "replace", "new": "x"}}}
    code, patched = await api.call("PATCH", f"{CMS}/app", patch, headers=SMP)
    assert code == 200, patched
    assert patched["data"] == {"b": "2", "c": "3"}
    assert patched["metadata"]["labels"] == {"new": "x"}
    code, refused = await api.call("PATCH", f"{CMS}/app", {"data": {"$patch": "nope"}}, headers=SMP)
    assert (code, refused["reason"]) == (400, "BadRequest")

    code, got = await api.call("GET", f"{CMS}/app")
    got["data"]["d"] = "4"
    code, replaced = await api.call("PUT", f"{CMS}/app", got)
    assert (code, replaced["data"]) == (200, {"b": "2", "c": "3", "d": "4"})
    code, _ = await api.call("GET", f"{CMS}/app/status")
    assert code == 404, "a ConfigMap has no status subresource"
    code, _ = await api.call("DELETE", f"{CMS}/app")
    assert code == 200
    code, gone = await api.call("GET", f"{CMS}/app")
    assert (code, gone["message"]) == (404, 'configmaps "app" not found')


async def test_secret_string_data_base64_and_type(api: Api) -> None:
    body = {"metadata": {"name": "db"}, "data": {"user": b64("admin")}, "stringData": {"password": "s3cret"}}
    code, created = await api.call("POST", SECRETS, body)
    assert code == 201, created
    assert created["data"] == {"user": b64("admin"), "password": b64("s3cret")}
    assert created["type"] == "Opaque" and "stringData" not in created
    code, got = await api.call("GET", f"{SECRETS}/db")
    assert got["data"] == created["data"] and "stringData" not in got

    code, refused = await api.call("POST", SECRETS, {"metadata": {"name": "bad"}, "data": {"k": "s3cret!"}})
    assert (code, refused["reason"]) == (422, "Invalid")
    assert refused["details"]["causes"][0]["field"] == "data[k]"
    assert "s3cret" not in json.dumps(refused)

    code, refused = await api.call("PATCH", f"{SECRETS}/db", {"type": "kubernetes.io/tls"}, headers=SMP)
    assert (code, refused["message"]) == (
        422,
        'Secret "db" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value, '
        'type: Invalid value: "kubernetes.io/tls": field is immutable]',
    )
    code, patched = await api.call("PATCH", f"{SECRETS}/db", {"stringData": {"password": "n3w"}}, headers=SMP)
    assert (code, patched["data"]["password"]) == (200, b64("n3w"))

    pull = {
        "metadata": {"name": "pull"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": "{not json"},
    }
    code, refused = await api.call("POST", SECRETS, pull)
    assert code == 422 and refused["details"]["causes"][0]["field"] == "data[.dockerconfigjson]"
    pull["stringData"] = {".dockerconfigjson": '{"auths": {}}'}
    code, created = await api.call("POST", SECRETS, pull)
    assert code == 201, created


async def test_field_selectors_of_the_core_kinds(api: Api) -> None:
    await api.call("POST", SECRETS, {"metadata": {"name": "o"}, "stringData": {"k": "v"}})
    tls = {"tls.crt": "c", "tls.key": "k"}
    await api.call("POST", SECRETS, {"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "stringData": tls})
    code, listed = await api.call("GET", SECRETS, params={"fieldSelector": "type=kubernetes.io/tls"})
    assert (code, [o["metadata"]["name"] for o in listed["items"]]) == (200, ["t"])
    code, listed = await api.call("GET", "/api/v1/secrets", params={"fieldSelector": "type!=kubernetes.io/tls"})
    assert [o["metadata"]["name"] for o in listed["items"]] == ["o"]
    code, listed = await api.call("GET", NAMESPACES, params={"fieldSelector": "status.phase=Active"})
    assert [o["metadata"]["name"] for o in listed["items"]] == ["default"]
    code, refused = await api.call("GET", CMS, params={"fieldSelector": "type=x"})
    assert (code, refused["reason"]) == (400, "BadRequest"), "a ConfigMap has no type field label"


async def test_immutable_and_size_limit(api: Api) -> None:
    body = {"metadata": {"name": "frozen"}, "immutable": True, "data": {"k": "v"}}
    code, _ = await api.call("POST", CMS, body)
    assert code == 201
    code, refused = await api.call("PATCH", f"{CMS}/frozen", {"data": {"k": "w"}}, headers=SMP)
    assert (code, refused["message"]) == (
        422,
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    )
    code, refused = await api.call("PATCH", f"{CMS}/frozen", {"immutable": False}, headers=SMP)
    assert code == 422 and refused["details"]["causes"][0]["field"] == "immutable"
    code, _ = await api.call("PATCH", f"{CMS}/frozen", {"metadata": {"labels": {"a": "b"}}}, headers=SMP)
    assert code == 200, "metadata of an immutable ConfigMap may change"

    big = {"metadata": {"name": "big"}, "data": {"a": "x" * (1 << 20), "b": "y"}}
    code, refused = await api.call("POST", CMS, big)
    assert (code, refused["message"]) == (
        422,
        'ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes',
    )
    big["data"] = {"a": "x" * (1 << 20)}
    code, _ = await api.call("POST", CMS, big)
    assert code == 201, "exactly 1 MiB is allowed"


async def test_tables(api: Api) -> None:
    await api.call("POST", CMS, {"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}})
    await api.call("POST", SECRETS, {"metadata": {"name": "s"}, "stringData": {"password": "s3cret"}})
    code, t = await api.call("GET", CMS, headers=TABLE)
    assert (code, t["kind"], t["apiVersion"]) == (200, "Table", "meta.k8s.io/v1")
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
    [row] = t["rows"]
    assert row["cells"][:2] == ["c", 2] and row["cells"][2].endswith("s")
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "c"

    for path in (SECRETS, f"{SECRETS}/s"):
        for include in ("Object", "Metadata", "None"):
            code, t = await api.call("GET", path, headers=TABLE, params={"includeObject": include})
            assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
            assert t["rows"][0]["cells"][:3] == ["s", "Opaque", 1]
            text = json.dumps(t)
            assert "s3cret" not in text and b64("s3cret") not in text

    code, t = await api.call("GET", NAMESPACES, headers=TABLE)
    assert [r["cells"][:2] for r in t["rows"]] == [["default", "Active"]]
    code, plain = await api.call("GET", CMS, headers={"Accept": "application/json"})
    assert plain["kind"] == "ConfigMapList"
    code, _ = await api.call("GET", CMS, headers=TABLE, params={"includeObject": "All"})
    assert code == 400


async def test_watch_streams_core_objects_and_tables(api: Api) -> None:
    await api.call("POST", CMS, {"metadata": {"name": "first"}})
    async with (
        api.http.get(CMS, params={"watch": "true"}) as plain,
        api.http.get(CMS, params={"watch": "true"}, headers=TABLE) as tables,
    ):
        assert json.loads(await plain.content.readline())["object"]["metadata"]["name"] == "first"
        assert json.loads(await tables.content.readline())["object"]["rows"][0]["cells"][0] == "first"
        await api.call("POST", CMS, {"metadata": {"name": "second"}, "data": {"k": "v"}})
        async with asyncio.timeout(10):
            event = json.loads(await plain.content.readline())
            assert (event["type"], event["object"]["data"]) == ("ADDED", {"k": "v"})
            event = json.loads(await tables.content.readline())
            assert (event["type"], event["object"]["kind"]) == ("ADDED", "Table")
            assert event["object"]["rows"][0]["cells"][:2] == ["second", 1]


async def test_namespaces_exist_before_anything_is_created_in_them(api: Api) -> None:
    code, default = await api.call("GET", f"{NAMESPACES}/default")
    assert (code, default["status"], default["spec"]) == (200, {"phase": "Active"}, {"finalizers": ["kubernetes"]})
    assert default["metadata"]["labels"] == {"kubernetes.io/metadata.name": "default"}

    code, refused = await api.call("POST", "/api/v1/namespaces/prod/configmaps", {"metadata": {"name": "c"}})
    assert refused == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'namespaces "prod" not found',
        "reason": "NotFound",
        "details": {"name": "prod", "group": "", "kind": "namespaces"},
        "code": 404,
    }
    svc_path = "/apis/serving.knative.dev/v1/namespaces/prod/services"
    code, refused = await api.call("POST", svc_path, service("prod", "hello"))
    assert (code, refused["message"]) == (404, 'namespaces "prod" not found')

    code, created = await api.call("POST", NAMESPACES, {"metadata": {"name": "prod"}})
    assert (code, created["status"]) == (201, {"phase": "Active"})
    code, _ = await api.call("POST", "/api/v1/namespaces/prod/configmaps", {"metadata": {"name": "c"}})
    assert code == 201
    code, refused = await api.call("POST", NAMESPACES, {"metadata": {"name": "Prod"}})
    assert code == 422 and refused["details"]["causes"][0]["field"] == "metadata.name"
    code, _ = await api.call("PUT", f"{NAMESPACES}/prod/finalize", {"metadata": {"name": "prod"}})
    assert code == 200, "finalize with no finalizers is allowed"


async def test_a_deleted_namespace_empties_then_goes(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await SqliteStore.open(tmp_path / "zeroserve.db", clock=clock)
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status)
    try:
        async with (
            server,
            Controller(store, FakeRuntime(auto_ready=True), Config, clock=clock, workers=2),
            aiohttp.ClientSession(server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            api = Api(store, http)
            await api.call("POST", NAMESPACES, {"metadata": {"name": "team"}})
            code, _ = await api.call("POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "c"}})
            code, _ = await api.call(
                "POST", "/apis/serving.knative.dev/v1/namespaces/team/services", service("team", "hello")
            )
            assert code == 201
            held = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
            await api.call("POST", "/api/v1/namespaces/team/configmaps", held)
            await api.call("POST", CMS, {"metadata": {"name": "elsewhere"}})

            code, deleting = await api.call("DELETE", f"{NAMESPACES}/team")
            assert (code, deleting["status"]["phase"]) == (200, "Terminating")
            code, refused = await api.call("POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "x"}})
            assert (code, refused["reason"], refused["message"]) == (
                403,
                "Forbidden",
                'configmaps "x" is forbidden: unable to create new content in namespace team '
                "because it is being terminated",
            )

            async def only_the_held_one_is_left() -> bool:
                services, _ = await store.list(SERVICE, "team")
                cms, _ = await store.list(CONFIGMAP, "team")
                marked = [c["metadata"]["name"] for c in cms if c["metadata"].get("deletionTimestamp")]
                return not services and [c["metadata"]["name"] for c in cms] == marked == ["held"]

            await eventually(only_the_held_one_is_left)
            code, ns = await api.call("GET", f"{NAMESPACES}/team")
            assert (code, ns["status"]["phase"]) == (200, "Terminating"), "held by its content's finalizer"

            code, held_now = await api.call("GET", "/api/v1/namespaces/team/configmaps/held")
            held_now["metadata"]["finalizers"] = []
            code, _ = await api.call("PUT", "/api/v1/namespaces/team/configmaps/held", held_now)
            assert code == 200, "the held one was marked before it was read: nothing else writes it"

            async def gone() -> bool:
                code, _ = await api.call("GET", f"{NAMESPACES}/team")
                return code == 404

            await eventually(gone)
            code, _ = await api.call("GET", f"{CMS}/elsewhere")
            assert code == 200, "other namespaces keep their content"
    finally:
        await store.close()
