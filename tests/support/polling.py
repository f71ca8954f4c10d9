"""Deadline-bounded polling for tests that watch another process (never a bare sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy or the deadline passes (the CLI runs in another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.02)  # wait-ok: polling interval of a deadline-bounded wait
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def eventually(predicate: Callable[[], Any], timeout: float) -> None:
    """Poll an in-process condition (files, pids, counters) on the running loop until it holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)  # wait-ok: polling interval of a deadline-bounded wait
