"""A crashed instance is made again under its name, as the kubelet restarts a pod's container in place
(issue 22): ``LocalRuntime.instances`` shows it waiting in CrashLoopBackOff with its last exit, then
running again with ``restarts`` one more; fewer wanted replicas forget it. Real processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.runtime.test_local_runtime_functional import KEY, app, workload
from zeroserve.api.podspec import HTTPGetAction, Probe
from zeroserve.runtime.base import InstanceView
from zeroserve.runtime.local import CRASH_LOOP_BACK_OFF, LocalRuntime

__all__ = ["app"]  # the fixture


async def test_a_failing_liveness_probe_restarts_the_instance_under_its_name(tmp_path: Path, app: Path) -> None:
    runtime = LocalRuntime(tmp_path / "data")
    changed = asyncio.Event()
    runtime.subscribe(lambda _key: changed.set())

    async def until(predicate: Callable[[tuple[InstanceView, ...]], bool]) -> tuple[InstanceView, ...]:
        async with asyncio.timeout(30):
            while True:
                changed.clear()
                views = runtime.instances(KEY)
                if predicate(views):
                    return views
                await changed.wait()

    try:
        liveness = Probe(http_get=HTTPGetAction(path="/healthz"), period_seconds=1, failure_threshold=1)
        wanted = workload(app, liveness_probe=liveness, termination_grace_seconds=1)
        await runtime.ensure(wanted, 1)
        (first,) = await until(lambda v: len(v) == 1 and v[0].started)
        assert (first.restarts, first.last_exit) == (0, None)
        (waiting,) = await until(lambda v: len(v) == 1 and v[0].restarts == 1 and not v[0].started)
        assert waiting.name == first.name and waiting.waiting == CRASH_LOOP_BACK_OFF
        assert waiting.last_exit is not None and waiting.last_exit[1] == "Error"
        (again,) = await until(lambda v: len(v) == 1 and v[0].restarts == 1 and v[0].started)
        assert again.name == first.name and again.waiting is None
        (twice,) = await until(lambda v: len(v) == 1 and v[0].restarts == 2)
        assert twice.name == first.name
        await runtime.ensure(wanted, 0)
        await until(lambda v: v == ())
    finally:
        await runtime.close()
