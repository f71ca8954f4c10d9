"""What the gateway and the activators read from the cluster: the revisions' Endpoints.

* The **gateway** sends a revision's requests to the addresses of its public Endpoints, which the
  SKS (:mod:`zeroserve.kubernetes.sks`) points at its pods (Serve) or at a subset of the
  activators (Proxy), as Knative's ingress sends them to the public Service
  (:class:`GatewayFeed`). It marks every request with ``Knative-Serving-Namespace`` and
  ``Knative-Serving-Revision``, so that an activator knows the revision.
* An **activator** (:class:`ActivatorFeed`, Knative ``pkg/activator/net/revision_backends.go`` and
  the throttler's public-Endpoints handler) learns each revision's pods from its private Service's
  Endpoints (ready and not-ready addresses: it probes them itself), and from the public Endpoints
  how many activators share the revision and which one it is, to take its own slice of the pods.

The addresses are the Endpoints' port named ``http`` (``http2`` for an h2c revision): the queue-proxy's
serving port. Both feeds list, then watch, and list again when the watch expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.controller.resources.sksservices import (
    H2C_PORT_NAME,
    HTTP_PORT_NAME,
    PRIVATE,
    PUBLIC,
    SERVICE_TYPE_LABEL,
)
from zeroserve.errors import Gone
from zeroserve.kubernetes.kinds import ENDPOINTS
from zeroserve.store.base import Store

log = logging.getLogger(__name__)

Address = tuple[str, int]
SERVING_PORTS: Final = frozenset({HTTP_PORT_NAME, H2C_PORT_NAME})


def serving_addresses(endpoints: Obj) -> tuple[list[Address], list[Address], bool]:
    """An Endpoints object's ready and not-ready addresses on its serving port (``http`` or
    ``http2``), and whether that port is ``http2`` (the revision speaks h2c)."""
    ready: list[Address] = []
    not_ready: list[Address] = []
    h2c = False
    for subset in endpoints.get("subsets") or []:
        port = next((p for p in subset.get("ports") or [] if p.get("name") in SERVING_PORTS), None)
        if port is None or not isinstance(port.get("port"), int):
            continue
        h2c = h2c or port.get("name") == H2C_PORT_NAME
        for key, out in (("addresses", ready), ("notReadyAddresses", not_ready)):
            out.extend((str(a["ip"]), int(port["port"])) for a in subset.get(key) or [] if a.get("ip"))
    return sorted(set(ready)), sorted(set(not_ready)), h2c


def revision_of(endpoints: Obj, service_type: str) -> tuple[str, str] | None:
    """(namespace, revision) of a revision's ``service_type`` (Public or Private) Endpoints, else None."""
    meta = endpoints.get("metadata") or {}
    found = meta.get("labels") or {}
    revision = found.get(labels.REVISION)
    if not revision or found.get(SERVICE_TYPE_LABEL) != service_type:
        return None
    return str(meta.get("namespace") or ""), str(revision)


async def follow(store: Store, apply: Callable[[Obj, bool], None], listed: asyncio.Event) -> None:
    """Every Endpoints object to ``apply(obj, deleted)``: listed, then watched (``listed`` set after
    the first list), listed again when the watch expires."""
    while True:
        items, rv = await store.list(ENDPOINTS)
        for item in items:
            apply(item, False)
        listed.set()
        try:
            async for event in store.watch((ENDPOINTS,), since=rv):
                apply(event.object, event.type == "DELETED")
        except Gone:
            log.info("endpoints: watch expired, listing again")


class GatewayEndpoints(Protocol):
    def set_endpoints(self, namespace: str, revision: str, endpoints: list[Address], *, h2c: bool = False) -> None: ...


class GatewayFeed:
    """The gateway's endpoints: each revision's public Endpoints' ready addresses."""

    def __init__(self, gateway: GatewayEndpoints) -> None:
        self._gateway = gateway
        self.listed = asyncio.Event()

    def apply(self, obj: Obj, deleted: bool) -> None:
        key = revision_of(obj, PUBLIC)
        if key is None:
            return
        ready, _, h2c = serving_addresses(obj)
        self._gateway.set_endpoints(*key, [] if deleted else ready, h2c=h2c)

    async def run(self, store: Store) -> None:
        await follow(store, self.apply, self.listed)


class ActivatorThrottler(Protocol):
    def set_endpoints(self, namespace: str, revision: str, endpoints: list[Address]) -> None: ...
    def set_activators(self, namespace: str, revision: str, activators: int, index: int) -> None: ...


class ActivatorFeed:
    """An activator's view of the revisions' pods (private Endpoints) and of its place among the
    activators in each revision's path (public Endpoints); ``ip``: this activator's pod IP."""

    def __init__(self, throttler: ActivatorThrottler, ip: str) -> None:
        self._throttler = throttler
        self.ip = ip
        self.listed = asyncio.Event()

    def apply(self, obj: Obj, deleted: bool) -> None:
        private = revision_of(obj, PRIVATE)
        if private is not None:
            ready, not_ready, _ = serving_addresses(obj)
            self._throttler.set_endpoints(*private, [] if deleted else ready + not_ready)
            return
        public = revision_of(obj, PUBLIC)
        if public is None or deleted:
            return
        ips = sorted({host for host, _ in serving_addresses(obj)[0]})
        if self.ip in ips:  # else this activator is not in the revision's path: nothing changes
            self._throttler.set_activators(*public, len(ips), ips.index(self.ip))

    async def run(self, store: Store) -> None:
        await follow(store, self.apply, self.listed)
