"""Extra served versions: a Store view that converts (kube-apiserver's conversion for CRDs).

A Kind with a :attr:`~zeroserve.api.kinds.Kind.conversion` (``eventing.knative.dev/v1beta3``
EventType) is served like any other, but its objects live in the store as the conversion's storage
kind: :class:`VersionedStore` hands the store the stored kind and converted objects, and converts what
comes back (gets, lists, watch events, the results of writes). Everything above it (patches, server-
side apply, Tables, watch) then works in the requested version, as kube-apiserver converts to the
request's version before it patches and back to the storage version before it stores.

Kinds without a conversion go straight to the store: each method returns the store's own coroutine
or iterator, with no extra frame (:func:`versioned` returns the store itself when no kind has one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Conversion, Kind
from zeroserve.store.base import Preconditions, Propagation, Store, WatchEvent

Call = Coroutine[Any, Any, Obj]
Listed = tuple[list[Obj], int]


def versioned(store: Store, kinds: Sequence[Kind]) -> Store:
    """``store`` as the API server should use it for ``kinds``."""
    return VersionedStore(store) if any(k.conversion is not None for k in kinds) else store


class VersionedStore:
    """A :class:`~zeroserve.store.base.Store` that converts the objects of extra served versions."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, kind: Kind, namespace: str, name: str) -> Call:
        if kind.conversion is None:
            return self._store.get(kind, namespace, name)
        return self._out(kind.conversion, self._store.get(kind.conversion.storage, namespace, name))

    def list(
        self, kind: Kind, namespace: str | None = None, label_selector: str | None = None
    ) -> Coroutine[Any, Any, Listed]:
        if kind.conversion is None:
            return self._store.list(kind, namespace, label_selector)
        return self._list(kind.conversion, namespace, label_selector)

    def create(self, kind: Kind, obj: Obj) -> Call:
        if kind.conversion is None:
            return self._store.create(kind, obj)
        conv = kind.conversion
        return self._out(conv, self._store.create(conv.storage, conv.to_storage(obj)))

    def update(self, kind: Kind, obj: Obj) -> Call:
        if kind.conversion is None:
            return self._store.update(kind, obj)
        conv = kind.conversion
        return self._out(conv, self._store.update(conv.storage, conv.to_storage(obj)))

    def update_status(self, kind: Kind, obj: Obj) -> Call:
        if kind.conversion is None:
            return self._store.update_status(kind, obj)
        conv = kind.conversion
        return self._out(conv, self._store.update_status(conv.storage, conv.to_storage(obj)))

    def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        propagation: Propagation | None = None,
        preconditions: Preconditions | None = None,
    ) -> Call:
        if kind.conversion is None:
            return self._store.delete(kind, namespace, name, propagation, preconditions)
        conv = kind.conversion
        return self._out(conv, self._store.delete(conv.storage, namespace, name, propagation, preconditions))

    def watch(
        self, kinds: tuple[Kind, ...], since: int | None = None, namespace: str | None = None
    ) -> AsyncIterator[WatchEvent]:
        if all(k.conversion is None for k in kinds):
            return self._store.watch(kinds, since, namespace)
        return self._watch(kinds, since, namespace)

    async def close(self) -> None:
        await self._store.close()

    # ---- conversions -------------------------------------------------------------------------

    @staticmethod
    async def _out(conv: Conversion, stored: Call) -> Obj:
        return conv.from_storage(await stored)

    async def _list(self, conv: Conversion, namespace: str | None, label_selector: str | None) -> Listed:
        items, rv = await self._store.list(conv.storage, namespace, label_selector)
        return [conv.from_storage(o) for o in items], rv

    async def _watch(
        self, kinds: tuple[Kind, ...], since: int | None, namespace: str | None
    ) -> AsyncIterator[WatchEvent]:
        served = {(k.conversion.storage if k.conversion else k): k for k in kinds}
        events = self._store.watch(tuple(served), since, namespace)
        try:
            async for event in events:
                kind = served.get(event.kind, event.kind)
                if kind.conversion is None:
                    yield event
                else:
                    obj = kind.conversion.from_storage(event.object)
                    yield WatchEvent(event.type, kind, obj, event.resource_version)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
