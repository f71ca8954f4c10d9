"""Shared fixtures for the API server tests: a real SqliteStore and a real server on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.apiserver import ApiServer
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
