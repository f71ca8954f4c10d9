"""The lifeline: kills every instance's process group when the supervisor dies.

Run once per :class:`~zeroserve.runtime.local.LocalRuntime` as
``python -I -S <this file>`` (stdlib only, no package import: it starts in ~10 ms, and only
once, off the hot path). The supervisor writes ``+<pgid>`` when an instance starts and
``-<pgid>`` when it is gone. The lifeline holds the read end of that pipe only; when the
supervisor dies, even by SIGKILL, the kernel closes the write end, the lifeline reads EOF and
sends SIGKILL to every group still registered, then exits.

Why a separate process and not only ``PR_SET_PDEATHSIG``: the death signal reaches the
instance's first process alone, while an app's workers and subprocesses share its process
group; the lifeline kills the whole group, as kubelet kills a container's cgroup.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable


def serve(stream: Iterable[bytes]) -> set[int]:
    """Track ``+pgid`` / ``-pgid`` lines until EOF; return the groups still registered."""
    groups: set[int] = set()
    for raw in stream:
        line = raw.strip()
        if len(line) < 2 or not line[1:].isdigit():
            continue
        pgid = int(line[1:])
        if line[:1] == b"+":
            groups.add(pgid)
        elif line[:1] == b"-":
            groups.discard(pgid)
    return groups


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for pgid in serve(sys.stdin.buffer):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


if __name__ == "__main__":
    main()
