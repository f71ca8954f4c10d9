"""``/openapi/v3`` and ``/openapi/v3/{api/v1,apis/GROUP/VERSION}``, served as kube-openapi's handler3.

The documents (:mod:`zeroserve.api.openapi`) are built once per server: the kinds do not change
while it runs. Each answer carries ``ETag`` (the quoted hash) and honours ``If-None-Match`` (304).
A document asked for with ``?hash=`` is immutable: a matching hash gets ``Cache-Control: public,
immutable`` and an ``Expires`` a year ahead, a stale one a 301 to the current URL; clients cache
them on disk by URL (kubectl's ``--cache-dir``). A document is JSON only: an Accept that admits
neither JSON nor ``*/*`` (kube-openapi's protobuf) is 406.

``/openapi/v2`` is not served (404): client-go asks it for protobuf only, and kubectl falls back
to the v3 documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Final

from aiohttp import web

from zeroserve.api import openapi
from zeroserve.api.kinds import Kind
from zeroserve.apiserver import patch
from zeroserve.errors import NotFound

JSON: Final = "application/json"


def patch_types(kind: Kind) -> Sequence[str]:
    """What a PATCH of ``kind`` accepts: strategic merge patch for the core kinds only."""
    return tuple(t for t in patch.PATCH_TYPES if t != patch.STRATEGIC or not kind.group)


class OpenApi:
    """The handlers, over documents built from ``kinds`` at construction."""

    def __init__(self, kinds: Sequence[Kind]) -> None:
        self._bodies = openapi.documents(kinds, patch_types)
        self._etags = {key: openapi.etag(body) for key, body in self._bodies.items()}
        self._index = openapi.encode(openapi.index(self._bodies))
        self._index_etag = openapi.etag(self._index)

    async def discovery(self, request: web.Request) -> web.StreamResponse:
        return _body(request, self._index, self._index_etag)

    async def group_version(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["path"]
        body = self._bodies.get(key)
        if body is None:
            raise NotFound("the server could not find the requested resource")
        if not _accepts_json(request.headers.get("Accept")):
            return web.Response(status=406, headers={"Vary": "Accept"})
        etag = self._etags[key]
        wanted = request.query.get("hash")
        if wanted and wanted != etag:
            raise web.HTTPMovedPermanently(openapi.server_relative_url(key, etag))
        response = _body(request, body, etag)
        response.headers["Vary"] = "Accept"
        if wanted:
            response.headers["Cache-Control"] = "public, immutable"
            response.headers["Expires"] = format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)
        return response


def _body(request: web.Request, body: bytes, etag: str) -> web.Response:
    quoted = f'"{etag}"'
    if quoted in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers={"ETag": quoted})
    return web.Response(body=body, content_type=JSON, headers={"ETag": quoted})


def _accepts_json(accept: str | None) -> bool:
    for media_range in (accept or "*/*").split(","):
        media = media_range.split(";")[0].strip().lower()
        if media in (JSON, "application/*", "*/*", "*"):
            return True
    return False
