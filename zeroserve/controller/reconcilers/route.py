"""Route reconciler (pkg/reconciler/route/route.go, reconcile_resources.go).

Phases: a new generation is ``IngressNotConfigured`` until served -> URL and address -> resolve
traffic (:mod:`zeroserve.controller.traffic`) -> when every target is routable:
``AllTrafficAssigned``, the gradual rollout stepped from its previous state (kept in
``status.annotations``, :mod:`zeroserve.controller.rollout`), the routing table published to the
ingress with the rollout's split, ``status.traffic``, ``IngressReady`` (Unknown
``RolloutInProgress`` while a rollout moves traffic), ``CertificateProvisioned`` (http: TLS not
enabled) -> ``Ready`` -> the labeler (:mod:`zeroserve.controller.reconcilers.labeler`) marks the
Revisions and Configurations the route now lists.
"""

from __future__ import annotations

from zeroserve.api import annotations as ann
from zeroserve.api import labels
from zeroserve.api.conditions import ROUTE_CONDITIONS, ConditionManager
from zeroserve.api.configuration import Configuration
from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE
from zeroserve.api.revision import Revision
from zeroserve.api.route import Addressable, Route
from zeroserve.config import Config
from zeroserve.config.duration import SECOND, parse_duration
from zeroserve.controller import rollout, traffic
from zeroserve.controller.ingress import RouteRule, RouteTable, WeightedTarget, with_tag_header_routing
from zeroserve.controller.reconcilers import k8sservices, labeler
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status

ALL_TRAFFIC_ASSIGNED = "AllTrafficAssigned"
INGRESS_READY = "IngressReady"
ERROR_CONFIG = "ErrorConfig"
"""The reason when a domain or tag template renders no domain name (route.go errorConfigMsg)."""
CERTIFICATE_PROVISIONED = "CertificateProvisioned"
TLS_NOT_ENABLED = "external-domain-tls is not enabled"
INGRESS_RETRY = 1.0
ROLLOUT_IN_PROGRESS = "A gradual rollout of the latest revision(s) is in progress."
AGENT = "route-controller"
"""The source of this reconciler's events (Knative's ``defaultControllerAgentName``): Knative's route
records ``Created Ingress`` and placeholder Service events; zeroserve has neither object, so only
the controller's ``InternalError`` ones."""


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, ROUTE, Route, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        deps.ingress.withdraw(key.namespace, key.name)
        await labeler.clear(deps, key.namespace, key.name)
        await k8sservices.delete(deps, key.namespace, key.name)
        return None
    stored, route = loaded
    cfg = deps.config()
    cm = ROUTE_CONDITIONS.manage(route.status, deps.now())
    cm.initialize()
    if route.status.observed_generation != route.metadata.generation:
        mark_ingress_not_configured(cm)
    requeue: Requeue = None
    try:
        _set_urls(route, cfg)
        tc = await resolve(deps, route)
        if tc.error is not None:
            await k8sservices.sync(deps, route)
            mark_bad_target(cm, tc.error)
        else:
            name = route.metadata.name or ""
            await k8sservices.sync(deps, route, [traffic.hostname(name, tag, cfg.network) for tag in tc.targets])
            requeue = _assign(deps, cm, route, tc, cfg)
            if await _served(deps, route):  # the gateway's workers took it meanwhile: Ready in this pass
                requeue = _assign(deps, cm, route, tc, cfg)
    except traffic.DomainNameError as err:  # route.go: a template that renders no domain name
        cm.mark_false(ALL_TRAFFIC_ASSIGNED, ERROR_CONFIG, str(err))
    route.status.observed_generation = route.metadata.generation
    await write_status(deps.store, ROUTE, stored, route)
    await labeler.sync(deps, route)
    return requeue


async def _served(deps: Deps, route: Route) -> bool:
    """Whether the table just published, not served everywhere yet, is once the reconcile waited."""
    ns, name, generation = route.metadata.namespace or "", route.metadata.name or "", route.metadata.generation or 0
    if deps.ingress_waits is None or deps.ingress.is_ready(ns, name, generation):
        return False
    await deps.ingress_waits.wait(ns, name)
    return deps.ingress.is_ready(ns, name, generation)


def _set_urls(route: Route, cfg: Config) -> None:
    name, ns = route.metadata.name or "", route.metadata.namespace or ""
    meta = route.metadata
    route.status.url = traffic.url(name, ns, meta.labels, cfg.network, cfg.domain, annotations=meta.annotations)
    route.status.address = Addressable(url=traffic.address_url(name, ns))


async def resolve(deps: Deps, route: Route) -> traffic.TrafficConfig:
    """Fetch what the spec names (by name, never from an event) and resolve the traffic."""
    ns = route.metadata.namespace or ""
    configurations: dict[str, Configuration] = {}
    revisions: dict[str, Revision] = {}
    for tt in route.spec.traffic:
        if tt.configuration_name:
            found = await _load_configuration(deps, ns, tt.configuration_name, configurations)
            if found is not None and found.status.latest_ready_revision_name:
                await _load_revision(deps, ns, found.status.latest_ready_revision_name, revisions)
        if tt.revision_name:
            rev = await _load_revision(deps, ns, tt.revision_name, revisions)
            config_name = rev.metadata.labels.get(labels.CONFIGURATION) if rev is not None else None
            if config_name:
                await _load_configuration(deps, ns, config_name, configurations)
    service = route.metadata.labels.get(labels.SERVICE, "")
    return traffic.build_traffic(route.spec.traffic, configurations, revisions, service=service)


async def _load_configuration(deps: Deps, ns: str, name: str, into: dict[str, Configuration]) -> Configuration | None:
    if name not in into:
        found = await load(deps.store, CONFIGURATION, Configuration, ns, name)
        if found is not None:
            into[name] = found[1]
    return into.get(name)


async def _load_revision(deps: Deps, ns: str, name: str, into: dict[str, Revision]) -> Revision | None:
    if name not in into:
        found = await load(deps.store, REVISION, Revision, ns, name)
        if found is not None:
            into[name] = found[1]
    return into.get(name)


def mark_bad_target(cm: ConditionManager, err: traffic.TargetError) -> None:
    if err.is_failure:
        cm.mark_false(ALL_TRAFFIC_ASSIGNED, err.reason, err.message)
    else:
        cm.mark_unknown(ALL_TRAFFIC_ASSIGNED, err.reason, err.message)


def mark_ingress_not_configured(cm: ConditionManager) -> None:
    cm.mark_unknown(INGRESS_READY, "IngressNotConfigured", "Ingress has not yet been reconciled.")


def rollout_duration(route: Route, cfg: Config) -> int:
    """Whole seconds: the route's ``serving.knative.dev/rollout-duration``, else config-network's
    ``rollout-duration`` (route_lifecycle.go ``RolloutDuration``, reconcile_resources.go)."""
    found = ann.get_annotation(route.metadata.annotations, ann.ROLLOUT_DURATION)
    seconds = 0
    if found is not None and found[1]:
        try:
            seconds = int(parse_duration(found[1]) / SECOND)
        except ValueError:
            seconds = 0  # admission refuses it; a stored one that does not parse means none
    return seconds or cfg.network.rollout_duration


def reconcile_rollout(
    route: Route, tc: traffic.TrafficConfig, cfg: Config, ingress_ready: bool, now: int
) -> tuple[rollout.Rollout, int]:
    """The rollout to serve and the time of its next step (0: none) (``reconcileRollout``).

    ``ingress_ready``: the ingress serves what was last published. When it does and the route has
    not called it ready yet, a just-started rollout's first 1 % is live: its steps are computed.
    """
    cur = rollout.build_rollout(traffic.latest_targets(tc))
    duration = rollout_duration(route, cfg)
    if duration <= 0:
        return cur, 0
    prev = rollout.from_json(route.status.annotations.get(rollout.ANNOTATION))
    seen = route.status.get_condition(INGRESS_READY)
    if prev is not None and ingress_ready and (seen is None or seen.status != "True"):
        prev.observe_ready(now, float(duration))
    return rollout.step(cur, prev, now)


def _assign(deps: Deps, cm: ConditionManager, route: Route, tc: traffic.TrafficConfig, cfg: Config) -> Requeue:
    name, ns = route.metadata.name or "", route.metadata.namespace or ""
    route_labels = route.metadata.labels
    generation = route.metadata.generation or 0
    now = int(deps.now().timestamp() * rollout.SECOND_NS)
    cm.mark_true(ALL_TRAFFIC_ASSIGNED)
    ro, next_step = reconcile_rollout(route, tc, cfg, deps.ingress.is_ready(ns, name, generation), now)
    route.status.annotations[rollout.ANNOTATION] = rollout.to_json(ro)
    deps.ingress.publish(make_table(route, traffic.with_rollout(tc, ro), cfg))
    cm.mark_true(CERTIFICATE_PROVISIONED, "TLSNotEnabled", TLS_NOT_ENABLED)
    in_progress = not ro.done()
    status = traffic.status_traffic(tc, ro if in_progress else None)
    route.status.traffic = traffic.with_urls(
        status, name, ns, route_labels, cfg.network, cfg.domain, route.metadata.annotations
    )
    requeue: Requeue = (next_step - now) / rollout.SECOND_NS if next_step > 0 else None
    if not deps.ingress.is_ready(ns, name, generation):
        mark_ingress_not_configured(cm)
        requeue = _sooner(requeue, INGRESS_RETRY)
    elif not in_progress:
        cm.mark_true(INGRESS_READY)
    if in_progress:
        cm.mark_unknown(INGRESS_READY, "RolloutInProgress", ROLLOUT_IN_PROGRESS)
        if any(c.step_params.start_time and not c.step_params.step_duration for c in ro.configurations):
            requeue = _sooner(requeue, INGRESS_RETRY)  # the first 1 % is out: time the steps
    return requeue


def _sooner(a: Requeue, b: float) -> float:
    return b if a is None else min(a, b)


def make_table(route: Route, tc: traffic.TrafficConfig, cfg: Config) -> RouteTable:
    """The hosts of the route and of each tag, with their weighted revisions (pure)."""
    name, ns = route.metadata.name or "", route.metadata.namespace or ""
    route_labels = route.metadata.labels
    local = traffic.is_cluster_local(route_labels, cfg.domain)
    rules: list[RouteRule] = []
    for tag, entries in tc.targets.items():
        targets = tuple(WeightedTarget(ns, e.revision_name, e.percent) for e in entries if e.percent > 0)
        local_labels = {labels.VISIBILITY: labels.VISIBILITY_CLUSTER_LOCAL}
        internal = traffic.host(name, ns, local_labels, cfg.network, cfg.domain, tag, route.metadata.annotations)
        short = internal.removesuffix(".cluster.local")
        rules.append(RouteRule((short.removesuffix(".svc"), short, internal), "ClusterLocal", targets, tag))
        if not local:
            external = traffic.host(name, ns, route_labels, cfg.network, cfg.domain, tag, route.metadata.annotations)
            rules.append(RouteRule((external,), "ExternalIP", targets, tag))
    if cfg.features.enabled("tag-header-based-routing"):
        return RouteTable(ns, name, route.metadata.generation or 0, with_tag_header_routing(tuple(rules)))
    return RouteTable(ns, name, route.metadata.generation or 0, tuple(rules))
