"""The ingress gateway (Knative's networking layer: KIngress + Kourier/Envoy), on ``net.proxy``.

Two listeners share one upstream pool: the external one answers the Routes' public hosts, the
internal one additionally answers cluster-local names (``NAME.NS.svc.cluster.local``...) so
instances can call each other. Per request: host -> weighted revision pick -> the least-loaded
ready endpoint of that revision -> stream. A revision with no ready endpoint gets 503 (or the
``no_endpoints`` hook, where the activator plugs in). With an ``admission`` (the inline
queue-proxy of ``zeroserve up``), the chosen endpoint's breaker, stats and revision timeouts are
applied here instead of in a sidecar.

Each client connection is bounded as an Envoy listener is (:mod:`zeroserve.net.limits`: 431 past
60 KiB of head, 414 past a 16 KiB target, 408 for a head not complete in 10 s) and closed after
an hour without a request (Envoy's HTTP connection manager ``idle_timeout``). An absolute-form
target (``GET http://host/path``) is routed by its host, as RFC 9112 §3.2.2 says.

The ingress network probe (``K-Network-Probe: probe``) is answered for a host the gateway serves,
with its ``K-Network-Hash`` (knative/networking ``pkg/http/probe``). A request with Knative headers
(``RequestHead.knative``) or for a rule that sets headers or routes by ``Knative-Serving-Tag``
takes :meth:`Gateway._route_marked`; every other request the fast path.

Tables are immutable and swapped whole; a request keeps the target it was routed to, so a swap
never disturbs requests in flight. :meth:`Gateway.publish`, :meth:`Gateway.withdraw` and
:meth:`Gateway.is_ready` match the Route reconciler's ``Ingress`` protocol.

**The internal listener is also every instance's HTTP proxy** (docs/architecture.md, "Addresses"):
instances get ``http_proxy`` pointing at it, so a URL zeroserve hands out (``*.svc.cluster.local``,
``*.localhost``, a Broker's address) works from any HTTP client. There, a host no Route serves is
forwarded as a plain forward proxy would (to that host and port, default 80): a system service
(:meth:`Gateway.publish_service`, e.g. the Broker ingress's ``broker-ingress.knative-eventing.svc.
cluster.local``) to its loopback address, or to a handler in this process (a
:class:`~zeroserve.net.proxy.Local`: ``zeroserve up`` serves the Broker ingress so, with no second
socket or parse); a request in absolute form (``GET http://host/path``, as clients send to a proxy)
for any other name or address as it is, except cluster-local and ``.localhost`` names (404, as
before, with the hosts that are served) and the platform's own listeners: the gateway's ports and
those given to :meth:`Gateway.protect` (the API, the registry) are never forwarded to on a local
address — a name or any spelling of an address is resolved first, and 403 when it is local (no
loops, and nothing reaches the API through the proxy).

**Contained listeners** (:meth:`Gateway.listen_contained`): the internal listener's routes on a socket
made inside a container instance's network namespace (only a loopback there), so the instance's
``http_proxy`` works too. They answer what zeroserve serves (Routes, DomainMappings, system
services); ``localhost``/``127.x``/``::1`` go to the instance's *own* loopback (what those names mean
inside it: a sidecar calling the app through a client that honours ``http_proxy``); anything else
is 403 — a container instance has no network of its own, and the proxy must not give it one (nor
the platform's ports, nor other processes on the host's loopback).

A DomainMapping's host (:meth:`Gateway.publish_mapping`) is served as its target's cluster-local
host is, with the Host header left as the client sent it: Knative's mapping ingress rewrites the
Host to route and the queue-proxy restores it from ``K-Original-Host``, so the app sees the
mapped host there too. A Route's own host wins over a mapping of the same name.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from zeroserve.api.coreservice import LOCAL_GATEWAY_HOST
from zeroserve.gateway import routing
from zeroserve.net import headers as h
from zeroserve.net import netns, reuseport
from zeroserve.net.headers import Header
from zeroserve.net.limits import ConnectionLimits
from zeroserve.net.probe import is_network_probe, network_probe
from zeroserve.net.proxy import Local, ProxyServer, RequestHead, Response, Router, RouteResult, Target, Timeouts
from zeroserve.net.upstream import UpstreamPool

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # OpenTelemetry is imported only where tracing is on
    from opentelemetry import trace

Address = tuple[str, int]

_TAG = h.ROUTE_TAG.lower().encode()
_KUBELET = h.K_KUBELET_PROBE.lower().encode()
_NAMESPACE_HEADER = h.NAMESPACE.encode()
_REVISION_HEADER = h.REVISION.encode()
_REVISION_HEADERS = frozenset({h.NAMESPACE.lower().encode(), h.REVISION.lower().encode()})
MAX_CACHED_HOSTS = 4096
SPAN_NAME = "gateway"
SCOPE = "zeroserve/gateway"
"""The span of the ingress hop (Knative's ingress, Kourier's Envoy, traces under its own names)."""
GATEWAY_LIMITS = ConnectionLimits(idle_timeout=3600.0)
"""Per client connection: the proxy's defaults (Envoy's) and Envoy's 1 h idle timeout."""


class EndpointLike(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


NoEndpoints = Callable[[RequestHead, routing.Backend], RouteResult | Awaitable[RouteResult] | None]
"""The hook for a revision without endpoints (the activator); None: relay it (a gateway worker's)."""
Routed = RouteResult | Local | Awaitable[RouteResult]


class Admitter(Protocol):
    def admit(
        self, proxied: bool, *, headers: tuple[Header, ...] = (), drop: frozenset[bytes] = frozenset()
    ) -> RouteResult | Awaitable[RouteResult]:
        """The Target on the instance, a local Response (503 queue full, 504), or an awaitable of
        either while the request is queued."""

    def admit_probe(self, *, headers: tuple[Header, ...] = (), drop: frozenset[bytes] = frozenset()) -> Target:
        """The Target on the instance for a kubelet probe: past the breaker and the stats."""


class RequestLogs(Protocol):
    """The inline queue-proxies' request logs (``zeroserve.queue.requestlog.InstanceLogs``)."""

    def watch(self, head: RequestHead, address: routing.Endpoint) -> None:
        """Log ``head`` as the queue-proxy of the instance at ``address`` would, once it is over."""


Relays = tuple[Address, Address, Address]
"""The main process's relay listeners: (external, internal, internal in absolute form)."""


class Mirror(Protocol):
    """What is told each change of a gateway's tables (``zeroserve.gateway.workers.Workers``)."""

    def publish(self, route: routing.RouteLike) -> None: ...
    def withdraw(self, namespace: str, name: str) -> None: ...
    def serves(self, namespace: str, name: str, generation: int) -> bool:
        """Whether every process fed serves ``generation`` of the route (or a later one)."""
        ...

    def publish_mapping(self, mapping: routing.MappingLike) -> None: ...
    def withdraw_mapping(self, namespace: str, host: str) -> None: ...
    def set_endpoints(
        self, namespace: str, revision: str, endpoints: tuple[routing.Endpoint, ...], h2c: bool
    ) -> None: ...


class Admission(Protocol):
    """Per-instance admission done in this process instead of a sidecar (``zeroserve.queue.inline``).

    ``get(endpoint)`` is the instance's admitter (None: not known, forward without one); ``loads``
    counts each instance's requests in flight (the gateway's and the activator's), which the
    gateway balances by."""

    @property
    def loads(self) -> Mapping[routing.Endpoint, int]: ...

    def get(self, address: routing.Endpoint) -> Admitter | None: ...


def not_found_body(host: str, known: list[str]) -> bytes:
    lines = [f"no route for host {host!r}"]
    lines.append("known hosts:" if known else "no routes are served yet")
    lines.extend(f"  {k}" for k in known)
    return ("\n".join(lines) + "\n").encode()


class Gateway:
    """Host routing + weighted split + least-loaded instance, on two listeners."""

    def __init__(
        self,
        *,
        external: Address = ("127.0.0.1", 8080),
        internal: Address = ("127.0.0.1", 0),
        timeouts: Timeouts = Timeouts(),
        rand: Callable[[], float] = random.random,
        no_endpoints: NoEndpoints | None = None,
        admission: Admission | None = None,
        limits: ConnectionLimits = GATEWAY_LIMITS,
        tracer: trace.Tracer | None = None,
        relay_to: Relays | None = None,
    ) -> None:
        """``relay_to``: a gateway worker's (:mod:`zeroserve.gateway.workers`): the main process's
        relay listeners (:meth:`start_relays`), where every request goes that this process does not
        serve itself: a host it has no route for, a revision it shows no endpoint (proxy mode, or a
        containerConcurrency that only the main process's breaker may enforce).

        ``admission``: when given, every request for an endpoint goes through
        ``admission.admit`` (the inline queue-proxy: breaker, stats, revision timeouts) instead
        of straight to a Target with ``timeouts``. ``limits``: what one client connection may
        make the gateway hold. ``tracer``: each request on the two listeners gets a SERVER span
        ``gateway`` (:func:`zeroserve.net.tracing.traced_router`), the parent of the activator's and the
        inline queue-proxy's; None (tracing off): the routers are the bare ones."""
        self.external_address = external
        self.internal_address = internal
        self.timeouts = timeouts
        self._rand = rand
        self._no_endpoints = no_endpoints
        self._admission = admission
        self._relay_to = relay_to
        self.mirror: Mirror | None = None
        """Told every change of the tables (the gateway workers' feed, in the main process)."""
        self.local_host = LOCAL_GATEWAY_HOST
        """Where the cluster-local listener is known in the cluster (the Routes' placeholder Services)."""
        self.revision_headers = False
        """Mark every request with ``Knative-Serving-Namespace`` and ``Knative-Serving-Revision``, as
        Knative's ingress does (on a cluster, a revision's endpoints may be activators, which need them)."""
        self._relays: list[ProxyServer] = []
        self._groups: tuple[list[socket.socket], list[socket.socket]] = ([], [])
        """Each address's sockets, one per gateway process (``start(processes=N)``)."""
        self._table = routing.RoutingTable()
        self._hosts: dict[tuple[str, bool], routing.Targets] = {}
        """Hits of ``table.lookup`` per Host header as sent (saves normalizing the host on every
        request); emptied whenever the table changes."""
        self._mappings: dict[str, routing.MappingLike] = {}
        """DomainMappings by normalized host."""
        self._services: dict[str, Address | Local] = {}
        """System services answered on the internal listener (normalized host -> loopback address or
        in-process handler)."""
        self._local_hits: dict[str, Local] = {}
        """In-process services per Host header as sent (as ``_hosts``); emptied when services change."""
        self._protected: set[int] = set()
        """Ports of the platform's other listeners (the API, the registry): never forwarded to locally."""
        self._contained: dict[str, tuple[ProxyServer, str]] = {}
        self._endpoints: dict[tuple[str, str], tuple[routing.Endpoint, ...]] = {}
        self._h2c: set[tuple[str, str]] = set()
        """Revisions whose endpoints speak HTTP/2 (``set_endpoints``)."""
        self._in_flight: dict[routing.Endpoint, int] = {}
        self.request_logs: RequestLogs | None = None
        """Set while request logs are on (config-observability): each request an ``admission``'s
        instance takes is logged as its queue-proxy would."""
        self.pool = UpstreamPool()
        external_router, internal_router = self._router(internal=False), self._router(internal=True)
        forward_router: Router = self._route_forward
        self._relay_routers = (external_router, internal_router, forward_router)
        if tracer is not None:
            from zeroserve.net.tracing import relayed_router

            self._relay_routers = (
                relayed_router(external_router),
                relayed_router(internal_router),
                relayed_router(forward_router),
            )
            from zeroserve.net.tracing import traced_router

            external_router = traced_router(external_router, tracer, SPAN_NAME)
            internal_router = traced_router(internal_router, tracer, SPAN_NAME)
        self._external = ProxyServer(external_router, pool=self.pool, limits=limits)
        self._internal = ProxyServer(internal_router, pool=self.pool, limits=limits)
        self.ports: tuple[int, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(
        self,
        *,
        serving: bool = True,
        sockets: tuple[socket.socket, socket.socket] | None = None,
        processes: int = 1,
    ) -> tuple[int, int]:
        """Listen on both addresses; returns the real (external, internal) ports. With
        ``serving=False`` the ports are only bound (connections are refused) until :meth:`serve`:
        so nothing is answered from an empty routing table while routes are being loaded.
        ``sockets``: listening sockets to accept on instead (a gateway worker's, inherited from
        the main process). ``processes`` > 1: each address gets that many listening sockets in a
        reuseport group (:mod:`zeroserve.net.reuseport`), listening at once (connections wait in
        the backlog until :meth:`serve` instead of being refused: no other socket may join the
        group first); this process accepts on the first of each, gateway workers on the others
        (:meth:`listeners`), and this one on theirs while they do not (:meth:`adopt`)."""
        if processes > 1 and sockets is None:
            make = reuseport.group
            try:
                external = make(*self.external_address, processes)
            except reuseport.Unsupported as err:
                log.warning("%s: the gateway's %d processes share one listening socket per address", err, processes)
                make = reuseport.shared
                external = make(*self.external_address, processes)
            try:
                internal = make(*self.internal_address, processes)
            except OSError:
                for sock in external:
                    sock.close()
                raise
            self._groups = (external, internal)
            sockets = (external[0].dup(), internal[0].dup())  # (the server closes what it is given)
        ext_sock, int_sock = sockets if sockets is not None else (None, None)
        ext = await self._external.start(*self.external_address, serving=serving, sock=ext_sock)
        try:
            inner = await self._internal.start(*self.internal_address, serving=serving, sock=int_sock)
        except OSError:
            await self._external.stop(0)
            raise
        self.ports = (ext, inner)
        if serving:
            await self._adopt_workers()
        return self.ports

    def listeners(self, index: int) -> tuple[int, int]:
        """The file descriptors of gateway process ``index``'s two listening sockets (1 to
        ``processes`` - 1; :meth:`start`)."""
        external, internal = self._groups
        return (external[index].fileno(), internal[index].fileno())

    async def adopt(self, index: int) -> None:
        """Accept on gateway process ``index``'s sockets too (it is not accepting: not started yet,
        or gone), until :meth:`release` (nothing once this gateway has stopped)."""
        external, internal = self._groups
        if index >= len(external):
            return
        await self._external.adopt(index, external[index])
        await self._internal.adopt(index, internal[index])

    def release(self, index: int) -> None:
        """Gateway process ``index`` accepts on its sockets: stop accepting there."""
        self._external.release(index)
        self._internal.release(index)

    @property
    def adopted(self) -> list[int]:
        """The gateway processes whose sockets this one accepts on now."""
        return self._external.adopted

    async def start_relays(self) -> Relays:
        """Listen on three loopback ports for the gateway workers' relays (``relay_to``): the external
        routes, the internal ones, and the internal listener's forward proxy (a request that came in
        absolute form, ``GET http://host/path``, which the hop to here turns into origin form). No
        forwarding headers are added there (the worker set them), no gateway span made (the worker's
        is the request's parent: ``net.tracing.relayed_router``), and the forward proxy never
        forwards to them (they are protected as the gateway's own ports are)."""
        for router in self._relay_routers:
            server = ProxyServer(router, pool=self.pool, limits=self._internal.limits, relay=True)
            await server.start("127.0.0.1", 0)
            self._relays.append(server)
            self._protected.add(server.port)
        ext, inner, forward = (("127.0.0.1", server.port) for server in self._relays)
        return (ext, inner, forward)

    async def serve(self) -> None:
        """Start answering on the ports :meth:`start` bound with ``serving=False`` (on every gateway
        process's sockets, until each is released)."""
        await self._external.serve()
        await self._internal.serve()
        await self._adopt_workers()

    async def _adopt_workers(self) -> None:
        """Accept on every gateway worker's sockets (as it starts serving: none accepts yet)."""
        for index in range(1, len(self._groups[0])):
            await self.adopt(index)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, finish requests in flight for up to ``grace`` seconds."""
        contained = [server.stop(grace) for server, _ in self._contained.values()]
        for _, alias in self._contained.values():
            netns.unalias(alias)
        self._contained.clear()
        relays = [server.stop(grace) for server in self._relays]
        self._relays = []
        await asyncio.gather(self._external.stop(grace), self._internal.stop(grace), *relays, *contained)
        for group in self._groups:
            for sock in group:
                sock.close()
        self._groups = ([], [])
        self.pool.close()

    async def listen_contained(self, key: str, sock: socket.socket, namespace: netns.NetNs) -> None:
        """Serve the internal listener's routes on ``sock``, a listening socket made inside the
        container instance's network ``namespace`` (its ``http_proxy``); its loopback hosts lead to
        that namespace's own loopback, and nothing is forwarded elsewhere (see the module docstring).
        ``key`` names it for :meth:`close_contained`."""
        await self.close_contained(key, 0.0)
        inside = netns.alias(namespace)
        router = functools.partial(self._route_contained, inside)
        server = ProxyServer(router, pool=self.pool, limits=self._internal.limits)
        try:
            await server.start(sock=sock)
        except BaseException:
            netns.unalias(inside)
            sock.close()
            raise
        self._contained[key] = (server, inside)

    @property
    def contained(self) -> list[str]:
        """The keys of the contained listeners open now."""
        return list(self._contained)

    async def close_contained(self, key: str, grace: float = 0.0) -> None:
        """Stop a contained listener (its instance is gone; idempotent): what it still serves is
        cut after ``grace`` seconds."""
        entry = self._contained.pop(key, None)
        if entry is not None:
            server, inside = entry
            netns.unalias(inside)
            await server.stop(grace)

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- state from the control plane ------------------------------------------------------

    @property
    def table(self) -> routing.RoutingTable:
        return self._table

    def set_table(self, table: routing.RoutingTable) -> None:
        self._table = table
        self._hosts = {}

    def publish(self, route: routing.RouteLike) -> None:
        """Serve ``route`` (a ``RouteTable`` of the Route reconciler) from now on."""
        self._table.put(route)
        self._hosts = {}
        if self.mirror is not None:
            self.mirror.publish(route)

    def withdraw(self, namespace: str, name: str) -> None:
        self._table.remove(namespace, name)
        self._hosts = {}
        if self.mirror is not None:
            self.mirror.withdraw(namespace, name)

    def served_generation(self, namespace: str, route: str) -> int | None:
        return self._table.generation(namespace, route)

    def is_ready(self, namespace: str, name: str, generation: int) -> bool:
        """Whether ``generation`` of the route is served here and by every worker fed from here
        (Knative's Ingress is Ready once its prober saw the generation on every gateway pod)."""
        served = self.served_generation(namespace, name)
        if served is None or served < generation:
            return False
        return self.mirror is None or self.mirror.serves(namespace, name, generation)

    def publish_mapping(self, mapping: routing.MappingLike) -> None:
        """Serve ``mapping.host`` as ``mapping.rewrite_host`` is served (a DomainMapping's ingress)."""
        self._mappings[routing.normalize_host(mapping.host)] = mapping
        self._hosts = {}
        if self.mirror is not None:
            self.mirror.publish_mapping(mapping)

    def withdraw_mapping(self, namespace: str, host: str) -> None:
        key = routing.normalize_host(host)
        mapping = self._mappings.get(key)
        if mapping is not None and mapping.namespace == namespace:
            del self._mappings[key]
            self._hosts = {}
            if self.mirror is not None:
                self.mirror.withdraw_mapping(namespace, host)

    def publish_service(self, host: str, address: Address | Local) -> None:
        """Forward the internal listener's requests for ``host`` to ``address`` (a system service of
        ``zeroserve up``), or answer them with a handler in this process (a ``Local``: the Broker
        ingress)."""
        self._services[routing.normalize_host(host)] = address
        self._local_hits = {}

    def withdraw_service(self, host: str) -> None:
        self._services.pop(routing.normalize_host(host), None)
        self._local_hits = {}

    def protect(self, *ports: int) -> None:
        """Never forward to these ports on a local address (the platform's other listeners)."""
        self._protected.update(ports)

    def is_mapping_ready(self, namespace: str, host: str, generation: int) -> bool:
        mapping = self._mappings.get(routing.normalize_host(host))
        return mapping is not None and mapping.namespace == namespace and mapping.generation >= generation

    def set_endpoints(
        self, namespace: str, revision: str, endpoints: Iterable[routing.Endpoint | EndpointLike], *, h2c: bool = False
    ) -> None:
        """The ready instances of a revision (replaces the previous list; empty removes). ``h2c``: they
        are spoken to over HTTP/2 (a revision whose port is named ``h2c``; with an ``admission``, its
        own targets say so)."""
        eps = tuple(e if isinstance(e, tuple) else (e.host, e.port) for e in endpoints)
        key = (namespace, revision)
        if eps:
            self._endpoints[key] = eps
        else:
            self._endpoints.pop(key, None)
        if h2c and eps:
            self._h2c.add(key)
        else:
            self._h2c.discard(key)
        if self.mirror is not None:
            self.mirror.set_endpoints(namespace, revision, eps, h2c)

    def endpoints(self, namespace: str, revision: str) -> tuple[routing.Endpoint, ...]:
        return self._endpoints.get((namespace, revision), ())

    def in_flight(self, endpoint: routing.Endpoint) -> int:
        """Requests in flight to ``endpoint`` (with an admission: its count, the activator's included)."""
        own = self._in_flight.get(endpoint, 0)
        return own if self._admission is None else own + self._admission.loads.get(endpoint, 0)

    # -- per request -----------------------------------------------------------------------

    def _router(self, *, internal: bool) -> Router:
        return functools.partial(self._route, internal)  # positional: cheaper to call than a keyword

    def route(self, head: RequestHead, *, internal: bool) -> Routed:
        return self._route(internal, head)

    def _route(self, internal: bool, head: RequestHead) -> Routed:
        targets = self._hosts.get((head.host, internal)) or self._lookup(head.host, internal)
        if targets is None:
            if self._relay_to is not None:
                return self._relay(internal, head)
            if internal:
                local = self._local_hits.get(head.host)
                if local is not None:
                    return local
                if (forward := self._forward(head.host, head.absolute)) is not None:
                    return forward
            table = self._table
            body = not_found_body(routing.normalize_host(head.host), table.known_hosts(internal=internal))
            return Response(404, body)
        if targets.marked or head.knative is not None or self.revision_headers:
            return self._route_marked(head, targets, internal)
        backends = targets.backends
        # One backend / one endpoint is the common case: skip the draw (same result as the pick).
        backend = backends[0] if len(backends) == 1 else routing.pick(targets, self._rand())
        if backend is None:
            return Response(503, f"route {targets.namespace}/{targets.route} has no revision to serve\n".encode())
        endpoints = self._endpoints.get((backend.namespace, backend.revision))
        if not endpoints:
            return self._no_endpoint(head, backend, internal)
        admission = self._admission
        if len(endpoints) == 1:
            endpoint = endpoints[0]
        else:
            loads = self._in_flight if admission is None else admission.loads
            picked = routing.least_loaded(endpoints, loads, self._rand())
            assert picked is not None
            endpoint = picked
        if admission is not None:
            admitter = admission.get(endpoint)
            if admitter is not None:  # it counts the request in flight
                if self.request_logs is not None:
                    self.request_logs.watch(head, endpoint)
                return admitter.admit(False)
        self._in_flight[endpoint] = self._in_flight.get(endpoint, 0) + 1
        target = Target(
            endpoint[0], endpoint[1], timeouts=self.timeouts, on_release=functools.partial(self._done, endpoint)
        )
        if self._h2c and (backend.namespace, backend.revision) in self._h2c:
            target.h2c = True
        return target

    def _route_marked(
        self, head: RequestHead, targets: routing.Targets, internal: bool
    ) -> RouteResult | Awaitable[RouteResult]:
        """:meth:`_route` for a request with Knative headers, or to a rule that sets headers or
        routes by tag (what the fast path never has to look at)."""
        marks = head.knative
        kubelet = False
        if marks is not None:
            if is_network_probe(marks):
                return network_probe(marks)  # the ingress's probe: a host served, its hash echoed
            if targets.by_tag is not None:
                tag = marks.get(_TAG)
                targets = (targets.by_tag.get(tag) if tag else None) or targets  # unknown: the default split
            kubelet = bool(marks.get(_KUBELET))
        backend = routing.pick(targets, self._rand())
        if backend is None:
            return Response(503, f"route {targets.namespace}/{targets.route} has no revision to serve\n".encode())
        endpoints = self._endpoints.get((backend.namespace, backend.revision))
        if not endpoints:
            return self._no_endpoint(head, backend, internal)
        admission = self._admission
        loads = self._in_flight if admission is None else admission.loads
        endpoint = routing.least_loaded(endpoints, loads, self._rand())
        assert endpoint is not None
        if admission is not None:
            admitter = admission.get(endpoint)
            if admitter is not None:
                if self.request_logs is not None:
                    self.request_logs.watch(head, endpoint)
                if kubelet:  # Knative's queue-proxy lets kubelet probes past its breaker and stats
                    return admitter.admit_probe(headers=backend.headers, drop=backend.drop)
                return admitter.admit(False, headers=backend.headers, drop=backend.drop)
        self._in_flight[endpoint] = self._in_flight.get(endpoint, 0) + 1
        headers, drop = backend.headers, backend.drop
        if self.revision_headers:
            headers += ((_NAMESPACE_HEADER, backend.namespace.encode()), (_REVISION_HEADER, backend.revision.encode()))
            drop |= _REVISION_HEADERS
        return Target(
            endpoint[0],
            endpoint[1],
            timeouts=self.timeouts,
            headers=headers,
            drop=drop,
            on_release=functools.partial(self._done, endpoint),
            h2c=(backend.namespace, backend.revision) in self._h2c,
        )

    def _no_endpoint(
        self, head: RequestHead, backend: routing.Backend, internal: bool
    ) -> RouteResult | Awaitable[RouteResult]:
        """A revision this gateway shows no endpoint: the ``no_endpoints`` hook (the activator), else
        the main process (a worker's relay), else 503."""
        if self._no_endpoints is not None:
            routed = self._no_endpoints(head, backend)
            if routed is not None:
                return routed
        if self._relay_to is not None:
            return self._relay(internal, head)
        msg = f"revision {backend.namespace}/{backend.revision} has no ready instance\n"
        return Response(503, msg.encode())

    def _route_forward(self, head: RequestHead) -> Routed:
        """The forward-proxy relay listener's router: a worker's internal request that came in
        absolute form, routed as the internal listener routes it."""
        head.absolute = True
        return self._route(True, head)

    def _relay(self, internal: bool, head: RequestHead) -> Target:
        """To the main process's relay listener (a gateway worker's request it does not serve), in the
        client's protocol: an HTTP/2 stream over h2c (gRPC's ``te: trailers`` and its framing pass as
        they came; a translation to HTTP/1.1 and back would lose them), HTTP/1.1 as it is."""
        assert self._relay_to is not None
        host, port = self._relay_to[2 if internal and head.absolute else internal]
        return Target(host, port, timeouts=self.timeouts, h2c=head.version == "2.0")

    def _route_contained(self, inside: str, head: RequestHead) -> Routed:
        """A contained listener's router: what the internal listener serves; loopback hosts to the
        instance's own loopback (``inside``, its namespace's alias); nothing else."""
        if (head.host, True) in self._hosts or self._lookup(head.host, True) is not None:
            return self._route(True, head)
        service = self._service(head.host)
        if service is not None:
            return service
        host = routing.normalize_host(head.host)
        port = routing.host_port(head.host)
        if head.absolute and routing.is_loopback(host) and port is not None:
            return Target(inside, port, timeouts=self.timeouts)
        if routing.is_cluster_local(host) or host.endswith(".localhost") or not head.absolute:
            return Response(404, not_found_body(host, self._table.known_hosts(internal=True)))
        return Response(403, f"{host}: this proxy reaches only what zeroserve serves\n".encode())

    def _service(self, host_header: str) -> Target | Local | None:
        service = self._services.get(routing.normalize_host(host_header))
        if isinstance(service, Local):
            if len(self._local_hits) >= MAX_CACHED_HOSTS:
                self._local_hits = {}
            self._local_hits[host_header] = service
            return service
        return None if service is None else Target(service[0], service[1], timeouts=self.timeouts)

    def _forward(self, host_header: str, absolute: bool) -> Target | Local | Awaitable[RouteResult] | None:
        """Where the internal listener sends a host no Route serves (None: 404)."""
        service = self._service(host_header)
        if service is not None:
            return service
        host = routing.normalize_host(host_header)
        port = routing.host_port(host_header)
        if not absolute or not host or port is None or routing.is_cluster_local(host) or host.endswith(".localhost"):
            return None
        host = host.strip("[]")
        if port in self._protected or (self.ports is not None and port in self.ports):
            return self._forward_checked(host, port)
        return Target(host, port, timeouts=self.timeouts)

    async def _forward_checked(self, host: str, port: int) -> RouteResult:
        """A forward to one of the platform's ports: resolved first, refused on a local address
        (any spelling: ``localhost``, ``127.1``, ``0``, ``::ffff:127.0.0.1``, this host's own IPs)."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            return Response(502, f"cannot resolve {host!r}: {e}\n".encode())
        addresses = [str(info[4][0]) for info in infos]
        if not addresses or any(is_local_address(a) for a in addresses):
            return Response(403, f"{host}:{port} is one of zeroserve's own listeners: not forwarded\n".encode())
        return Target(addresses[0], port, timeouts=self.timeouts)

    def _lookup(self, host: str, internal: bool) -> routing.Targets | None:
        """``table.lookup``, remembered per Host header as sent when found (see ``_hosts``)."""
        targets = self._table.lookup(host, internal=internal)
        if targets is None and self._mappings:
            mapping = self._mappings.get(routing.normalize_host(host))
            if mapping is not None:
                targets = self._table.lookup(mapping.rewrite_host, internal=True)
        if targets is not None:
            if len(self._hosts) >= MAX_CACHED_HOSTS:  # spellings (case, port) of known hosts only
                self._hosts = {}
            self._hosts[(host, internal)] = targets
        return targets

    def _done(self, endpoint: routing.Endpoint) -> None:
        left = self._in_flight.get(endpoint, 0) - 1
        if left > 0:
            self._in_flight[endpoint] = left
        else:
            self._in_flight.pop(endpoint, None)


def is_local_address(address: str) -> bool:
    """An address of this machine: loopback, unspecified, or one a socket can bind to here."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # not an address at all: refuse rather than guess
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False  # EADDRNOTAVAIL: another machine's
    return True
