"""What every reconciler shares: its key, its dependencies and the status write rule."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.kinds import Kind
from zeroserve.clock import Clock
from zeroserve.config import Config
from zeroserve.controller.ingress import Ingress, IngressWaits
from zeroserve.controller.reconcilers.digests import DigestResolver
from zeroserve.controller.reconcilers.routemarks import RouteMarks
from zeroserve.controller.recorder import NullRecorder, Recorder
from zeroserve.errors import NotFound
from zeroserve.runtime.base import Runtime, WorkloadKey
from zeroserve.store.base import Store

M = TypeVar("M", bound=BaseModel)

Requeue = float | None
"""What ``reconcile`` returns: run again after this many seconds, or None."""


@dataclass(frozen=True, order=True, slots=True)
class Key:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def interned(value: str) -> str:
    """``value`` interned (one string for a name or uid that many keys and indexes hold), anything
    not a string as it is."""
    return sys.intern(value) if type(value) is str else value


@dataclass
class Deps:
    store: Store
    runtime: Runtime
    config: Callable[[], Config]
    clock: Clock
    ingress: Ingress
    digests: DigestResolver | None = None
    """Tag-to-digest resolution for Revisions (None: no image store; images keep their tags)."""
    recorder: Recorder = field(default_factory=NullRecorder)
    """Kubernetes Events about the objects reconciled (:mod:`zeroserve.controller.recorder`)."""
    marks: RouteMarks | None = None
    """Which objects name each route, fed by the controller's watch (None: the labeler lists the store)."""
    ingress_waits: IngressWaits | None = None
    """Where a Route reconcile waits for the gateway to serve what it published (None: it does not)."""
    ensuring: set[WorkloadKey] = field(default_factory=set)
    """The workloads a Revision's reconcile is handing to the runtime now: a runtime change of one of
    them meanwhile is that reconcile's own, which reads the runtime's status right after (the
    controller does not enqueue the Revision for it, as for an echo of its writes)."""

    def now(self) -> datetime:
        return self.clock.wall()


async def get_or_none(store: Store, kind: Kind, namespace: str, name: str) -> Obj | None:
    try:
        return await store.get(kind, namespace, name)
    except NotFound:
        return None


async def load(store: Store, kind: Kind, cls: type[M], namespace: str, name: str) -> tuple[Obj, M] | None:
    obj = await get_or_none(store, kind, namespace, name)
    return None if obj is None else (obj, from_wire(cls, obj))


def status_of(model: BaseModel) -> Any:
    """``to_wire(model).get("status", {})``, without dumping the rest of the model."""
    status = getattr(model, "status", None)
    if isinstance(status, BaseModel):
        return to_wire(status)
    return to_wire(model).get("status", {})


async def write_status(store: Store, kind: Kind, stored: Obj, model: BaseModel) -> Obj:
    """Write ``model.status`` only when it differs semantically from the stored one
    (:func:`semantically_equal`; resourceVersion-checked)."""
    status = status_of(model)
    if semantically_equal(status, stored.get("status", {})):
        return stored
    return await store.update_status(kind, {**stored, "status": status})


def semantically_equal(a: Any, b: Any) -> bool:
    """Knative's ``equality.Semantic.DeepEqual`` on statuses, which the generated reconcilers compare
    before ``UpdateStatus``: a condition's ``lastTransitionTime`` is an ``apis.VolatileTime``, equal to
    every other (knative.dev/pkg apis/volatile_time.go). A status that differs only in those times
    is not written: the condition managers stamp a new time whenever a condition passes through
    another state within one reconcile (``Ready`` follows each dependent marked in turn), so each
    pass would otherwise write, and its own write's event would reconcile it again."""
    return bool(a == b or _without_volatile(a) == _without_volatile(b))


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: [_without_time(c) for c in v] if k == "conditions" and isinstance(v, list) else _without_volatile(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _without_time(condition: Any) -> Any:
    if isinstance(condition, dict):
        return {k: v for k, v in condition.items() if k != "lastTransitionTime"}
    return condition


async def write_meta(store: Store, kind: Kind, stored: Obj, labels: dict[str, str], annotations: dict[str, str]) -> Obj:
    """Replace the labels and annotations of ``stored`` if they differ."""
    meta = stored.get("metadata", {})
    if meta.get("labels", {}) == labels and meta.get("annotations", {}) == annotations:
        return stored
    new_meta = {**meta, "labels": labels, "annotations": annotations}
    return await store.update(kind, {**stored, "metadata": new_meta})
