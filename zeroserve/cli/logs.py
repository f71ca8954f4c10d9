"""``zeroserve logs SERVICE [--revision R] [-f]``: what a Service's instances print.

Reads the Revisions' ``log`` subresource through the API. Without ``--revision`` it shows every
revision of the Service (oldest first), each line prefixed ``[REVISION]`` when there is more than
one; ``-f`` follows them all at once until Ctrl-C.
"""

from __future__ import annotations

import sys
import threading
from typing import BinaryIO

from zeroserve.api import labels
from zeroserve.api.kinds import REVISION, SERVICE
from zeroserve.cli.client import ApiClient
from zeroserve.errors import NotFound


def revisions_of(client: ApiClient, namespace: str, service: str) -> list[str]:
    client.get(SERVICE, namespace, service)  # NotFound names the service
    items = client.list(REVISION, namespace, f"{labels.SERVICE}={service}").get("items", [])
    items.sort(key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]))
    return [r["metadata"]["name"] for r in items]


class _LineWriter:
    """Writes whole lines to ``out`` under a shared lock, each with ``prefix``."""

    def __init__(self, out: BinaryIO, prefix: bytes, lock: threading.Lock) -> None:
        self._out, self._prefix, self._lock = out, prefix, lock
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if lines:
            with self._lock:
                self._out.write(b"".join(self._prefix + line + b"\n" for line in lines))
                self._out.flush()

    def close(self) -> None:
        if self._partial:
            self.feed(b"\n")


def show_logs(
    client: ApiClient,
    namespace: str,
    service: str,
    revision: str | None,
    *,
    follow: bool = False,
    tail: int | None = None,
    out: BinaryIO | None = None,
) -> int:
    out = out or sys.stdout.buffer
    if revision is not None:
        client.get(REVISION, namespace, revision)
        names = [revision]
    else:
        names = revisions_of(client, namespace, service)
        if not names:
            raise NotFound(f'service "{service}" has no revisions yet')
    lock = threading.Lock()

    def pump(name: str) -> None:
        writer = _LineWriter(out, f"[{name}] ".encode() if len(names) > 1 else b"", lock)
        for chunk in client.logs(REVISION, namespace, name, follow=follow, tail_lines=tail):
            writer.feed(chunk)
        writer.close()

    if not follow:
        for name in names:
            pump(name)
        return 0
    threads = [threading.Thread(target=pump, args=(n,), daemon=True, name=f"logs-{n}") for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0
