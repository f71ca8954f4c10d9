"""Service reconciler (pkg/reconciler/service/service.go).

Phases: the owned Configuration (create, or update when the desired one differs) -> the owned
Route (same) -> status propagated from both (``ConfigurationsReady``, ``RoutesReady``,
latest revisions, url, address, traffic) -> ``TrafficNotMigrated`` while the route lags the
configuration -> ``Ready``. A same-named child not controlled by the Service is left alone and
reported as ``NotOwned``.

Events, as Knative's: ``Normal Created`` ``Created Configuration "hello"`` / ``Created Route "hello"``,
``Warning CreationFailed`` when a create fails, and the ``Warning InternalError`` Knative's returned
error becomes for a child it does not own (``service: "hello" does not own route: "hello"``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.conditions import READY, SERVICE_CONDITIONS, ConditionManager
from zeroserve.api.configuration import Configuration
from zeroserve.api.core import EVENT_NORMAL, EVENT_WARNING
from zeroserve.api.kinds import CONFIGURATION, ROUTE, SERVICE, Kind
from zeroserve.api.route import Route, TrafficTarget
from zeroserve.api.service import Service
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.configuration import make_configuration
from zeroserve.controller.resources.route import make_route
from zeroserve.errors import ApiError

log = logging.getLogger(__name__)

AGENT = "service-controller"
"""The source of this reconciler's events (Knative's ``defaultControllerAgentName``)."""

CONFIGURATIONS_READY = "ConfigurationsReady"
ROUTES_READY = "RoutesReady"
NOT_OWNED = "NotOwned"
OUT_OF_DATE = "OutOfDate"


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, SERVICE, Service, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        return None
    stored, svc = loaded
    cm = SERVICE_CONDITIONS.manage(svc.status, deps.now())
    cm.initialize()
    cfg = await _reconcile_child(
        deps, stored, svc, CONFIGURATION, lambda old: make_configuration(svc, old), Configuration
    )
    route = await _reconcile_child(deps, stored, svc, ROUTE, lambda _old: make_route(svc), Route)
    if cfg is None:
        cm.mark_false(
            CONFIGURATIONS_READY, NOT_OWNED, f'There is an existing Configuration "{key.name}" that we do not own.'
        )
        _not_owned(deps, stored, "configuration")
    else:
        propagate_configuration(cm, svc, cfg)
    if route is None:
        cm.mark_false(ROUTES_READY, NOT_OWNED, f'There is an existing Route "{key.name}" that we do not own.')
        _not_owned(deps, stored, "route")
    else:
        propagate_route(cm, svc, route)
        if cfg is not None:
            check_traffic_migrated(cm, svc, cfg, route)
    svc.status.observed_generation = svc.metadata.generation
    await write_status(deps.store, SERVICE, stored, svc)
    return None


def _desired_differs(current: Obj, desired: Obj) -> bool:
    meta, want = current.get("metadata", {}), desired.get("metadata", {})
    return bool(
        current.get("spec", {}) != desired.get("spec", {})
        or meta.get("labels", {}) != want.get("labels", {})
        or meta.get("annotations", {}) != want.get("annotations", {})
    )


def _not_owned(deps: Deps, stored: Obj, what: str) -> None:
    name = stored["metadata"].get("name", "")
    message = f'service: "{name}" does not own {what}: "{name}"'
    deps.recorder.event(AGENT, stored, EVENT_WARNING, "InternalError", message)


async def _reconcile_child(
    deps: Deps,
    stored: Obj,
    svc: Service,
    kind: Kind,
    desired: Callable[[dict[str, str] | None], BaseModel],
    cls: type[Any],
) -> Any:
    """The child as it is now (created or updated to ``desired(current annotations)``), or None if
    another owner has it."""
    ns, name = svc.metadata.namespace or "", svc.metadata.name or ""
    obj = await get_or_none(deps.store, kind, ns, name)
    if obj is None:
        log.info("service %s/%s: creating %s", ns, name, kind.kind)
        try:
            created = await deps.store.create(kind, to_wire(desired(None)))
        except ApiError as err:
            message = f'Failed to create {kind.kind} "{name}": {err}'
            deps.recorder.event(AGENT, stored, EVENT_WARNING, "CreationFailed", message)
            raise
        deps.recorder.event(AGENT, stored, EVENT_NORMAL, "Created", f'Created {kind.kind} "{name}"')
        return from_wire(cls, created)
    child = from_wire(cls, obj)
    if not owners.is_controlled_by(child.metadata, svc.metadata):
        return None
    want = to_wire(desired(obj.get("metadata", {}).get("annotations", {})))
    if _desired_differs(obj, want):
        meta = {**obj["metadata"], "labels": want["metadata"].get("labels", {})}
        meta["annotations"] = want["metadata"].get("annotations", {})
        obj = await deps.store.update(kind, {**obj, "metadata": meta, "spec": want.get("spec", {})})
        child = from_wire(cls, obj)
    return child


def _propagate(cm: ConditionManager, type_: str, source: Configuration | Route, what: str) -> None:
    if source.status.observed_generation != source.metadata.generation:
        cm.mark_unknown(type_, OUT_OF_DATE, f"The {what} is still working to reflect the latest desired specification.")
        return
    cond = source.status.get_condition(READY)
    if cond is None or cond.status == "Unknown":
        cm.mark_unknown(type_, (cond.reason if cond else None) or "", (cond.message if cond else None) or "")
    elif cond.status == "True":
        cm.mark_true(type_)
    else:
        cm.mark_false(type_, cond.reason or "", cond.message or "")


def propagate_configuration(cm: ConditionManager, svc: Service, cfg: Configuration) -> None:
    if cfg.status.observed_generation == cfg.metadata.generation:
        svc.status.latest_created_revision_name = cfg.status.latest_created_revision_name
        svc.status.latest_ready_revision_name = cfg.status.latest_ready_revision_name
    _propagate(cm, CONFIGURATIONS_READY, cfg, "Configuration")


def propagate_route(cm: ConditionManager, svc: Service, route: Route) -> None:
    if route.status.observed_generation == route.metadata.generation:
        svc.status.url = route.status.url
        svc.status.address = route.status.address
        svc.status.traffic = list(route.status.traffic)
    _propagate(cm, ROUTES_READY, route, "Route")


def _comparable(t: TrafficTarget) -> tuple[str | None, str | None, bool, int]:
    return (t.tag, t.revision_name, bool(t.latest_revision), t.percent or 0)


def check_traffic_migrated(cm: ConditionManager, svc: Service, cfg: Configuration, route: Route) -> None:
    """RoutesReady Unknown ``TrafficNotMigrated`` while the ready route does not serve the desired split."""
    rc = svc.status.get_condition(ROUTES_READY)
    if rc is None or rc.status != "True":
        return
    want = [
        _comparable(
            t.model_copy(update={"revision_name": cfg.status.latest_ready_revision_name}) if not t.revision_name else t
        )
        for t in route.spec.traffic
    ]
    got = [_comparable(t) for t in route.status.traffic]
    if sorted(want, key=repr) != sorted(got, key=repr):
        cm.mark_unknown(ROUTES_READY, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision.")
