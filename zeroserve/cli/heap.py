"""The garbage collector's policy for zeroserve's long-running processes (``up``, the gateway workers).

CPython's defaults (a young collection every 700 new container objects, a full one every 100 young
ones once the heap grew by a quarter) suit short scripts. ``up`` holds a large heap that lives as
long as it does (modules, pydantic schemas, the loaded state): each full collection walked all of
it, in 45-85 ms pauses of the whole process with 40 Services (a cold start that met one waited
for it) and 4.7 s of the 38 s of CPU that 1,000 Services take to settle (52 full passes, up to 174
ms each). Measured with ``bench/coldstart.py --zygote`` and ``bench/controlplane.py -n 1000``.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (10_000, 20, 20)
"""Young collections every 10,000 new container objects (not 700), full ones 400x rarer than young
ones (not 1,000x, but each young one covers 14x more): 1,000 Services settle with 0.45 s of
collection instead of 4.7 s."""


def settle() -> None:
    """Once the process is ready: what exists now stays out of every collection (``gc.freeze``),
    and collections run at :data:`THRESHOLDS`."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
