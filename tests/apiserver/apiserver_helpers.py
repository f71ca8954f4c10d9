"""Shared fixtures for the API server tests: a real SqliteStore and a real server on 127.0.0.1:0."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from zeroserve.api import admission
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.config import Config
from zeroserve.errors import FieldError, Invalid
from zeroserve.store import SqliteStore

TOKEN = "test-token"
SERVICES = "/apis/serving.knative.dev/v1/namespaces/default/services"


def admit(kind: Kind, new: Obj, old: Obj | None) -> Obj:
    """A stand-in for zeroserve.api.admission.admit: defaults a label, validates name and image."""
    errors: list[FieldError] = []
    name = new.get("metadata", {}).get("name", "")
    if not name or name != name.lower():
        errors.append(FieldError("invalid name", ("metadata.name",)))
    if kind.kind == "Service":
        containers = new.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
        for i, c in enumerate(containers):
            if not c.get("image"):
                errors.append(FieldError("missing field(s)", (f"spec.template.spec.containers[{i}].image",)))
    if errors:
        raise Invalid(errors)
    new["metadata"].setdefault("labels", {})["admitted"] = "true"
    return new


def service(name: str, image: str = "img:1", **meta: object) -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, **meta},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
    }


@dataclass
class Running:
    store: SqliteStore
    server: ApiServer
    url: str


async def running(tmp_path: Path) -> AsyncIterator[Running]:
    store = await SqliteStore.open(tmp_path / "state.db")
    server = ApiServer(store, admit, TOKEN)
    port = await server.start()
    try:
        yield Running(store, server, f"http://127.0.0.1:{port}")
    finally:
        await server.stop()
        await store.close()


async def admitted_session(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of a real API server wired as ``zeroserve up`` wires it (real admission)."""
    store = await SqliteStore.open(tmp_path / "state.db")
    real_admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, real_admit, TOKEN, admit_status=admission.admit_status)
    try:
        async with server, aiohttp.ClientSession(server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as s:
            yield s
    finally:
        await store.close()


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    """One request: its status and its JSON body."""
    async with http.request(method, path, **kw) as resp:
        return resp.status, await resp.json()
