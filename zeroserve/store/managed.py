"""A Store whose writes are one manager's in ``metadata.managedFields`` (the controller's).

Knative's controllers write through kube-apiserver, which records each create and update as an
``Update`` by ``controller`` (what their User-Agent is named for) and each status write with
``subresource: status``; zeroserve's controller writes to the store in-process, so this wrapper
does what the API server's field manager does for it (:mod:`zeroserve.api.ssa.managedfields`).
A status write records the new status over the stored object: nothing else of it changes.
Reads, watches and deletes pass through.
"""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.api.ssa import managedfields
from zeroserve.clock import Clock, SystemClock, rfc3339
from zeroserve.errors import NotFound
from zeroserve.store.base import Store, StoreWrapper


class ManagedStore(StoreWrapper):
    """``store``, with ``manager`` recorded as the owner of what it writes."""

    def __init__(self, store: Store, manager: str, clock: Clock | None = None) -> None:
        super().__init__(store)
        self.manager = manager
        self._clock = clock or SystemClock()

    def _now(self) -> str:
        return rfc3339(self._clock.wall())

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        scope = managedfields.scope_of(kind)
        return await self._store.create(kind, managedfields.update(scope, None, obj, self.manager, self._now()))

    async def update(self, kind: Kind, obj: Obj) -> Obj:
        live = await self._live(kind, obj)
        if live is None:
            return await self._store.update(kind, obj)
        scope = managedfields.scope_of(kind)
        return await self._store.update(kind, managedfields.update(scope, live, obj, self.manager, self._now()))

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        live = await self._live(kind, obj)
        if live is None:
            return await self._store.update_status(kind, obj)
        new = {k: v for k, v in live.items() if k != "status"}
        if "status" in obj:
            new["status"] = obj["status"]
        want = obj.get("metadata", {}).get("resourceVersion")
        new["metadata"] = {**live["metadata"], **({"resourceVersion": want} if want else {})}
        scope = managedfields.scope_of(kind, "status")
        return await self._store.update_status(kind, managedfields.update(scope, live, new, self.manager, self._now()))

    async def _live(self, kind: Kind, obj: Obj) -> Obj | None:
        """The stored object the write replaces; None when the write will fail anyway (not found,
        or a stale resourceVersion): the store says why."""
        meta = obj.get("metadata", {})
        namespace = str(meta.get("namespace") or "") if kind.namespaced else ""
        try:
            live = await self._store.get(kind, namespace, str(meta.get("name") or ""))
        except NotFound:
            return None
        want = meta.get("resourceVersion")
        if want and str(want) != live["metadata"].get("resourceVersion"):
            return None
        return live
