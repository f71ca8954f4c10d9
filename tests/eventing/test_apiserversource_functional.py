"""The ApiServerSource adapter against a real store and a real recorder on 127.0.0.1: a Service's add,
update and delete in Resource and Reference modes (selectors and namespaces honoured), and the
durable cursor (a stopped adapter, restarted, sends what changed meanwhile once, in order, and
nothing it had sent before)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.polling import eventually
from zeroserve.api.base import Obj
from zeroserve.api.kinds import API_KINDS, APISERVERSOURCE, SERVICE
from zeroserve.eventing.apiserversource import STATE_FILE, ApiServerSourceAdapters
from zeroserve.eventing.dispatch import Sender
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import service

API = "https://127.0.0.1:8001"


@dataclass
class Received:
    path: str
    ce: dict[str, str]
    data: Any


@dataclass
class Recorder:
    """A real HTTP sink that records every binary CloudEvent, by path."""

    seen: list[Received] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> Recorder:
        async def handle(request: web.Request) -> web.Response:
            ce = {k.lower()[3:]: v for k, v in request.headers.items() if k.lower().startswith("ce-")}
            self.seen.append(Received(request.path, ce, json.loads(await request.read())))
            return web.Response(status=202)

        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    def at(self, path: str) -> list[Received]:
        return [r for r in self.seen if r.path == path]


@dataclass
class Running:
    adapters: ApiServerSourceAdapters
    task: Any

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "state.db")
    yield s
    await s.close()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    r = await Recorder().start()
    yield r
    assert r.runner is not None
    await r.runner.cleanup()


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    s = Sender()
    yield s
    await s.close()


async def start(store: SqliteStore, sender: Sender, data_dir: Path) -> Running:
    adapters = ApiServerSourceAdapters(store, sender, API, data_dir, API_KINDS)
    running = Running(adapters, asyncio.create_task(adapters.run()))
    await asyncio.wait_for(adapters.listed.wait(), 5)
    return running


async def make_source(store: SqliteStore, name: str, mode: str, sink: str, **spec: Any) -> Obj:
    """A source as its reconciler leaves it: the sink resolved into ``status.sinkUri``."""
    body: Obj = {
        "mode": mode,
        "resources": [{"apiVersion": "serving.knative.dev/v1", "kind": "Service"}],
        "sink": {"uri": sink},
        **spec,
    }
    obj = {
        "apiVersion": APISERVERSOURCE.api_version,
        "kind": "ApiServerSource",
        "metadata": {"name": name, "namespace": "default"},
    }
    created = await store.create(APISERVERSOURCE, {**obj, "spec": body})
    created["status"] = {"sinkUri": sink, "namespaces": ["default"]}
    return await store.update_status(APISERVERSOURCE, created)


async def change_service(store: SqliteStore, name: str, image: str) -> None:
    svc = await store.get(SERVICE, "default", name)
    svc["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await store.update(SERVICE, svc)


def types(seen: list[Received]) -> list[str]:
    return [r.ce["type"] for r in seen]


async def test_resource_and_reference_modes(
    store: SqliteStore, recorder: Recorder, sender: Sender, tmp_path: Path
) -> None:
    await make_source(store, "full", "Resource", recorder.url + "/full")
    selector = {"matchLabels": {"app": "watched"}}
    labelled = [{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "selector": selector}]
    await make_source(store, "refs", "Reference", recorder.url + "/refs", resources=labelled)
    running = await start(store, sender, tmp_path)
    try:
        await store.create(SERVICE, service("other", "ignored"))  # another namespace: neither source sees it
        await store.create(SERVICE, service("default", "plain"))  # no label: only the Resource-mode source
        watched = service("default", "hello")
        watched["metadata"]["labels"] = {"app": "watched"}
        await store.create(SERVICE, watched)
        await change_service(store, "hello", "example.test/hello:v2")
        await store.delete(SERVICE, "default", "hello")
        await eventually(lambda: len(recorder.at("/full")) == 4 and len(recorder.at("/refs")) == 3, 10)
    finally:
        await running.stop()

    full, refs = recorder.at("/full"), recorder.at("/refs")
    assert types(full) == [
        "dev.knative.apiserver.resource.add",
        "dev.knative.apiserver.resource.add",
        "dev.knative.apiserver.resource.update",
        "dev.knative.apiserver.resource.delete",
    ]
    assert [r.ce["name"] for r in full] == ["plain", "hello", "hello", "hello"]
    add = full[1]
    assert add.ce["source"] == API
    assert add.ce["subject"] == "/apis/serving.knative.dev/v1/namespaces/default/services/hello"
    assert (add.ce["kind"], add.ce["apiversion"], add.ce["namespace"]) == (
        "Service",
        "serving.knative.dev/v1",
        "default",
    )
    assert add.data["metadata"]["name"] == "hello" and add.data["kind"] == "Service"
    assert full[2].data["spec"]["template"]["spec"]["containers"][0]["image"] == "example.test/hello:v2"
    assert types(refs) == [
        "dev.knative.apiserver.ref.add",
        "dev.knative.apiserver.ref.update",
        "dev.knative.apiserver.ref.delete",
    ]
    assert refs[0].data == {
        "kind": "Service",
        "namespace": "default",
        "name": "hello",
        "apiVersion": "serving.knative.dev/v1",
    }
    assert len({r.ce["id"] for r in recorder.seen}) == len(recorder.seen)


async def test_restart_resumes_from_the_durable_cursor(
    store: SqliteStore, recorder: Recorder, sender: Sender, tmp_path: Path
) -> None:
    await make_source(store, "s", "Resource", recorder.url + "/s", ceOverrides={"extensions": {"team": "a"}})
    running = await start(store, sender, tmp_path)
    await store.create(SERVICE, service("default", "first"))
    await eventually(lambda: len(recorder.seen) == 1, 10)
    await running.stop()
    assert json.loads((tmp_path / STATE_FILE).read_text())  # the cursor is on disk

    # While the adapter is down: a second Service, a change and a delete of the first.
    await store.create(SERVICE, service("default", "second"))
    await change_service(store, "first", "example.test/first:v2")
    await change_service(store, "second", "example.test/second:v2")
    await store.delete(SERVICE, "default", "first")
    assert len(recorder.seen) == 1

    running = await start(store, sender, tmp_path)
    try:
        await eventually(lambda: len(recorder.seen) == 5, 10)
        await store.create(SERVICE, service("default", "third"))  # and live changes go on
        await eventually(lambda: len(recorder.seen) == 6, 10)
    finally:
        await running.stop()

    assert [(r.ce["type"].rsplit(".", 1)[1], r.ce["name"]) for r in recorder.seen] == [
        ("add", "first"),
        ("add", "second"),
        ("update", "first"),
        ("update", "second"),
        ("delete", "first"),
        ("add", "third"),
    ]
    assert all(r.ce["team"] == "a" for r in recorder.seen)

    # A third start with nothing changed sends nothing again (no re-list, no duplicate adds).
    running = await start(store, sender, tmp_path)
    try:
        await store.create(SERVICE, service("default", "fourth"))
        await eventually(lambda: len(recorder.seen) == 7, 10)
    finally:
        await running.stop()
    assert [(r.ce["type"].rsplit(".", 1)[1], r.ce["name"]) for r in recorder.seen[6:]] == [("add", "fourth")]


async def test_a_deleted_source_forgets_its_cursor(
    store: SqliteStore, recorder: Recorder, sender: Sender, tmp_path: Path
) -> None:
    source = await make_source(store, "s", "Reference", recorder.url + "/s")
    running = await start(store, sender, tmp_path)
    try:
        await store.create(SERVICE, service("default", "first"))
        await eventually(lambda: len(recorder.seen) == 1, 10)
        await store.delete(APISERVERSOURCE, "default", "s")
        uid = source["metadata"]["uid"]
        await eventually(lambda: uid not in json.loads((tmp_path / STATE_FILE).read_text()), 10)
        await store.create(SERVICE, service("default", "second"))
        await make_source(store, "marker", "Reference", recorder.url + "/marker")
        await store.create(SERVICE, service("default", "third"))
        await eventually(lambda: len(recorder.at("/marker")) == 1, 10)
    finally:
        await running.stop()
    assert [r.data["name"] for r in recorder.at("/s")] == ["first"]
    assert [r.data["name"] for r in recorder.at("/marker")] == ["third"]
