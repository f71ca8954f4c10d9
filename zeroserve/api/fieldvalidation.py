"""Server-side field validation (``?fieldValidation=Strict|Warn|Ignore``): unknown and duplicate fields.

kube-apiserver decodes a custom resource and prunes what its CRD schema does not declare
(apiextensions ``pruning.PruneWithOptions``); with ``fieldValidation`` it also reports what it pruned
and the keys a JSON object repeats (sigs.k8s.io/json's strict decoding):

- :func:`unknown_fields` walks an object against the kind's structural schema
  (:func:`zeroserve.api.schema.crd_schema`; ``metadata`` against Kubernetes' ObjectMeta): a key no
  ``properties`` names is unknown unless ``additionalProperties`` or
  ``x-kubernetes-preserve-unknown-fields`` allows it. Paths as apiextensions writes them
  (``spec.template.spec.containers[0].foo``): ``metadata`` first, then the rest sorted. The object
  is pruned in place.
- :func:`duplicate_fields` finds every key repeated within one JSON object of a body
  (``metadata.name``), each once, in the order met, at most 100.

:func:`strict_error` words them as ``runtime.NewStrictDecodingError``: ``strict decoding error:
unknown field "spec.foo", duplicate field "metadata.name"``; with ``Warn`` each is a ``Warning``
header of its own. PURE.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

from zeroserve.api.kinds import Kind
from zeroserve.api.openapi import META, REF, meta_components
from zeroserve.api.schema import PRESERVE, Schema, crd_schema

STRICT: Final = "Strict"
WARN: Final = "Warn"
IGNORE: Final = "Ignore"
DIRECTIVES: Final = ("", IGNORE, STRICT, WARN)
MAX_DUPLICATES: Final = 100
TYPE_META: Final = ("apiVersion", "kind")


def unsupported(value: str) -> str:
    """The reason a ``fieldValidation`` value is refused (``field.NotSupported``)."""
    allowed = ", ".join(json.dumps(v) for v in DIRECTIVES)
    return f"fieldValidation: Unsupported value: {json.dumps(value)}: supported values: {allowed}"


def strict_error(messages: Sequence[str]) -> str:
    return "strict decoding error: " + ", ".join(messages)


def messages(duplicates: Sequence[str], unknown: Sequence[str]) -> list[str]:
    """The strict decoding errors in kube-apiserver's order: duplicates (from decoding) first."""
    return [f'duplicate field "{p}"' for p in duplicates] + [f'unknown field "{p}"' for p in unknown]


# ---- unknown fields ------------------------------------------------------------------------------


@cache
def _object_meta() -> Schema:
    resolved: Schema = _resolve(meta_components()[META + "ObjectMeta"], meta_components())
    return resolved


def _resolve(schema: Any, components: dict[str, Schema]) -> Any:
    """``schema`` with every ``$ref`` (and ``allOf`` of one ref) replaced by what it names."""
    if isinstance(schema, list):
        return [_resolve(s, components) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _resolve(components[schema["$ref"].removeprefix(REF)], components)
    if list(schema.get("allOf") or []) and len(schema["allOf"]) == 1 and "$ref" in schema["allOf"][0]:
        return _resolve(schema["allOf"][0], components)
    return {k: _resolve(v, components) for k, v in schema.items()}


@cache
def _schema(kind: Kind) -> Schema:
    return crd_schema(kind)


def unknown_fields(kind: Kind, obj: dict[str, Any]) -> list[str]:
    """The paths of ``obj``'s fields ``kind``'s schema does not declare, each pruned from ``obj``."""
    unknown: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        _prune(meta, _object_meta(), "metadata", unknown)
    meta_paths = list(unknown)
    rest: list[str] = []
    schema = _schema(kind)
    for key in list(obj):
        if key in TYPE_META or key == "metadata":
            continue
        prop = schema["properties"].get(key)
        if prop is None:
            rest.append(key)
            del obj[key]
        else:
            _prune(obj[key], prop, key, rest)
    return meta_paths + sorted(rest)


def _prune(value: Any, schema: Schema | None, path: str, unknown: list[str]) -> None:
    if schema is not None and schema.get(PRESERVE):
        _walk_known(value, schema, path, unknown)
        return
    if isinstance(value, dict):
        props = (schema or {}).get("properties") or {}
        extra = (schema or {}).get("additionalProperties")
        for key in list(value):
            here = f"{path}.{key}" if path else key
            if key in props:
                _prune(value[key], props[key], here, unknown)
            elif isinstance(extra, dict):
                _prune(value[key], extra, here, unknown)
            else:
                unknown.append(here)
                del value[key]
    elif isinstance(value, list):
        items = (schema or {}).get("items")
        for i, item in enumerate(value):
            _prune(item, items, f"{path}[{i}]", unknown)


def _walk_known(value: Any, schema: Schema, path: str, unknown: list[str]) -> None:
    """``skipPrune``: unknown keys stay, the declared ones below are still pruned."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key in list(value):
            here = f"{path}.{key}" if path else key
            if key in props:
                _prune(value[key], props[key], here, unknown)
            elif isinstance(extra, dict):
                _prune(value[key], extra, here, unknown)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk_known(item, schema["items"], f"{path}[{i}]", unknown)


def pruned(kind: Kind, obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``obj`` without its unknown fields, and their paths."""
    out = copy.deepcopy(obj)
    return out, unknown_fields(kind, out)


# ---- duplicate fields ----------------------------------------------------------------------------


class _Pairs(list[tuple[str, Any]]):
    """A decoded JSON object that remembers its keys in order, repeats included."""


def duplicate_fields(raw: bytes | str) -> list[str]:
    """Every key repeated inside one object of the JSON document ``raw`` (which must parse)."""
    doc = json.loads(raw, object_pairs_hook=_Pairs)
    out: list[str] = []
    _duplicates(doc, "", out)
    return out


def _duplicates(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, child in value:
            here = f"{path}.{key}" if path else key
            if key in seen and here not in out and len(out) < MAX_DUPLICATES:
                out.append(here)
            seen.add(key)
            _duplicates(child, here, out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _duplicates(child, f"{path}[{i}]", out)
