"""Waiting for a resource to become Ready: ``observedGeneration == generation`` and Ready True.

A watch from the object's resourceVersion drives it; when the stream ends early the object is read
again and watched anew, until the deadline. Ready False (at the current generation) fails at once
with the condition's reason and message, as ``kn`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.cli.client import ApiClient
from zeroserve.errors import ZeroserveError

Readiness = Literal["ready", "failed", "pending"]
Progress = Callable[[Obj], None]


class NotReady(ZeroserveError):
    """The resource reported Ready False, or did not become Ready in time."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def readiness(obj: Obj) -> Readiness:
    meta, status = obj.get("metadata", {}), obj.get("status", {})
    if status.get("observedGeneration") != meta.get("generation"):
        return "pending"
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None:
        return "pending"
    return {"True": "ready", "False": "failed"}.get(str(ready.get("status")), "pending")  # type: ignore[return-value]


def failure(obj: Obj) -> NotReady:
    ready: Obj = next((c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), {})
    reason, message = str(ready.get("reason") or ""), str(ready.get("message") or "")
    text = ": ".join(p for p in (reason, message) if p) or "Ready is False"
    return NotReady(text, reason)


def wait_ready(
    client: ApiClient, kind: Kind, namespace: str, name: str, timeout: float, progress: Progress | None = None
) -> Obj:
    """The object once Ready; raises NotReady on failure or when ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    obj = client.get(kind, namespace, name)
    while True:
        if progress is not None:
            progress(obj)
        state = readiness(obj)
        if state == "ready":
            return obj
        if state == "failed":
            raise failure(obj)
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotReady(f"timeout: {kind.kind} '{name}' not ready after {timeout:g} seconds", "Timeout")
        obj = _next_version(client, kind, namespace, name, obj, left)


def _next_version(client: ApiClient, kind: Kind, namespace: str, name: str, obj: Obj, left: float) -> Obj:
    """The next state of the object seen on a watch (or re-read if the stream ends)."""
    since = str(obj.get("metadata", {}).get("resourceVersion") or "")
    for type_, event_obj in client.watch(kind, namespace, since, timeout=left):
        if event_obj.get("metadata", {}).get("name") != name:
            continue
        if type_ == "DELETED":
            raise NotReady(f"{kind.kind} '{name}' was deleted while waiting", "Deleted")
        return event_obj
    return client.get(kind, namespace, name)
