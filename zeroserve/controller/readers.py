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
does. The Routes that send traffic to it through its Configuration read its readiness only while
it is the Configuration's latest ready revision: a new revision that becomes ready reaches them
through its Configuration's status (``latestReadyRevisionName``), whose event enqueues them then
(and they read the state of that moment).

Knative's route and configuration controllers are enqueued on every event of what they track
(``tracker.OnChanged``, ``EnqueueControllerOf``) and find nothing to do; reading from informer
caches, that is cheap there. Here each reconcile decodes what it reads.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from zeroserve.api.base import Obj
from zeroserve.api.conditions import READY

View = tuple[str | None, int]
"""What a Revision's readers read of it: its readiness (``Unknown``, ``True``, or ``False`` with the
failure's message) and the hash of the rest (64 bits: two that differ and collide would lose one
enqueue; the next change of the Revision, a Route's or Configuration's own event, or a restart
enqueues again)."""


def route_view(obj: Obj) -> View:
    """What a Revision's Configuration and Routes read of it."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == READY), None)
    state = "Unknown"
    if ready is not None and status.get("observedGeneration") == meta.get("generation"):
        state = ready.get("status") or "Unknown"
    if state == "False" and ready is not None:
        state = f"False: {ready.get('message') or ''}"
    rest = hash(
        (
            tuple(sorted((meta.get("labels") or {}).items())),
            tuple(sorted((meta.get("annotations") or {}).items())),
            tuple((r.get("uid"), r.get("controller")) for r in meta.get("ownerReferences") or ()),
            meta.get("deletionTimestamp"),
        )
    )
    return sys.intern(state) if len(state) < 16 else state, rest


@dataclass(frozen=True, slots=True)
class Moved:
    """What an event of a Revision changed for its readers."""

    readiness: bool
    rest: bool

    def __bool__(self) -> bool:
        return self.readiness or self.rest


ALL = Moved(True, True)
NOTHING = Moved(False, False)


class RevisionReaders:
    """The last :func:`route_view` seen of each Revision, by (namespace, name), and the
    ``latestReadyRevisionName`` last seen of each Configuration."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], View] = {}
        self._latest_ready: dict[tuple[str, str], str] = {}

    def changed(self, namespace: str, name: str, obj: Obj, deleted: bool) -> Moved:
        """What this event of the Revision changed for its Configuration and Routes (and note it)."""
        key = (namespace, name)
        if deleted:
            self._views.pop(key, None)
            return ALL
        view = route_view(obj)
        before = self._views.get(key)
        if before == view:
            return NOTHING
        self._views[key] = view
        if before is None:
            return ALL
        return Moved(before[0] != view[0], before[1] != view[1])

    def configuration(self, namespace: str, name: str, obj: Obj, deleted: bool) -> None:
        """Note the Configuration's latest ready revision (from its event)."""
        latest = (obj.get("status") or {}).get("latestReadyRevisionName")
        if deleted or not latest:
            self._latest_ready.pop((namespace, name), None)
        else:
            self._latest_ready[(namespace, name)] = sys.intern(latest)

    def routed_by_configuration(self, namespace: str, configuration: str, revision: str) -> bool:
        """Whether the Configuration's latest ready revision, as last seen, is ``revision``: the
        Routes that name the Configuration read that one's readiness, no other's."""
        return self._latest_ready.get((namespace, configuration)) == revision
