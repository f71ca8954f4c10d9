"""The pod mirror: each instance of the runtime as a core/v1 Pod in the store (read-only to users).

Pods are written to the store, not computed per request: list, get, watch (``kubectl get -w``,
client-go informers), label and field selectors and the Table printer then work as for every other
kind, at the cost of a few writes per instance (made, started, ready, stopping, gone: a create and a
status write, then one status write per change, then a delete; SQLite commits them in well under a
millisecond each, against the ~100 ms an instance takes to start). An instance that changes several
times before the mirror runs costs one write.

The runtime announces a changed workload key (``Runtime.subscribe``); the mirror marks it dirty and
its task syncs each dirty key: the Revision from the store (its labels and uids), the instances from
the runtime (``instances(key)``), the pods of that revision from the store; then creates the pods of
new instances, writes the status of changed ones and deletes the pods of gone ones. At start every
pod in the store is checked (pods of an earlier run are deleted: their instances died with it).
A write that fails (a conflict with a concurrent delete, a namespace going away) marks the key dirty
again; the next change retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
from typing import Protocol

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.api.kinds import POD, REVISION
from zeroserve.clock import Clock, rfc3339
from zeroserve.controller.resources.pod import build_pod
from zeroserve.errors import ApiError, NotFound
from zeroserve.runtime.base import InstanceView, OnChange, WorkloadKey
from zeroserve.store.base import Store

log = logging.getLogger(__name__)


class InstanceSource(Protocol):
    def instances(self, key: WorkloadKey) -> tuple[InstanceView, ...]: ...

    def keys(self) -> list[WorkloadKey]: ...

    def subscribe(self, callback: OnChange) -> None: ...


def _same(a: Obj, b: Obj) -> bool:
    return a.get("status") == b.get("status") and (a.get("metadata") or {}).get("labels") == (
        b.get("metadata") or {}
    ).get("labels")


class PodMirror:
    """Pods of ``source``'s instances in ``store``: :meth:`run` on a task of its own."""

    def __init__(self, store: Store, source: InstanceSource, clock: Clock, node_name: str | None = None) -> None:
        self._store = store
        self._source = source
        self._clock = clock
        self.node_name = node_name or platform.node() or "zeroserve"
        self._dirty: set[WorkloadKey] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        source.subscribe(self.changed)

    def changed(self, key: WorkloadKey) -> None:
        self._dirty.add(key)
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        try:
            await self._resync()
        except Exception:  # the store is read again on the next change of each key
            log.exception("pods cannot be listed")
        while True:
            if not self._dirty:
                self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                key = self._dirty.pop()
                try:
                    await self.sync(key)
                except ApiError as err:
                    log.info("pods of %s: %s (retried on the next change)", key, err)
                except Exception:  # never let one key stop the mirror
                    log.exception("pods of %s cannot be written", key)

    async def settled(self) -> None:
        """Wait until every change announced so far is written (tests)."""
        await self._idle.wait()

    async def _resync(self) -> None:
        pods, _ = await self._store.list(POD)
        keys = set(self._source.keys())
        for pod in pods:
            meta = pod.get("metadata") or {}
            key = WorkloadKey(str(meta.get("namespace", "")), str((meta.get("labels") or {}).get(labels.REVISION, "")))
            keys.add(key)
        self._dirty |= keys
        self._wake.set()

    async def sync(self, key: WorkloadKey) -> None:
        """Make the stored pods of ``key`` those of its instances now (a Revision's: a ContainerSource's
        adapter has no pods in the store)."""
        if key.kind != "Revision":
            return
        views = self._source.instances(key)
        revision: Obj | None = None
        if views:
            try:
                revision = await self._store.get(REVISION, key.namespace, key.revision)
            except NotFound:
                revision = None
            if revision is not None and (revision.get("metadata") or {}).get("deletionTimestamp"):
                revision = None
        stored, _ = await self._store.list(POD, key.namespace, f"{labels.REVISION}={key.revision}")
        by_name = {str(p["metadata"]["name"]): p for p in stored}
        wanted = {v.name: v for v in views} if revision is not None else {}
        now = rfc3339(self._clock.wall())
        for name, view in wanted.items():
            assert revision is not None
            previous = by_name.get(name)
            pod = build_pod(revision, view, node_name=self.node_name, now=now, previous=previous)
            if previous is None:
                created = await self._store.create(POD, {**pod, "status": {}})
                await self._store.update_status(POD, {**created, "status": pod["status"]})
            elif not _same(previous, pod):
                if previous["metadata"].get("labels") != pod["metadata"]["labels"]:
                    meta = {**previous["metadata"], "labels": pod["metadata"]["labels"]}
                    previous = await self._store.update(POD, {**previous, "metadata": meta})
                await self._store.update_status(POD, {**previous, "status": pod["status"]})
        for name in by_name.keys() - wanted.keys():
            with contextlib.suppress(NotFound):
                await self._store.delete(POD, key.namespace, name)
