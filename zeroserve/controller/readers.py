"""Which Revision events its readers must see: the Revision's Configuration (its owner) and the
Routes that send or may send traffic to it read a small part of it, and most of its events change
nothing in that part (issue 19: a new revision's three or four status writes enqueued its
Configuration and Routes each time, ~40 % of their reconciles wrote nothing).

What they read (:func:`route_view`): whether it is ready, the ``Ready`` condition's status when
its observedGeneration is its generation, else Unknown (configuration.go's
``findAndSetLatestReadyRevision``, the route's traffic resolution), with that condition's message
when it failed (the Configuration's Ready message quotes it); its labels and annotations (the
configuration generation, the route labeler's marks and routing state, revision GC's inputs), its
owner references and its deletion. Not its replica counts, its other conditions or its image
digest, which change as it scales and starts. An event whose view is the last one seen for that
Revision enqueues neither; the first event of a Revision (and every event after a restart's list)
does.

Knative's route and configuration controllers are enqueued on every event of what they track
(``tracker.OnChanged``, ``EnqueueControllerOf``) and find nothing to do; reading from informer
caches, that is cheap there. Here each reconcile decodes what it reads.
"""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.api.conditions import READY

View = int
"""The hash of :func:`route_view`'s tuple (64 bits: two views that differ and collide would lose one
enqueue; the next change of the Revision, a Route's or Configuration's own event, or a restart
enqueues again)."""


def route_view(obj: Obj) -> View:
    """What a Revision's Configuration and Routes read of it, hashed."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == READY), None)
    state = "Unknown"
    if ready is not None and status.get("observedGeneration") == meta.get("generation"):
        state = ready.get("status") or "Unknown"
    return hash(
        (
            state,
            ready.get("message") if ready is not None and state == "False" else None,
            tuple(sorted((meta.get("labels") or {}).items())),
            tuple(sorted((meta.get("annotations") or {}).items())),
            tuple((r.get("uid"), r.get("controller")) for r in meta.get("ownerReferences") or ()),
            meta.get("deletionTimestamp"),
        )
    )


class RevisionReaders:
    """The last :func:`route_view` seen of each Revision, by (namespace, name)."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], View] = {}

    def changed(self, namespace: str, name: str, obj: Obj, deleted: bool) -> bool:
        """Whether this event of the Revision must reach its Configuration and Routes (and note it)."""
        key = (namespace, name)
        if deleted:
            self._views.pop(key, None)
            return True
        view = route_view(obj)
        if self._views.get(key) == view:
            return False
        self._views[key] = view
        return True
