"""The garbage collector: dependents follow their owners (Kubernetes' pkg/controller/garbagecollector).

An object names its owners in ``metadata.ownerReferences`` (by uid). The store deletes only what it
is asked to; this collector does the rest, as kube-controller-manager's does for every cluster:

* **Dangling owners.** An object whose owners are all gone (absent, or a new object under the same
  name with another uid) is deleted. This also catches the race a reconciler loses when its parent
  is deleted between the reconciler's read and its create: the child is born an orphan and goes.
  An object that still has a live owner only loses the references to the gone ones.
* **Background** (the default policy of a delete): the owner is gone at once; its dependents are
  now dangling and go next, level by level (Service -> Configuration -> Revision -> PodAutoscaler ->
  ServerlessService).
* **Foreground**: the owner waits, with ``deletionTimestamp`` and the ``foregroundDeletion``
  finalizer, while its dependents are deleted (those with dependents of their own in foreground
  too); once none with ``blockOwnerDeletion`` is left the finalizer is removed and the store
  deletes the owner.
* **Orphan**: the owner's ``orphan`` finalizer makes the collector remove the owner from every
  dependent's ownerReferences, then the finalizer; the dependents live on, owned by nobody.

:class:`OwnerGraph` is the pure part: the uids and owner edges the controller's watch has shown,
saying which objects to look at after each event. :class:`GarbageCollector` looks, always against
the store (the graph may be behind it), and writes with uid preconditions and resourceVersions, so
a decision taken on stale data fails with ``Conflict`` and is taken again. Owners of a kind this
API does not serve are never judged gone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from zeroserve.api.base import Obj
from zeroserve.api.kinds import KINDS, Kind, by_kind
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, interned
from zeroserve.store.base import FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Preconditions, Propagation, Store
from zeroserve.store.indexes import hold, members, release

log = logging.getLogger(__name__)

PREFIX = "gc:"
"""Work-queue keys of the collector are ``Key("gc:<Kind>", namespace, name)``."""

KIND_NAMES: dict[str, Kind] = {k.kind: k for k in KINDS}


def gc_key(kind: str, namespace: str, name: str) -> Key:
    """The collector's key of an object; its strings interned (the graph holds one for every object)."""
    return Key(interned(PREFIX + kind), interned(namespace), interned(name))


def _refs(obj: Obj) -> list[dict[str, Any]]:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return [r for r in refs if isinstance(r, dict) and r.get("uid")]


def _deleting(obj: Obj, finalizer: str) -> bool:
    meta = obj.get("metadata", {})
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or [])


@dataclass
class OwnerGraph:
    """Who owns whom, by uid, as the watch has shown it (pure; the collector's to-do list maker)."""

    keys: dict[str, Key] = field(default_factory=dict)
    """uid -> the collector key of the live object with that uid."""
    uids: dict[Key, str] = field(default_factory=dict)
    owners: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    """The uids of each object's owners (a tuple: most have one, and a frozenset of one is ~200 bytes)."""
    dependents: dict[str, Key | frozenset[Key]] = field(default_factory=dict)
    """Owner uid -> its dependent, or the set of them when more than one (:func:`hold`)."""
    foreground: set[str] = field(default_factory=set)
    """uids of owners waiting, in foreground deletion, for their dependents."""

    def observe(self, key: Key, obj: Obj) -> list[Key]:
        """An object was added or changed: the keys the collector should look at now."""
        uid = interned(obj.get("metadata", {}).get("uid") or "")
        old = self.uids.get(key)
        todo: list[Key] = []
        if old is not None and old != uid:  # re-created under the same name
            todo += self._drop(key, old)
        self.uids[key], self.keys[uid] = uid, key
        owners = tuple(dict.fromkeys(interned(r["uid"]) for r in _refs(obj)))
        self._link(key, owners)
        if _deleting(obj, FOREGROUND_FINALIZER):
            self.foreground.add(uid)
            todo.append(key)
            todo += self.dependents_of(uid)
        else:
            self.foreground.discard(uid)
            if _deleting(obj, ORPHAN_FINALIZER):
                todo.append(key)
        if any(o not in self.keys or o in self.foreground for o in owners):
            todo.append(key)
        return todo

    def forget(self, key: Key, obj: Obj) -> list[Key]:
        """An object was deleted: its dependents may dangle now; an owner in foreground may be done."""
        uid = obj.get("metadata", {}).get("uid") or self.uids.get(key, "")
        if self.uids.get(key) != uid:
            return []
        return self._drop(key, uid)

    def has_dependents(self, uid: str) -> bool:
        return uid in self.dependents

    def dependents_of(self, uid: str) -> list[Key]:
        return sorted(members(self.dependents.get(uid)))

    def _drop(self, key: Key, uid: str) -> list[Key]:
        waiting = [self.keys[o] for o in self.owners.get(key, ()) if o in self.foreground and o in self.keys]
        self._link(key, ())
        del self.uids[key]
        self.keys.pop(uid, None)
        self.foreground.discard(uid)
        return self.dependents_of(uid) + waiting

    def _link(self, key: Key, owners: tuple[str, ...]) -> None:
        for gone in set(self.owners.get(key, ())).difference(owners):
            release(self.dependents, gone, key)
        for owner in owners:
            hold(self.dependents, owner, key)
        if owners:
            self.owners[key] = owners
        else:
            self.owners.pop(key, None)


@dataclass(frozen=True)
class Owners:
    """An object's ownerReferences, sorted by what became of their owners."""

    solid: list[dict[str, Any]]
    gone: list[dict[str, Any]]
    waiting: list[dict[str, Any]]
    """Owners in foreground deletion, waiting for this object to go."""


def owner_kind(ref: dict[str, Any]) -> Kind | None:
    return by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", ""))) or KIND_NAMES.get(str(ref.get("kind")))


async def classify(store: Store, namespace: str, refs: Iterable[dict[str, Any]]) -> Owners:
    """Look each owner up in the store (by name, compared by uid), as the collector's isDangling."""
    solid: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for ref in refs:
        kind = owner_kind(ref)
        if kind is None:  # a kind we do not serve: never judged gone
            solid.append(ref)
            continue
        owner = await get_or_none(store, kind, namespace if kind.namespaced else "", str(ref.get("name", "")))
        if owner is None or owner["metadata"].get("uid") != ref["uid"]:
            gone.append(ref)
        elif _deleting(owner, FOREGROUND_FINALIZER):
            waiting.append(ref)
        else:
            solid.append(ref)
    return Owners(solid, gone, waiting)


class GarbageCollector:
    """The controller's reconciler for ``gc:<Kind>`` keys (see the module docstring)."""

    def __init__(self) -> None:
        self.graph = OwnerGraph()

    def observe(self, kind: str, obj: Obj, deleted: bool) -> list[Key]:
        meta = obj.get("metadata", {})
        key = gc_key(kind, meta.get("namespace", ""), meta.get("name", ""))
        return self.graph.forget(key, obj) if deleted else self.graph.observe(key, obj)

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        kind = KIND_NAMES[key.kind.removeprefix(PREFIX)]
        obj = await get_or_none(deps.store, kind, key.namespace, key.name)
        if obj is None:
            return None
        if obj["metadata"].get("deletionTimestamp"):
            await self._finalize(deps.store, kind, obj)
            return None
        refs = _refs(obj)
        if not refs:
            return None
        owners = await classify(deps.store, key.namespace, refs)
        if not owners.gone and not owners.waiting:
            return None
        uid = obj["metadata"]["uid"]
        if owners.solid:  # a live owner keeps it: only the references to the others go
            drop = {r["uid"] for r in owners.gone + owners.waiting}
            log.info("%s/%s %s: removing ownerReferences to gone owners %s", kind.kind, key.namespace, key.name, drop)
            await _set_refs(
                deps.store, kind, obj, [r for r in obj["metadata"]["ownerReferences"] if r["uid"] not in drop]
            )
            return None
        policy: Propagation | None = "Foreground" if owners.waiting and self.graph.has_dependents(uid) else None
        log.info("%s %s/%s: its owners are gone; deleting it", kind.kind, key.namespace, key.name)
        await deps.store.delete(kind, key.namespace, key.name, policy, Preconditions(uid=uid))
        return None

    async def _finalize(self, store: Store, kind: Kind, obj: Obj) -> None:
        """The finalizers the collector owns: ``orphan`` and ``foregroundDeletion``."""
        finalizers = obj["metadata"].get("finalizers") or []
        uid = obj["metadata"]["uid"]
        if ORPHAN_FINALIZER in finalizers:
            for dep in self.graph.dependents_of(uid):
                await _orphan(store, dep, uid)
            await _remove_finalizer(store, kind, obj, ORPHAN_FINALIZER)
        elif FOREGROUND_FINALIZER in finalizers and not await self._blocking(store, uid):
            await _remove_finalizer(store, kind, obj, FOREGROUND_FINALIZER)

    async def _blocking(self, store: Store, uid: str) -> int:
        """How many dependents still hold the owner back (``blockOwnerDeletion``); each dependent's own
        pass (queued when the owner entered foreground deletion) deletes it or drops the reference."""
        blocking = 0
        for dep in self.graph.dependents_of(uid):
            obj = await get_or_none(store, KIND_NAMES[dep.kind.removeprefix(PREFIX)], dep.namespace, dep.name)
            refs = _refs(obj) if obj is not None else []
            blocking += any(r["uid"] == uid and r.get("blockOwnerDeletion") for r in refs)
        return blocking


async def _orphan(store: Store, dep: Key, owner_uid: str) -> None:
    kind = KIND_NAMES[dep.kind.removeprefix(PREFIX)]
    obj = await get_or_none(store, kind, dep.namespace, dep.name)
    if obj is None:
        return
    refs = obj["metadata"].get("ownerReferences") or []
    kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") == owner_uid)]
    if len(kept) != len(refs):
        await _set_refs(store, kind, obj, kept)


async def _set_refs(store: Store, kind: Kind, obj: Obj, refs: list[Any]) -> None:
    meta = {k: v for k, v in obj["metadata"].items() if k != "ownerReferences"}
    if refs:
        meta["ownerReferences"] = refs
    await store.update(kind, {**obj, "metadata": meta})


async def _remove_finalizer(store: Store, kind: Kind, obj: Obj, finalizer: str) -> None:
    meta = dict(obj["metadata"])
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
    await store.update(kind, {**obj, "metadata": meta})
