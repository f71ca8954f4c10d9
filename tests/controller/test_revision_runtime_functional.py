"""The whole controller over the real LocalRuntime (real processes): Revisions the runtime cannot start.

A NUL byte in an env value no longer reaches the runtime through admission, but it still can (an
object stored before, a ``$(VAR)`` expansion): such a Revision must get a condition with a reason and
leave every reconcile worker free. Before, ``Popen``'s ValueError left the instance "starting" for
ever (no condition at all) and stopping it waited for ever.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import REVISION, SERVICE
from zeroserve.config import Config
from zeroserve.controller.runner import Controller
from zeroserve.errors import NotFound
from zeroserve.runtime.local import LocalRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import cond, eventually

REPO = Path(__file__).resolve().parents[2]
HELLO = [sys.executable, "examples/hello/app.py"]
BAD = 4
"""As many bad Services as the controller has workers."""


def service(name: str, env: dict[str, str]) -> Obj:
    container = {"command": HELLO, "workingDir": str(REPO), "env": [{"name": k, "value": v} for k, v in env.items()]}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, LocalRuntime]]:
    store = await SqliteStore.open(":memory:")
    runtime = LocalRuntime(tmp_path / "data")
    try:
        async with Controller(store, runtime, Config, workers=BAD):
            yield store, runtime
    finally:
        await runtime.close()
        await store.close()


async def test_revisions_with_a_nul_byte_get_a_condition_and_the_workers_stay_free(
    running: tuple[SqliteStore, LocalRuntime],
) -> None:
    store, runtime = running
    for i in range(BAD):
        await store.create(SERVICE, service(f"bad{i}", {"TARGET": "a\0b"}))

    async def failed(name: str) -> Obj | None:
        try:
            rev = await store.get(REVISION, "default", name)
        except NotFound:
            return None
        return rev if cond(rev, "ResourcesAvailable")[0] == "False" else None

    message = "The container cannot be started: env 'TARGET' holds a NUL byte."
    for i in range(BAD):
        rev = await eventually(functools.partial(failed, f"bad{i}-00001"), timeout=30.0)
        assert cond(rev, "ResourcesAvailable") == ("False", "CreateContainerConfigError", message)
        assert cond(rev, "ContainerHealthy") == ("False", "CreateContainerConfigError", message)
        assert cond(rev, "Ready")[0] == "False"

    await store.create(SERVICE, service("good", {"TARGET": "World"}))

    async def ready() -> Obj | None:
        svc = await store.get(SERVICE, "default", "good")
        return svc if cond(svc, "Ready")[0] == "True" else None

    await eventually(ready, timeout=30.0)

    for i in range(BAD):  # and their removal neither waits on an instance that never started
        await store.delete(SERVICE, "default", f"bad{i}")

    async def removed() -> bool:
        keys = runtime.keys()
        return not any(key.revision.startswith("bad") for key in keys)

    await eventually(removed, timeout=30.0)
