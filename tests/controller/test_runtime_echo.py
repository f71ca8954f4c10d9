"""A runtime change that a Revision's own reconcile makes (its ``ensure``) does not reconcile that
Revision again: it reads the runtime's status right after. Its PodAutoscaler, which reads the
runtime too, is enqueued, and any other change enqueues both; the SKS, which reads only the ready
count, is enqueued when that moved."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.test_cgroups import workload
from zeroserve.api.kinds import PODAUTOSCALER, REVISION, SERVERLESSSERVICE
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.runner import Controller
from zeroserve.controller.workqueue import WorkQueue
from zeroserve.runtime.base import WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.runtime.local import LocalRuntime
from zeroserve.store.sqlite import SqliteStore

KEY = WorkloadKey("default", "hello-00001")


def keys(kinds: tuple[str, ...]) -> set[Key]:
    return {Key(kind, "default", "hello-00001") for kind in kinds}


async def drained(queue: WorkQueue[Key]) -> set[Key]:
    got: set[Key] = set()
    while len(queue):
        key = await queue.get()
        queue.done(key)
        got.add(key)
    return got


async def test_a_change_during_the_revisions_own_ensure_enqueues_its_autoscaler_and_sks_only() -> None:
    store = await SqliteStore.open(":memory:")
    try:
        runtime = FakeRuntime()
        controller = Controller(store, runtime, Config)
        controller.queue = queue = WorkQueue[Key]()
        await runtime.ensure(workload(), 1)
        runtime.make_ready(KEY)
        controller.deps.ensuring.add(KEY)
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((PODAUTOSCALER.kind, SERVERLESSSERVICE.kind))
        controller.deps.ensuring.discard(KEY)
        runtime.make_ready(KEY, 0)
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind, SERVERLESSSERVICE.kind))
    finally:
        await store.close()


async def test_the_sks_hears_of_a_change_only_when_the_ready_instances_moved() -> None:
    """The ServerlessService reads the ready count of the runtime, nothing else: a new workload at
    zero, or more instances wanted and not ready yet, do not enqueue it; a ready one, or the last
    ready one gone, do."""
    store = await SqliteStore.open(":memory:")
    try:
        runtime = FakeRuntime()
        controller = Controller(store, runtime, Config)
        controller.queue = queue = WorkQueue[Key]()
        await runtime.ensure(workload(), 0)  # made, at zero: as before, none ready
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind))
        await runtime.ensure(workload(), 2)  # wanted, not ready yet
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind))
        runtime.make_ready(KEY, 1)
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind, SERVERLESSSERVICE.kind))
        runtime.make_ready(KEY, 1)
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind))
        await runtime.remove(KEY)  # its ready instance with it
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind, SERVERLESSSERVICE.kind))
        await runtime.ensure(workload(), 0)  # made again: from zero, not from its last count
        controller._on_runtime_change(KEY)
        assert await drained(queue) == keys((REVISION.kind, PODAUTOSCALER.kind))
    finally:
        await store.close()


async def test_the_local_runtime_tells_of_what_ensure_changed_before_it_returns(tmp_path: Path) -> None:
    """What the controller's ``ensuring`` relies on: the LocalRuntime's subscribers hear of the
    change ``ensure`` makes while it runs, not after."""
    runtime = LocalRuntime(tmp_path / "data")
    heard: list[bool] = []
    ensuring = False
    runtime.subscribe(lambda key: heard.append(ensuring))
    try:
        ensuring = True
        await runtime.ensure(workload(), 0)
        ensuring = False
        assert heard == [True]
    finally:
        await runtime.close()
