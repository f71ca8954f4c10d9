"""A Revision's events reach its Configuration and Routes only when they change what those read."""

from __future__ import annotations

import copy

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.readers import RevisionReaders, route_view
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue
from zeroserve.controller.runner import Controller
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import configuration, eventually, route


def revision(ready: str | None = None, reason: str = "", message: str = "", **status: object) -> Obj:
    conditions = [{"type": "Active", "status": "Unknown", "reason": "Deploying"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": reason, "message": message})
    return {
        "metadata": {
            "name": "hello-00001",
            "namespace": "default",
            "generation": 1,
            "labels": {"serving.knative.dev/configuration": "hello"},
            "annotations": {"serving.knative.dev/routes": "hello"},
            "ownerReferences": [{"kind": "Configuration", "name": "hello", "uid": "u1", "controller": True}],
        },
        "status": {"observedGeneration": 1, "conditions": conditions, **status},
    }


def test_what_the_configuration_and_routes_do_not_read_leaves_the_view_as_it_was() -> None:
    base = route_view(revision("Unknown", "Deploying"))
    assert route_view(revision("Unknown", "Deploying", actualReplicas=3, desiredReplicas=3)) == base
    assert route_view(revision("Unknown", "Activating", "scaling up")) == base, "Unknown is Unknown"
    assert route_view(revision(None)) == base, "no Ready condition reads as Unknown"
    pending = revision("True")
    pending["metadata"]["generation"] = 2  # observedGeneration 1: not ready for this generation
    assert route_view(pending) == base
    other = revision("Unknown", "Deploying")
    other["status"]["conditions"][0] = {"type": "Active", "status": "False", "reason": "NoTraffic"}
    other["status"]["imageDigest"] = "img@sha256:" + "0" * 64
    assert route_view(other) == base


def test_what_they_read_changes_the_view() -> None:
    base = route_view(revision("Unknown"))
    assert route_view(revision("True")) != base
    failed = route_view(revision("False", "ExitCode1", "it crashed"))
    assert failed != base
    assert route_view(revision("False", "ExitCode1", "it crashed again")) != failed, "a failure's message"
    for path, value in (
        (("metadata", "labels"), {"serving.knative.dev/routingState": "reserve"}),
        (("metadata", "annotations"), {"serving.knative.dev/routes": "hello,other"}),
        (("metadata", "deletionTimestamp"), "2026-12-07T00:00:00Z"),
        (
            ("metadata", "ownerReferences"),
            [{"kind": "Configuration", "name": "hello", "uid": "u2", "controller": True}],
        ),
    ):
        changed = copy.deepcopy(revision("Unknown"))
        changed[path[0]][path[1]] = value
        assert route_view(changed) != base, path


def test_readiness_and_the_rest_are_told_apart() -> None:
    readers = RevisionReaders()
    readers.changed("default", "hello-00001", revision("Unknown"), deleted=False)
    moved = readers.changed("default", "hello-00001", revision("True"), deleted=False)
    assert moved.readiness and not moved.rest
    marked = revision("True")
    marked["metadata"]["labels"]["serving.knative.dev/routingState"] = "reserve"
    moved = readers.changed("default", "hello-00001", marked, deleted=False)
    assert moved.rest and not moved.readiness


def test_the_latest_ready_revision_of_each_configuration() -> None:
    readers = RevisionReaders()
    assert not readers.routed_by_configuration("default", "hello", "hello-00001")
    config = {"metadata": {"name": "hello"}, "status": {"latestReadyRevisionName": "hello-00001"}}
    readers.configuration("default", "hello", config, deleted=False)
    assert readers.routed_by_configuration("default", "hello", "hello-00001")
    assert not readers.routed_by_configuration("default", "hello", "hello-00002")
    readers.configuration("default", "hello", config, deleted=True)
    assert not readers.routed_by_configuration("default", "hello", "hello-00001")


def test_the_first_event_and_a_deletion_reach_the_readers() -> None:
    readers = RevisionReaders()
    assert readers.changed("default", "hello-00001", revision(), deleted=False), "first seen"
    assert not readers.changed("default", "hello-00001", revision("Unknown", "Deploying", actualReplicas=0), False)
    assert readers.changed("default", "hello-00001", revision("True"), deleted=False)
    assert readers.changed("default", "hello-00001", revision("True"), deleted=True)
    assert readers.changed("default", "hello-00001", revision("True"), deleted=False), "forgotten when deleted"


class Recorder:
    def __init__(self) -> None:
        self.passes: list[str] = []

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        self.passes.append(key.name)
        return None


async def nothing(deps: Deps, key: Key) -> Requeue:
    return None


async def test_through_the_controller_a_replica_count_does_not_reconcile_the_configuration() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=1)
        configurations = Recorder()
        controller.reconcilers[CONFIGURATION.kind] = configurations.reconcile
        controller.reconcilers[REVISION.kind] = nothing
        controller.reconcilers[SERVICE.kind] = nothing
        async with controller:
            config = await store.create(CONFIGURATION, configuration("default", "hello"))
            rev = revision("Unknown", "Deploying")
            rev["metadata"]["ownerReferences"][0]["uid"] = config["metadata"]["uid"]
            del rev["status"]
            rev["spec"] = {"containers": [{"image": "img"}]}
            created = await store.create(REVISION, rev)

            async def settled(marker: str) -> bool:
                return marker in configurations.passes

            marker = 0

            async def mark() -> None:  # one worker: each key enqueued before the marker's is done then
                nonlocal marker
                marker += 1
                await store.create(CONFIGURATION, configuration("default", f"marker-{marker}"))
                await eventually(lambda: settled(f"marker-{marker}"))

            await mark()
            assert configurations.passes.count("hello") == 2, "its own event, its revision's first"
            status = revision("Unknown", "Deploying", actualReplicas=0)["status"]
            scaled = await store.update_status(REVISION, {**created, "status": status})
            await mark()
            assert configurations.passes.count("hello") == 2, "a Ready condition still Unknown"
            ready = revision("True", actualReplicas=1)["status"]
            await store.update_status(REVISION, {**scaled, "status": ready})
            await mark()
            assert configurations.passes.count("hello") == 3, "Ready"
    finally:
        await store.close()


async def test_a_route_hears_of_a_revisions_readiness_while_its_configuration_names_it_latest_ready() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=1)
        routes = Recorder()
        controller.reconcilers[ROUTE.kind] = routes.reconcile
        for kind in (CONFIGURATION, REVISION, SERVICE):
            controller.reconcilers[kind.kind] = nothing
        async with controller:
            config = await store.create(CONFIGURATION, configuration("default", "hello"))
            await store.create(ROUTE, route("default", "hello", [{"configurationName": "hello", "percent": 100}]))
            rev = revision("Unknown")
            rev["metadata"]["ownerReferences"][0]["uid"] = config["metadata"]["uid"]
            rev["spec"] = {"containers": [{"image": "img"}]}
            rev = await store.create(REVISION, rev)
            markers = 0

            async def reconciles_of_hello() -> int:  # once every key enqueued before a marker's is done
                nonlocal markers
                markers += 1
                name = f"marker-{markers}"
                await store.create(ROUTE, route("default", name, [{"configurationName": "other", "percent": 100}]))

                async def marked() -> bool:
                    return name in routes.passes

                await eventually(marked)
                return routes.passes.count("hello")

            before = await reconciles_of_hello()
            rev = await store.update_status(REVISION, {**rev, "status": revision("True")["status"]})
            assert await reconciles_of_hello() == before, "ready, but not what its Configuration routes yet"
            config = await store.get(CONFIGURATION, "default", "hello")
            await store.update_status(CONFIGURATION, {**config, "status": {"latestReadyRevisionName": "hello-00001"}})
            assert await reconciles_of_hello() == before + 1, "its Configuration's latest ready revision"
            await store.update_status(REVISION, {**rev, "status": revision("False", "ExitCode1", "crashed")["status"]})
            assert await reconciles_of_hello() == before + 2, "the revision it routes to failed"
    finally:
        await store.close()
