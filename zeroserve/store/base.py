"""The Store protocol: what the API server and the controller need from storage.

Objects are wire dicts (:data:`zeroserve.api.base.Obj`). The store owns ``metadata.uid``,
``resourceVersion`` (one global monotonic counter, as a decimal string), ``generation`` (bumped
only when ``spec`` changes) and ``creationTimestamp``. Status is written only through
:meth:`Store.update_status`; :meth:`Store.update` keeps the stored status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind

EventType = Literal["ADDED", "MODIFIED", "DELETED"]

Propagation = Literal["Background", "Foreground", "Orphan"]
"""DeleteOptions.propagationPolicy: what becomes of the object's dependents (its ownerReferences' targets).

``Background`` (the default for custom resources): the object goes now, the garbage collector deletes
its dependents after. ``Foreground``: the object stays, with ``deletionTimestamp`` and the
``foregroundDeletion`` finalizer, until the collector has deleted its dependents. ``Orphan``: the
collector removes the object from its dependents' ownerReferences (the ``orphan`` finalizer), then it goes."""

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


@dataclass(frozen=True)
class Preconditions:
    """DeleteOptions.preconditions: delete only the object with this uid / resourceVersion (else Conflict)."""

    uid: str | None = None
    resource_version: str | None = None


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    kind: Kind
    object: Obj
    resource_version: int


class Store(Protocol):
    async def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        """The object, or raises NotFound."""

    async def list(
        self, kind: Kind, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[list[Obj], int]:
        """Objects (all namespaces when ``namespace`` is None) and the store's resourceVersion."""

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        """Insert; raises AlreadyExists. Sets uid, resourceVersion, generation=1, creationTimestamp."""

    async def update(self, kind: Kind, obj: Obj) -> Obj:
        """Replace metadata+spec (status kept). A non-empty ``metadata.resourceVersion`` must
        match the stored one or Conflict is raised. Bumps generation iff spec changed."""

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        """Replace status only (same resourceVersion rule), and ``metadata.managedFields`` when
        ``obj`` has them (a status write records its manager)."""

    async def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        propagation: Propagation | None = None,
        preconditions: Preconditions | None = None,
    ) -> Obj:
        """Delete the object, or mark it for deletion (``deletionTimestamp``) while it has finalizers.

        ``propagation`` sets the finalizer its policy needs (see :data:`Propagation`; None keeps the
        object's own, so Background unless it carries one); dependents are
        the garbage collector's (``zeroserve.controller.garbagecollector``), not the store's. Returns
        the object: gone when it has no finalizers left, else as now stored."""

    def watch(
        self, kinds: tuple[Kind, ...], since: int | None = None, namespace: str | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Events after resourceVersion ``since`` (None: from now). Raises Gone if compacted."""

    async def close(self) -> None: ...


class StoreWrapper:
    """A :class:`Store` that passes every call to ``store``: a wrapper overrides only what it changes
    (``ManagedStore``'s writes, the controller's ``EchoStore``'s status writes)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        return await self._store.get(kind, namespace, name)

    async def list(
        self, kind: Kind, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[list[Obj], int]:
        return await self._store.list(kind, namespace, label_selector)

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        return await self._store.create(kind, obj)

    async def update(self, kind: Kind, obj: Obj) -> Obj:
        return await self._store.update(kind, obj)

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        return await self._store.update_status(kind, obj)

    async def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        propagation: Propagation | None = None,
        preconditions: Preconditions | None = None,
    ) -> Obj:
        return await self._store.delete(kind, namespace, name, propagation, preconditions)

    def watch(
        self, kinds: tuple[Kind, ...], since: int | None = None, namespace: str | None = None
    ) -> AsyncIterator[WatchEvent]:
        return self._store.watch(kinds, since, namespace)

    async def close(self) -> None:
        await self._store.close()
