"""An asyncio client of a Kubernetes API server: JSON requests and watch streams over aiohttp.

Where the server is and who we are comes from the official Kubernetes Python client's loaders
(:func:`connect`): a kubeconfig (its current or a named context; tokens, client certificates, CA
data or files, exec plugins) or, inside a pod, the service account (whose token the loader re-reads
as it rotates). Only their results are used here: the requests themselves are a few JSON calls and
a line-delimited watch stream, on the aiohttp session the rest of zeroserve uses.

Paths are Kubernetes': ``/api/v1`` for the core group, ``/apis/GROUP/VERSION`` for the others,
``namespaces/NS/`` for a namespaced kind. An error answer's ``Status`` is raised as the
:mod:`zeroserve.errors` exception it stands for (:func:`zeroserve.errors.from_status`); a server
that cannot be reached is :class:`Unreachable`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from zeroserve import __version__, errors
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind

USER_AGENT = f"zeroserve-controller/{__version__}"
"""The field manager a cluster records for our writes (apimachinery takes the User-Agent's first part)."""
WATCH_TIMEOUT = 300
"""Seconds a watch asks the server to keep it open (client-go's reflector picks 5-10 min); then it resumes."""


class Unreachable(errors.ZeroserveError):
    """The API server does not answer (``cause``: what the connection said)."""

    def __init__(self, server: str, cause: str) -> None:
        super().__init__(f"the Kubernetes API server at {server} cannot be reached: {cause}")
        self.server = server
        self.cause = cause


@dataclass(frozen=True)
class Connection:
    """Where the API server is and how to authenticate: the parts aiohttp needs."""

    server: str
    """``https://HOST:PORT`` (``http://`` for a server without TLS, as tests run ours)."""
    ssl_context: ssl.SSLContext | None = None
    """None: the server's certificate is not verified (``insecure-skip-tls-verify``) or plain HTTP."""
    token: Callable[[], str] = field(default=lambda: "")
    """The bearer token for the next request ("" for none): asked each time, as tokens rotate."""


def connect(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """The connection a kubeconfig describes (``kubeconfig`` None: ``$KUBECONFIG`` or ``~/.kube/config``),
    or, with neither a file nor ``context`` and inside a pod, the pod's service account.

    Raises :class:`~zeroserve.errors.ZeroserveError` with the loader's message when neither works."""
    from kubernetes import client, config  # the official client's loaders; imported only in Kubernetes mode

    cfg = client.Configuration()
    try:
        if kubeconfig is None and context is None and config.incluster_config.SERVICE_HOST_ENV_NAME in os.environ:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=cfg
            )
    except (config.ConfigException, OSError) as e:
        raise errors.ZeroserveError(f"no Kubernetes cluster to talk to: {e}") from e
    return _connection(cfg)


def _connection(cfg: Any) -> Connection:
    """A :class:`Connection` from a ``kubernetes.client.Configuration`` the loaders filled in."""
    context: ssl.SSLContext | None = None
    if cfg.verify_ssl and str(cfg.host).startswith("https"):
        context = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
        if cfg.cert_file:
            context.load_cert_chain(cfg.cert_file, cfg.key_file or None)

    def token() -> str:
        bearer = cfg.auth_settings().get("BearerToken") or {}  # runs the loader's refresh hook
        return str(bearer.get("value") or "")

    return Connection(str(cfg.host).rstrip("/"), context, token)


def resource_path(kind: Kind, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    """The REST path of ``kind`` (all namespaces when ``namespace`` is None), an object, a subresource."""
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if namespace is not None and kind.namespaced:
        base += f"/namespaces/{quote(namespace, safe='')}"
    path = f"{base}/{kind.plural}"
    if name is not None:
        path += f"/{quote(name, safe='')}"
    if sub is not None:
        path += f"/{sub}"
    return path


class KubeApi:
    """JSON requests and watches against one API server; ``async with`` opens and closes its session."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> KubeApi:
        self.session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self.conn.ssl_context or False, limit=64)
            self._session = aiohttp.ClientSession(
                self.conn.server,
                connector=connector,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        token = self.conn.token()
        if not token:
            return {}
        return {"Authorization": token if token.lower().startswith("bearer ") else f"Bearer {token}"}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        """The JSON answer to ``method path``; an error answer raised as its :mod:`zeroserve.errors` class.
        ``content_type``: the body's (``application/merge-patch+json`` for a PATCH)."""
        headers = {**self._headers(), "Content-Type": content_type}
        data = None if body is None else orjson.dumps(body)
        try:
            async with self.session().request(
                method, path, params=dict(params or {}), data=data, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientConnectionError, TimeoutError) as e:
            raise Unreachable(self.conn.server, str(e) or type(e).__name__) from e
        decoded = _decode(raw)
        if status >= 400:
            raise errors.from_status(status, decoded)
        if not isinstance(decoded, dict):
            raise errors.ApiError(f"{method} {path}: the answer is not a JSON object")
        return decoded

    async def watch(
        self, path: str, resource_version: str, *, timeout: int = WATCH_TIMEOUT, label_selector: str = ""
    ) -> AsyncIterator[tuple[str, Obj]]:
        """``(type, object)`` of each watch event after ``resource_version`` (BOOKMARKs included), until
        the server ends the stream. A watch that starts too far back is :class:`~zeroserve.errors.Gone`,
        whether the server answers 410 or streams an ``ERROR`` event with the Status."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        timeouts = aiohttp.ClientTimeout(total=None, sock_read=timeout + 30)
        try:
            async with self.session().get(path, params=params, headers=self._headers(), timeout=timeouts) as resp:
                if resp.status >= 400:
                    raise errors.from_status(resp.status, _decode(await resp.read()))
                async for line in resp.content:
                    if not line.strip():
                        continue
                    event = _decode(line)
                    if not isinstance(event, dict):
                        raise errors.ApiError(f"watch {path}: an event is not a JSON object")
                    kind, obj = str(event.get("type", "")), event.get("object")
                    if not isinstance(obj, dict):
                        raise errors.ApiError(f"watch {path}: a {kind} event has no object")
                    if kind == "ERROR":
                        raise errors.from_status(int(obj.get("code") or 500), obj)
                    yield kind, obj
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as e:
            raise Unreachable(self.conn.server, str(e) or type(e).__name__) from e


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {"message": raw[:200].decode(errors="replace")}
