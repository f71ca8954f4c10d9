"""The Route reconciler's view of the gateway (Knative's networking Ingress, consumer-defined).

The Route reconciler publishes one :class:`RouteTable` per Route generation: every host the
route answers to, with the revisions it sends traffic to by percent. ``Ingress.is_ready`` says
whether that generation is being served (the Route's ``IngressReady`` condition). The gateway
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


class Ingress(Protocol):
    def publish(self, table: RouteTable) -> None:
        """Serve ``table`` for its route from now on (replaces the previous one)."""

    def withdraw(self, namespace: str, name: str) -> None:
        """Stop serving the route (it was deleted)."""

    def is_ready(self, namespace: str, name: str, generation: int) -> bool:
        """True once ``generation`` of the route's table is being served."""


class NullIngress:
    """Always ready; remembers the last table of each route (tests, and no gateway)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], RouteTable] = {}

    def publish(self, table: RouteTable) -> None:
        self.tables[(table.namespace, table.name)] = table

    def withdraw(self, namespace: str, name: str) -> None:
        self.tables.pop((namespace, name), None)

    def is_ready(self, namespace: str, name: str, generation: int) -> bool:
        return True
