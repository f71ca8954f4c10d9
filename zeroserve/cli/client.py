"""A small synchronous client for zeroserve's Kubernetes-style REST API (stdlib only).

Paths follow Kubernetes: ``/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}]``, and
``/apis/{group}/{version}/{plural}`` across namespaces; the core group ``""`` (ConfigMap, Secret,
Namespace) lives under ``/api/v1``. Error responses are ``Status`` objects; they
are turned back into :mod:`zeroserve.errors` exceptions so commands catch families, not codes.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from zeroserve import __version__, errors
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"zeroserve/{__version__}"
"""The API server names the CLI's writes in ``managedFields`` by it: manager ``zeroserve``."""
MERGE_PATCH = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
"""kubectl's Accept for ``get``: the server's Table (its printer columns), else the object or list."""


class Unreachable(errors.ZeroserveError):
    """Nothing answers at the API address (``url``); ``cause`` says what the socket said."""

    def __init__(self, url: str, cause: str, hint: str = "") -> None:
        super().__init__(f"no zeroserve API at {url}: {hint or cause}")
        self.url = url
        self.cause = cause


ANOTHER_UP = "is another `zeroserve up` running with a different --data-dir?"


class WrongCredentials(errors.Unauthorized):
    """The API answers but refuses the token we hold, or its certificate is not the one our CA
    signed: most likely the ``up`` of another data dir listens there."""


class ApiClient:
    """get/list/create/update/patch/delete/watch on one API server, with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        hint: str = "",
        ca_file: str = "",
        credentials: str = "",
    ) -> None:
        """``hint`` replaces the socket's words in :class:`Unreachable` messages (what to do about it);
        ``ca_file``: the CA an https server's certificate must chain to (empty: the system's CAs);
        ``credentials``: where the token came from (``DATA/token``); given, a refused token or a
        certificate that does not chain to ``ca_file`` is a :class:`WrongCredentials` naming them."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.BadRequest(f"invalid API address {base_url!r}: want https://HOST:PORT")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.hint = hint
        self.credentials = credentials
        self.ca_file = ca_file
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            try:
                self._ssl = ssl.create_default_context(cafile=ca_file or None)
            except (OSError, ssl.SSLError) as e:
                raise errors.ZeroserveError(f"cannot load the API's CA from {ca_file}: {e}") from None

    # -- paths ---------------------------------------------------------------------------------

    def path(self, kind: Kind, namespace: str | None, name: str | None = None) -> str:
        root = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
        ns = f"/namespaces/{quote(namespace, safe='')}" if namespace is not None and kind.namespaced else ""
        tail = f"/{quote(name, safe='')}" if name else ""
        return f"{self._prefix}{root}{ns}/{kind.plural}{tail}"

    # -- verbs ---------------------------------------------------------------------------------

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        return self._json("GET", self.path(kind, namespace, name))

    def list(self, kind: Kind, namespace: str | None = None, label_selector: str | None = None) -> Obj:
        """The ``<Kind>List`` object (``items`` + ``metadata.resourceVersion``); all namespaces when None."""
        query = {"labelSelector": label_selector} if label_selector else {}
        return self._json("GET", self.path(kind, namespace), query=query)

    def table(self, kind: Kind, namespace: str | None, name: str | None = None) -> Obj:
        """A ``meta.k8s.io/v1`` Table of one object or a list (all namespaces when None), as kubectl
        asks for it; a server without tables answers with the object or list itself."""
        return self._json("GET", self.path(kind, namespace, name), accept=TABLE)

    def create(self, kind: Kind, obj: Obj, dry_run: bool = False) -> Obj:
        ns = obj.get("metadata", {}).get("namespace") or "default"
        return self._json("POST", self.path(kind, ns), body=obj, query=_dry(dry_run))

    def update(self, kind: Kind, obj: Obj, dry_run: bool = False) -> Obj:
        meta = obj.get("metadata", {})
        path = self.path(kind, meta.get("namespace") or "default", meta.get("name"))
        return self._json("PUT", path, body=obj, query=_dry(dry_run))

    def patch(self, kind: Kind, namespace: str, name: str, patch: Obj, dry_run: bool = False) -> Obj:
        path = self.path(kind, namespace, name)
        return self._json("PATCH", path, body=patch, query=_dry(dry_run), content_type=MERGE_PATCH)

    def delete(self, kind: Kind, namespace: str, name: str) -> Obj:
        return self._json("DELETE", self.path(kind, namespace, name))

    def subresource(self, kind: Kind, namespace: str, name: str, sub: str) -> Obj:
        """``GET .../{plural}/{name}/{sub}`` as JSON (e.g. a revision's ``autoscaler``)."""
        return self._json("GET", self.path(kind, namespace, name) + "/" + sub)

    def watch(
        self,
        kind: Kind,
        namespace: str | None = None,
        resource_version: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[tuple[str, Obj]]:
        """``(type, object)`` per newline-delimited JSON event; ends when the server closes the stream."""
        query = {"watch": "true"}
        if resource_version:
            query["resourceVersion"] = resource_version
        conn, resp = self._send("GET", self.path(kind, namespace), query=query, timeout=timeout)
        try:
            if resp.status >= 400:
                raise self._error(resp.status, _decode(resp.read()))
            yield from _events(resp)
        except TimeoutError:
            return  # the caller's deadline: the stream simply ends
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from e
        finally:
            conn.close()

    def logs(
        self, kind: Kind, namespace: str, name: str, *, follow: bool = False, tail_lines: int | None = None
    ) -> Iterator[bytes]:
        """The ``log`` subresource, as it arrives (``follow`` keeps reading until the server ends it)."""
        query = {"follow": "true"} if follow else {}
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        conn, resp = self._send(
            "GET", self.path(kind, namespace, name) + "/log", query=query, timeout=None if follow else self.timeout
        )
        try:
            if resp.status >= 400:
                raise self._error(resp.status, _decode(resp.read()))
            while chunk := resp.read1(65536):
                yield chunk
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from e
        finally:
            conn.close()

    # -- transport -----------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Obj:
        conn, resp = self._send(method, path, body, query, content_type, accept=accept)
        try:
            data = _decode(resp.read())
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from e
        finally:
            conn.close()
        if resp.status >= 400:
            raise self._error(resp.status, data)
        return data if isinstance(data, dict) else {}

    def _send(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        accept: str = "application/json",
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        deadline = timeout if timeout is not None else self.timeout
        conn: http.client.HTTPConnection
        if self._ssl is not None:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=deadline, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=deadline)
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        url = path + ("?" + urlencode(query) if query else "")
        try:
            conn.request(method, url, body=payload, headers=headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            if isinstance(e, ssl.SSLCertVerificationError) and self.credentials:
                raise WrongCredentials(
                    f"the API at {self.base_url} presents a certificate not signed by "
                    f"{self.ca_file or 'the system CAs (no CA file)'} ({e.verify_message}): {ANOTHER_UP}"
                ) from e
            if isinstance(e, socket.timeout | TimeoutError):
                raise Unreachable(self.base_url, f"no answer to {method} {path} in time", self.hint) from e
            raise self._unreachable(e) from e

    def _error(self, code: int, body: Any) -> errors.ApiError:
        exc = errors.from_status(code, body)
        if isinstance(exc, errors.Unauthorized) and self.credentials:
            return WrongCredentials(
                f"the API at {self.base_url} does not accept the token in {self.credentials} "
                f"(Unauthorized): {ANOTHER_UP}"
            )
        return exc

    def version(self) -> Obj:
        """The server's ``/version`` (kube-apiserver's version.Info)."""
        return self._json("GET", f"{self._prefix}/version")

    def dashboard_login_url(self) -> str:
        """A one-time URL that signs a browser in to the dashboard (``POST /dashboard/codes``)."""
        return str(self._json("POST", f"{self._prefix}/dashboard/codes").get("url", ""))

    def _unreachable(self, e: BaseException) -> Unreachable:
        return Unreachable(self.base_url, str(e) or type(e).__name__, self.hint)


def _events(resp: http.client.HTTPResponse) -> Iterator[tuple[str, Obj]]:
    for line in resp:
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("type") == "ERROR":
            raise errors.from_status(int(event["object"].get("code") or 500), event["object"])
        yield str(event.get("type")), event.get("object") or {}


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw.decode(errors="replace").strip()}
