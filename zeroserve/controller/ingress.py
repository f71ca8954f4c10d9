"""The Route reconciler's view of the gateway (Knative's networking Ingress, consumer-defined).

The Route reconciler publishes one :class:`RouteTable` per Route generation: every host the
route answers to, with the revisions it sends traffic to by percent. ``Ingress.is_ready`` says
whether that generation is being served (the Route's ``IngressReady`` condition). The DomainMapping
reconciler publishes a :class:`HostMapping` per mapping the same way. The gateway
implements this protocol; :class:`NullIngress` is always ready and keeps the tables in memory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from zeroserve.api.coreservice import LOCAL_GATEWAY_HOST

Visibility = Literal["ExternalIP", "ClusterLocal"]


@dataclass(frozen=True, slots=True)
class WeightedTarget:
    namespace: str
    revision: str
    percent: int


ROUTE_TAG_HEADER = "Knative-Serving-Tag"
DEFAULT_ROUTE_HEADER = "Knative-Serving-Default-Route"


@dataclass(frozen=True, slots=True)
class TagRoute:
    """A path of the default hosts taken by requests with ``Knative-Serving-Tag: tag``."""

    tag: str
    targets: tuple[WeightedTarget, ...]


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Hosts (no scheme, no port) served by the same split."""

    hosts: tuple[str, ...]
    visibility: Visibility
    targets: tuple[WeightedTarget, ...]
    tag: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    """Set on every request the rule routes, replacing the client's (the KIngress path's
    ``AppendHeaders``, which Knative's ingresses set rather than append)."""
    tag_routes: tuple[TagRoute, ...] = ()
    """Matched first: a request whose ``Knative-Serving-Tag`` names one of these tags goes to that
    tag's targets instead (no ``headers`` set on it)."""


def with_tag_header_routing(rules: tuple[RouteRule, ...]) -> tuple[RouteRule, ...]:
    """``rules`` with tag-header-based routing, as Knative's Route builds its KIngress when
    ``config-features`` enables ``tag-header-based-routing`` (``pkg/reconciler/route/resources/ingress.go``):

    * every default-route rule (tag ``""``, both visibilities) first matches ``Knative-Serving-Tag:
      TAG`` for every tag of the route, exactly, to the tag's targets; other requests (an unknown
      tag too) take the default split with ``Knative-Serving-Default-Route: true`` set;
    * every tag rule sets ``Knative-Serving-Tag: TAG``, so a request that came by the tag's host
      carries it as one that came by the header does.
    """
    tags: dict[str, tuple[WeightedTarget, ...]] = {}
    for rule in rules:
        if rule.tag:
            tags.setdefault(rule.tag, rule.targets)
    paths = tuple(TagRoute(tag, tags[tag]) for tag in sorted(tags))
    return tuple(
        replace(rule, headers=((ROUTE_TAG_HEADER, rule.tag),))
        if rule.tag
        else replace(rule, headers=((DEFAULT_ROUTE_HEADER, "true"),), tag_routes=paths)
        for rule in rules
    )


@dataclass(frozen=True, slots=True)
class RouteTable:
    namespace: str
    name: str
    generation: int
    rules: tuple[RouteRule, ...]


@dataclass(frozen=True, slots=True)
class HostMapping:
    """A DomainMapping's ingress (Knative ``pkg/reconciler/domainmapping/resources/ingress.go``):
    ``host`` is served as ``rewrite_host`` (the target's cluster-local host) is. Knative rewrites the
    Host to route there and appends ``K-Original-Host: host``, which the queue-proxy puts back as
    the Host: the app sees ``host``, and so it does here."""

    namespace: str
    host: str
    generation: int
    rewrite_host: str


class Ingress(Protocol):
    local_host: str
    """The cluster-local gateway's host (Knative's KIngress ``privateLoadBalancer``): where the Routes'
    placeholder Services point (an ``externalName``)."""

    def publish(self, table: RouteTable) -> None:
        """Serve ``table`` for its route from now on (replaces the previous one)."""

    def withdraw(self, namespace: str, name: str) -> None:
        """Stop serving the route (it was deleted)."""

    def is_ready(self, namespace: str, name: str, generation: int) -> bool:
        """True once ``generation`` of the route's table is being served."""

    def publish_mapping(self, mapping: HostMapping) -> None:
        """Serve ``mapping.host`` from now on (replaces the namespace's previous mapping of it)."""

    def withdraw_mapping(self, namespace: str, host: str) -> None:
        """Stop serving the namespace's mapping of ``host``."""

    def is_mapping_ready(self, namespace: str, host: str, generation: int) -> bool:
        """True once ``generation`` of the mapping is being served."""


class NullIngress:
    """Always ready; remembers the last table of each route (tests, and no gateway)."""

    def __init__(self) -> None:
        self.local_host = LOCAL_GATEWAY_HOST
        self.tables: dict[tuple[str, str], RouteTable] = {}
        self.mappings: dict[tuple[str, str], HostMapping] = {}

    def publish(self, table: RouteTable) -> None:
        self.tables[(table.namespace, table.name)] = table

    def withdraw(self, namespace: str, name: str) -> None:
        self.tables.pop((namespace, name), None)

    def is_ready(self, namespace: str, name: str, generation: int) -> bool:
        return True

    def publish_mapping(self, mapping: HostMapping) -> None:
        self.mappings[(mapping.namespace, mapping.host)] = mapping

    def withdraw_mapping(self, namespace: str, host: str) -> None:
        self.mappings.pop((namespace, host), None)

    def is_mapping_ready(self, namespace: str, host: str, generation: int) -> bool:
        return True


INGRESS_WAIT = 0.05
"""Seconds a Route reconcile waits for the gateway's workers to serve the table it published."""


class IngressWaits:
    """Route reconciles that wait a moment for the gateway to serve the table they just published.

    Where gateway workers serve it too, a new table is served once each worker said so (the
    controller's ``on_ingress_ready``, Knative's prober callback), a few milliseconds later: the
    reconcile that published it waits up to ``timeout`` seconds and writes the Route Ready in that
    pass, instead of ``IngressNotConfigured`` and a second pass (with its Service's) when the
    workers answer (issue 19: two reconciles and two status writes of each new Service). Knative's
    route always takes the second pass (its KIngress is another object, reconciled elsewhere);
    one that waits in vain does too, as before.
    """

    def __init__(self, timeout: float = INGRESS_WAIT) -> None:
        self.timeout = timeout
        self._waiting: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def wait(self, namespace: str, name: str) -> None:
        """Until :meth:`served` is called for the route, or ``timeout`` seconds."""
        key = (namespace, name)
        waiter = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except TimeoutError:
            pass
        finally:
            if self._waiting.get(key) is waiter:
                del self._waiting[key]

    def served(self, namespace: str, name: str) -> bool:
        """The gateway serves the route's latest table: True if a reconcile waits for it (it sees
        it), False if none does (the route must be reconciled)."""
        waiter = self._waiting.get((namespace, name))
        if waiter is None or waiter.done():
            return False
        waiter.set_result(None)
        return True
