"""ApiServer: the Kubernetes REST conventions over a Store (kube-apiserver + Knative's webhook).

Every Kind given to the server is served generically under
``/apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/status]]`` (the core kinds under
``/api/v1/...``): list (``labelSelector``, ``fieldSelector``), watch (``?watch=true``,
newline-delimited JSON events), create, get, update, merge/JSON patch (and strategic merge patch for
the core kinds, as for kube-apiserver's built-in types), delete, and the ``status`` subresource.
Namespaces follow kube-apiserver: ``default`` exists from the start, nothing is created in a
namespace that does not exist or is terminating. Lists, gets and watches answer a ``meta.k8s.io``
Table when the Accept header asks for one (:mod:`zeroserve.apiserver.table`). Writes to the main
resource go through ``admit`` (defaulting + validation, Knative's webhook; kube-apiserver's rules
for the core kinds); ``?dryRun=All`` admits and returns the would-be object without storing it.
Errors are Kubernetes ``Status`` objects. A kind served in more than one version (EventType
v1beta2 and v1beta3) is stored in one and converted on every path (:mod:`zeroserve.apiserver.versions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from zeroserve.api import corevalidation, fieldselectors, jsoncodec, names, selectors, wire
from zeroserve.api.base import Obj
from zeroserve.api.core import DEFAULT_NAMESPACE
from zeroserve.api.kinds import API_KINDS, NAMESPACE, Kind
from zeroserve.apiserver import (
    coreproto,
    deleteoptions,
    discovery,
    fieldmanager,
    listoptions,
    patch,
    reviews,
    table,
    versions,
)
from zeroserve.apiserver.auth import check_bearer
from zeroserve.apiserver.openapi import OpenApi
from zeroserve.apiserver.status import (
    Forbidden,
    InternalError,
    MethodNotAllowed,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    status,
    status_for,
)
from zeroserve.apiserver.strict import FieldValidation, StrictPatchError
from zeroserve.clock import SystemClock, rfc3339
from zeroserve.errors import AlreadyExists, ApiError, BadRequest, Conflict, Gone, NotFound
from zeroserve.store.base import Store, WatchEvent
from zeroserve.store.sqlite import NOT_SPEC, resource

log = logging.getLogger(__name__)

Admit = Callable[[Kind, Obj, Obj | None], Obj]
"""Default and validate ``new`` (``old`` is the stored object on update); raise Invalid. The
caller is always :data:`~zeroserve.apiserver.auth.ADMIN_USER`: bind it when wiring, e.g.
``functools.partial(admission.admit, cfg=cfg, user=ADMIN_USER)``."""
AdmitStatus = Callable[[Kind, Obj, Obj], Obj]
"""Check a status write (``new``, stored ``old``); the default accepts any status."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

Subresource = Callable[[web.Request, str, str, asyncio.Event], Awaitable[web.StreamResponse]]
"""A read-only streaming subresource (e.g. ``revisions/log``): (request, namespace, name, closing)."""


class JsonSubresource:
    """A read-only JSON subresource from a plain function (e.g. ``revisions/autoscaler``).

    ``document(request, namespace, name)`` returns the document, or None for 404.
    """

    def __init__(self, document: Callable[[web.Request, str, str], Obj | None]) -> None:
        self._document = document

    async def __call__(
        self, request: web.Request, namespace: str, name: str, closing: asyncio.Event
    ) -> web.StreamResponse:
        doc = self._document(request, namespace, name)
        if doc is None:
            sub = request.match_info.get("sub", "")
            raise NotFound(f'{sub} of "{name}" not found: nothing is known of it yet')
        return _json(doc)


class Frontend(Protocol):
    """Pages served beside the API (the dashboard): its routes, and which requests need no bearer token."""

    def install(self, router: web.UrlDispatcher) -> None: ...

    def admits(self, request: web.Request) -> bool: ...


PATCH_RETRIES: Final = 5
SHUTDOWN_TIMEOUT: Final = 5.0
MAX_REQUEST_BODY: Final = 3 * 1024 * 1024
"""kube-apiserver's ``MaxRequestBodyBytes``: room for a 1 MiB ConfigMap or Secret, base64 and all."""


def _json(data: Obj, code: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumps(data), status=code, content_type="application/json")


async def _text_ok(_: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


class ApiServer:
    """``async with ApiServer(...)`` or ``port = await start()`` ... ``await stop()``."""

    def __init__(
        self,
        store: Store,
        admit: Admit,
        token: str,
        *,
        admit_status: AdmitStatus | None = None,
        kinds: Sequence[Kind] = API_KINDS,
        subresources: Mapping[tuple[str, str], Subresource] | None = None,
        metrics: CollectorRegistry | None = None,
        frontend: Frontend | None = None,
    ) -> None:
        """``metrics``: a Prometheus registry served at ``/metrics`` (with the token, as Kubernetes);
        ``frontend``: pages served beside the API (the dashboard), with their own login."""
        self._kinds = tuple(kinds)
        self._store = versions.versioned(store, self._kinds)
        self._admit = admit
        self._admit_status = admit_status
        self._token = token
        self._by_path = {(k.group, k.version, k.plural): k for k in self._kinds}
        self._discovered = discovery.resources(self._kinds)
        self._openapi = OpenApi(self._kinds)
        self._subresources = dict(subresources or {})
        self._metrics = metrics
        self._frontend = frontend
        self._closing = asyncio.Event()
        self._pumps: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._address = ""
        self._scheme = "http"
        self.insecure_url = ""
        """The plain-http listener's URL when ``start`` opened one, else empty."""
        self.app = self._make_app()

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        insecure_port: int | None = None,
    ) -> int:
        """Serve on ``host:port`` (0: any free port; HTTPS with ``ssl_context``) and return the bound
        port; ``insecure_port``: also plain http there (0: any; :attr:`insecure_url`), token still required."""
        await self._bootstrap_namespaces()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        bound: int = runner.addresses[0][1]
        self._address = f"{host}:{bound}"
        self._scheme = "https" if ssl_context is not None else "http"
        if insecure_port is not None:
            await web.TCPSite(runner, host, insecure_port).start()
            self.insecure_url = f"http://{host}:{runner.addresses[1][1]}"
        return bound

    async def _bootstrap_namespaces(self) -> None:
        """The ``default`` namespace exists from the start (kube-apiserver's system namespaces
        controller); an existing one, even Terminating, is left as it is."""
        if NAMESPACE not in self._kinds:
            return
        with contextlib.suppress(NotFound):
            await self._store.get(NAMESPACE, "", DEFAULT_NAMESPACE)
            return
        obj = self._admit(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}, None)
        with contextlib.suppress(AlreadyExists):
            await self._store.create(NAMESPACE, obj)

    async def stop(self) -> None:
        """End every watch and log stream, then stop accepting and drain in-flight requests."""
        self._closing.set()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._runner is not None:
            server = self._runner.server
            transports = [c.transport for c in server.connections] if server is not None else []
            await self._runner.cleanup()
            self._runner = None
            # A TLS connection's close waits for the peer's close_notify, which an idle client may
            # never send: abort what is left and let the loop close the sockets (asyncio's TLS
            # transport raises AttributeError on an abort after its close has finished).
            for transport in transports:
                with contextlib.suppress(AttributeError):
                    if transport is not None:
                        transport.abort()
            await asyncio.sleep(0)

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self._address}"

    # ---- routing -----------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors_middleware, self._auth_middleware], client_max_size=MAX_REQUEST_BODY
        )
        r = app.router
        for path in ("/healthz", "/readyz", "/livez"):
            r.add_get(path, _text_ok)
        r.add_get("/version", self._version)
        if self._frontend is not None:
            self._frontend.install(r)
        r.add_get("/metrics", self._prometheus)
        r.add_get("/api", self._api)
        r.add_get("/api/v1", self._api_v1)
        r.add_get("/apis", self._apis)
        r.add_get("/apis/{group}", self._apis_group)
        r.add_get("/apis/{group}/{version}", self._apis_group_version)
        r.add_get("/openapi/v3", self._openapi.discovery)
        r.add_get("/openapi/v3/{path:.+}", self._openapi.group_version)
        base = "/apis/{group}/{version}"
        r.add_route("*", base + "/namespaces/{namespace}/{plural}", self._collection)
        r.add_route("*", base + "/namespaces/{namespace}/{plural}/{name}", self._item)
        r.add_route("*", base + "/namespaces/{namespace}/{plural}/{name}/{sub}", self._item)
        r.add_route("*", base + "/{plural}", self._collection)
        r.add_route("*", base + "/{plural}/{name}", self._item)
        r.add_route("*", base + "/{plural}/{name}/{sub}", self._item)
        for group in ("authorization.k8s.io", "authentication.k8s.io"):
            r.add_post(f"/apis/{group}/v1/{{plural:self[a-z]+reviews}}", self._review)
        core = "/api/{version}"  # the legacy core group "": /api/v1/namespaces/NS/configmaps, /api/v1/namespaces
        r.add_route("*", core + "/namespaces/{namespace}/{plural}", self._core_collection)
        r.add_route("*", core + "/namespaces/{namespace}/{plural}/{name}", self._item)
        r.add_route("*", core + "/namespaces/{namespace}/{plural}/{name}/{sub}", self._item)
        r.add_route("*", core + "/{plural}", self._collection)
        r.add_route("*", core + "/{plural}/{name}", self._item)
        r.add_route("*", core + "/{plural}/{name}/{sub}", self._item)
        return app

    @web.middleware
    async def _errors_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as e:
            return _json(status_for(e), e.code)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            reason = {404: "NotFound", 405: "MethodNotAllowed"}.get(e.status, e.reason.replace(" ", ""))
            message = "the server could not find the requested resource" if e.status == 404 else e.reason
            return _json(status(e.status, reason, message), e.status)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _json(status_for(InternalError("an internal error occurred")), 500)

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._frontend is None or not self._frontend.admits(request):
            check_bearer(request.headers.get("Authorization"), self._token)
        return await handler(request)

    # ---- discovery ---------------------------------------------------------------------------

    async def _prometheus(self, _: web.Request) -> web.StreamResponse:
        if self._metrics is None:
            raise web.HTTPNotFound()
        return web.Response(body=generate_latest(self._metrics), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _version(self, _: web.Request) -> web.StreamResponse:
        return _json(discovery.version_info())

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if discovery.wants_aggregated(request.headers.get("Accept")):
            return _aggregated(discovery.aggregated(self._discovered, core=True))
        return _json(discovery.api_versions(self._address or request.host))

    async def _api_v1(self, _: web.Request) -> web.StreamResponse:
        return _json(discovery.core_resources(self._discovered))

    async def _apis(self, request: web.Request) -> web.StreamResponse:
        if discovery.wants_aggregated(request.headers.get("Accept")):
            return _aggregated(discovery.aggregated(self._discovered, core=False))
        return _json(discovery.api_group_list(self._discovered))

    async def _apis_group(self, request: web.Request) -> web.StreamResponse:
        return _json(_found(discovery.api_group(self._discovered, request.match_info["group"])))

    async def _apis_group_version(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        return _json(_found(discovery.api_resource_list(self._discovered, m["group"], m["version"])))

    async def _review(self, request: web.Request) -> web.StreamResponse:
        served = {(r.group, r.plural): r for r in discovery.BUILTIN}
        group = request.path.split("/")[2]
        found = served.get((group, request.match_info["plural"]))
        if found is None:
            raise NotFound("the server could not find the requested resource")
        body = await _body(request)
        content_type = request.content_type if "Content-Type" in request.headers else ""
        return _json(reviews.review(found.kind, f"{group}/v1", body, content_type), 201)

    # ---- resources ---------------------------------------------------------------------------

    def _kind(self, m: Mapping[str, str]) -> tuple[Kind, str | None]:
        kind = self._by_path.get((m.get("group", ""), m["version"], m["plural"]))
        namespace = m.get("namespace")
        if namespace is not None:
            misplaced = kind is not None and not kind.namespaced
        else:  # cluster-wide path: lists of any kind, items of cluster-scoped kinds only
            misplaced = kind is not None and kind.namespaced and "name" in m
        if kind is None or misplaced:
            raise NotFound("the server could not find the requested resource")
        return kind, namespace

    @staticmethod
    def _read_only(request: web.Request, kind: Kind) -> None:
        if kind.read_only and request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(
                f"{kind.plural} are read-only in zeroserve (it makes them itself): {request.method} is not allowed"
            )

    async def _core_collection(self, request: web.Request) -> web.StreamResponse:
        """``/api/v1/namespaces/X/Y``: a collection in namespace X, or subresource Y of namespace X."""
        m = request.match_info
        if (m.get("group", ""), m["version"], m["plural"]) in self._by_path:
            return await self._collection_at(request, m)
        sub = {"version": m["version"], "plural": "namespaces", "name": m["namespace"], "sub": m["plural"]}
        return await self._item_at(request, sub)

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        return await self._collection_at(request, request.match_info)

    async def _collection_at(self, request: web.Request, m: Mapping[str, str]) -> web.StreamResponse:
        kind, ns = self._kind(m)
        try:
            self._read_only(request, kind)
            if request.method == "GET":
                if request.query.get("watch", "").lower() in ("true", "1"):
                    return await self._watch(request, kind, ns)
                return await self._list(request, kind, ns)
            if request.method == "POST":
                if kind.namespaced and ns is None:
                    raise NotFound("the server could not find the requested resource")
                return await self._create(request, kind, ns or "")
            raise MethodNotAllowed(f"the server does not allow this method on the requested resource: {request.method}")
        except ApiError as e:
            return _json(status_for(e, kind), e.code)

    async def _item(self, request: web.Request) -> web.StreamResponse:
        return await self._item_at(request, request.match_info)

    async def _item_at(self, request: web.Request, m: Mapping[str, str]) -> web.StreamResponse:
        kind, ns = self._kind(m)
        name, sub = m["name"], m.get("sub")
        try:
            self._read_only(request, kind)
            extra = self._subresources.get((kind.plural, sub or ""))
            if extra is not None:
                if request.method != "GET":
                    raise MethodNotAllowed(
                        f"the server does not allow this method on the requested resource: {request.method}"
                    )
                await self._store.get(kind, ns or "", name)  # 404 for an unknown object
                return await extra(request, ns or "", name, self._closing)
            if sub is not None and sub not in kind.subresources:
                raise NotFound("the server could not find the requested resource")
            if sub == "finalize":
                if request.method != "PUT":
                    raise MethodNotAllowed(
                        f"the server does not allow this method on the requested resource: {request.method}"
                    )
                return await self._finalize(request, kind, name)
            handler = {"GET": self._get, "PUT": self._put, "PATCH": self._patch, "DELETE": self._delete}.get(
                request.method
            )
            if handler is None or (request.method == "DELETE" and sub):
                raise MethodNotAllowed(
                    f"the server does not allow this method on the requested resource: {request.method}"
                )
            return await handler(request, kind, ns or "", name, sub == "status")
        except ApiError as e:
            return _json(status_for(e, kind, name), e.code)

    async def _list(self, request: web.Request, kind: Kind, ns: str | None) -> web.StreamResponse:
        listoptions.parse(request.query, watch=False)
        fields = selectors.parse_fields(request.query.get("fieldSelector"), _field_labels(kind))
        items, rv = await self._store.list(kind, ns, request.query.get("labelSelector"))
        items = [o for o in items if fields.matches(_field_values(o))]
        version = table.requested(request.headers.get("Accept"))
        if version is not None:
            include = table.include_object(request.query)
            return _json(table.table(kind, items, str(rv), _now(), version=version, include=include))
        body = {
            "apiVersion": kind.api_version,
            "kind": kind.list_kind,
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }
        return _json(body)

    async def _get(self, request: web.Request, kind: Kind, ns: str, name: str, _: bool) -> web.StreamResponse:
        obj = await self._store.get(kind, ns, name)
        version = table.requested(request.headers.get("Accept"))
        if version is not None:
            rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
            include = table.include_object(request.query)
            return _json(table.table(kind, [obj], rv, _now(), version=version, include=include))
        return _json(obj)

    async def _create(self, request: web.Request, kind: Kind, ns: str) -> web.StreamResponse:
        fields = FieldValidation.of(request.query, "CreateOptions")
        fieldmanager.check_options(request.query, "CreateOptions")
        obj = fields.decoded(kind, await _read_object(request, kind), await _json_body(request))
        meta = obj["metadata"]
        name = str(meta.get("name") or "")
        try:
            if kind.namespaced:
                if meta.get("namespace") not in (None, "", ns):
                    raise BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request"
                    )
                meta["namespace"] = ns
            else:  # Kubernetes clears it for a cluster-scoped kind (rest.BeforeCreate)
                meta.pop("namespace", None)
            if kind.namespaced and NAMESPACE in self._kinds and not names.is_dns1123_label(ns):
                missing = await self._namespace_refuses(kind, ns, name)
                if missing is not None:
                    return missing
            obj = fieldmanager.updated(kind, "", None, obj, _manager(request))
            obj = fieldmanager.keep(self._admit(kind, obj, None), obj)
            if _dry_run(request):
                return fields.respond(_json(await self._dry_create(kind, ns, obj), 201))
            return fields.respond(_json(await self._store.create(kind, obj), 201))
        except ApiError as e:
            return _json(status_for(e, kind, name), e.code)

    async def _namespace_refuses(self, kind: Kind, ns: str, name: str) -> web.Response | None:
        """The NamespaceLifecycle admission plugin: nothing is created in a namespace that does not
        exist (404 ``namespaces "x" not found``) or is being deleted (403). A namespace that is no
        valid name is left to admission, which says why (``metadata.namespace``)."""
        try:
            namespace = await self._store.get(NAMESPACE, "", ns)
        except NotFound as e:
            return _json(status_for(NotFound(f'namespaces "{ns}" not found'), NAMESPACE, ns), e.code)
        if namespace["metadata"].get("deletionTimestamp"):
            raise Forbidden(
                f'{kind.plural} "{name}" is forbidden: unable to create new content in namespace {ns} '
                "because it is being terminated"
            )
        return None

    async def _finalize(self, request: web.Request, kind: Kind, name: str) -> web.StreamResponse:
        """``PUT /api/v1/namespaces/NAME/finalize``: replaces ``spec.finalizers`` only."""
        obj = await _read_object(request, kind)
        if obj["metadata"].get("name") != name:
            raise BadRequest(
                f"the name of the object ({obj['metadata'].get('name')}) does not match the name on the URL ({name})"
            )
        old = await self._store.get(kind, "", name)
        new = corevalidation.admit_finalize(obj, old)
        rv = obj["metadata"].get("resourceVersion")
        if rv is not None:
            new["metadata"]["resourceVersion"] = rv
        if _dry_run(request):
            return _json(new)
        return _json(await self._store.update(kind, new))

    async def _dry_create(self, kind: Kind, ns: str, obj: Obj) -> Obj:
        name = obj.get("metadata", {}).get("name", "")
        with contextlib.suppress(NotFound):
            await self._store.get(kind, ns, name)
            raise AlreadyExists(f'{resource(kind)} "{name}" already exists')
        obj["metadata"].update(uid=str(uuid.uuid4()), generation=1, creationTimestamp=rfc3339(SystemClock().wall()))
        obj.pop("status", None)
        return obj

    async def _put(self, request: web.Request, kind: Kind, ns: str, name: str, status_: bool) -> web.StreamResponse:
        fields = FieldValidation.of(request.query, "UpdateOptions")
        fieldmanager.check_options(request.query, "UpdateOptions")
        obj = fields.decoded(kind, await _read_object(request, kind), await _json_body(request))
        meta = obj["metadata"]
        if meta.get("name") != name:
            raise BadRequest(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        if kind.namespaced and meta.get("namespace") not in (None, "", ns):
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
        if kind.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        old = await self._store.get(kind, ns, name)
        return fields.respond(_json(await self._write(request, kind, obj, old, status_)))

    async def _patch(self, request: web.Request, kind: Kind, ns: str, name: str, status_: bool) -> web.StreamResponse:
        content_type = request.content_type
        accepted = patch.PATCH_TYPES if not kind.group else patch.CRD_PATCH_TYPES
        if content_type not in accepted:
            raise patch.unsupported(accepted)
        fields = FieldValidation.of(request.query, "PatchOptions")
        force = fieldmanager.check_options(request.query, "PatchOptions", apply=content_type == patch.APPLY)
        if content_type == patch.APPLY:
            try:
                return await self._apply(request, kind, ns, name, status_, fields, force)
            except fieldmanager.ApplyConflict as e:  # causes only, no kind or name (NewApplyConflict)
                return _json(e.status(), e.code)
        raw = await _body(request)
        body = _parse_json(raw)
        body_problems = fields.patch_body(content_type, raw, body)
        for attempt in range(PATCH_RETRIES):
            old = await self._store.get(kind, ns, name)
            patched = patch.apply(content_type, old, body)
            patched.setdefault("metadata", {})
            if not isinstance(patched["metadata"], dict):
                raise BadRequest("metadata must be a JSON object")
            patched["metadata"].update(name=name, **({"namespace": ns} if kind.namespaced else {}))
            if not kind.namespaced:
                patched["metadata"].pop("namespace", None)
            pinned = patched["metadata"].get("resourceVersion") != old["metadata"].get("resourceVersion")
            try:
                patched = fields.patched(kind, patched, body_problems)
            except StrictPatchError as e:  # no kind or name in its details, as kube-apiserver's
                return _json(e.status(), e.code)
            try:
                return fields.respond(_json(await self._write(request, kind, patched, old, status_)))
            except Conflict:
                if pinned or attempt == PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _apply(
        self,
        request: web.Request,
        kind: Kind,
        ns: str,
        name: str,
        status_: bool,
        fields: FieldValidation,
        force: bool,
    ) -> web.StreamResponse:
        """Server-side apply (:mod:`zeroserve.apiserver.fieldmanager`): a missing object is created."""
        config = fieldmanager.parse_apply(await _body(request), fields.directive)
        manager, sub = request.query["fieldManager"], "status" if status_ else ""
        for attempt in range(PATCH_RETRIES):
            try:
                old: Obj | None = await self._store.get(kind, ns, name)
            except NotFound:
                if status_:
                    raise
                old = None
            obj = fieldmanager.applied(kind, sub, old, config, manager, force)
            _check_identity(kind, obj, ns, name)
            if old is None:
                try:
                    return fields.respond(await self._create_applied(request, kind, ns, name, obj))
                except AlreadyExists:
                    if attempt == PATCH_RETRIES - 1:
                        raise
                    continue
            pinned = obj.get("metadata", {}).get("resourceVersion") != old["metadata"].get("resourceVersion")
            obj["metadata"].setdefault("resourceVersion", old["metadata"].get("resourceVersion"))
            try:
                return fields.respond(_json(await self._write(request, kind, obj, old, status_, applied=True)))
            except Conflict:
                if pinned or attempt == PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _create_applied(self, request: web.Request, kind: Kind, ns: str, name: str, obj: Obj) -> web.Response:
        if obj.get("metadata", {}).get("uid"):
            raise Conflict(
                f'Operation cannot be fulfilled on {resource(kind)} "{name}": uid mismatch: the provided object '
                f"specified uid {obj['metadata']['uid']}, and no existing object was found"
            )
        if kind.namespaced and NAMESPACE in self._kinds and not names.is_dns1123_label(ns):
            missing = await self._namespace_refuses(kind, ns, name)
            if missing is not None:
                return missing
        obj = fieldmanager.keep(self._admit(kind, obj, None), obj)
        if _dry_run(request):
            return _json(await self._dry_create(kind, ns, obj), 201)
        return _json(await self._store.create(kind, obj), 201)

    async def _write(
        self, request: web.Request, kind: Kind, obj: Obj, old: Obj, status_: bool, applied: bool = False
    ) -> Obj:
        """Admit ``obj`` as a replacement of ``old`` and store it (or, on dry run, return it); its
        managed fields are those of an update by the request's manager unless it was ``applied``."""
        if not applied:
            obj = fieldmanager.updated(kind, "status" if status_ else "", old, obj, _manager(request))
        rv = obj.get("metadata", {}).get("resourceVersion")
        if status_:
            new = self._admit_status(kind, obj, old) if self._admit_status else obj
        else:
            new = self._admit(kind, obj, old)
        new = fieldmanager.keep(new, obj)
        if rv is not None:
            new.setdefault("metadata", {})["resourceVersion"] = rv
        new = fieldmanager.unchanged_times(new, old, status_)
        if _dry_run(request):
            if status_:
                meta = dict(old.get("metadata", {}))
                return fieldmanager.keep({**old, "metadata": meta, "status": new.get("status", {})}, new)
            return _generation(new, old) if "status" not in old else {**_generation(new, old), "status": old["status"]}
        write = self._store.update_status if status_ else self._store.update
        return await write(kind, new)

    async def _delete(self, request: web.Request, kind: Kind, ns: str, name: str, _: bool) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw.strip():
            body = coreproto.decode(raw) if _protobuf(request) else _parse_json(raw)
        options = deleteoptions.parse(request.query, body, dry_run=_dry_run(request))
        if options.dry_run:
            return _json(await self._store.get(kind, ns, name))
        obj = await self._store.delete(kind, ns, name, options.propagation, options.preconditions)
        pending = bool(obj["metadata"].get("finalizers"))
        # kube-apiserver: 202 only when orphanDependents=false was given and the object is not gone yet.
        return _json(obj, 202 if pending and options.orphan_dependents is False else 200)

    # ---- watch -------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, kind: Kind, ns: str | None) -> web.StreamResponse:
        labels = selectors.parse(request.query.get("labelSelector"))
        fields = selectors.parse_fields(request.query.get("fieldSelector"), _field_labels(kind))
        since = _resource_version(request.query.get("resourceVersion", ""))
        options = listoptions.parse(request.query, watch=True)
        timeout = _timeout(request.query.get("timeoutSeconds"))
        version = table.requested(request.headers.get("Accept"))
        include = table.include_object(request.query)

        headers = [True]  # a watch's Tables carry the column definitions in the first event only

        def render(obj: Obj) -> Obj:
            if version is None:
                return obj
            rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
            rendered = table.table(kind, [obj], rv, _now(), version=version, include=include, headers=headers[0])
            headers[0] = False
            return rendered

        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        def wanted(obj: Obj) -> bool:
            return labels.matches(obj.get("metadata", {}).get("labels") or {}) and fields.matches(_field_values(obj))

        pump = asyncio.create_task(self._pump(response, kind, ns, since, wanted, timeout, render, options))
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        try:
            await pump
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        with contextlib.suppress(ConnectionResetError):  # the watcher went away: nothing to finish
            await response.write_eof()
        return response

    async def _pump(
        self,
        response: web.StreamResponse,
        kind: Kind,
        ns: str | None,
        since: int | None,
        wanted: Callable[[Obj], bool],
        timeout: float | None,
        render: Callable[[Obj], Obj],
        options: listoptions.WatchOptions,
    ) -> None:
        async def send(type_: str, obj: Obj) -> None:
            body = obj if type_ == "ERROR" else render(obj)
            await response.write(jsoncodec.dumps({"type": type_, "object": body}) + b"\n")

        events: AsyncIterator[WatchEvent] | None = None
        try:
            async with asyncio.timeout(timeout):
                initial = options.send_initial_events
                if since is None or initial:  # sendInitialEvents=false: from the given rv, else from now
                    items, since = await self._store.list(kind, ns)
                    for item in filter(wanted, items) if initial is not False else ():
                        await send("ADDED", item)
                    if options.initial_events_end:
                        await send("BOOKMARK", listoptions.initial_events_end(kind, since))
                events = self._store.watch((kind,), since, ns)
                async for event in events:
                    if wanted(event.object):
                        await send(event.type, event.object)
        except TimeoutError:
            pass
        except Gone as e:
            await send("ERROR", status_for(e))
        except ConnectionResetError:
            pass
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


def _now() -> datetime:
    return SystemClock().wall()


def _aggregated(doc: Obj) -> web.Response:
    body = jsoncodec.dumps(doc)
    headers = {"Content-Type": discovery.AGGREGATED_CONTENT_TYPE, "Vary": "Accept"}
    return web.Response(body=body, headers=headers)


def _found(doc: Obj | None) -> Obj:
    if doc is None:
        raise NotFound("the server could not find the requested resource")
    return doc


def _field_labels(kind: Kind) -> tuple[str, ...]:
    return fieldselectors.supported(kind.api_version, kind.kind)


def _field_values(obj: Obj) -> dict[str, str]:
    return fieldselectors.values(str(obj.get("apiVersion", "")), str(obj.get("kind", "")), obj)


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise BadRequest(f'invalid dry run value "{value}": supported values are "All"')
    return bool(values)


def _manager(request: web.Request) -> str:
    return fieldmanager.manager(request.query, request.headers.get("User-Agent", ""))


def _generation(new: Obj, old: Obj) -> Obj:
    """A dry-run update's object: its generation bumped when its spec changed, as the store would."""
    meta = old.get("metadata", {})
    if "generation" in meta and _spec(new) != _spec(old):
        return {**new, "metadata": {**new.get("metadata", {}), "generation": int(meta["generation"]) + 1}}
    return new


def _spec(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in NOT_SPEC}


def _check_identity(kind: Kind, obj: Obj, ns: str, name: str) -> None:
    """An applied object's name and namespace must be the request's (apiserver's ``checkName``)."""
    meta = obj.setdefault("metadata", {})
    if kind.namespaced:
        if meta.get("namespace") in (None, ""):
            meta["namespace"] = ns
        elif meta["namespace"] != ns:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    else:
        meta.pop("namespace", None)
    if meta.get("name") != name:
        raise BadRequest(
            f"the name of the object ({meta.get('name') or ''}) does not match the name on the URL ({name})"
        )


def _resource_version(value: str) -> int | None:
    """A watch's start: None (list first, as for "" and "0"), else the rv to resume after."""
    if value in ("", "0"):
        return None
    try:
        rv = int(value)
    except ValueError:
        raise BadRequest(f'invalid resource version "{value}"') from None
    if rv < 0:
        raise BadRequest(f'invalid resource version "{value}"')
    return rv


def _timeout(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise BadRequest(f'invalid timeoutSeconds "{value}"') from None
    return seconds if seconds > 0 else None


async def _body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:  # Kubernetes' wording
        raise RequestEntityTooLarge(f"Request entity too large: limit is {request.client_max_size}") from None


def _parse_json(raw: bytes) -> Any:
    """The body as Kubernetes' decoder takes it (no NaN, no overflowing numbers, bounded depth)."""
    return wire.loads(raw)


def _protobuf(request: web.Request, kind: Kind | None = None) -> bool:
    """A Kubernetes protobuf body (client-go's typed clients send the core kinds so)."""
    return request.content_type == coreproto.CONTENT_TYPE and (kind is None or not kind.group)


async def _json_body(request: web.Request) -> bytes:
    """The body for the JSON-only checks (duplicate keys): none for a protobuf body."""
    return b"" if _protobuf(request) else await _body(request)


async def _read_object(request: web.Request, kind: Kind) -> Obj:
    """The request body as a resource of ``kind`` (415 unless JSON, or protobuf for a core kind; 400
    unless an object of that kind)."""
    if _protobuf(request, kind):
        obj = coreproto.decode(await _body(request))
    elif "Content-Type" in request.headers and request.content_type != "application/json":
        accepted = "application/json" if kind.group else f"application/json, {coreproto.CONTENT_TYPE}"
        raise UnsupportedMediaType(
            f'the body of the request was in an unknown format "{request.content_type}" '
            f"- accepted media types include: {accepted}"
        )
    else:
        obj = _parse_json(await _body(request))
    if not isinstance(obj, dict):
        raise BadRequest("the request body must be a JSON object")
    api_version, kind_name = obj.setdefault("apiVersion", kind.api_version), obj.setdefault("kind", kind.kind)
    if (api_version, kind_name) != (kind.api_version, kind.kind):
        raise BadRequest(
            f"the API version in the data ({api_version}) or kind ({kind_name}) does not match "
            f"the expected {kind.api_version} {kind.kind}"
        )
    if obj.get("metadata") is None:  # null is absent, as in Go's decoding
        obj["metadata"] = {}
    if not isinstance(obj["metadata"], dict):
        raise BadRequest("metadata must be a JSON object")
    return obj
