"""What every reconciler shares: its key, its dependencies and the status write rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.kinds import Kind
from zeroserve.clock import Clock
from zeroserve.config import Config
from zeroserve.controller.ingress import Ingress
from zeroserve.controller.reconcilers.digests import DigestResolver
from zeroserve.controller.reconcilers.routemarks import RouteMarks
from zeroserve.controller.recorder import NullRecorder, Recorder
from zeroserve.errors import NotFound
from zeroserve.runtime.base import Runtime
from zeroserve.store.base import Store

M = TypeVar("M", bound=BaseModel)

Requeue = float | None
"""What ``reconcile`` returns: run again after this many seconds, or None."""


@dataclass(frozen=True, order=True)
class Key:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


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
    return to_wire(model).get("status", {})


async def write_status(store: Store, kind: Kind, stored: Obj, model: BaseModel) -> Obj:
    """Write ``model.status`` only when it differs from the stored one (resourceVersion-checked)."""
    status = status_of(model)
    if status == stored.get("status", {}):
        return stored
    return await store.update_status(kind, {**stored, "status": status})


async def write_meta(store: Store, kind: Kind, stored: Obj, labels: dict[str, str], annotations: dict[str, str]) -> Obj:
    """Replace the labels and annotations of ``stored`` if they differ."""
    meta = stored.get("metadata", {})
    if meta.get("labels", {}) == labels and meta.get("annotations", {}) == annotations:
        return stored
    new_meta = {**meta, "labels": labels, "annotations": annotations}
    return await store.update(kind, {**stored, "metadata": new_meta})
