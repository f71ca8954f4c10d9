"""Route reconciler (pkg/reconciler/route/route.go + the route labeler).

Phases: URL and address -> resolve traffic (:mod:`zeroserve.controller.traffic`) -> label the
routed Revisions and Configurations (``serving.knative.dev/routes`` annotation, routingState)
-> when every target is routable: status.traffic, ``AllTrafficAssigned``, publish the routing
table to the ingress, ``IngressReady``, ``CertificateProvisioned`` (http: TLS not enabled) ->
``Ready``.
"""

from __future__ import annotations

from datetime import datetime

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.api.conditions import ROUTE_CONDITIONS, ConditionManager
from zeroserve.api.configuration import Configuration
from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE, Kind
from zeroserve.api.revision import Revision
from zeroserve.api.route import Addressable, Route
from zeroserve.clock import rfc3339
from zeroserve.config import Config
from zeroserve.controller import traffic
from zeroserve.controller.ingress import RouteRule, RouteTable, WeightedTarget
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_meta, write_status
from zeroserve.controller.resources.revision import ACTIVE, RESERVE

ALL_TRAFFIC_ASSIGNED = "AllTrafficAssigned"
INGRESS_READY = "IngressReady"
CERTIFICATE_PROVISIONED = "CertificateProvisioned"
TLS_NOT_ENABLED = "external-domain-tls is not enabled"
INGRESS_RETRY = 1.0


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, ROUTE, Route, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        deps.ingress.withdraw(key.namespace, key.name)
        await label_targets(deps, key.namespace, key.name, traffic.TrafficConfig())
        return None
    stored, route = loaded
    cfg = deps.config()
    now = deps.now()
    cm = ROUTE_CONDITIONS.manage(route.status, now)
    cm.initialize()
    _set_urls(route, cfg)
    tc = await resolve(deps, route)
    await label_targets(deps, key.namespace, key.name, tc)
    requeue: Requeue = None
    if tc.error is not None:
        mark_bad_target(cm, tc.error)
    else:
        requeue = _assign(deps, cm, route, tc, cfg)
    route.status.observed_generation = route.metadata.generation
    await write_status(deps.store, ROUTE, stored, route)
    return requeue


def _set_urls(route: Route, cfg: Config) -> None:
    name, ns = route.metadata.name or "", route.metadata.namespace or ""
    route.status.url = traffic.url(name, ns, route.metadata.labels, cfg.network, cfg.domain)
    route.status.address = Addressable(url=traffic.address_url(name, ns))


async def resolve(deps: Deps, route: Route) -> traffic.TrafficConfig:
    """Fetch what the spec names (by name, never from an event) and resolve the traffic."""
    ns = route.metadata.namespace or ""
    configurations: dict[str, Configuration] = {}
    revisions: dict[str, Revision] = {}
    for tt in route.spec.traffic:
        if tt.configuration_name and tt.configuration_name not in configurations:
            found = await load(deps.store, CONFIGURATION, Configuration, ns, tt.configuration_name)
            if found is not None:
                configurations[tt.configuration_name] = found[1]
                ready = found[1].status.latest_ready_revision_name
                if ready:
                    await _load_revision(deps, ns, ready, revisions)
        if tt.revision_name:
            await _load_revision(deps, ns, tt.revision_name, revisions)
    return traffic.build_traffic(route.spec.traffic, configurations, revisions)


async def _load_revision(deps: Deps, ns: str, name: str, into: dict[str, Revision]) -> None:
    if name not in into:
        found = await load(deps.store, REVISION, Revision, ns, name)
        if found is not None:
            into[name] = found[1]


def mark_bad_target(cm: ConditionManager, err: traffic.TargetError) -> None:
    if err.is_failure:
        cm.mark_false(ALL_TRAFFIC_ASSIGNED, err.reason, err.message)
    else:
        cm.mark_unknown(ALL_TRAFFIC_ASSIGNED, err.reason, err.message)


def _assign(deps: Deps, cm: ConditionManager, route: Route, tc: traffic.TrafficConfig, cfg: Config) -> Requeue:
    name, ns = route.metadata.name or "", route.metadata.namespace or ""
    route_labels = route.metadata.labels
    route.status.traffic = traffic.with_urls(tc.status_traffic, name, ns, route_labels, cfg.network, cfg.domain)
    cm.mark_true(ALL_TRAFFIC_ASSIGNED)
    generation = route.metadata.generation or 0
    deps.ingress.publish(make_table(route, tc, cfg))
    cm.mark_true(CERTIFICATE_PROVISIONED, "TLSNotEnabled", TLS_NOT_ENABLED)
    if deps.ingress.is_ready(ns, name, generation):
        cm.mark_true(INGRESS_READY)
        return None
    cm.mark_unknown(INGRESS_READY, "IngressNotConfigured", "Ingress has not yet been reconciled.")
    return INGRESS_RETRY


def make_table(route: Route, tc: traffic.TrafficConfig, cfg: Config) -> RouteTable:
    """The hosts of the route and of each tag, with their weighted revisions (pure)."""
    name, ns = route.metadata.name or "", route.metadata.namespace or ""
    route_labels = route.metadata.labels
    local = traffic.is_cluster_local(route_labels, cfg.domain)
    rules: list[RouteRule] = []
    for tag, entries in tc.targets.items():
        targets = tuple(WeightedTarget(ns, e.revision_name, e.percent) for e in entries if e.percent > 0)
        internal = traffic.host(
            name, ns, {labels.VISIBILITY: labels.VISIBILITY_CLUSTER_LOCAL}, cfg.network, cfg.domain, tag
        )
        short = internal.removesuffix(".cluster.local")
        rules.append(RouteRule((short.removesuffix(".svc"), short, internal), "ClusterLocal", targets, tag))
        if not local:
            external = traffic.host(name, ns, route_labels, cfg.network, cfg.domain, tag)
            rules.append(RouteRule((external,), "ExternalIP", targets, tag))
    return RouteTable(ns, name, route.metadata.generation or 0, tuple(rules))


# --- the labeler ---------------------------------------------------------------------------


def _routes_of(annotations: dict[str, str]) -> set[str]:
    return {r for r in annotations.get(labels.ROUTES, "").split(",") if r}


def relabel(
    obj_labels: dict[str, str], annotations: dict[str, str], route: str, routed: bool, now: datetime, *, stateful: bool
) -> tuple[dict[str, str], dict[str, str]] | None:
    """New labels/annotations with ``route`` added to or removed from the routes annotation (pure).

    None when nothing changes. ``stateful`` objects (Revisions) also get routingState active
    while any route points at them, reserve once none does (+ routingStateModified).
    """
    routes = _routes_of(annotations)
    if (route in routes) == routed:
        return None
    routes = routes | {route} if routed else routes - {route}
    new_labels, new_ann = dict(obj_labels), dict(annotations)
    if routes:
        new_ann[labels.ROUTES] = ",".join(sorted(routes))
    else:
        new_ann.pop(labels.ROUTES, None)
    if stateful:
        state = ACTIVE if routes else RESERVE
        if new_labels.get(labels.ROUTING_STATE) != state:
            new_labels[labels.ROUTING_STATE] = state
            new_ann[labels.ROUTING_STATE_MODIFIED] = rfc3339(now)
    return new_labels, new_ann


async def label_targets(deps: Deps, ns: str, route: str, tc: traffic.TrafficConfig) -> None:
    """Mark what ``route`` sends traffic to, and unmark what it no longer does.

    While a target is unroutable nothing is unmarked: the previous split still serves.
    """
    now = deps.now()
    for kind, names, stateful in ((REVISION, tc.revisions, True), (CONFIGURATION, tc.configurations, False)):
        objs, _ = await deps.store.list(kind, ns)
        for obj in objs:
            routed = obj["metadata"]["name"] in names
            if routed or tc.error is None:
                await _relabel_one(deps, kind, obj, route, routed, now, stateful)


async def _relabel_one(
    deps: Deps, kind: Kind, obj: Obj, route: str, routed: bool, now: datetime, stateful: bool
) -> None:
    meta = obj.get("metadata", {})
    change = relabel(meta.get("labels", {}), meta.get("annotations", {}), route, routed, now, stateful=stateful)
    if change is not None:
        await write_meta(deps.store, kind, obj, *change)
