"""The garbage collector (Kubernetes' pkg/controller/garbagecollector): the pure owner graph, then the
collector in a running Controller against a real SQLite store."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest

from tests.controller.test_sks_reconciler import ScalingDeciders
from zeroserve.api.base import Obj
from zeroserve.api.kinds import (
    CONFIGURATION,
    EVENT,
    KINDS,
    PODAUTOSCALER,
    REVISION,
    ROUTE,
    SERVERLESSSERVICE,
    SERVICE,
    Kind,
)
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.garbagecollector import OwnerGraph, gc_key
from zeroserve.controller.runner import Controller
from zeroserve.errors import NotFound
from zeroserve.runtime.base import WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.base import WatchEvent
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import condition, eventually, service

# --- the owner graph (pure) -----------------------------------------------------------------------


def obj(name: str, uid: str, *owners: str, finalizers: tuple[str, ...] = ()) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": uid}
    if owners:
        meta["ownerReferences"] = [{"apiVersion": "v", "kind": "K", "name": o, "uid": o} for o in owners]
    if finalizers:
        meta.update(deletionTimestamp="2026-01-01T00:00:00Z", finalizers=list(finalizers))
    return {"metadata": meta}


def k(name: str) -> Key:
    return gc_key("Configuration", "ns", name)


def test_an_object_whose_owner_was_never_seen_is_looked_at() -> None:
    graph = OwnerGraph()
    assert graph.observe(k("a"), obj("a", "ua")) == []
    assert graph.observe(k("b"), obj("b", "ub", "ua")) == [], "its owner is known"
    assert graph.observe(k("c"), obj("c", "uc", "u-gone")) == [k("c")], "its owner is not known"


def test_deleting_an_owner_makes_its_dependents_dangle() -> None:
    graph = OwnerGraph()
    graph.observe(k("a"), obj("a", "ua"))
    graph.observe(k("b"), obj("b", "ub", "ua"))
    graph.observe(k("c"), obj("c", "uc", "ua"))
    assert graph.forget(k("a"), obj("a", "ua")) == [k("b"), k("c")]
    assert graph.forget(k("a"), obj("a", "ua")) == [], "an unknown delete changes nothing"
    graph.observe(k("b"), obj("b", "ub"))  # its reference was removed
    assert graph.dependents_of("ua") == [k("c")]


def held(graph: OwnerGraph, uid: str) -> object:
    return graph.dependents.get(uid)


def test_an_owner_holds_its_one_dependent_alone_and_a_set_for_more() -> None:
    graph = OwnerGraph()
    graph.observe(k("b"), obj("b", "ub", "ua"))
    assert held(graph, "ua") == k("b")
    graph.observe(k("c"), obj("c", "uc", "ua"))
    graph.observe(k("c"), obj("c", "uc", "ua"))  # seen again: nothing changes
    assert held(graph, "ua") == frozenset({k("b"), k("c")})
    assert graph.has_dependents("ua") and graph.dependents_of("ua") == [k("b"), k("c")]
    graph.observe(k("b"), obj("b", "ub"))  # its reference was removed
    assert held(graph, "ua") == k("c")
    assert graph.forget(k("c"), obj("c", "uc", "ua")) == []
    assert "ua" not in graph.dependents and not graph.has_dependents("ua") and graph.dependents_of("ua") == []


def test_a_re_created_name_is_a_new_object() -> None:
    graph = OwnerGraph()
    graph.observe(k("a"), obj("a", "ua-1"))
    graph.observe(k("b"), obj("b", "ub", "ua-1"))
    assert graph.observe(k("a"), obj("a", "ua-2")) == [k("b")], "the old owner is gone"
    assert graph.forget(k("a"), obj("a", "ua-1")) == [], "a stale delete of the old uid"
    assert graph.keys["ua-2"] == k("a")


def test_an_object_listing_an_owner_twice_depends_on_it_once_and_keys_share_their_strings() -> None:
    graph = OwnerGraph()
    graph.observe(k("a"), obj("a", "ua"))
    uid = "".join(["u", "a"])  # made at run time: not the interned constant
    graph.observe(k("b"), obj("b", "ub", uid, uid))
    assert graph.owners[k("b")] == ("ua",) and graph.owners[k("b")][0] is sys.intern("ua")
    assert graph.dependents_of("ua") == [k("b")]
    name = "".join(["svc-", "1"])
    assert gc_key("Route", "ns", name).name is sys.intern("svc-1")
    assert graph.forget(k("a"), obj("a", "ua")) == [k("b")]


def test_foreground_deletion_queues_the_dependents_and_their_end_the_owner() -> None:
    graph = OwnerGraph()
    graph.observe(k("a"), obj("a", "ua"))
    graph.observe(k("b"), obj("b", "ub", "ua"))
    assert graph.observe(k("a"), obj("a", "ua", finalizers=("foregroundDeletion",))) == [k("a"), k("b")]
    assert graph.observe(k("c"), obj("c", "uc", "ua")) == [k("c")], "a dependent of a waiting owner"
    assert graph.forget(k("b"), obj("b", "ub", "ua")) == [k("a")], "the waiting owner looks again"
    assert graph.observe(k("a"), obj("a", "ua", finalizers=("orphan",))) == [k("a")]
    assert "ua" not in graph.foreground


# --- the collector in the controller ----------------------------------------------------------------


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(":memory:", clock=FakeClock())
    yield s
    await s.close()


CHILDREN: tuple[tuple[Kind, str], ...] = (
    (CONFIGURATION, "hello"),
    (ROUTE, "hello"),
    (REVISION, "hello-00001"),
    (PODAUTOSCALER, "hello-00001"),
    (SERVERLESSSERVICE, "hello-00001"),
)


async def exists(store: SqliteStore, kind: Kind, name: str) -> bool:
    try:
        await store.get(kind, "default", name)
    except NotFound:
        return False
    return True


async def ready(store: SqliteStore, name: str = "hello") -> None:
    async def probe() -> bool:
        try:
            svc = await store.get(SERVICE, "default", name)
        except NotFound:
            return False
        return bool(condition(svc, "Ready").get("status") == "True")

    await eventually(probe)


async def all_gone(store: SqliteStore, names: list[str]) -> None:
    async def probe() -> bool:
        for kind in KINDS:
            if kind is EVENT:
                continue  # events outlive their objects until their TTL, as Kubernetes' do
            items, _ = await store.list(kind)
            if any(o["metadata"]["name"].rsplit("-0000", 1)[0] in names for o in items):
                return False
        return True

    await eventually(probe)


def controller(store: SqliteStore, runtime: FakeRuntime) -> Controller:
    """Autoscaled (a stand-in multiscaler), so PodAutoscalers own ServerlessServices as in `up`."""
    return Controller(store, runtime, Config, clock=FakeClock(), workers=2, multiscaler=ScalingDeciders())


async def test_a_deleted_service_takes_every_dependent_with_it(store: SqliteStore) -> None:
    runtime = FakeRuntime(auto_ready=True)
    async with controller(store, runtime):
        await store.create(SERVICE, service("default", "hello"))
        await ready(store)
        assert all([await exists(store, kind, name) for kind, name in CHILDREN])
        await store.delete(SERVICE, "default", "hello")
        await all_gone(store, ["hello"])

        async def removed() -> bool:
            return WorkloadKey("default", "hello-00001") in runtime.removed

        await eventually(removed)


async def test_a_child_created_for_an_owner_already_gone_is_collected(store: SqliteStore) -> None:
    """The race of the issue: a reconciler read its Service, the Service was deleted, then it created
    the child. Before the collector the child lived forever (and kept its name from a new Service)."""
    runtime = FakeRuntime(auto_ready=True)
    parent = await store.create(SERVICE, service("default", "keep"))
    ref = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "controller": True, "blockOwnerDeletion": True}
    dangling = [{**ref, "name": "hello", "uid": "3b8a0d8e-0000-4000-8000-000000000000"}]
    live = [{**ref, "name": "keep", "uid": parent["metadata"]["uid"]}]
    await store.create(ROUTE, {"metadata": {"name": "hello", "ownerReferences": dangling}, "spec": {}})
    await store.create(ROUTE, {"metadata": {"name": "shared", "ownerReferences": dangling + live}, "spec": {}})
    async with controller(store, runtime):

        async def collected() -> bool:
            shared = await store.get(ROUTE, "default", "shared")
            return not await exists(store, ROUTE, "hello") and shared["metadata"]["ownerReferences"] == live

        await eventually(collected)
        await store.create(SERVICE, service("default", "hello"))
        await ready(store)
        route = await store.get(ROUTE, "default", "hello")
        assert (
            route["metadata"]["ownerReferences"][0]["uid"]
            == (await store.get(SERVICE, "default", "hello"))["metadata"]["uid"]
        )


async def test_services_deleted_right_after_creation_leave_nothing(store: SqliteStore) -> None:
    runtime = FakeRuntime(auto_ready=True)
    names = [f"race-{i}" for i in range(20)]
    async with controller(store, runtime):
        for name in names:
            await store.create(SERVICE, service("default", name))
            await store.delete(SERVICE, "default", name)
        await all_gone(store, names)
        await store.create(SERVICE, service("default", names[0]))
        await ready(store, names[0])


async def deletions(events: AsyncIterator[WatchEvent], until: tuple[str, str]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    async for event in events:
        if event.type == "DELETED":
            seen.append((event.kind.kind, event.object["metadata"]["name"]))
            if seen[-1] == until:
                return seen
    raise AssertionError("the watch ended")


async def test_foreground_deletion_removes_the_owner_last(store: SqliteStore) -> None:
    runtime = FakeRuntime(auto_ready=True)
    async with controller(store, runtime):
        await store.create(SERVICE, service("default", "hello"))
        await ready(store)
        events = store.watch(KINDS)
        marked = await store.delete(SERVICE, "default", "hello", "Foreground")
        assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
        order = await eventually(lambda: deletions(events, ("Service", "hello")))
        await events.aclose()  # type: ignore[attr-defined]
    assert order[-1] == ("Service", "hello")
    assert sorted(order[:-1]) == sorted((kind.kind, name) for kind, name in CHILDREN)
    assert order.index(("ServerlessService", "hello-00001")) < order.index(("PodAutoscaler", "hello-00001"))
    assert order.index(("PodAutoscaler", "hello-00001")) < order.index(("Revision", "hello-00001"))
    assert order.index(("Revision", "hello-00001")) < order.index(("Configuration", "hello"))


async def test_orphan_deletion_keeps_the_dependents_without_the_owner(store: SqliteStore) -> None:
    runtime = FakeRuntime(auto_ready=True)
    async with controller(store, runtime):
        await store.create(SERVICE, service("default", "hello"))
        await ready(store)
        await store.delete(SERVICE, "default", "hello", "Orphan")
        await eventually(lambda: _gone(store, SERVICE, "hello"))
        for kind in (CONFIGURATION, ROUTE):
            child = await store.get(kind, "default", "hello")
            assert "ownerReferences" not in child["metadata"], kind.kind
        rev = await store.get(REVISION, "default", "hello-00001")
        assert rev["metadata"]["ownerReferences"][0]["kind"] == "Configuration", "only the Service's edges go"


async def _gone(store: SqliteStore, kind: Kind, name: str) -> bool:
    return not await exists(store, kind, name)
