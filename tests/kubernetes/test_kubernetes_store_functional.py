"""KubernetesStore against a real Kubernetes-style API server on 127.0.0.1: zeroserve's own (the same
REST paths, watch, status subresource, DeleteOptions and Status errors a kube-apiserver speaks), in
place of a cluster CI cannot start."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import yaml

from tests.apiserver.apiserver_helpers import TOKEN, Running, running, service
from tests.support.polling import eventually
from zeroserve import errors
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, EVENT, NAMESPACE, SERVICE, Kind
from zeroserve.kubernetes.apiclient import Connection, KubeApi, Unreachable, connect, resource_path
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.store.base import Preconditions, WatchEvent


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    async for r in running(tmp_path):
        yield r


@pytest.fixture
async def store(api: Running) -> AsyncIterator[KubernetesStore]:
    s = KubernetesStore(KubeApi(Connection(api.url, token=lambda: TOKEN)))
    try:
        yield s
    finally:
        await s.close()


async def until(read: Callable[[], Awaitable[object]], expected: object, timeout: float = 10.0) -> None:
    """Wait (bounded) until ``read()`` gives ``expected``: what another writer did reaches the cache by the watch."""
    async with asyncio.timeout(timeout):
        while await read() != expected:
            await asyncio.sleep(0.01)  # wait-ok: polling interval of a deadline-bounded wait


def svc(name: str, ns: str = "default", labels: dict[str, str] | None = None, image: str = "img:1") -> Obj:
    obj = service(name, image)
    obj["metadata"]["namespace"] = ns
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def test_paths_are_kubernetes() -> None:
    assert resource_path(SERVICE, "a", "b", "status") == "/apis/serving.knative.dev/v1/namespaces/a/services/b/status"
    assert resource_path(SERVICE) == "/apis/serving.knative.dev/v1/services"
    assert resource_path(CONFIGMAP, "ns", "x y") == "/api/v1/namespaces/ns/configmaps/x%20y"
    assert resource_path(NAMESPACE, "ignored", "default") == "/api/v1/namespaces/default"


async def test_writes_go_to_the_server_and_reads_see_them_at_once(api: Running, store: KubernetesStore) -> None:
    created = await store.create(SERVICE, svc("hello", labels={"app": "a"}))
    assert created["metadata"]["uid"] and created["metadata"]["labels"]["admitted"] == "true"
    # read-your-writes: the cache has the server's answer before the watch event comes
    assert (await store.get(SERVICE, "default", "hello"))["metadata"]["uid"] == created["metadata"]["uid"]
    assert (await api.store.get(SERVICE, "default", "hello"))["metadata"]["uid"] == created["metadata"]["uid"]

    created["status"] = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "Unknown"}]}
    written = await store.update_status(SERVICE, created)
    assert written["status"]["observedGeneration"] == 1
    assert (await store.get(SERVICE, "default", "hello"))["status"]["observedGeneration"] == 1

    stale = dict(created)  # the resourceVersion before the status write
    with pytest.raises(errors.Conflict):
        await store.update(SERVICE, stale)
    current = await store.get(SERVICE, "default", "hello")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    updated = await store.update(SERVICE, current)
    assert updated["metadata"]["generation"] == 2

    with pytest.raises(errors.Conflict):
        await store.delete(SERVICE, "default", "hello", preconditions=Preconditions(uid="not-its-uid"))
    await store.delete(SERVICE, "default", "hello", propagation="Background")
    with pytest.raises(errors.NotFound, match=re.escape('services.serving.knative.dev "hello" not found')):
        await store.get(SERVICE, "default", "hello")
    with pytest.raises(errors.NotFound):
        await api.store.get(SERVICE, "default", "hello")


async def test_other_writers_reach_the_cache_through_the_watch(api: Running, store: KubernetesStore) -> None:
    assert await store.list(SERVICE) == ([], (await store.list(SERVICE))[1])
    await api.store.create(SERVICE, svc("a", labels={"tier": "web"}))
    await api.store.create(SERVICE, svc("b", ns="other"))

    async def names(namespace: str | None = None, label_selector: str | None = None) -> list[str]:
        objs, _ = await store.list(SERVICE, namespace, label_selector)
        return [o["metadata"]["name"] for o in objs]

    await until(names, ["a", "b"])
    assert await names(namespace="other") == ["b"]
    assert await names(label_selector="tier=web") == ["a"]
    assert await names(label_selector="tier!=web") == ["b"]
    await api.store.delete(SERVICE, "other", "b")
    await until(names, ["a"])


async def test_a_watch_replays_what_came_after_since_then_follows(api: Running, store: KubernetesStore) -> None:
    _, rv = await store.list(SERVICE)
    await store.create(SERVICE, svc("one"))
    await store.create(CONFIGMAP, {"metadata": {"name": "cm", "namespace": "default"}, "data": {"k": "v"}})
    seen: list[tuple[str, str, str]] = []

    async def follow() -> None:
        async for ev in store.watch((SERVICE, CONFIGMAP), since=rv):
            seen.append((ev.type, ev.kind.kind, ev.object["metadata"]["name"]))
            assert ev.resource_version == int(ev.object["metadata"]["resourceVersion"])

    task = asyncio.create_task(follow())
    try:
        await eventually(lambda: seen == [("ADDED", "Service", "one"), ("ADDED", "ConfigMap", "cm")], 10)
        await api.store.delete(CONFIGMAP, "default", "cm")  # another writer
        await eventually(lambda: seen[-1:] == [("DELETED", "ConfigMap", "cm")], 10)
    finally:
        task.cancel()


async def test_a_watch_from_before_the_history_is_gone(api: Running) -> None:
    store = KubernetesStore(KubeApi(Connection(api.url, token=lambda: TOKEN)), history=2)
    try:
        _, rv = await store.list(SERVICE)
        for name in ("a", "b", "c"):
            await api.store.create(SERVICE, svc(name))
        await until(lambda: _count(store), 3)
        with pytest.raises(errors.Gone):
            await anext(store.watch((SERVICE,), since=rv))
    finally:
        await store.close()


async def _count(store: KubernetesStore) -> int:
    return len((await store.list(SERVICE))[0])


async def test_a_relist_announces_what_the_watch_missed(api: Running, store: KubernetesStore) -> None:
    await store.create(SERVICE, svc("stays"))
    await store.create(SERVICE, svc("goes"))
    await until(lambda: _count(store), 2)
    informer = store._informers[SERVICE]
    assert informer.task is not None
    informer.task.cancel()  # the watch is down (as while the server was unreachable)
    await api.store.delete(SERVICE, "default", "goes")
    await api.store.create(SERVICE, svc("new"))
    events: list[WatchEvent] = []

    async def follow() -> None:
        async for ev in store.watch((SERVICE,)):
            events.append(ev)

    task = asyncio.create_task(follow())
    try:
        await eventually(lambda: len(store._watchers) == 1, 10)
        await informer.list_now()
        await eventually(lambda: len(events) == 2, 10)
        assert sorted((e.type, e.object["metadata"]["name"]) for e in events) == [("ADDED", "new"), ("DELETED", "goes")]
        assert [o["metadata"]["name"] for o in (await store.list(SERVICE))[0]] == ["new", "stays"]
    finally:
        task.cancel()


async def test_uncached_kinds_are_read_from_the_server(api: Running, store: KubernetesStore) -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {"kind": "Service", "name": "x", "namespace": "default"},
        "reason": "Created",
        "message": "m",
        "type": "Normal",
    }
    await store.create(EVENT, event)
    assert (await store.get(EVENT, "default", "e1"))["reason"] == "Created"
    assert [e["metadata"]["name"] for e in (await store.list(EVENT, "default"))[0]] == ["e1"]
    assert EVENT not in store._informers


async def test_a_kind_the_server_does_not_serve_is_the_callers_error(store: KubernetesStore) -> None:
    missing = Kind("example.com", "v1", "Widget", "widgets", "widget", SERVICE.model)
    with pytest.raises(errors.NotFound):
        await store.list(missing)
    with pytest.raises(errors.NotFound):
        await store.get(missing, "default", "w")


async def test_invalid_objects_keep_their_field_paths(store: KubernetesStore) -> None:
    with pytest.raises(errors.Invalid) as e:
        await store.create(SERVICE, svc("bad", image=""))
    assert "spec.template.spec.containers[0].image" in str(e.value)


async def test_an_unreachable_server_says_where(tmp_path: Path) -> None:
    api = KubeApi(Connection("http://127.0.0.1:9", token=lambda: ""))
    try:
        with pytest.raises(Unreachable, match=re.escape("127.0.0.1:9")):
            await api.request("GET", "/api/v1/namespaces")
    finally:
        await api.close()


async def test_connect_reads_a_kubeconfig(api: Running, tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": api.url}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(doc))
    conn = connect(str(path))
    assert conn.server == api.url and conn.token() == f"Bearer {TOKEN}"
    async with KubeApi(conn) as kube:
        body = await kube.request("GET", resource_path(SERVICE, "default"))
    assert body["kind"] == "ServiceList"
    with pytest.raises(errors.ZeroserveError, match="no Kubernetes cluster"):
        connect(str(tmp_path / "missing"))
    wrong = KubeApi(Connection(api.url, token=lambda: "wrong"))
    try:
        with pytest.raises(errors.Unauthorized):
            await wrong.request("GET", resource_path(SERVICE, "default"))
    finally:
        await wrong.close()
