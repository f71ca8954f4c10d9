"""The Route reconciler's view of the gateway (Knative's networking Ingress, consumer-defined).

The Route reconciler publishes one :class:`RouteTable` per Route generation: every host the
route answers to, with the revisions it sends traffic to by percent. ``Ingress.is_ready`` says
whether that generation is being served (the Route's ``IngressReady`` condition). The DomainMapping
reconciler publishes a :class:`HostMapping` per mapping the same way. The gateway
implements this protocol; :class:`NullIngress` is always ready and keeps the tables in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Visibility = Literal["ExternalIP", "ClusterLocal"]


@dataclass(frozen=True)
class WeightedTarget:
    namespace: str
    revision: str
    percent: int


@dataclass(frozen=True)
class RouteRule:
    """Hosts (no scheme, no port) served by the same split."""

    hosts: tuple[str, ...]
    visibility: Visibility
    targets: tuple[WeightedTarget, ...]
    tag: str = ""


@dataclass(frozen=True)
class RouteTable:
    namespace: str
    name: str
    generation: int
    rules: tuple[RouteRule, ...]


@dataclass(frozen=True)
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
