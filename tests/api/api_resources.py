"""Builders for wire objects used by the api tests."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def service(name: str = "hello", **spec: Any) -> Obj:
    body: Obj = {"template": {"spec": {"containers": [{"image": "ghcr.io/example/hello"}]}}}
    body.update(spec)
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": body,
    }


def route(name: str = "hello", traffic: list[Obj] | None = None) -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"traffic": traffic if traffic is not None else [{"configurationName": "hello", "percent": 100}]},
    }


def configuration(name: str = "hello") -> Obj:
    svc = service(name)
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": svc["metadata"],
        "spec": {"template": svc["spec"]["template"]},
    }


def revision(name: str = "hello-00001") -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"image": "ghcr.io/example/hello"}]},
    }


def with_path(obj: Obj, path: str, value: Any) -> Obj:
    """A deep copy of ``obj`` with ``value`` set at a dotted path (``[i]`` for list items)."""
    out = copy.deepcopy(obj)
    cur: Any = out
    parts = path.replace("[", ".[").split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        if last:
            cur[key] = value
        else:
            if isinstance(key, str) and key not in cur:
                cur[key] = {}
            cur = cur[key]
    return out
