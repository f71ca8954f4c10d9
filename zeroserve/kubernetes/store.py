"""A :class:`~zeroserve.store.base.Store` over a real Kubernetes API server, read from informer caches.

What Knative's controllers do with client-go, for the same reconcilers zeroserve runs on one machine:

- **Reads** (``get``, ``list``) come from a cache per kind, filled by a list and kept current by a
  watch (a reflector: resumes where the stream ended, lists again on ``410 Gone``, backs off while
  the server is unreachable). The first read of a kind lists it in the caller, so a kind the cluster
  does not serve (a CRD not installed) is the caller's clear error, not a hang. Objects are kept as
  their JSON bytes and decoded for each read: the caller owns what it gets and may change it.
  :data:`UNCACHED` kinds (Events: written, never watched) are read from the server each time.
- **Writes** go to the server (``update_status`` through the status subresource; optimistic
  concurrency by ``metadata.resourceVersion``, a stale one is ``Conflict``). The answer also goes into
  the cache when it is newer than what the cache holds, so the writer reads its own write before its
  watch event arrives (client-go's listers lag; the reconcilers here were written against a store
  that does not). The event still comes, later, to every watcher.
- **Watches** (:meth:`KubernetesStore.watch`) fan out the reflectors' events to each caller, after
  replaying the ones newer than ``since`` that the store still holds (:data:`HISTORY` events); a
  ``since`` older than that is ``Gone``, as a compacted etcd answers, and so is a watcher that falls
  :data:`BACKLOG` events behind (it lists again rather than grow our memory).

resourceVersions are etcd's revisions: decimal integers, comparable across kinds. A server whose
resourceVersions are not integers is refused with that message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Final

import orjson

from zeroserve import errors
from zeroserve.api import selectors
from zeroserve.api.base import Obj
from zeroserve.api.kinds import EVENT, Kind
from zeroserve.kubernetes.apiclient import KubeApi, Unreachable, resource_path
from zeroserve.store.base import EventType, Preconditions, Propagation, WatchEvent

log = logging.getLogger(__name__)

UNCACHED: Final = frozenset({EVENT.plural})
HISTORY: Final = 20_000
"""Watch events the store keeps to replay to a watcher that starts at an older resourceVersion."""
BACKLOG: Final = 50_000
"""Events a watcher may have waiting; one more and its watch ends with ``Gone``."""
RETRY: Final = (0.2, 30.0)
"""A reflector's first wait after a failed list or watch, and the most it doubles to."""

Key = tuple[str, str]


def resource_version(obj: Obj) -> int:
    raw = (obj.get("metadata") or {}).get("resourceVersion") or "0"
    try:
        return int(raw)
    except ValueError:
        raise errors.ZeroserveError(
            f"resourceVersion {raw!r} is not an integer: zeroserve needs an etcd-backed API server"
        ) from None


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@dataclass(frozen=True)
class _Entry:
    rv: int
    raw: bytes
    labels: dict[str, str]


def _entry(obj: Obj, raw: bytes | None = None) -> _Entry:
    """``obj`` as the cache keeps it (``raw``: its JSON, when already encoded)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    encoded = orjson.dumps(obj) if raw is None else raw
    return _Entry(resource_version(obj), encoded, {str(k): str(v) for k, v in labels.items()})


def _gone(obj: Obj) -> bool:
    """Whether a DELETE's answer is the object as it went (else it stays, marked, for its finalizers)."""
    meta = obj.get("metadata") or {}
    return not (meta.get("deletionTimestamp") and meta.get("finalizers"))


@dataclass(frozen=True)
class _Event:
    type: EventType
    kind: Kind
    namespace: str
    rv: int
    raw: bytes

    def decoded(self) -> WatchEvent:
        return WatchEvent(self.type, self.kind, orjson.loads(self.raw), self.rv)


@dataclass(eq=False)
class _Watcher:
    kinds: frozenset[Kind]
    namespace: str | None
    queue: asyncio.Queue[_Event | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def wants(self, event: _Event) -> bool:
        return event.kind in self.kinds and (self.namespace is None or event.namespace == self.namespace)

    def put(self, event: _Event) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= BACKLOG:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


class _Informer:
    """One kind's cache and the reflector that keeps it (list, then watch from the list's version)."""

    def __init__(self, store: KubernetesStore, kind: Kind, selector: str = "") -> None:
        self.store = store
        self.kind = kind
        self.selector = selector
        """Only the objects with these labels are cached (a reflector's label selector)."""
        self.objects: dict[Key, _Entry] = {}
        self.tombstones: dict[Key, int] = {}
        """Objects our own DELETE removed from the cache, at the version they went: older events of
        them, still on their way, do not bring them back."""
        self.rv = 0
        self.task: asyncio.Task[None] | None = None

    async def list_now(self) -> None:
        """List the kind and make the cache what the server has, announcing each difference."""
        params = {"labelSelector": self.selector} if self.selector else {}
        body = await self.store.api.request("GET", resource_path(self.kind), params=params)
        list_rv = int((body.get("metadata") or {}).get("resourceVersion") or 0)
        seen: set[Key] = set()
        for item in body.get("items") or []:
            item.setdefault("apiVersion", self.kind.api_version)
            item.setdefault("kind", self.kind.kind)
            key = _key(item)
            seen.add(key)
            old = self.objects.get(key)
            if old is None or old.rv != resource_version(item):
                self.apply("ADDED" if old is None else "MODIFIED", item)
        for key in [k for k in self.objects if k not in seen]:
            self._announce("DELETED", key, list_rv, self.objects.pop(key).raw)
        self.tombstones.clear()
        self.rv = list_rv

    def apply(self, type_: EventType, obj: Obj) -> None:
        """A watch event (or a relist's difference): into the cache, then to every watcher."""
        key, rv = _key(obj), resource_version(obj)
        raw = orjson.dumps(obj)
        if type_ == "DELETED":
            old = self.objects.get(key)
            if old is not None and old.rv <= rv:
                del self.objects[key]
            self.tombstones.pop(key, None)
        else:
            if self.tombstones.get(key, -1) >= rv:
                return
            old = self.objects.get(key)
            if old is None or old.rv <= rv:
                self.objects[key] = _entry(obj, raw)  # one encoding for the cache and the watchers
        self._announce(type_, key, rv, raw)

    def _announce(self, type_: EventType, key: Key, rv: int, raw: bytes) -> None:
        self.store._publish(_Event(type_, self.kind, key[0], rv, raw))

    def observe(self, obj: Obj) -> None:
        """The server's answer to our own write: cached if newer than what the cache holds."""
        key, rv = _key(obj), resource_version(obj)
        old = self.objects.get(key)
        if old is None or old.rv < rv:
            self.objects[key] = _entry(obj)

    def forget(self, obj: Obj) -> None:
        """Our own DELETE removed ``obj`` (as it was last)."""
        key, rv = _key(obj), resource_version(obj)
        old = self.objects.get(key)
        if old is not None and old.rv <= rv:
            del self.objects[key]
        self.tombstones[key] = max(rv, self.tombstones.get(key, 0))

    async def run(self) -> None:
        """Watch from the last list's version for ever: resume at the last event when a stream ends,
        list again when the server says ``Gone``, wait (doubling) while it fails."""
        wait = RETRY[0]
        while True:
            try:
                path = resource_path(self.kind)
                async for type_, obj in self.store.api.watch(path, str(self.rv), label_selector=self.selector):
                    if type_ == "BOOKMARK":
                        self.rv = resource_version(obj)
                        continue
                    obj.setdefault("apiVersion", self.kind.api_version)
                    obj.setdefault("kind", self.kind.kind)
                    if type_ in ("ADDED", "MODIFIED", "DELETED"):
                        self.apply(type_, obj)  # type: ignore[arg-type]
                        self.rv = max(self.rv, resource_version(obj))
                wait = RETRY[0]
            except errors.Gone:
                log.info("%s: watch expired at resourceVersion %d; listing again", self.kind.plural, self.rv)
                try:
                    await self.list_now()
                except (Unreachable, errors.ApiError) as e:
                    log.warning("%s: list failed: %s", self.kind.plural, e)
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, RETRY[1])
            except (Unreachable, errors.ApiError) as e:
                log.warning("%s: watch failed: %s (again in %.1fs)", self.kind.plural, e, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY[1])


def _select(informer: _Informer, namespace: str | None, label_selector: str | None) -> list[Obj]:
    """The informer's objects in ``namespace`` (None: all) with these labels, by namespace and name."""
    selector = selectors.parse(label_selector)
    everywhere = namespace is None or not informer.kind.namespaced
    return [
        orjson.loads(entry.raw)
        for (ns, _), entry in sorted(informer.objects.items())
        if (everywhere or ns == namespace) and selector.matches(entry.labels)
    ]


class KubernetesStore:
    """The Store protocol on a Kubernetes API server (``api``), with the caches described above."""

    def __init__(self, api: KubeApi, *, history: int = HISTORY, selectors: Mapping[Kind, str] | None = None) -> None:
        """``selectors``: a label selector for a kind of which only some objects matter (a cluster's
        Pods: those of revisions); reads of that kind see only those."""
        self.api = api
        self._selectors = dict(selectors or {})
        self._informers: dict[Kind, _Informer] = {}
        self._starting: dict[Kind, asyncio.Lock] = {}
        self._history: deque[_Event] = deque(maxlen=history)
        self._evicted = 0
        """The newest resourceVersion the history no longer holds: a watch from before it is Gone."""
        self._watchers: set[_Watcher] = set()

    async def _informer(self, kind: Kind) -> _Informer:
        informer = self._informers.get(kind)
        if informer is not None:
            return informer
        lock = self._starting.setdefault(kind, asyncio.Lock())
        async with lock:
            informer = self._informers.get(kind)
            if informer is None:
                informer = _Informer(self, kind, self._selectors.get(kind, ""))
                await informer.list_now()
                informer.task = asyncio.get_running_loop().create_task(informer.run(), name=f"informer {kind.plural}")
                self._informers[kind] = informer
        return informer

    def _publish(self, event: _Event) -> None:
        if len(self._history) == self._history.maxlen:
            self._evicted = max(self._evicted, self._history[0].rv)
        self._history.append(event)
        for watcher in self._watchers:
            if watcher.wants(event):
                watcher.put(event)

    def _cached(self, kind: Kind) -> bool:
        return kind.plural not in UNCACHED

    def cached(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        """The cached object, without waiting (None: not cached, or the kind is not cached yet)."""
        informer = self._informers.get(kind)
        entry = None if informer is None else informer.objects.get((namespace if kind.namespaced else "", name))
        return None if entry is None else orjson.loads(entry.raw)

    def cached_list(self, kind: Kind, label_selector: str | None = None) -> list[Obj]:
        """The cached objects of ``kind`` with these labels, without waiting."""
        informer = self._informers.get(kind)
        return [] if informer is None else _select(informer, None, label_selector)

    async def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        if not self._cached(kind):
            return await self.api.request("GET", resource_path(kind, namespace, name))
        await self._informer(kind)
        obj = self.cached(kind, namespace, name)
        if obj is None:
            resource = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
            raise errors.NotFound(f'{resource} "{name}" not found')
        return obj

    async def list(
        self, kind: Kind, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[list[Obj], int]:
        if not self._cached(kind):
            params = {"labelSelector": label_selector} if label_selector else {}
            body = await self.api.request("GET", resource_path(kind, namespace), params=params)
            rv = int((body.get("metadata") or {}).get("resourceVersion") or 0)
            return list(body.get("items") or []), rv
        informer = await self._informer(kind)
        return _select(informer, namespace, label_selector), informer.rv

    def _wrote(self, kind: Kind, obj: Obj) -> Obj:
        """The server's answer to a write, into the cache if the kind is cached."""
        informer = self._informers.get(kind)
        if informer is not None:
            informer.observe(obj)
        return obj

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        created = await self.api.request("POST", resource_path(kind, namespace or None), body=obj)
        return self._wrote(kind, created)

    async def update(self, kind: Kind, obj: Obj) -> Obj:
        namespace, name = _key(obj)
        updated = await self.api.request("PUT", resource_path(kind, namespace or None, name), body=obj)
        return self._wrote(kind, updated)

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        namespace, name = _key(obj)
        updated = await self.api.request("PUT", resource_path(kind, namespace or None, name, "status"), body=obj)
        return self._wrote(kind, updated)

    async def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        propagation: Propagation | None = None,
        preconditions: Preconditions | None = None,
    ) -> Obj:
        options: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation is not None:
            options["propagationPolicy"] = propagation
        if preconditions is not None:
            pre = {"uid": preconditions.uid, "resourceVersion": preconditions.resource_version}
            options["preconditions"] = {k: v for k, v in pre.items() if v is not None}
        answer = await self.api.request("DELETE", resource_path(kind, namespace, name), body=options)
        informer = self._informers.get(kind)
        if informer is not None and answer.get("kind") != "Status":
            if _gone(answer):
                informer.forget(answer)
            else:
                informer.observe(answer)
        return answer

    async def watch(
        self, kinds: tuple[Kind, ...], since: int | None = None, namespace: str | None = None
    ) -> AsyncIterator[WatchEvent]:
        for kind in kinds:
            await self._informer(kind)
        watcher = _Watcher(frozenset(kinds), namespace)
        if since is not None:
            if since < self._evicted:
                raise errors.Gone(f"too old resource version: {since} ({self._evicted})")
            for event in self._history:
                if event.rv > since and watcher.wants(event):
                    watcher.put(event)
        self._watchers.add(watcher)
        try:
            while True:
                queued = await watcher.queue.get()
                if queued is None:
                    raise errors.Gone(f"the watch fell {BACKLOG} events behind")
                yield queued.decoded()
        finally:
            self._watchers.discard(watcher)

    async def close(self) -> None:
        tasks = [i.task for i in self._informers.values() if i.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._informers.clear()
        await self.api.close()
