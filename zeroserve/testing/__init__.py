"""Test kit shipped with zeroserve: resource builders, a condition poller, the fake runtime.

Builders return wire objects (:data:`zeroserve.api.base.Obj`) ready for ``store.create``, in
Knative's functional-options spirit: ``service("default", "hello", image="x", env={"A": "1"})``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from zeroserve.api.base import Obj

T = TypeVar("T")


def container(image: str = "img", env: Mapping[str, str] | None = None, **extra: Any) -> Obj:
    c: Obj = {"image": image, **extra}
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return c


def template(
    image: str = "img",
    env: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    annotations: Mapping[str, str] | None = None,
    **spec: Any,
) -> Obj:
    meta: Obj = {}
    if name:
        meta["name"] = name
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"metadata": meta, "spec": {"containers": [container(image, env)], **spec}}


def service(
    namespace: str,
    name: str,
    image: str = "img",
    env: Mapping[str, str] | None = None,
    *,
    traffic: Sequence[Obj] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    spec: Obj = {"template": template(image, env, annotations=annotations)}
    if traffic is not None:
        spec["traffic"] = list(traffic)
    meta: Obj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": meta, "spec": spec}


def configuration(namespace: str, name: str, image: str = "img", env: Mapping[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": template(image, env)},
    }


def route(namespace: str, name: str, traffic: Sequence[Obj], labels: Mapping[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": meta,
        "spec": {"traffic": list(traffic)},
    }


def condition(obj: Obj, type_: str) -> Obj:
    """The condition ``type_`` of a wire object ({} when absent)."""
    conds = obj.get("status", {}).get("conditions", [])
    return next((c for c in conds if c.get("type") == type_), {})


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0) -> T:
    """Poll ``probe`` until it returns something truthy, or fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if value:
                return value
            await asyncio.sleep(0.01)


def cond(obj: Obj, type_: str) -> tuple[str | None, str | None, str | None]:
    """(status, reason, message) of the condition ``type_`` of a wire object."""
    c = condition(obj, type_)
    return c.get("status"), c.get("reason"), c.get("message")
