"""Reading what a revision's env and volumes need: its ConfigMaps and Secrets, and this machine.

:func:`load` gets every object :func:`~zeroserve.controller.resources.configdata.references` names
from the store (Secrets come back decrypted: the store encrypts them at rest), as the kubelet's
managers do for a pod; the pure :func:`~zeroserve.controller.resources.workload.make_workload` turns
them into the Workload. :func:`machine` is the node the downward API shows (its host name and
allocatable cpu, memory and disk), read once.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
from fractions import Fraction

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, REVISION, SECRET
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.resources.configdata import Data, Ref, Sources, configmap_data, references, secret_data
from zeroserve.controller.resources.downward import Node
from zeroserve.errors import NotFound
from zeroserve.store.base import Store


async def load(store: Store, namespace: str, refs: set[Ref]) -> Sources:
    """The objects ``refs`` name in ``namespace`` (None for a missing one)."""
    found: dict[Ref, Data | None] = {}
    for ref in sorted(refs):
        kind = CONFIGMAP if ref.kind == "ConfigMap" else SECRET
        try:
            obj = await store.get(kind, namespace, ref.name)
        except NotFound:
            found[ref] = None
            continue
        found[ref] = configmap_data(obj) if kind is CONFIGMAP else secret_data(obj)
    return found


@functools.cache
def machine() -> Node:
    """This machine as a node: its host name, cores, memory and the root filesystem's size."""
    memory = 0
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    try:
        disk = shutil.disk_usage("/").total
    except OSError:
        disk = 0
    return Node(socket.gethostname(), Fraction(os.cpu_count() or 1), memory, disk)


class ConfigIndex:
    """Which revisions read which ConfigMaps and Secrets (kept from the watched Revisions): a change
    of one of those objects reconciles the revisions that read it (new env for new instances, new
    files in running ones' volumes, or a missing key reported and then fixed)."""

    def __init__(self) -> None:
        self._reads: dict[tuple[str, str], set[Ref]] = {}
        self._readers: dict[tuple[str, Ref], set[str]] = {}

    def observe(self, kind: str, obj: Obj, deleted: bool) -> list[Key]:
        """Track a Revision's references; for a ConfigMap or Secret, the revisions to reconcile."""
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        if kind == REVISION.kind:
            self._track(ns, name, set() if deleted else references(obj.get("spec") or {}))
            return []
        if kind not in (CONFIGMAP.kind, SECRET.kind):
            return []
        readers = self._readers.get((ns, Ref(kind, name)), set())  # type: ignore[arg-type]
        return [Key(REVISION.kind, ns, revision) for revision in sorted(readers)]

    def _track(self, ns: str, revision: str, refs: set[Ref]) -> None:
        old = self._reads.pop((ns, revision), set())
        for ref in old - refs:
            readers = self._readers.get((ns, ref))
            if readers is not None:
                readers.discard(revision)
                if not readers:
                    del self._readers[(ns, ref)]
        for ref in refs:
            self._readers.setdefault((ns, ref), set()).add(revision)
        if refs:
            self._reads[(ns, revision)] = refs
