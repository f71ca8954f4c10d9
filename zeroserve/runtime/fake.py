"""FakeRuntime: an in-memory Runtime the tests script (make instances ready, fail them...).

``ensure`` records the workload and the wanted replicas; nothing runs. With ``auto_ready`` every
ensured workload reports all its replicas ready at once. Every change notifies the subscribers
from the event loop, as a real runtime does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import replace

from zeroserve.runtime.base import Endpoint, Failure, OnChange, Workload, WorkloadKey, WorkloadStatus


class FakeRuntime:
    def __init__(self, *, auto_ready: bool = False) -> None:
        self.auto_ready = auto_ready
        self.workloads: dict[WorkloadKey, Workload] = {}
        self.replicas: dict[WorkloadKey, int] = {}
        self.statuses: dict[WorkloadKey, WorkloadStatus] = {}
        self.removed: list[WorkloadKey] = []
        self.failing: dict[str, Failure] = {}
        """Image -> failure: any workload with that image fails as soon as it is ensured."""
        self._callbacks: list[OnChange] = []
        self.closed = False

    async def ensure(self, workload: Workload, replicas: int) -> None:
        self._apply(workload, replicas)

    def scale(self, key: WorkloadKey, replicas: int) -> bool:
        workload = self.workloads.get(key)
        if workload is not None:
            self._apply(workload, replicas)
        return workload is not None

    def _apply(self, workload: Workload, replicas: int) -> None:
        key = workload.key
        previous = self.workloads.get(key)
        changed = previous != workload or self.replicas.get(key) != replicas
        self.workloads[key] = workload
        self.replicas[key] = replicas
        status = self.statuses.get(key, WorkloadStatus())
        if previous is not None and status.failure is not None and status.failure == previous.config_error:
            status = replace(status, failure=None)  # the missing ConfigMap or Secret came
        failure = self.failing.get(workload.image or "")
        if failure is None and workload.config_error is not None and status.ready == 0:
            failure = workload.config_error  # as the local runtime: no instance can be made
        if failure is not None:
            status = WorkloadStatus(desired=replicas, ready=0, failure=failure)
        elif self.auto_ready:
            status = _ready(key, replicas)
        else:
            status = replace(status, desired=replicas, ready=min(status.ready, replicas))
        if changed or self.statuses.get(key) != status:
            self._set(key, status)

    async def remove(self, key: WorkloadKey, *, wait: bool = True) -> None:
        if key in self.workloads:
            del self.workloads[key]
            self.removed.append(key)
        self.replicas.pop(key, None)
        if self.statuses.pop(key, None) is not None:
            self._notify(key)

    def status(self, key: WorkloadKey) -> WorkloadStatus | None:
        return self.statuses.get(key)

    def keys(self) -> list[WorkloadKey]:
        return list(self.workloads)

    def subscribe(self, callback: OnChange) -> None:
        self._callbacks.append(callback)

    async def close(self) -> None:
        self.closed = True

    # --- scripting ------------------------------------------------------------------------

    def make_ready(self, key: WorkloadKey, ready: int | None = None) -> None:
        """Report ``ready`` (default: all wanted) instances ready and no failure."""
        self._set(key, _ready(key, self.replicas.get(key, 1) if ready is None else ready, self.replicas.get(key, 1)))

    def fail(
        self, key: WorkloadKey, reason: str = "ExitCode1", message: str = "boom", *, permanent: bool = False
    ) -> None:
        """Every instance of ``key`` is gone with ``reason`` (e.g. the process exited with 1)."""
        self._set(key, WorkloadStatus(desired=self.replicas.get(key, 0), failure=Failure(reason, message, permanent)))

    def warn(self, key: WorkloadKey, *warnings: str) -> None:
        """Keep the current status but add ``warnings`` (e.g. limits the machine cannot enforce)."""
        self._set(key, dataclasses.replace(self.statuses[key], warnings=warnings))

    def _set(self, key: WorkloadKey, status: WorkloadStatus) -> None:
        self.statuses[key] = status
        self._notify(key)

    def _notify(self, key: WorkloadKey) -> None:
        loop = asyncio.get_running_loop()
        for cb in self._callbacks:
            loop.call_soon(cb, key)


def _ready(key: WorkloadKey, ready: int, desired: int | None = None) -> WorkloadStatus:
    endpoints = tuple(Endpoint("127.0.0.1", 10000 + i) for i in range(ready))
    return WorkloadStatus(desired=ready if desired is None else desired, ready=ready, endpoints=endpoints)
