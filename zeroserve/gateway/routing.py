"""The gateway's routing table (pure): host -> weighted revisions, and instance choice.

Mirrors what Knative's networking layer (a KIngress rendered into Kourier/Envoy config) answers:
``NAME.NS.DOMAIN`` sends each request to one of the Route's revisions by percent,
``TAG-NAME.NS.DOMAIN`` to the tag's revision, and cluster-local names
(``NAME.NS.svc.cluster.local``, ``NAME.NS.svc``, ``NAME.NS``) only on the internal listener.
With tag-header-based routing a default host also sends ``Knative-Serving-Tag: TAG`` to the
tag's revision (``Targets.by_tag``), and rules set headers on what they route (``Backend.headers``).

The table is built from route entries shaped like the Route reconciler's ``RouteTable`` (see
``zeroserve.controller.ingress``); any object with the same attributes fits the
:class:`RouteLike` protocol, so the gateway never imports the controller.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

EXTERNAL = "ExternalIP"
CLUSTER_LOCAL = "ClusterLocal"


class TargetLike(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def revision(self) -> str: ...
    @property
    def percent(self) -> int: ...


class TagRouteLike(Protocol):
    @property
    def tag(self) -> str: ...
    @property
    def targets(self) -> Sequence[TargetLike]: ...


class RuleLike(Protocol):
    @property
    def hosts(self) -> Sequence[str]: ...
    @property
    def visibility(self) -> str: ...
    @property
    def targets(self) -> Sequence[TargetLike]: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def tag_routes(self) -> Sequence[TagRouteLike]: ...


class RouteLike(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def rules(self) -> Sequence[RuleLike]: ...


class MappingLike(Protocol):
    """A DomainMapping's host, served as its ``rewrite_host`` is (the controller's ``HostMapping``)."""

    @property
    def namespace(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def rewrite_host(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Backend:
    """One revision a host sends traffic to, with its percent (and the headers its rule sets)."""

    namespace: str
    revision: str
    percent: int
    headers: tuple[tuple[bytes, bytes], ...] = ()
    """Set on each request sent here, replacing the client's (the rule's ``headers``)."""
    drop: frozenset[bytes] = frozenset()
    """The lower-cased names of ``headers``: the client's values are not forwarded."""


@dataclass(frozen=True, slots=True)
class TagRoute:
    tag: str
    targets: tuple[Backend, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    hosts: tuple[str, ...]
    visibility: str
    targets: tuple[Backend, ...]
    tag: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    tag_routes: tuple[TagRoute, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """One Route's hosts at one generation (same shape as the controller's ``RouteTable``)."""

    namespace: str
    name: str
    generation: int
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Targets:
    """What a host resolves to: the route it belongs to and its weighted backends."""

    namespace: str
    route: str
    generation: int
    backends: tuple[Backend, ...]
    cumulative: tuple[int, ...]
    """Running sums of the percents, for :func:`pick`."""
    by_tag: Mapping[bytes, Targets] | None = None
    """Tag-header-based routing: the targets of each tag, for a request with ``Knative-Serving-Tag``."""
    marked: bool = False
    """The rule sets headers or routes by tag: the gateway looks at the request's Knative headers."""


def normalize_host(host: str) -> str:
    """Lower-case, without a port or a trailing dot (``Hello.Default.localhost:8080`` -> ...)."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    colon = host.rfind(":")
    if colon >= 0 and host[colon + 1 :].isdigit():
        host = host[:colon]
    return host.rstrip(".")


CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0"})


def host_port(host: str, default: int = 80) -> int | None:
    """The port of a Host header (``default`` when it names none; None when it is not a port)."""
    host = host.strip()
    end = host.rfind("]") if host.startswith("[") else -1
    colon = host.rfind(":")
    if colon <= end:
        return default
    digits = host[colon + 1 :]
    if not digits.isdigit() or not 0 < int(digits) < 65536:
        return None
    return int(digits)


def is_cluster_local(host: str) -> bool:
    """A cluster-local Service name (``NAME.NS.svc.cluster.local``, ``NAME.NS.svc``), normalized."""
    return host.endswith(CLUSTER_SUFFIXES)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _split(route: RouteLike, targets: Sequence[TargetLike], headers: Sequence[tuple[str, str]] = ()) -> Targets:
    merged: dict[tuple[str, str], int] = {}
    for t in targets:
        merged[(t.namespace, t.revision)] = merged.get((t.namespace, t.revision), 0) + max(t.percent, 0)
    raw = tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)
    drop = frozenset(name.lower() for name, _ in raw)
    backends = tuple(Backend(ns, rev, pct, raw, drop) for (ns, rev), pct in merged.items())
    running, cumulative = 0, []
    for b in backends:
        running += b.percent
        cumulative.append(running)
    return Targets(route.namespace, route.name, route.generation, backends, tuple(cumulative), marked=bool(raw))


def _targets(route: RouteLike, rule: RuleLike) -> Targets:
    targets = _split(route, rule.targets, rule.headers)
    if not rule.tag_routes:
        return targets
    by_tag = {path.tag.encode("latin-1"): _split(route, path.targets) for path in rule.tag_routes}
    return replace(targets, by_tag=by_tag, marked=True)


class RoutingTable:
    """A host map. :meth:`put` and :meth:`remove` change it in place (the gateway's own, read on
    its loop only); :meth:`with_route` and :meth:`without_route` give a changed copy.

    Either redoes only the one route's hosts (a table of thousands of routes is not rebuilt, or
    copied, on every publish), unless a host it gives up is also another route's: then the whole
    table is rebuilt, so the last route naming a host wins exactly as in a table built from scratch.
    """

    def __init__(self, routes: Iterable[RouteLike] = ()) -> None:
        self._build(routes)

    def _build(self, routes: Iterable[RouteLike]) -> None:
        self._external: dict[str, Targets] = {}
        self._internal: dict[str, Targets] = {}
        self._generations: dict[tuple[str, str], int] = {}
        self._routes: dict[tuple[str, str], RouteLike] = {}
        self._hosts: dict[str, int] = {}
        """Host -> how many routes name it (more than one: a collision, resolved by order)."""
        for route in routes:
            key = (route.namespace, route.name)
            if key in self._routes:  # a name given twice: its later entry, in the later place
                self._routes.pop(key)
            self._routes[key] = route
        for route in self._routes.values():
            self._add(route)

    def _add(self, route: RouteLike) -> None:
        self._generations[(route.namespace, route.name)] = route.generation
        for rule in route.rules:
            targets = _targets(route, rule)
            for host in rule.hosts:
                key = normalize_host(host)
                self._internal[key] = targets
                if rule.visibility != CLUSTER_LOCAL:
                    self._external[key] = targets
        for host in _route_hosts(route):
            self._hosts[host] = self._hosts.get(host, 0) + 1

    @property
    def routes(self) -> tuple[RouteLike, ...]:
        return tuple(self._routes.values())

    def lookup(self, host: str, *, internal: bool = False) -> Targets | None:
        """The targets of ``host`` (port and case ignored); cluster-local hosts only if ``internal``."""
        return (self._internal if internal else self._external).get(normalize_host(host))

    def known_hosts(self, *, internal: bool = False) -> list[str]:
        return sorted(self._internal if internal else self._external)

    def generation(self, namespace: str, route: str) -> int | None:
        return self._generations.get((namespace, route))

    def with_route(self, route: RouteLike) -> RoutingTable:
        """A copy serving ``route`` (replacing the same namespace/name, which moves to the end)."""
        table = self._copy()
        table.put(route)
        return table

    def without_route(self, namespace: str, name: str) -> RoutingTable:
        table = self._copy()
        table.remove(namespace, name)
        return table

    def put(self, route: RouteLike) -> None:
        """Serve ``route`` from this table on (replacing the same namespace/name, which moves to
        the end): the gateway's own table changes in place, in time independent of its size."""
        self._replace(route.namespace, route.name, route)

    def remove(self, namespace: str, name: str) -> None:
        self._replace(namespace, name, None)

    def _copy(self) -> RoutingTable:
        table = RoutingTable()
        table._external, table._internal = dict(self._external), dict(self._internal)
        table._generations, table._routes, table._hosts = dict(self._generations), dict(self._routes), dict(self._hosts)
        return table

    def _replace(self, namespace: str, name: str, route: RouteLike | None) -> None:
        key = (namespace, name)
        old = self._routes.get(key)
        if old is None and route is None:
            return
        old_hosts = _route_hosts(old) if old is not None else frozenset()
        new_hosts = _route_hosts(route) if route is not None else frozenset()
        shared = any(self._hosts.get(h, 0) > 1 for h in old_hosts) or any(
            h in self._hosts and h not in old_hosts for h in new_hosts
        )
        if shared:  # a host of another route too: which one wins depends on the order
            others = [r for k, r in self._routes.items() if k != key]
            self._build([*others, route] if route is not None else others)
            return
        self._routes.pop(key, None)
        self._generations.pop(key, None)
        for host in old_hosts:
            self._internal.pop(host, None)
            self._external.pop(host, None)
            self._hosts.pop(host, None)
        if route is not None:
            self._routes[key] = route
            self._add(route)


def _route_hosts(route: RouteLike) -> frozenset[str]:
    return frozenset(normalize_host(host) for rule in route.rules for host in rule.hosts)


def pick(targets: Targets, rand: float) -> Backend | None:
    """The backend for a uniform ``rand`` in [0, 1), honouring percents.

    All-zero percents (never produced by Knative's traffic resolution) pick evenly.
    """
    if not targets.backends:
        return None
    total = targets.cumulative[-1]
    if total <= 0:
        return targets.backends[min(int(rand * len(targets.backends)), len(targets.backends) - 1)]
    index = bisect.bisect_right(targets.cumulative, rand * total)
    return targets.backends[min(index, len(targets.backends) - 1)]


Endpoint = tuple[str, int]


def least_loaded(endpoints: Sequence[Endpoint], in_flight: Mapping[Endpoint, int], rand: float) -> Endpoint | None:
    """The endpoint with the fewest in-flight requests; ties broken by ``rand`` in [0, 1)."""
    if not endpoints:
        return None
    best = min(in_flight.get(e, 0) for e in endpoints)
    ties = [e for e in endpoints if in_flight.get(e, 0) == best]
    return ties[min(int(rand * len(ties)), len(ties) - 1)]
