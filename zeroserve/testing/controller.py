"""A controller test bench: a real SqliteStore, FakeRuntime, FakeClock, NullIngress and an EventRecorder
on the same store, wired as Deps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import EVENT, Kind
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.ingress import NullIngress
from zeroserve.controller.reconcilers.base import Deps
from zeroserve.controller.recorder import EventRecorder
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore


@dataclass
class ControllerEnv:
    store: SqliteStore
    runtime: FakeRuntime
    clock: FakeClock
    ingress: NullIngress
    deps: Deps
    config: Config
    recorder: EventRecorder

    async def events(self, name: str | None = None, ns: str = "default") -> list[tuple[str, str, str]]:
        """The Events written so far (the recorder's queue flushed first), as (type, reason, message),
        oldest first; only those about objects named ``name`` when given."""
        await self.recorder.flush()
        items, _ = await self.store.list(EVENT, ns)
        items = [e for e in items if name is None or e["involvedObject"].get("name") == name]
        items.sort(key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[-1], 16))  # <name>.<hex nanoseconds>
        return [(e["type"], e["reason"], e["message"]) for e in items]

    async def get(self, kind: Kind, name: str, ns: str = "default") -> Obj:
        return await self.store.get(kind, ns, name)

    async def set_status(self, kind: Kind, name: str, status: Obj, ns: str = "default") -> Obj:
        obj = await self.store.get(kind, ns, name)
        return await self.store.update_status(kind, {**obj, "status": status})

    async def mark_ready(self, kind: Kind, name: str, ready: str = "True", ns: str = "default", **extra: object) -> Obj:
        """Write a status with Ready=<ready> and observedGeneration = generation (as its reconciler would)."""
        obj = await self.store.get(kind, ns, name)
        status = {
            "observedGeneration": obj["metadata"]["generation"],
            "conditions": [{"type": "Ready", "status": ready, "message": "boom" if ready == "False" else None}],
            **extra,
        }
        status["conditions"] = [{k: v for k, v in c.items() if v is not None} for c in status["conditions"]]
        return await self.store.update_status(kind, {**obj, "status": status})

    @classmethod
    async def open(cls) -> ControllerEnv:
        clock = FakeClock()
        store = await SqliteStore.open(":memory:", clock=clock)
        runtime = FakeRuntime()
        ingress = NullIngress()
        recorder = EventRecorder(store, clock)
        deps = Deps(store, runtime, lambda: env.config, clock, ingress, recorder=recorder)
        env = cls(store, runtime, clock, ingress, deps, Config(), recorder)
        return env

    async def close(self) -> None:
        await self.store.close()


@pytest.fixture(name="env")
async def env_fixture() -> AsyncIterator[ControllerEnv]:
    """pytest fixture ``env``: import it into a test module to use it (no conftest needed)."""
    bench = await ControllerEnv.open()
    try:
        yield bench
    finally:
        await bench.close()
