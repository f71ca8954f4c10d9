"""A controller test bench: a real SqliteStore, FakeRuntime, FakeClock and NullIngress, wired as Deps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.ingress import NullIngress
from zeroserve.controller.reconcilers.base import Deps
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
        env = cls(store, runtime, clock, ingress, Deps(store, runtime, lambda: env.config, clock, ingress), Config())
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
