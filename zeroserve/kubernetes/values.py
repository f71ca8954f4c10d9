"""A value against a structural schema, as kube-apiserver treats a custom resource's body:
:func:`validate` (the OpenAPI v3 keywords a CRD schema may use: ``type``, ``nullable``,
``enum``, ``required``, ``properties``, ``additionalProperties``, ``items``, bounds, lengths,
``pattern``, the ``int32``/``int64`` formats, ``allOf``/``anyOf``/``oneOf``/``not``,
``x-kubernetes-int-or-string``, duplicate entries of ``set``/``map`` lists) and
:func:`unknown_fields` (what pruning would drop: a field that no ``properties`` or
``additionalProperties`` names, unless a node preserves unknown fields; a resource root keeps
``apiVersion``, ``kind`` and ``metadata``). Errors are ``field.Error`` with the value's path
(``spec.template.spec.containers[0].image``). PURE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from zeroserve.api import wire
from zeroserve.kubernetes.fielderror import DUPLICATE, Error, child, index, invalid, not_supported, required

Schema = Mapping[str, Any]

_RANGES: Final = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_ROOT_FIELDS: Final = ("apiVersion", "kind", "metadata")


def json_type(value: object) -> str:
    """OpenAPI's name of ``value``'s type: :func:`zeroserve.api.wire.json_type`'s, "object" for a map."""
    return "object" if isinstance(value, Mapping) else wire.json_type(value)


def _is(type_: str, value: object) -> bool:
    actual = json_type(value)
    return actual == type_ or (type_ == "number" and actual == "integer")


def validate(schema: Schema, value: object, path: str = "") -> list[Error]:
    """Every way ``value`` breaks ``schema`` (empty when it is valid)."""
    return list(_validate(schema, value, path))


def _validate(s: Schema, value: object, path: str) -> Iterator[Error]:
    type_ = s.get("type") or ""
    if value is None:
        if type_ and not s.get("nullable"):
            yield invalid(path, None, f"must be of type {type_}")
        return
    if s.get("x-kubernetes-int-or-string") and json_type(value) not in ("integer", "string"):
        yield invalid(path, value, "must be of type integer or string")
        return
    if type_ and not _is(type_, value):
        yield invalid(path, value, f"must be of type {type_}")
        return
    enum = s.get("enum")
    if enum is not None and value not in enum:
        yield not_supported(path, value, [v if isinstance(v, str) else str(v) for v in enum])
    yield from _scalar(s, value, path)
    if isinstance(value, list):
        yield from _array(s, value, path)
    if isinstance(value, Mapping):
        yield from _object(s, value, path)
    yield from _junctors(s, value, path)


def _scalar(s: Schema, value: object, path: str) -> Iterator[Error]:
    if isinstance(value, str):
        if "maxLength" in s and len(value) > s["maxLength"]:
            yield invalid(path, value, f"must have at most {s['maxLength']} characters")
        if "minLength" in s and len(value) < s["minLength"]:
            yield invalid(path, value, f"must have at least {s['minLength']} characters")
        if s.get("pattern") and not re.search(s["pattern"], value):
            yield invalid(path, value, f"must match the pattern {s['pattern']!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = _RANGES.get(s.get("format") or "", (None, None))
        if isinstance(value, int) and low is not None and high is not None and not low <= value <= high:
            yield invalid(path, value, f"must fit in {s['format']}")
        if "minimum" in s and (value < s["minimum"] or (s.get("exclusiveMinimum") and value == s["minimum"])):
            yield invalid(
                path, value, f"must be greater than{'' if s.get('exclusiveMinimum') else ' or equal to'} {s['minimum']}"
            )
        if "maximum" in s and (value > s["maximum"] or (s.get("exclusiveMaximum") and value == s["maximum"])):
            yield invalid(
                path, value, f"must be less than{'' if s.get('exclusiveMaximum') else ' or equal to'} {s['maximum']}"
            )


def _array(s: Schema, value: list[Any], path: str) -> Iterator[Error]:
    if "maxItems" in s and len(value) > s["maxItems"]:
        yield Error(path, "Too many", f"must have at most {s['maxItems']} items", len(value))
    if "minItems" in s and len(value) < s["minItems"]:
        yield invalid(path, len(value), f"must have at least {s['minItems']} items")
    items = s.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            yield from _validate(items, item, index(path, i))
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    if list_type in ("set", "map"):
        seen: list[object] = []
        for i, item in enumerate(value):
            ident = [item.get(k) for k in keys] if list_type == "map" and isinstance(item, Mapping) else item
            if ident in seen:
                yield Error(index(path, i), DUPLICATE, "", ident)
            seen.append(ident)


def _object(s: Schema, value: Mapping[str, Any], path: str) -> Iterator[Error]:
    for name in s.get("required") or []:
        if name not in value:
            yield required(child(path, name), "")
    props = s.get("properties") or {}
    ap = s.get("additionalProperties")
    for name, item in value.items():
        if name in props:
            yield from _validate(props[name], item, child(path, name))
        elif isinstance(ap, Mapping):
            yield from _validate(ap, item, f"{path}[{name}]")
    if "maxProperties" in s and len(value) > s["maxProperties"]:
        yield Error(path, "Too many", f"must have at most {s['maxProperties']} properties", len(value))
    if "minProperties" in s and len(value) < s["minProperties"]:
        yield invalid(path, len(value), f"must have at least {s['minProperties']} properties")


def _junctors(s: Schema, value: object, path: str) -> Iterator[Error]:
    for sub in s.get("allOf") or []:
        yield from _validate(sub, value, path)
    any_of = s.get("anyOf")
    if any_of and not s.get("x-kubernetes-int-or-string") and not any(not validate(sub, value, path) for sub in any_of):
        yield invalid(path, value, "must validate at least one schema (anyOf)")
    one_of = s.get("oneOf")
    if one_of and sum(1 for sub in one_of if not validate(sub, value, path)) != 1:
        yield invalid(path, value, "must validate one and only one schema (oneOf)")
    if "not" in s and not validate(s["not"], value, path):
        yield invalid(path, value, "must not validate the schema (not)")


def unknown_fields(schema: Schema, value: object, path: str = "", *, embedded: bool = True) -> list[str]:
    """The paths of the fields pruning would drop from ``value`` (``embedded``: ``value`` is a
    resource, whose ``apiVersion``, ``kind`` and ``metadata`` are always kept)."""
    return list(_unknown(schema, value, path, embedded))


def _unknown(s: Schema, value: object, path: str, root: bool) -> Iterator[str]:
    if isinstance(value, list):
        items = s.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                yield from _unknown(items, item, index(path, i), items.get("x-kubernetes-embedded-resource") is True)
        return
    if not isinstance(value, Mapping):
        return
    props = s.get("properties") or {}
    ap = s.get("additionalProperties")
    keep = s.get("x-kubernetes-preserve-unknown-fields") is True or ap is True
    for name, item in value.items():
        if root and name in _ROOT_FIELDS:  # kept; metadata is pruned as ObjectMeta, not by the schema
            continue
        if name in props:
            sub, at = props[name], child(path, name)
        elif isinstance(ap, Mapping):
            sub, at = ap, f"{path}[{name}]"
        elif not keep:
            yield child(path, name)
            continue
        else:
            continue
        yield from _unknown(sub, item, at, sub.get("x-kubernetes-embedded-resource") is True)
