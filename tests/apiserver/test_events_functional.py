"""Core v1 Events through a real API server on 127.0.0.1 with real admission: discovery, create and
validation, the field selectors kubectl describe and kubectl events send, the server's Event Table
(kube-apiserver's printEvent columns), a watch by field selector, and the events a running
controller records, read back through the API."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from zeroserve.api import admission
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.clock import SystemClock, rfc3339
from zeroserve.config import Config
from zeroserve.controller.runner import Controller
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store import SqliteStore
from zeroserve.testing import eventually, service

TOKEN = "t"
EVENTS = "/api/v1/namespaces/default/events"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io"}
KSVC = "/apis/serving.knative.dev/v1/namespaces/default/services"


class Api:
    def __init__(self, store: SqliteStore, http: aiohttp.ClientSession) -> None:
        self.store = store
        self.http = http

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
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


def event(name: str, obj: str, uid: str, reason: str = "Created", type_: str = "Normal", **more: Any) -> dict[str, Any]:
    now = rfc3339(SystemClock().wall())
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "name": obj,
            "namespace": "default",
            "uid": uid,
        },
        "reason": reason,
        "message": f"  {reason} {obj}  ",
        "type": type_,
        "source": {"component": "service-controller"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        **more,
    }


async def test_discovery_lists_events(api: Api) -> None:
    _, doc = await api.call("GET", "/api/v1")
    resources = {r["name"]: r for r in doc["resources"]}
    assert resources["events"]["kind"] == "Event"
    assert resources["events"]["shortNames"] == ["ev"] and resources["events"]["namespaced"] is True
    assert "events/status" not in resources


async def test_kubectl_describes_field_selector_finds_an_objects_events(api: Api) -> None:
    for body in (
        event("hello.1", "hello", "u-1"),
        event("hello.2", "hello", "u-1", reason="InternalError", type_="Warning"),
        event("hello.3", "hello", "u-old"),  # an earlier object of the same name
        event("other.1", "other", "u-2"),
    ):
        code, created = await api.call("POST", EVENTS, body)
        assert code == 201, created

    async def names(selector: str, path: str = EVENTS) -> list[str]:
        code, listed = await api.call("GET", path, params={"fieldSelector": selector, "limit": "500"})
        assert code == 200, listed
        return [e["metadata"]["name"] for e in listed["items"]]

    describe = "involvedObject.kind=Service,involvedObject.name=hello,involvedObject.namespace=default,"
    assert await names(describe + "involvedObject.uid=u-1") == ["hello.1", "hello.2"]
    kubectl_events = (
        "involvedObject.kind=Service,involvedObject.apiVersion=serving.knative.dev/v1,involvedObject.name=hello"
    )
    assert await names(kubectl_events) == ["hello.1", "hello.2", "hello.3"]
    assert await names("type=Warning", "/api/v1/events") == ["hello.2"]
    assert await names("reason!=Created,source=service-controller") == ["hello.2"]
    code, refused = await api.call("GET", EVENTS, params={"fieldSelector": "involvedObject.color=red"})
    assert code == 400 and "field label not supported: involvedObject.color" in refused["message"]


async def test_the_event_table_is_kube_apiservers(api: Api) -> None:
    await api.call("POST", EVENTS, event("hello.1", "hello", "u-1", count=3))
    await api.call("POST", EVENTS, event("hello.2", "", "u-1", reason="Boom", type_="Warning", count=0))
    code, table = await api.call("GET", EVENTS, headers=TABLE)
    assert code == 200 and table["kind"] == "Table"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    first, second = (row["cells"] for row in table["rows"])
    assert first[1:] == [
        "Normal",
        "Created",
        "service/hello",
        "",
        "service-controller",
        "Created hello",
        first[7],
        3,
        "hello.1",
    ]
    assert first[0].endswith("s") and first[0][:-1].isdigit()  # seconds since lastTimestamp
    assert second[3] == "service" and second[8] == 1  # no name: the kind alone; no count: a singleton
    assert table["rows"][0]["object"]["metadata"]["name"] == "hello.1"


async def test_bad_events_are_refused_with_their_field_paths(api: Api) -> None:
    wrong_ns = event("hello.1", "hello", "u-1")
    wrong_ns["involvedObject"]["namespace"] = "prod"
    code, status = await api.call("POST", EVENTS, wrong_ns)
    assert code == 422
    assert (
        status["message"]
        == 'Event "hello.1" is invalid: involvedObject.namespace: Invalid value: "prod": does not match event.namespace'
    )
    newer = event("hello/x", "hello", "u-1", eventTime="2026-01-01T00:00:00.000000Z", message="x" * 1025)
    code, status = await api.call("POST", EVENTS, newer)
    assert code == 422
    causes = {c["field"] for c in status["details"]["causes"]}
    assert causes == {"metadata.name", "reportingComponent", "reportingInstance", "action", "message"}


async def test_a_watch_by_field_selector_sees_only_its_objects_events(api: Api) -> None:
    params = {"watch": "true", "fieldSelector": "involvedObject.name=hello", "timeoutSeconds": "5"}
    async with api.http.get(EVENTS, params=params) as resp:
        await api.call("POST", EVENTS, event("other.1", "other", "u-2"))
        await api.call("POST", EVENTS, event("hello.1", "hello", "u-1"))
        line = await asyncio.wait_for(resp.content.readline(), 5)
    got = json.loads(line)
    assert (got["type"], got["object"]["metadata"]["name"]) == ("ADDED", "hello.1")


async def test_a_controllers_events_are_read_back_with_describes_selector(api: Api) -> None:
    async with Controller(api.store, FakeRuntime(auto_ready=True), Config, workers=2):
        code, svc = await api.call("POST", KSVC, service("default", "hello"))
        assert code == 201, svc
        uid = svc["metadata"]["uid"]
        selector = (
            "involvedObject.kind=Service,involvedObject.name=hello,involvedObject.namespace=default,"
            f"involvedObject.uid={uid}"
        )

        async def created() -> list[str] | None:
            _, listed = await api.call("GET", EVENTS, params={"fieldSelector": selector})
            messages = sorted(e["message"] for e in listed["items"])
            return messages if len(messages) == 2 else None

        assert await eventually(created) == ['Created Configuration "hello"', 'Created Route "hello"']
