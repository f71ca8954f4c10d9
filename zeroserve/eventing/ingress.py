"""The Broker ingress (Knative's ``pkg/broker/ingress``): CloudEvents in, durable, then 202.

Every MT Broker shares one ingress; a Broker's address is ``http://broker-ingress.knative-eventing.
svc.cluster.local/NAMESPACE/BROKER``, which the gateway's internal listener answers with this
handler in its own process (:meth:`Ingress.local`: no second socket, no second parse). Per request,
in Knative's order (``Handler.ServeHTTP``):

* every answer carries ``Allow: POST, OPTIONS``; ``OPTIONS`` is 200 with ``WebHook-Allowed-Origin: *``
  and ``WebHook-Allowed-Rate: *`` (the CloudEvents webhook handshake); any other method but POST 405;
* ``/`` is 404; a path that is not ``/NAMESPACE/BROKER`` (a trailing slash allowed) is 400;
* a request that is not a valid CloudEvent (:mod:`zeroserve.eventing.cloudevent`) is 400;
* a Broker this ingress does not serve (none of that name, or not of the MT class) is 404;
* ``knativearrivaltime`` is set, ``knativebrokerttl`` defaulted to 255 or decremented; at 0, 400;
* the event is appended to the log; **202 only once** :meth:`EventLog.append` **returned**, i.e. it is
  committed and fsync'd. A full backlog answers 429 with ``Retry-After`` at once (memory stays
  bounded); a log that failed answers 500.

The HTTP side is the gateway's proxy (``zeroserve.net.proxy``): keep-alive, chunked bodies,
``Expect: 100-continue``, pipelining, Envoy's per-connection limits, a body of :data:`MAX_BODY`
(413). While ``zeroserve up`` stops, :meth:`Ingress.drain` answers new events 503 with
``Retry-After`` and waits for the appends in flight, so none is cut off by the log closing.
:class:`IngressServer` serves the handler alone on a port of its own (tests, tools).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from zeroserve.eventing import cloudevent
from zeroserve.eventing.base import BacklogFull, EventLog
from zeroserve.net.headers import Header
from zeroserve.net.proxy import Local, ProxyServer, RequestHead, Response

log = logging.getLogger("zeroserve.eventing.ingress")

MAX_BODY = 4 * 1024 * 1024
"""Bytes of one event's request body (413 beyond)."""
ALLOW = (b"Allow", b"POST, OPTIONS")
OPTIONS_HEADERS = (ALLOW, (b"WebHook-Allowed-Origin", b"*"), (b"WebHook-Allowed-Rate", b"*"))
_TEXT = (b"Content-Type", b"text/plain; charset=utf-8")
DRAIN_POLL = 0.01


def _wall() -> datetime:
    return datetime.now(UTC)


@dataclass
class BrokerSet:
    """The Brokers the ingress accepts events for, as the Broker reconciler publishes them."""

    _brokers: set[tuple[str, str]] = field(default_factory=set)

    def publish(self, namespace: str, name: str) -> None:
        self._brokers.add((namespace, name))

    def withdraw(self, namespace: str, name: str) -> None:
        self._brokers.discard((namespace, name))

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._brokers


def answer(status: int, body: bytes = b"", headers: tuple[Header, ...] = (ALLOW,)) -> Response:
    """An answer of the ingress: every one carries ``Allow``."""
    return Response(status, body, headers)


ACCEPTED = answer(202)


def _text(status: int, message: str, *extra: Header) -> Response:
    return Response(status, (message + "\n").encode(), (ALLOW, _TEXT, *extra))


def header_dict(headers: list[Header]) -> dict[str, str]:
    """Lower-case names to values (repeated headers joined with commas, as HTTP allows)."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]},{text}" if key in out else text
    return out


def broker_of(path: str) -> tuple[str, str] | Response:
    """(namespace, broker) from the request target, or Knative's answer for a bad one."""
    path = path.split("?", 1)[0]
    if path == "/":
        return answer(404)
    parts = path.removesuffix("/").split("/")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return _text(400, f"malformed path {path!r}: want /NAMESPACE/BROKER")
    return parts[1], parts[2]


class Ingress:
    """The handler: request -> answer (no sockets: the gateway's proxy serves it, see :meth:`local`)."""

    def __init__(self, log: EventLog, brokers: BrokerSet | None = None, wall: Callable[[], datetime] = _wall) -> None:
        self.log = log
        self.brokers = brokers if brokers is not None else BrokerSet()
        self.wall = wall
        self.in_flight = 0
        self.draining = False

    def local(self) -> Local:
        """This ingress as the proxy's in-process handler (``Gateway.publish_service``)."""
        return Local(self.handle, MAX_BODY)

    def handle(self, head: RequestHead, body: bytes) -> Response | Awaitable[Response]:
        """One request: the answer now, or (an event to append) once the log committed it."""
        result = self.prepare(head.method, head.path, header_dict(head.headers), body)
        if isinstance(result, Response):
            return result
        if self.draining:
            return _text(503, "the broker ingress is shutting down", (b"Retry-After", b"1"))
        return self.append(*result)

    async def drain(self, grace: float = 5.0) -> None:
        """Refuse new events (503) and wait up to ``grace`` seconds for the appends in flight."""
        self.draining = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                while self.in_flight:
                    await asyncio.sleep(DRAIN_POLL)

    def prepare(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Response | tuple[str, str, bytes]:
        """Everything before the append: an immediate answer, or what to append."""
        if method == "OPTIONS":
            return answer(200, b"", OPTIONS_HEADERS)
        if method != "POST":
            return answer(405)
        target = broker_of(path)
        if isinstance(target, Response):
            return target
        try:
            event = cloudevent.parse(headers, body)
        except cloudevent.InvalidEvent as e:
            return _text(400, str(e))
        if target not in self.brokers:
            return _text(404, f"broker {target[0]}/{target[1]} not found")
        try:
            stored = cloudevent.admit(event, self.wall())
        except cloudevent.InvalidEvent as e:
            return _text(400, str(e))
        return target[0], target[1], stored

    async def append(self, namespace: str, broker: str, stored: bytes) -> Response:
        self.in_flight += 1
        try:
            await self.log.append(namespace, broker, stored)
        except BacklogFull as e:
            retry = str(max(1, math.ceil(e.retry_after))).encode()
            return _text(429, str(e), (b"Retry-After", retry))
        except Exception:
            log.exception("appending an event to %s/%s failed", namespace, broker)
            return _text(500, "the event could not be stored")
        finally:
            self.in_flight -= 1
        return ACCEPTED


class IngressServer:
    """:class:`Ingress` alone on a loopback port (``start`` returns the port it really listens on)."""

    def __init__(self, ingress: Ingress) -> None:
        self.ingress = ingress
        local = ingress.local()
        self._proxy = ProxyServer(lambda _head: local)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        return await self._proxy.start(host, port)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; let the appends in flight finish (up to ``grace``), then close."""
        await self._proxy.stop(grace)
