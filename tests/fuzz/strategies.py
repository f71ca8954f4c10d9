"""Hypothesis strategies for hostile manifests (issue 11): valid resources, then mutated.

A manifest starts as a valid Service, Configuration, Route or Revision and gets a few mutations:
a known field (or any field already present) set to a random JSON value or deleted. Values are
biased toward what broke zeroserve before: wrong types, booleans for integers, integers past int32
and int64, strings with NUL, control characters or lone surrogates, quantities, deep nesting.
``ZEROSERVE_FUZZ_EXAMPLES`` raises the example count (``bench/fuzz_manifests.py fuzz``); without it
the suites run a bounded, derandomized count so ``make test`` stays fast and repeatable.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

Obj = dict[str, Any]

_LONG = os.environ.get("ZEROSERVE_FUZZ_EXAMPLES")


def fuzz_settings(examples: int) -> settings:
    """``examples`` per test in ``make test`` (derandomized), the bench's count when it asks."""
    return settings(
        max_examples=int(_LONG) if _LONG else examples,
        derandomize=not _LONG,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


C0 = "spec.template.spec.containers[0]"

BASES: dict[str, Obj] = {
    "Service": {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "fuzz", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"command": ["python3", "app.py"]}]}}},
    },
    "Configuration": {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": {"name": "fuzz", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/example/hello"}]}}},
    },
    "Route": {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {"name": "fuzz", "namespace": "default"},
        "spec": {"traffic": [{"configurationName": "fuzz", "percent": 100}]},
    },
    "Revision": {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": "fuzz-00001", "namespace": "default"},
        "spec": {"containers": [{"command": ["python3", "app.py"]}]},
    },
}

PATHS = (
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.generateName",
    "metadata.labels",
    "metadata.labels.app",
    "metadata.annotations",
    "metadata.annotations.autoscaling.knative.dev/min-scale",
    "metadata.ownerReferences",
    "metadata.generation",
    "spec",
    "spec.template",
    "spec.template.metadata",
    "spec.template.metadata.name",
    "spec.template.metadata.annotations",
    "spec.template.spec",
    "spec.template.spec.containers",
    "spec.template.spec.containerConcurrency",
    "spec.template.spec.timeoutSeconds",
    "spec.template.spec.enableServiceLinks",
    "spec.template.spec.volumes",
    "spec.template.spec.securityContext",
    f"{C0}",
    f"{C0}.name",
    f"{C0}.image",
    f"{C0}.command",
    f"{C0}.command[0]",
    f"{C0}.args",
    f"{C0}.workingDir",
    f"{C0}.env",
    f"{C0}.env[0]",
    f"{C0}.env[0].name",
    f"{C0}.env[0].value",
    f"{C0}.ports",
    f"{C0}.ports[0].containerPort",
    f"{C0}.resources",
    f"{C0}.resources.limits.cpu",
    f"{C0}.resources.requests.memory",
    f"{C0}.readinessProbe",
    f"{C0}.readinessProbe.httpGet.port",
    f"{C0}.readinessProbe.httpGet.path",
    f"{C0}.readinessProbe.httpGet.httpHeaders[0].name",
    f"{C0}.readinessProbe.httpGet.httpHeaders[0].value",
    f"{C0}.readinessProbe.periodSeconds",
    f"{C0}.securityContext.runAsUser",
    "spec.traffic",
    "spec.traffic[0]",
    "spec.traffic[0].percent",
    "spec.traffic[0].latestRevision",
    "spec.traffic[0].tag",
    "spec.containers",
    "spec.containers[0].env",
    "status",
    "apiVersion",
    "kind",
)

_any_char = st.characters(exclude_categories=())  # surrogates and controls included
hostile_text = st.one_of(
    st.text(max_size=12),
    st.text(_any_char, max_size=8),
    st.sampled_from(
        [
            "",
            "a\x00b",
            "\ud800",
            "x\udc80y",
            "A=B",
            "my.env-name",
            "\x1b[31m",
            "-1",
            "1e400",
            "500m",
            "64Mi",
            "0.5",
            "lots",
            "true",
            "2024-01-01",
            "fuzz-00001",
            "../x",
            "Bad_Name",
            "é",
        ]
    ),
)
hostile_int = st.one_of(
    st.integers(min_value=-5, max_value=2000),
    st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.integers(),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    hostile_int,
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


json_values = st.one_of(
    scalars,
    st.recursive(
        scalars,
        lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(hostile_text, kids, max_size=3)),
        max_leaves=8,
    ),
    st.sampled_from([95, 99, 100, 101, 150]).map(_nested),
)


def _parts(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]"):
            out.append(int(part[1:-1]))
        elif part:
            out.append(part)
    return out


def _existing_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        keys: list[tuple[str | int, ...]] = []
        for key, child in value.items():
            keys.append((*prefix, key))
            keys.extend(_existing_paths(child, (*prefix, key)))
        return keys
    if isinstance(value, list):
        items: list[tuple[str | int, ...]] = []
        for i, child in enumerate(value):
            items.append((*prefix, i))
            items.extend(_existing_paths(child, (*prefix, i)))
        return items
    return []


def set_path(obj: Obj, parts: list[str | int] | tuple[str | int, ...], value: Any, delete: bool = False) -> None:
    """Set (or delete) ``value`` at ``parts``, creating maps and list slots on the way."""
    cur: Any = obj
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(cur, list):
                return
            while len(cur) <= part:
                cur.append({})
            if last:
                if delete:
                    del cur[part]
                else:
                    cur[part] = value
                return
            if not isinstance(cur[part], (dict, list)):
                cur[part] = {}
            cur = cur[part]
        else:
            if not isinstance(cur, dict):
                return
            if last:
                if delete:
                    cur.pop(part, None)
                else:
                    cur[part] = value
                return
            nxt = parts[i + 1]
            if not isinstance(cur.get(part), (dict, list)):
                cur[part] = [] if isinstance(nxt, int) else {}
            cur = cur[part]


@st.composite
def manifests(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(BASES)) -> Obj:
    """A valid resource of one of ``kinds`` with 0 to 4 mutations."""
    obj = copy.deepcopy(BASES[draw(st.sampled_from(kinds))])
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        existing = _existing_paths(obj)
        use_known = draw(st.booleans()) or not existing
        parts = _parts(draw(st.sampled_from(PATHS))) if use_known else list(draw(st.sampled_from(existing)))
        set_path(obj, parts, draw(json_values), delete=draw(st.integers(0, 5)) == 0)
    return obj


PYDANTIC_WORDS = ("Input should", "valid dictionary", "pydantic", "model_type", "instance of")
"""pydantic's own phrases: none may reach a user (Knative's wording instead)."""
