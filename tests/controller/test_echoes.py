"""The watch event of a key's own write (its status, a child it created) does not reconcile that key
again; anyone else's does."""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none
from zeroserve.controller.runner import Controller
from zeroserve.errors import NotFound
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import configuration, eventually, service

HELLO = Key(SERVICE.kind, "default", "hello")
MARKER = Key(SERVICE.kind, "default", "marker")


class Recorder:
    """A Service reconciler that records the resourceVersion it reads and writes a status once."""

    def __init__(self, controller: Controller, wait_for_own_event: bool = False) -> None:
        self.controller = controller
        self.wait_for_own_event = wait_for_own_event
        self.seen: dict[Key, list[str]] = {}

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        obj = await deps.store.get(SERVICE, key.namespace, key.name)
        self.seen.setdefault(key, []).append(obj["metadata"]["resourceVersion"])
        if "status" not in obj:
            await deps.store.update_status(SERVICE, {**obj, "status": {"observedGeneration": 1}})
            if self.wait_for_own_event:  # the store published the write's event before the write returned

                async def seen_while_running() -> bool:
                    return bool(self.controller._held.get(key))

                await eventually(seen_while_running)
        return None


async def settled(store: SqliteStore, recorder: Recorder) -> None:
    """Every event before the marker's has been handled and, with one worker, its key reconciled."""
    await store.create(SERVICE, service("default", "marker"))

    async def marker_reconciled() -> bool:
        return MARKER in recorder.seen

    await eventually(marker_reconciled)


async def run(wait_for_own_event: bool) -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=1)
        recorder = Recorder(controller, wait_for_own_event)
        controller.reconcilers[SERVICE.kind] = recorder.reconcile
        async with controller:
            created = await store.create(SERVICE, service("default", "hello"))

            async def written() -> Obj | None:
                obj = await store.get(SERVICE, "default", "hello")
                return obj if "status" in obj else None

            own = await eventually(written)
            await settled(store, recorder)
            assert recorder.seen[HELLO] == [created["metadata"]["resourceVersion"]], "its own write's event"
            theirs = await store.update_status(SERVICE, {**own, "status": {"observedGeneration": 2}})

            async def reconciled_again() -> bool:
                return len(recorder.seen[HELLO]) == 2

            await eventually(reconciled_again)
            assert recorder.seen[HELLO][-1] == theirs["metadata"]["resourceVersion"], "someone else's write"
            assert len(controller.echoes) == 0
    finally:
        await store.close()


async def test_a_keys_own_status_write_does_not_reconcile_it_again() -> None:
    await run(wait_for_own_event=False)


async def test_nor_when_its_event_comes_before_the_write_returns() -> None:
    await run(wait_for_own_event=True)


class Parent:
    """A Service reconciler that creates one Configuration it controls, and records each pass."""

    def __init__(self) -> None:
        self.passes: list[str] = []
        """The name of each Service reconciled, in order."""

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        obj = await deps.store.get(SERVICE, key.namespace, key.name)
        self.passes.append(key.name)
        if key.name != "hello":
            return None
        try:
            await deps.store.get(CONFIGURATION, key.namespace, key.name)
        except NotFound:
            child = configuration(key.namespace, key.name)
            owner = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": key.name}
            child["metadata"]["ownerReferences"] = [{**owner, "uid": obj["metadata"]["uid"], "controller": True}]
            await deps.store.create(CONFIGURATION, child)
        return None


async def nothing(deps: Deps, key: Key) -> Requeue:
    return None


async def test_what_a_reconcile_creates_does_not_reconcile_it_again_until_someone_else_changes_it() -> None:
    """The ADDED event of the Configuration a Service's reconcile created enqueues the Service (its
    owner), which wrote it: not again. A status write of that Configuration by anyone else does."""
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=1)
        parent = Parent()
        controller.reconcilers[SERVICE.kind] = parent.reconcile
        controller.reconcilers[CONFIGURATION.kind] = nothing
        async with controller:
            await store.create(SERVICE, service("default", "hello"))

            async def created() -> Obj | None:
                return await get_or_none(store, CONFIGURATION, "default", "hello")

            child = await eventually(created)
            await store.create(SERVICE, service("default", "marker"))

            async def marker_reconciled() -> bool:
                return "marker" in parent.passes

            await eventually(marker_reconciled)  # one worker: every key enqueued before the marker's is done
            assert parent.passes == ["hello", "marker"], "its child's event is its own write"
            await store.update_status(CONFIGURATION, {**child, "status": {"observedGeneration": 1}})

            async def reconciled_again() -> bool:
                return parent.passes.count("hello") == 2

            await eventually(reconciled_again)
            assert len(controller.echoes) == 0
    finally:
        await store.close()


async def test_an_update_of_its_own_metadata_reconciles_it_again() -> None:
    """A reconcile that adds a finalizer to its object and returns (as the Subscription's does)
    is run again by that update's event, as Knative's generated reconcilers are."""
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    seen: list[list[str]] = []

    async def finalizing(deps: Deps, key: Key) -> Requeue:
        obj = await deps.store.get(SERVICE, key.namespace, key.name)
        finalizers = obj["metadata"].get("finalizers") or []
        seen.append(finalizers)
        if not finalizers:
            await deps.store.update(SERVICE, {**obj, "metadata": {**obj["metadata"], "finalizers": ["mine"]}})
        return None

    try:
        controller = Controller(store, FakeRuntime(), Config, clock=clock, workers=1)
        controller.reconcilers[SERVICE.kind] = finalizing
        async with controller:
            await store.create(SERVICE, service("default", "hello"))

            async def again() -> bool:
                return seen[-1:] == [["mine"]]

            await eventually(again)
            assert seen == [[], ["mine"]]
    finally:
        await store.close()
