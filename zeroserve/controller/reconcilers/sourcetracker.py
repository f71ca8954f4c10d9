"""Which PingSources, SinkBindings and ContainerSources to reconcile when another object changes
(Knative's tracker on their sink refs and a SinkBinding's subject; a subject chosen by label selector
tracks every object of its kind in the namespace). ContainerSources also follow the SinkBinding
they own, through the runner's owner handling, and a SinkBinding whose subject is a ContainerSource
(by name, or every ContainerSource of the namespace for a selector): they read its sink."""

from __future__ import annotations

from collections.abc import Iterable

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONTAINERSOURCE, PINGSOURCE, SINKBINDING
from zeroserve.controller.reconcilers.base import Key

ANY = "*"
Ref = tuple[str, str, str]
"""(kind, namespace, name or ``*``)."""
KINDS = (PINGSOURCE.kind, SINKBINDING.kind, CONTAINERSOURCE.kind)


def depends_on(obj: Obj) -> set[Ref]:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    ns = str(meta.get("namespace") or "")
    refs: set[Ref] = set()
    ref = (spec.get("sink") or {}).get("ref")
    if isinstance(ref, dict) and ref.get("kind") and ref.get("name"):
        refs.add((str(ref["kind"]), str(ref.get("namespace") or ns), str(ref["name"])))
    subject = spec.get("subject")
    if isinstance(subject, dict) and subject.get("kind"):
        refs.add((str(subject["kind"]), str(subject.get("namespace") or ns), str(subject.get("name") or ANY)))
    return refs


class SourceTracker:
    def __init__(self) -> None:
        self._refs: dict[Key, set[Ref]] = {}

    def observe(self, kind: str, obj: Obj, deleted: bool) -> Iterable[Key]:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if kind in KINDS:
            key = Key(kind, ns, name)
            if deleted:
                self._refs.pop(key, None)
            else:
                self._refs[key] = depends_on(obj)
        hit = {(kind, ns, name), (kind, ns, ANY)}
        found = [key for key, refs in self._refs.items() if refs & hit]
        if kind == SINKBINDING.kind:
            subjects = depends_on(obj)
            found += [
                key
                for key in self._refs
                if key.kind == CONTAINERSOURCE.kind
                and {(key.kind, key.namespace, key.name), (key.kind, key.namespace, ANY)} & subjects
            ]
        return found
