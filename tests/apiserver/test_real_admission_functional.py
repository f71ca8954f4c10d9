"""The API server wired as ``zeroserve up`` wires it: real admission (defaults + validation)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import SERVICES, TOKEN, service
from zeroserve.api import admission
from zeroserve.api.kinds import SERVICE
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.config import Config
from zeroserve.store import SqliteStore


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    store = await SqliteStore.open(tmp_path / "state.db")
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status)
    try:
        async with server, aiohttp.ClientSession(server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as s:
            yield s
    finally:
        await store.close()


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        return resp.status, await resp.json()


async def test_create_is_defaulted_and_attributed(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "POST", SERVICES, json=service("hello"))
    assert code == 201, body
    annotations = body["metadata"].get("annotations", {})
    assert annotations.get("serving.knative.dev/creator") == ADMIN_USER
    assert body["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    assert body["spec"] != service("hello")["spec"], "defaults were applied"
    status = {"status": {"observedGeneration": 1}}
    headers = {"Content-Type": "application/merge-patch+json"}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello/status", data=json.dumps(status), headers=headers)
    assert (code, body["status"]["observedGeneration"]) == (200, 1)
    assert body["metadata"]["generation"] == 1


async def test_invalid_service_gets_causes(http: aiohttp.ClientSession) -> None:
    bad = service("hello", image="")
    bad["spec"]["template"]["spec"]["containerConcurrency"] = -1
    code, body = await call(http, "POST", SERVICES, json=bad)
    assert code == 422, body
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == SERVICE.kind
    fields = {c["field"] for c in body["details"]["causes"] if "field" in c}
    assert "spec.template.spec.containerConcurrency" in fields, body
    assert all(c["reason"] == "FieldValueInvalid" for c in body["details"]["causes"])
