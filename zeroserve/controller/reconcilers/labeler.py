"""The route labeler (Knative ``pkg/reconciler/labeler/{labeler,metasync,accessors}.go``).

It marks what a Route may send traffic to: the ``serving.knative.dev/routes`` annotation (the
route names, sorted, comma-separated) on Revisions and Configurations, and on Revisions the
``serving.knative.dev/routingState`` label (``active`` while some route names it, ``reserve`` once
none does) with ``serving.knative.dev/routingStateModified``.

What a Route marks: every Revision in its ``status.traffic`` and ``spec.traffic``, their
Configurations, and for a ``latestRevision`` target the Configuration's latest *created*
Revision too (so a new revision is active before it is ready, and the hand-over is smooth).
What it unmarks: the active Revisions and the Configurations naming it that it no longer lists,
but only once the Route is resolved (Ready or Failed for its generation): while traffic is
being moved, the previous split still serves.

A Revision moved to ``reserve`` has an Unreachable PodAutoscaler (min-scale no longer applies)
and becomes eligible for revision GC.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.api.conditions import READY
from zeroserve.api.kinds import CONFIGURATION, REVISION, Kind
from zeroserve.api.route import Route
from zeroserve.clock import rfc3339
from zeroserve.controller.reconcilers.base import Deps, get_or_none, write_meta
from zeroserve.controller.resources.revision import ACTIVE, RESERVE


def routes_of(annotations: dict[str, str]) -> set[str]:
    return {r for r in annotations.get(labels.ROUTES, "").split(",") if r}


def metadata_patch(
    obj_labels: dict[str, str],
    annotations: dict[str, str],
    route: str,
    remove: bool,
    now: datetime,
    *,
    routing_state: bool,
) -> tuple[dict[str, str], dict[str, str]] | None:
    """New labels and annotations with ``route`` added to (or removed from) the routes annotation,
    and for Revisions (``routing_state``) the routing state that follows; None if nothing changes.
    Pure (accessors.go ``makeMetadataPatch``)."""
    routes = routes_of(annotations)
    new_labels, new_ann = dict(obj_labels), dict(annotations)
    if remove and route in routes:
        routes.discard(route)
    elif not remove and route not in routes:
        routes.add(route)
    if routes:
        new_ann[labels.ROUTES] = ",".join(sorted(routes))
    else:
        new_ann.pop(labels.ROUTES, None)
    if routing_state:
        state = ACTIVE if routes else RESERVE
        if new_labels.get(labels.ROUTING_STATE) != state:
            new_labels[labels.ROUTING_STATE] = state
            new_ann[labels.ROUTING_STATE_MODIFIED] = rfc3339(now)
    if new_labels == obj_labels and new_ann == annotations:
        return None
    return new_labels, new_ann


def _resolved(route: Route) -> bool:
    """Route ``IsReady() || IsFailed()``: Ready True or False for the current generation."""
    cond = route.status.get_condition(READY)
    return (
        route.status.observed_generation == route.metadata.generation
        and cond is not None
        and cond.status in ("True", "False")
    )


async def listed(deps: Deps, route: Route) -> tuple[dict[str, Obj | None], dict[str, Obj]]:
    """(revisions, configurations) the route marks (metasync.go ``syncRoutingMeta``'s walk), by name,
    with the stored objects read on the way (a latest created revision only by name: None); each is
    read once however many traffic targets name it."""
    ns = route.metadata.namespace or ""
    revisions: dict[str, Obj | None] = {}
    configs: dict[str, Obj] = {}
    read_before: dict[tuple[str, str], Obj | None] = {}

    async def read(kind: Kind, name: str) -> Obj | None:
        if (kind.kind, name) not in read_before:
            read_before[(kind.kind, name)] = await get_or_none(deps.store, kind, ns, name)
        return read_before[(kind.kind, name)]

    for tt in [*route.status.traffic, *route.spec.traffic]:
        config_name = tt.configuration_name
        if tt.revision_name:
            rev = await read(REVISION, tt.revision_name)
            if rev is None:
                continue  # not there (yet): its creation enqueues the route
            revisions[tt.revision_name] = rev
            owner = next((r for r in rev["metadata"].get("ownerReferences", []) if r.get("controller")), None)
            if owner is not None and owner.get("kind") == CONFIGURATION.kind:
                config_name = owner.get("name")
        if config_name:
            found = await read(CONFIGURATION, config_name)
            if found is None:
                continue
            configs[config_name] = found
            latest = (found.get("status") or {}).get("latestCreatedRevisionName")
            if latest and tt.latest_revision and latest not in revisions:
                revisions[latest] = None
    return revisions, configs


async def sync(deps: Deps, route: Route) -> None:
    """Mark what ``route`` lists; once it is resolved, unmark what it no longer lists."""
    ns, name = route.metadata.namespace or "", route.metadata.name or ""
    revisions, configs = await listed(deps, route)
    if _resolved(route):
        await clear(deps, ns, name, revisions.keys(), configs.keys())
    now = deps.now()
    for kind, objs in ((REVISION, revisions), (CONFIGURATION, configs)):
        for obj_name in sorted(objs):
            obj = objs[obj_name] or await get_or_none(deps.store, kind, ns, obj_name)
            if obj is not None:
                await _patch(deps, kind, obj, name, False, now)


async def clear(
    deps: Deps, ns: str, route: str, keep_revisions: Set[str] = frozenset(), keep_configs: Set[str] = frozenset()
) -> None:
    """Unmark the active Revisions and the Configurations that name ``route`` and are not kept
    (all of them for a deleted route: the labeler's ``FinalizeKind``)."""
    now = deps.now()
    if deps.marks is not None:  # the controller's index: read only the objects that name the route
        keep = {REVISION.kind: keep_revisions, CONFIGURATION.kind: keep_configs}
        for kind_name, name in deps.marks.marked(ns, route):
            kind = REVISION if kind_name == REVISION.kind else CONFIGURATION
            if name in keep[kind_name] or (obj := await get_or_none(deps.store, kind, ns, name)) is None:
                continue
            meta = obj.get("metadata", {})
            active = kind is CONFIGURATION or meta.get("labels", {}).get(labels.ROUTING_STATE) == ACTIVE
            if active and route in routes_of(meta.get("annotations", {})):
                await _patch(deps, kind, obj, route, True, now)
        return
    revs, _ = await deps.store.list(REVISION, ns, label_selector=f"{labels.ROUTING_STATE}={ACTIVE}")
    cfgs, _ = await deps.store.list(CONFIGURATION, ns)
    for kind, objs, keep_names in ((REVISION, revs, keep_revisions), (CONFIGURATION, cfgs, keep_configs)):
        for obj in objs:
            meta = obj.get("metadata", {})
            if meta.get("name") not in keep_names and route in routes_of(meta.get("annotations", {})):
                await _patch(deps, kind, obj, route, True, now)


async def _patch(deps: Deps, kind: Kind, obj: Obj, route: str, remove: bool, now: datetime) -> None:
    meta = obj.get("metadata", {})
    obj_labels, annotations = meta.get("labels", {}), meta.get("annotations", {})
    change = metadata_patch(obj_labels, annotations, route, remove, now, routing_state=kind.kind == REVISION.kind)
    if change is not None:
        written = await write_meta(deps.store, kind, obj, *change)
        if deps.marks is not None:  # known at once, before its event
            deps.marks.observe(kind.kind, written)
