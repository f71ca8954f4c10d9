"""Echoes: the watch events of the controller's own status writes, which need no reconcile.

A reconcile computes an object's status from what it read and writes it; the watch then brings
that write back as an event for the same key. Knative's controllers reconcile the key again on it
(informer event -> enqueue) and find nothing to do: the status is what the last pass computed, and
every input it was computed from that changed since has an event of its own, which enqueues the key
(the object's own spec or metadata too: those are not status writes). So the controller does not
enqueue a key for the event of a status write that the key's own reconcile made; the event still
feeds every index and enqueues owners and routes as any event does. A reconcile that must run again
says so (``Requeue``); one whose status write fails, or whose write the store found to change
nothing, records nothing.

:class:`EchoStore` wraps the reconcilers' store: a status write made inside the reconcile of the
object's own key (:data:`RECONCILING`, set by the controller around each reconcile) records the
resourceVersion it produced; :meth:`Echoes.take` answers, once, whether an event is that write.
The store may publish a write's event before the write returns to its reconcile: the controller
holds the events of a key whose reconcile is running and asks once it has ended.
"""

from __future__ import annotations

import contextvars

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.controller.reconcilers.base import Key
from zeroserve.store.base import Store, StoreWrapper

RECONCILING: contextvars.ContextVar[Key | None] = contextvars.ContextVar("reconciling", default=None)
"""The key whose reconcile the running task belongs to (None outside reconciles)."""


def resource_version(obj: Obj) -> str | None:
    rv = obj.get("metadata", {}).get("resourceVersion")
    return None if rv is None else str(rv)


def _key(kind: Kind, obj: Obj) -> Key:
    meta = obj.get("metadata", {})
    return Key(kind.kind, str(meta.get("namespace") or "") if kind.namespaced else "", str(meta.get("name") or ""))


class Echoes:
    """Per key, the resourceVersion of the last status write its own reconcile made."""

    def __init__(self) -> None:
        self._written: dict[Key, str] = {}

    def wrote(self, key: Key, resource_version: str) -> None:
        self._written[key] = resource_version

    def take(self, key: Key, resource_version: str | None) -> bool:
        """True (once) if ``resource_version`` is the one ``key``'s own last status write made."""
        if resource_version is None or self._written.get(key) != resource_version:
            return False
        del self._written[key]
        return True

    def forget(self, key: Key | None = None) -> None:
        """Drop what is recorded for ``key`` (every key: None; a re-list delivers no echoes)."""
        if key is None:
            self._written.clear()
        else:
            self._written.pop(key, None)

    def __len__(self) -> int:
        return len(self._written)


class EchoStore(StoreWrapper):
    """``store``, recording in ``echoes`` the status writes of each key's own reconcile."""

    def __init__(self, store: Store, echoes: Echoes) -> None:
        super().__init__(store)
        self.echoes = echoes

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        written = await self._store.update_status(kind, obj)
        reconciling = RECONCILING.get()
        sent = obj.get("metadata", {}).get("resourceVersion")
        rv = written.get("metadata", {}).get("resourceVersion")
        # only a write checked against the version it replaced, and one that made a new version:
        # the store returns an unchanged object as it was, whose event may be someone else's
        if reconciling is not None and sent and rv and str(rv) != str(sent) and _key(kind, written) == reconciling:
            self.echoes.wrote(reconciling, str(rv))
        return written
