"""Echoes: the watch events of the controller's own writes, which need no reconcile of their writer.

A reconcile computes an object's status from what it read and writes it; the watch then brings
that write back as an event for the same key. Knative's controllers reconcile the key again on it
(informer event -> enqueue) and find nothing to do: the status is what the last pass computed, and
every input it was computed from that changed since has an event of its own, which enqueues the key
(the object's own spec or metadata too: those are not status writes). The same holds for what a
reconcile creates or updates elsewhere: the Revision a Configuration creates, the
ServerlessService a PodAutoscaler creates and then resizes, the marks the route labeler sets on a
Revision. Their events enqueue their owner, or the Routes that name them, which is the reconcile
that wrote them: it already knows what they carry (the store returned it), and re-running it found
nothing to do (issue 19: about four such reconciles for each new Service). So the controller does not
enqueue a key for the event of a write that the key's own reconcile made; the event still feeds
every index and enqueues everything else it concerns as any event does. A reconcile that must run
again says so (``Requeue``); one whose write fails, or whose write the store found to change
nothing, records nothing; nor does an update of the reconciled object's own spec or metadata (a
finalizer added or removed), whose event reconciles it again, as in Knative.

:class:`EchoStore` wraps the reconcilers' store: a write made inside a reconcile
(:data:`RECONCILING`, set by the controller around each reconcile) records the resourceVersion it
produced and the key that made it, if it was a create or a write checked against the version it
replaced; :meth:`Echoes.take` answers, once, whether an event is that key's write. The store may
publish a write's event before the write returns to its reconcile: the controller holds the events
that concern a key whose reconcile is running and asks once it has ended.
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
    """Per object, the resourceVersion of the last write a reconcile made of it, and that
    reconcile's key (most often the object's own: its status)."""

    def __init__(self) -> None:
        self._written: dict[Key, tuple[str, Key]] = {}

    def wrote(self, key: Key, resource_version: str, writer: Key) -> None:
        self._written[key] = (resource_version, writer)

    def take(self, key: Key, resource_version: str | None, reader: Key) -> bool:
        """True (once) if ``resource_version`` of ``key`` is the last write that ``reader``'s own
        reconcile made of it: its event has nothing new for ``reader``."""
        if resource_version is None or self._written.get(key) != (resource_version, reader):
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
    """``store``, recording in ``echoes`` the writes of each reconcile."""

    def __init__(self, store: Store, echoes: Echoes) -> None:
        super().__init__(store)
        self.echoes = echoes

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        created = await self._store.create(kind, obj)
        reconciling = RECONCILING.get()
        rv = created.get("metadata", {}).get("resourceVersion")
        if reconciling is not None and rv:  # all of it is what the reconcile wrote
            self.echoes.wrote(_key(kind, created), str(rv), reconciling)
        return created

    async def update(self, kind: Kind, obj: Obj) -> Obj:
        return self._record(kind, obj, await self._store.update(kind, obj), status=False)

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        return self._record(kind, obj, await self._store.update_status(kind, obj), status=True)

    def _record(self, kind: Kind, sent: Obj, written: Obj, *, status: bool) -> Obj:
        reconciling = RECONCILING.get()
        sent_rv = sent.get("metadata", {}).get("resourceVersion")
        rv = written.get("metadata", {}).get("resourceVersion")
        key = _key(kind, written)
        # only a write checked against the version it replaced, and one that made a new version:
        # the store returns an unchanged object as it was, whose event may be someone else's; and
        # not a reconcile's update of its own object's spec or metadata (a finalizer it adds, a
        # finalizer it removes), which it reconciles again on, as Knative's generated reconcilers do
        own = key == reconciling
        if reconciling is not None and sent_rv and rv and str(rv) != str(sent_rv) and (status or not own):
            self.echoes.wrote(key, str(rv), reconciling)
        return written
