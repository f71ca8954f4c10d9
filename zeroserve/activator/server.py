"""``zeroserve activator``: the activator as its own process (Knative ``cmd/activator``).

It is a :class:`~zeroserve.net.ProxyServer` whose route hook is :meth:`Activator.route`. It learns
revisions (``containerConcurrency`` and the three timeouts: ``timeoutSeconds``,
``responseStartTimeoutSeconds``, ``idleTimeoutSeconds``) and their endpoints by watching the API
server, as Knative's activator watches revisions and the private services' Endpoints:

* ``GET /apis/serving.knative.dev/v1/revisions?watch=true``
* ``GET /api/v1/endpoints?watch=true`` (Endpoints named after the revision,
  ``subsets[].addresses[].ip`` x ``subsets[].ports[].port``)

Both are newline-delimited JSON events (``{"type": "ADDED", "object": {...}}``) as in Kubernetes.
A broken watch is resumed after the last ``resourceVersion`` seen (from the start after an
``ERROR`` event). Stats go to the autoscaler's stat server through :class:`HttpStatSink`.

In ``zeroserve up`` none of this runs: the gateway calls the same :class:`Activator` in-process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from zeroserve.activator.handler import Activator
from zeroserve.activator.probe import HttpProber
from zeroserve.activator.reporter import ConcurrencyReporter, HttpStatSink, StatSink
from zeroserve.activator.throttler import Address, Throttler, serves_h2c
from zeroserve.autoscaler.metrics import StatMessage
from zeroserve.net.proxy import ProxyServer

logger = logging.getLogger(__name__)

REVISIONS_PATH = "/apis/serving.knative.dev/v1/revisions"
ENDPOINTS_PATH = "/api/v1/endpoints"
DEFAULT_TIMEOUT_SECONDS = 300
"""A revision's ``timeoutSeconds`` when its spec has none (Knative ``revision-timeout-seconds``)."""
RETRY_DELAY = 1.0
"""Seconds before a broken watch is opened again."""


@dataclass(frozen=True)
class ActivatorSettings:
    """Inputs of ``zeroserve activator`` (flags override ``ZEROSERVE_ACTIVATOR_*`` variables)."""

    host: str = "127.0.0.1"
    """Listen address."""
    port: int = 8012
    """Listen port (Knative's activator listens on 8012); 0 picks a free one."""
    api: str = "http://127.0.0.1:8001"
    """The API server to watch revisions and endpoints on."""
    token: str = ""
    """Bearer token for the API server."""
    ca_file: str = ""
    """The CA an https API server's certificate must chain to (``zeroserve up``'s ``DATA/ca.crt``);
    empty: the system's CAs."""
    stat_url: str = ""
    """The autoscaler's stat server (POST JSON stat messages); empty: stats are only logged."""
    pod_name: str = "activator"
    """Name this activator signs its stats with."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ActivatorSettings:
        def get(name: str, default: str) -> str:
            return environ.get(f"ZEROSERVE_ACTIVATOR_{name}", default)

        port = get("PORT", str(cls.port))
        if not port.isdigit():
            raise ValueError(f"ZEROSERVE_ACTIVATOR_PORT must be a port number, was: {port!r}")
        return cls(
            host=get("HOST", cls.host),
            port=int(port),
            api=environ.get("ZEROSERVE_API", cls.api),
            token=environ.get("ZEROSERVE_TOKEN", cls.token),
            ca_file=environ.get("ZEROSERVE_CA_FILE", cls.ca_file),
            stat_url=get("STAT_URL", cls.stat_url),
            pod_name=get("POD_NAME", cls.pod_name),
        ).validated()

    def with_flags(
        self, *, host: str | None = None, port: int | None = None, stat_url: str | None = None
    ) -> ActivatorSettings:
        """These settings with the command-line flags that were given (None: not given)."""
        return dataclasses.replace(
            self,
            host=self.host if host is None else host,
            port=self.port if port is None else port,
            stat_url=self.stat_url if stat_url is None else stat_url,
        ).validated()

    def validated(self) -> ActivatorSettings:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, was: {self.port}")
        if not self.api.startswith(("http://", "https://")):
            raise ValueError(f"api must be an http(s) URL, was: {self.api!r}")
        return self


# -- events -> throttler (pure) ---------------------------------------------------------------


def _key(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    meta = obj.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace") or "default"
    return (namespace, name) if isinstance(name, str) and name else None


def apply_revision_event(throttler: Throttler, type_: str, obj: Mapping[str, Any]) -> None:
    key = _key(obj)
    if key is None:
        return
    if type_ == "DELETED":
        throttler.remove_revision(*key)
        return
    spec = obj.get("spec") or {}
    cc = spec.get("containerConcurrency") or 0
    timeout = spec.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS
    # Knative's activator: an unset responseStartTimeoutSeconds or idleTimeoutSeconds is no limit.
    response_start = spec.get("responseStartTimeoutSeconds") or 0
    idle = spec.get("idleTimeoutSeconds") or 0
    throttler.set_revision(
        key[0], key[1], int(cc), float(timeout), float(response_start), float(idle), h2c=serves_h2c(spec)
    )


def endpoint_addresses(obj: Mapping[str, Any]) -> list[Address]:
    """Every ``ip`` x ``port`` of an Endpoints object (not-ready addresses too: the probe decides)."""
    out: list[Address] = []
    for subset in obj.get("subsets") or ():
        found = [*(subset.get("addresses") or ()), *(subset.get("notReadyAddresses") or ())]
        ips = [a.get("ip") for a in found]
        ports = [p.get("port") for p in subset.get("ports") or ()]
        out.extend((ip, int(port)) for ip in ips if isinstance(ip, str) for port in ports if isinstance(port, int))
    return out


def apply_endpoints_event(throttler: Throttler, type_: str, obj: Mapping[str, Any]) -> None:
    key = _key(obj)
    if key is None:
        return
    throttler.set_endpoints(key[0], key[1], [] if type_ == "DELETED" else endpoint_addresses(obj))


# -- the watches (I/O) --------------------------------------------------------------------------

Handler = Callable[[str, Mapping[str, Any]], None]


async def watch(
    session: aiohttp.ClientSession,
    url: str,
    handle: Handler,
    *,
    retry_delay: float = RETRY_DELAY,
) -> None:
    """Follow a Kubernetes-style watch forever, resuming after the last resourceVersion."""
    since = ""
    while True:
        try:
            params = {"watch": "true"} | ({"resourceVersion": since} if since else {})
            async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as resp:
                if resp.status != 200:
                    raise aiohttp.ClientResponseError(
                        resp.request_info, resp.history, status=resp.status, message=await resp.text()
                    )
                async for line in resp.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if not isinstance(event, dict):
                        continue
                    type_, obj = event.get("type", ""), event.get("object") or {}
                    if type_ == "ERROR":
                        logger.warning("watch %s: %s; listing again", url, obj.get("message"))
                        since = ""
                        break
                    since = (obj.get("metadata") or {}).get("resourceVersion") or since
                    try:
                        handle(type_, obj)
                    except Exception:  # one malformed object must not end the watch
                        logger.exception("watch %s: cannot apply %s event", url, type_)
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            logger.warning("watch %s failed: %s; retrying in %.1fs", url, exc or type(exc).__name__, retry_delay)
        await asyncio.sleep(retry_delay)


class _LogSink:
    def send(self, messages: list[StatMessage]) -> None:
        for message in messages:
            logger.debug("stat %s/%s: %s", message.namespace, message.name, message.stat)


class ActivatorServer:
    """The whole ``zeroserve activator`` process as an ``async with`` object (port read back)."""

    def __init__(
        self, settings: ActivatorSettings, *, sink: StatSink | None = None, retry_delay: float = RETRY_DELAY
    ) -> None:
        self.settings = settings
        self.retry_delay = retry_delay
        self.prober = HttpProber()
        self.throttler = Throttler(self.prober)
        self._http_sink = HttpStatSink(settings.stat_url) if sink is None and settings.stat_url else None
        self.reporter = ConcurrencyReporter(sink or self._http_sink or _LogSink(), settings.pod_name)
        self.activator = Activator(self.throttler, self.reporter)
        self.proxy = ProxyServer(self.activator.route)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    @property
    def port(self) -> int:
        return self.proxy.port

    async def start(self) -> int:
        headers = {"Authorization": f"Bearer {self.settings.token}"} if self.settings.token else {}
        tls = ssl.create_default_context(cafile=self.settings.ca_file or None)
        self._session = aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=tls))
        api = self.settings.api.rstrip("/")
        loop = asyncio.get_running_loop()

        def revisions(type_: str, obj: Mapping[str, Any]) -> None:
            apply_revision_event(self.throttler, type_, obj)

        def endpoints(type_: str, obj: Mapping[str, Any]) -> None:
            apply_endpoints_event(self.throttler, type_, obj)

        self._tasks = [
            loop.create_task(watch(self._session, api + REVISIONS_PATH, revisions, retry_delay=self.retry_delay)),
            loop.create_task(watch(self._session, api + ENDPOINTS_PATH, endpoints, retry_delay=self.retry_delay)),
            loop.create_task(self.reporter.run()),
        ]
        if self._http_sink is not None:
            self._tasks.append(loop.create_task(self._http_sink.run()))
        return await self.proxy.start(self.settings.host, self.settings.port)

    async def stop(self, grace: float = 10.0) -> None:
        await self.proxy.stop(grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.throttler.close()
        await self.prober.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ActivatorServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def serve(settings: ActivatorSettings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or the task is cancelled)."""
    async with ActivatorServer(settings) as server:
        logger.info("activator listening on %s:%d, watching %s", settings.host, server.port, settings.api)
        await (stop or asyncio.Event()).wait()


def run(settings: ActivatorSettings) -> int:
    """The ``zeroserve activator`` process: serve until SIGINT/SIGTERM; the exit code."""
    import signal

    import uvloop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        uvloop.run(main())
    except OSError as err:
        logger.error("zeroserve activator: %s", err)
        return 1
    return 0
