"""Waiting on a runtime's status (woken by its subscribe callback, bounded by a deadline)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from zeroserve.runtime.base import Runtime, WorkloadKey, WorkloadStatus


async def status_until(
    runtime: Runtime, key: WorkloadKey, predicate: Callable[[WorkloadStatus], bool], timeout: float = 30.0
) -> WorkloadStatus:
    """The first status of ``key`` that satisfies ``predicate``; TimeoutError after ``timeout`` seconds."""
    changed = asyncio.Event()
    runtime.subscribe(lambda _key: changed.set())
    async with asyncio.timeout(timeout):
        while True:
            changed.clear()
            status = runtime.status(key)
            if status is not None and predicate(status):
                return status
            await changed.wait()
