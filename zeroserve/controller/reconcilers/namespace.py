"""The namespace controller: a deleted namespace empties, then goes (pkg/controller/namespace).

Deleting a Namespace leaves it ``Terminating`` (``deletionTimestamp``) while ``spec.finalizers``
holds ``kubernetes`` (the store keeps it; see :mod:`zeroserve.store.sqlite`). This reconciler then
deletes every object of every namespaced kind in it, with the default (background) propagation, so
the garbage collector and the objects' own finalizers run as for any delete, and looks again until
nothing is left; then it removes the ``kubernetes`` finalizer, and the store deletes the namespace
once no finalizer of either list remains.
"""

from __future__ import annotations

import logging
from typing import Final

from zeroserve.api.core import FINALIZER_KUBERNETES
from zeroserve.api.kinds import KINDS, NAMESPACE
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none
from zeroserve.errors import NotFound

log = logging.getLogger(__name__)

CONTENT_POLL: Final = 0.5
"""Seconds between looks at a terminating namespace whose content is not gone yet (objects with
finalizers of their own take as long as their controllers do)."""


async def reconcile(deps: Deps, key: Key) -> Requeue:
    ns = await get_or_none(deps.store, NAMESPACE, "", key.name)
    if ns is None or not ns["metadata"].get("deletionTimestamp"):
        return None
    spec = ns.get("spec") or {}
    finalizers = list(spec.get("finalizers") or [])
    if FINALIZER_KUBERNETES not in finalizers:
        return None
    remaining = await _delete_content(deps, key.name)
    if remaining:
        log.debug("namespace %s: %d objects remaining", key.name, remaining)
        return CONTENT_POLL
    finalizers.remove(FINALIZER_KUBERNETES)
    await deps.store.update(NAMESPACE, {**ns, "spec": {**spec, "finalizers": finalizers}})
    return None


async def _delete_content(deps: Deps, namespace: str) -> int:
    """Delete what is in ``namespace``; how many objects are still there after."""
    remaining = 0
    for kind in KINDS:
        if not kind.namespaced:
            continue
        items, _ = await deps.store.list(kind, namespace)
        for item in items:
            meta = item["metadata"]
            if not meta.get("deletionTimestamp"):
                try:
                    item = await deps.store.delete(kind, namespace, meta["name"])
                except NotFound:
                    continue
            if item["metadata"].get("deletionTimestamp"):  # held by its finalizers
                remaining += 1
    return remaining
