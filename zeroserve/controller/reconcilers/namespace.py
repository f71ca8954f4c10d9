"""The namespace controller: a deleted namespace empties, then goes (pkg/controller/namespace).

Deleting a Namespace leaves it ``Terminating`` (``deletionTimestamp``) while ``spec.finalizers``
holds ``kubernetes`` (the store keeps it; see :mod:`zeroserve.store.sqlite`). This reconciler then
deletes every object of every namespaced kind in it, with the default (background) propagation, so
the garbage collector and the objects' own finalizers run as for any delete, and looks again until
nothing is left; then it removes the ``kubernetes`` finalizer, and the store deletes the namespace
once no finalizer of either list remains. Meanwhile the namespace's status carries the deleter's
five conditions with its reasons and messages (``deletion/status_condition_utils.go``): what is
left (``NamespaceContentRemaining``: ``configmaps. has 1 resource instances``) and which
finalizers hold it (``NamespaceFinalizersRemaining``).
"""

from __future__ import annotations

import logging
from typing import Final

from zeroserve.api.base import Obj
from zeroserve.api.core import FINALIZER_KUBERNETES
from zeroserve.api.kinds import API_KINDS, NAMESPACE
from zeroserve.clock import rfc3339
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
    remaining, held = await _delete_content(deps, key.name)
    status = ns.get("status") or {}
    conds = deletion_conditions(status.get("conditions") or [], remaining, held, rfc3339(deps.now()))
    if conds != status.get("conditions"):
        ns = await deps.store.update_status(NAMESPACE, {**ns, "status": {**status, "conditions": conds}})
    if remaining:
        log.debug("namespace %s: content remaining: %s", key.name, remaining)
        return CONTENT_POLL
    finalizers.remove(FINALIZER_KUBERNETES)
    await deps.store.update(NAMESPACE, {**ns, "spec": {**spec, "finalizers": finalizers}})
    return None


async def _delete_content(deps: Deps, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
    """Delete what is in ``namespace``; what is still there after, by resource and by finalizer."""
    remaining: dict[str, int] = {}
    held: dict[str, int] = {}
    for kind in API_KINDS:  # the core Services too (the controller does not watch them)
        if not kind.namespaced or kind.conversion is not None:  # another version of a stored kind
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
                res = f"{kind.plural}.{kind.group}"
                remaining[res] = remaining.get(res, 0) + 1
                for f in item["metadata"].get("finalizers") or []:
                    held[f] = held.get(f, 0) + 1
    return remaining, held


CONDITION_TYPES: Final = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
OK: Final = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def deletion_conditions(old: list[Obj], remaining: dict[str, int], held: dict[str, int], now: str) -> list[Obj]:
    """The namespace deleter's conditions (``updateConditions``): a failing one True with what fails,
    the others False with their "ok" reason; the transition time moves only with the status."""
    failing: dict[str, tuple[str, str]] = {}
    if remaining:
        listed = ", ".join(sorted(f"{r} has {n} resource instances" for r, n in remaining.items()))
        failing["NamespaceContentRemaining"] = ("SomeResourcesRemain", f"Some resources are remaining: {listed}")
    if held:
        listed = ", ".join(sorted(f"{f} in {n} resource instances" for f, n in held.items()))
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {listed}",
        )
    out = [dict(c) for c in old]
    for type_ in CONDITION_TYPES:
        status = "True" if type_ in failing else "False"
        reason, message = failing.get(type_) or OK[type_]
        current = next((c for c in out if c.get("type") == type_), None)
        if current is None:
            out.append(
                {"type": type_, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}
            )
        elif (current.get("status"), current.get("reason"), current.get("message")) != (status, reason, message):
            if current.get("status") != status:
                current["lastTransitionTime"] = now
            current.update(status=status, reason=reason, message=message)
    return out
