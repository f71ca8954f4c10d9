"""Pods through a real API server on 127.0.0.1: the pod mirror writes the instances of a scripted
instance source to a real SqliteStore; list, get, watch, label and field selectors, the Table, writes
refused, and the ``log`` subresource reading the instance's files (tail, container, follow to the end)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import TOKEN, admit
from zeroserve.api.kinds import POD, REVISION
from zeroserve.apiserver import ApiServer
from zeroserve.apiserver.logs import PodLogs
from zeroserve.clock import FakeClock
from zeroserve.controller.pods import PodMirror
from zeroserve.runtime.base import InstanceView, OnChange, WorkloadKey
from zeroserve.store import SqliteStore

KEY = WorkloadKey("default", "hello-00001")
PODS = "/api/v1/namespaces/default/pods"
A = "hello-00001-deployment-abcdefghij-aaaaa"
B = "hello-00001-deployment-abcdefghij-bbbbb"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


class Instances:
    """A scripted instance source (what LocalRuntime.instances reports)."""

    def __init__(self) -> None:
        self.views: dict[WorkloadKey, tuple[InstanceView, ...]] = {}
        self.callbacks: list[OnChange] = []

    def instances(self, key: WorkloadKey) -> tuple[InstanceView, ...]:
        return self.views.get(key, ())

    def keys(self) -> list[WorkloadKey]:
        return list(self.views)

    def subscribe(self, callback: OnChange) -> None:
        self.callbacks.append(callback)

    def set(self, key: WorkloadKey, *views: InstanceView) -> None:
        self.views[key] = views
        for callback in self.callbacks:
            callback(key)


@dataclass
class Env:
    http: aiohttp.ClientSession
    source: Instances
    mirror: PodMirror
    data: Path

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.get(path, **kw) as resp:
            return resp.status, await resp.json()

    async def text(self, path: str) -> tuple[int, str]:
        async with self.http.get(path) as resp:
            return resp.status, await resp.text()

    async def settle(self) -> None:
        await asyncio.wait_for(self.mirror.settled(), 10)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    store = await SqliteStore.open(tmp_path / "state.db")
    await store.create(
        REVISION,
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "metadata": {
                "name": "hello-00001",
                "namespace": "default",
                "labels": {"serving.knative.dev/service": "hello", "serving.knative.dev/configuration": "hello"},
            },
            "spec": {"containers": [{"image": "img@sha256:1", "ports": [{"containerPort": 8080}]}]},
        },
    )
    source = Instances()
    mirror = PodMirror(store, source, FakeClock(), node_name="box")
    server = ApiServer(store, admit, TOKEN, subresources={("pods", "log"): PodLogs(tmp_path, store)})
    task = asyncio.create_task(mirror.run())
    try:
        async with server, aiohttp.ClientSession(server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            yield Env(http, source, mirror, tmp_path)
    finally:
        task.cancel()
        await store.close()


def view(name: str, **kw: Any) -> InstanceView:
    fields: dict[str, Any] = {"started": True, "ready": True, "stopping": False, "started_at": 1.0e9, **kw}
    return InstanceView(name, **fields)


async def test_list_get_selectors_table_and_writes_refused(env: Env) -> None:
    env.source.set(KEY, view(A, queue_proxy=True), view(B, started=False, ready=False, started_at=None))
    await env.settle()
    code, pods = await env.get(PODS, params={"labelSelector": "serving.knative.dev/service=hello"})
    assert code == 200 and sorted(p["metadata"]["name"] for p in pods["items"]) == [A, B]
    code, none = await env.get(PODS, params={"labelSelector": "serving.knative.dev/service=other"})
    assert none["items"] == []
    code, pending = await env.get(PODS, params={"fieldSelector": "status.phase=Pending"})
    assert [p["metadata"]["name"] for p in pending["items"]] == [B]
    code, on_box = await env.get(PODS, params={"fieldSelector": f"spec.nodeName=box,metadata.name={A}"})
    assert [p["metadata"]["name"] for p in on_box["items"]] == [A]
    code, pod = await env.get(f"{PODS}/{A}")
    assert code == 200 and pod["status"]["phase"] == "Running" and pod["metadata"]["uid"]
    code, table = await env.get(PODS, headers=TABLE)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates",
    ]  # fmt: skip
    rows = {r["cells"][0]: r["cells"][1:4] for r in table["rows"]}
    assert rows == {A: ["2/2", "Running", "0"], B: ["0/1", "ContainerCreating", "0"]}
    for method, path in (("POST", PODS), ("DELETE", f"{PODS}/{A}"), ("PATCH", f"{PODS}/{A}"), ("PUT", f"{PODS}/{A}")):
        async with env.http.request(method, path, json=pod) as resp:
            body = await resp.json()
            assert resp.status == 405, (method, body)
            assert "read-only" in body["message"]
    async with env.http.get("/api/v1") as resp:
        listed = {r["name"]: r for r in (await resp.json())["resources"]}
    assert sorted(listed["pods"]["verbs"]) == ["get", "list", "watch"]


async def test_watch_sees_added_modified_and_deleted(env: Env) -> None:
    env.source.set(KEY, view(A, ready=False))
    await env.settle()
    params = {"watch": "true", "labelSelector": "serving.knative.dev/revision=hello-00001", "timeoutSeconds": "10"}
    async with env.http.get(PODS, params=params) as resp:
        first = json.loads(await resp.content.readline())
        assert (first["type"], first["object"]["status"]["containerStatuses"][0]["ready"]) == ("ADDED", False)
        env.source.set(KEY, view(A))
        modified = json.loads(await resp.content.readline())
        assert (modified["type"], modified["object"]["status"]["containerStatuses"][0]["ready"]) == ("MODIFIED", True)
        env.source.set(KEY, view(A, restarts=1))
        restarted = json.loads(await resp.content.readline())
        assert restarted["object"]["status"]["containerStatuses"][0]["restartCount"] == 1
        env.source.set(KEY)
        deleted = json.loads(await resp.content.readline())
        assert (deleted["type"], deleted["object"]["metadata"]["name"]) == ("DELETED", A)


async def test_an_earlier_runs_pods_are_deleted_at_start(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db")
    try:
        await store.create(
            REVISION,
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Revision",
                "metadata": {"name": "r", "namespace": "default"},
            },
        )
        source = Instances()
        source.views[WorkloadKey("default", "r")] = (view("r-deployment-x-y"),)
        first = PodMirror(store, source, FakeClock())
        await first.sync(WorkloadKey("default", "r"))
        assert len((await store.list(POD))[0]) == 1
        again = PodMirror(store, Instances(), FakeClock())  # a new run: no instance survived
        task = asyncio.create_task(again.run())
        await asyncio.wait_for(again.settled(), 10)
        task.cancel()
        assert (await store.list(POD))[0] == []
    finally:
        await store.close()


async def test_logs_tail_container_and_follow_until_the_pod_is_gone(env: Env) -> None:
    env.source.set(KEY, view(A, queue_proxy=True))
    await env.settle()
    app = env.data / "logs" / "default" / "hello-00001" / f"{A}.log"
    app.parent.mkdir(parents=True)
    app.write_text("one\ntwo\nthree\n")
    queue = env.data / "queue-proxy-logs" / "default" / "hello-00001" / f"{A}.log"
    queue.parent.mkdir(parents=True)
    queue.write_text("queue started\n")
    assert await env.text(f"{PODS}/{A}/log") == (200, "one\ntwo\nthree\n")
    assert await env.text(f"{PODS}/{A}/log?container=user-container&tailLines=2") == (200, "two\nthree\n")
    assert await env.text(f"{PODS}/{A}/log?container=queue-proxy") == (200, "queue started\n")
    code, bad = await env.get(f"{PODS}/{A}/log?container=nope")
    assert code == 400 and bad["message"] == f"container nope is not valid for pod {A}"
    code, bad = await env.get(f"{PODS}/{A}/log?tailLines=x")
    assert code == 400 and "tailLines" in bad["message"]
    assert (await env.get(f"{PODS}/nope/log"))[0] == 404
    code, bad = await env.get(f"{PODS}/{A}/log?previous=true")
    assert code == 400 and bad["message"] == f'previous terminated container "" in pod "{A}" not found'
    app.with_name(f"{A}.previous.log").write_text("before the restart\n")
    assert await env.text(f"{PODS}/{A}/log?previous=true") == (200, "before the restart\n")
    async with env.http.get(f"{PODS}/{A}/log", params={"follow": "true", "tailLines": "1"}) as resp:
        assert await resp.content.readline() == b"three\n"
        with app.open("a") as f:
            f.write("four\n")
        assert await resp.content.readline() == b"four\n"
        env.source.set(KEY)  # the instance is gone: the stream ends
        assert await asyncio.wait_for(resp.content.read(), 10) == b""


async def test_a_stopping_instance_is_unready_then_gone(env: Env) -> None:
    env.source.set(KEY, view(A))
    await env.settle()
    env.source.set(KEY, replace(view(A), ready=False, stopping=True))
    await env.settle()
    _, pod = await env.get(f"{PODS}/{A}")
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "False"
    env.source.set(KEY)
    await env.settle()
    assert (await env.get(f"{PODS}/{A}"))[0] == 404
