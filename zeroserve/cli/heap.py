"""The garbage collector's policy for zeroserve's long-running processes (``up``, the gateway workers),
and ``up``'s heap given back to the system after a burst of work (:func:`trim_after_bursts`).

CPython's defaults (a young collection every 700 new container objects, a full one every 100 young
ones once the heap grew by a quarter) suit short scripts. ``up`` holds a large heap that lives as
long as it does (modules, pydantic schemas, the loaded state): each full collection walked all of
it, in 45-85 ms pauses of the whole process with 40 Services (a cold start that met one waited
for it) and 4.7 s of the 38 s of CPU that 1,000 Services take to settle (52 full passes, up to 174
ms each). Measured with ``bench/coldstart.py --zygote`` and ``bench/controlplane.py -n 1000``.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
from collections.abc import Awaitable, Callable
from typing import Final, cast

from zeroserve.clock import Clock

THRESHOLDS: Final = (10_000, 20, 20)
"""Young collections every 10,000 new container objects (not 700), full ones 400x rarer than young
ones (not 1,000x, but each young one covers 14x more): 1,000 Services settle with 0.45 s of
collection instead of 4.7 s."""


def settle() -> None:
    """Once the process is ready: what exists now stays out of every collection (``gc.freeze``),
    and collections run at :data:`THRESHOLDS`."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


QUIET: Final = 2.0
"""Seconds without a store write before the heap is trimmed (a burst of work has ended)."""
MIN_WRITES: Final = 500
"""Store writes since the last trim that make one worth it (a trim walks the whole heap)."""
CHECK_EVERY: Final = 1.0


class TrimPolicy:
    """When to give the heap's free pages back (pure; monotonic seconds): once at least
    :data:`MIN_WRITES` store writes were made since the last trim and none for :data:`QUIET` seconds.

    A burst of work (1,000 Services created) leaves glibc's heap with free chunks among the live
    ones, which ``malloc`` keeps for later: ~3.4 KiB of RSS per Service created (the decoded
    objects and JSON of every write, each larger than pymalloc's 512 bytes)."""

    def __init__(self, rv: int, now: float) -> None:
        self._trimmed_rv = rv
        self._seen_rv = rv
        self._changed_at = now

    def due(self, rv: int, now: float) -> bool:
        if rv != self._seen_rv:
            self._seen_rv, self._changed_at = rv, now
            return False
        if rv - self._trimmed_rv >= MIN_WRITES and now - self._changed_at >= QUIET:
            self._trimmed_rv = rv
            return True
        return False


def _libc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return cast(Callable[[int], int], trim)


_TRIM: Final = _libc_trim()


def malloc_trim() -> bool:
    """glibc's ``malloc_trim(0)``: free pages of the heap go back to the system. False where the
    C library has none (then nothing happens)."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


async def trim_after_bursts(resource_version: Callable[[], Awaitable[int]], clock: Clock) -> None:
    """Forever: :func:`malloc_trim` whenever :class:`TrimPolicy` says a burst of writes ended."""
    if _TRIM is None:
        return
    policy = TrimPolicy(await resource_version(), clock.monotonic())
    while True:
        await asyncio.sleep(CHECK_EVERY)
        if policy.due(await resource_version(), clock.monotonic()):
            malloc_trim()
