"""Which Revisions and Configurations carry each Route in their ``serving.knative.dev/routes``
annotation: the labeler's index, so that unmarking what a Route no longer lists reads the few
objects that name it instead of every Revision and Configuration of the namespace (Knative's
labeler filters its informers' in-memory listers; our store decodes every object it lists).

Fed as Knative's listers are, by the controller's list and watch (:meth:`RouteMarks.observe`),
and by the labeler's own writes at once (so a route's next reconcile sees what the previous one
marked even before its event arrives). Like a lister it may lag the store: the labeler re-reads
every candidate before it changes it, and an object seen carrying a route it was not known to
carry enqueues that route (:meth:`observe` returns it), so one that was missed is unmarked then.
"""

from __future__ import annotations

import sys

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.store.indexes import hold, members, release

Ref = tuple[str, str]
"""(kind, name) of a marked object, within its namespace."""


def routes_named(obj: Obj) -> frozenset[str]:
    """The route names in ``obj``'s routes annotation."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return _split(annotations.get(labels.ROUTES, ""))


def _split(routes: str) -> frozenset[str]:
    return frozenset(r for r in routes.split(",") if r)


class RouteMarks:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, str, str], str] = {}
        """(kind, namespace, name) -> its routes annotation (interned: most name one route, whose
        name the controller's keys hold already; a frozenset for each was ~200 bytes)."""
        self._seen: dict[tuple[str, str, str], int] = {}
        """(kind, namespace, name) -> the resourceVersion last observed (an older event changes nothing)."""
        self._marked: dict[tuple[str, str], Ref | frozenset[Ref]] = {}
        """(namespace, route) -> the object that names it, or the set of them when more than one (:func:`hold`)."""

    def observe(self, kind: str, obj: Obj, deleted: bool = False) -> frozenset[str]:
        """Record ``obj`` as stored now; returns the routes it names that it was not known to name."""
        meta = obj.get("metadata", {})
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        key = (kind, ns, name)
        rv = int(meta.get("resourceVersion") or 0)
        if rv < self._seen.get(key, 0):
            return frozenset()
        if deleted:
            self._seen.pop(key, None)
        else:
            self._seen[key] = rv
        new = frozenset() if deleted else routes_named(obj)
        old = _split(self._routes.get(key, ""))
        if new == old:
            return frozenset()
        ref = (kind, name)
        for route in old - new:
            release(self._marked, (ns, route), ref)
        for route in new - old:
            hold(self._marked, (ns, route), ref)
        if new:
            self._routes[key] = sys.intern(",".join(sorted(new)))
        else:
            self._routes.pop(key, None)
        return new - old

    def marked(self, namespace: str, route: str) -> list[Ref]:
        """The objects known to name ``route``, sorted."""
        return sorted(members(self._marked.get((namespace, route))))
