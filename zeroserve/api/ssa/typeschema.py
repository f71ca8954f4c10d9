"""The types a structural schema describes, as structured-merge-diff sees them (kube-openapi
``schemaconv``: what kube-apiserver builds from a CRD's OpenAPI schema to track fields).

A :class:`Type` may accept scalars, a map and a list at once (an untyped node, e.g.
``x-kubernetes-int-or-string``); which part applies is decided by the value. The rules:

- ``type: object`` is a map: its ``properties`` are declared fields; other keys take the
  ``additionalProperties`` type, or any value (the *deduced* type) when the node or one above it
  has ``x-kubernetes-preserve-unknown-fields`` or the node declares no properties, else they are not
  allowed. ``x-kubernetes-map-type: atomic`` makes the map one leaf.
- ``type: array`` is a list: ``x-kubernetes-list-type: atomic`` (the default, so a CRD list without
  the extension is atomic), ``set`` (items by value) or ``map`` with ``x-kubernetes-list-map-keys``
  (items by their key fields); ``x-kubernetes-patch-strategy: merge`` with a merge key counts as
  ``map`` (the built-in kinds' lists).
- integer/number are numeric, boolean, string (with a ``format`` other than ``byte``: any scalar).
- The deduced type: any scalar, an atomic list, or a granular map of deduced values.

:func:`kind_type` builds the type of a served kind from :func:`zeroserve.api.openapi.kind_schema`
with ``metadata`` as the ObjectMeta schema (finalizers a set, ownerReferences a map keyed by
``uid``, labels and annotations granular maps), as kube-apiserver does for a custom resource. PURE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

from zeroserve.api.kinds import Kind
from zeroserve.api.openapi import REF, kind_schema, meta_components
from zeroserve.api.schema import LIST_MAP_KEYS, LIST_TYPE, MAP_TYPE, PRESERVE, Schema

Scalar = Literal["numeric", "string", "boolean", "untyped"]

PATCH_STRATEGY: Final = "x-kubernetes-patch-strategy"
PATCH_MERGE_KEY: Final = "x-kubernetes-patch-merge-key"


class SchemaError(ValueError):
    """A schema SMD could not use (an unknown list or map type, map keys missing)."""


@dataclass(eq=False)
class MapType:
    fields: dict[str, Type] = field(default_factory=dict)
    element: Type | None = None
    """The type of keys not declared in ``fields``; None: such keys are not allowed."""
    atomic: bool = False


@dataclass(eq=False)
class ListType:
    element: Type
    associative: bool = False
    """False: atomic (one leaf). True: a set (no keys) or a map keyed by ``keys``."""
    keys: tuple[str, ...] = ()


@dataclass(eq=False, repr=False)
class Type:
    scalar: Scalar | None = None
    map: MapType | None = None
    list: ListType | None = None

    def __repr__(self) -> str:  # the untyped and deduced types refer to themselves
        parts: list[str] = [self.scalar] if self.scalar else []
        if self.map is not None:
            parts.append(f"map({', '.join(self.map.fields)})" + (" atomic" if self.map.atomic else ""))
        if self.list is not None:
            parts.append(f"list keys={list(self.list.keys)}" if self.list.associative else "list atomic")
        return f"Type({' | '.join(parts)})"


def _untyped() -> Type:
    t = Type(scalar="untyped")
    t.list = ListType(element=t)
    t.map = MapType(element=t, atomic=True)
    return t


def _deduced(untyped: Type) -> Type:
    t = Type(scalar="untyped", list=ListType(element=untyped))
    t.map = MapType(element=t)
    return t


UNTYPED: Final = _untyped()
"""Any value, one leaf (SMD ``__untyped_atomic_``)."""
DEDUCED: Final = _deduced(UNTYPED)
"""Any value; maps are granular (SMD ``__untyped_deduced_``): what unknown fields preserved are."""


class _Converter:
    def __init__(self, components: dict[str, Schema]) -> None:
        self._components = components
        self._named: dict[str, Type] = {}

    def named(self, name: str) -> Type:
        found = self._named.get(name)
        if found is None:
            found = self._named[name] = Type()
            parsed = self.parse(self._components[name], preserve=False)
            found.scalar, found.map, found.list = parsed.scalar, parsed.map, parsed.list
        return found

    def ref(self, s: Schema, preserve: bool) -> Type:
        """A property's, item's or additionalProperties' type: named (``$ref`` or an ``allOf`` of
        one) or inlined, preserving unknown fields when its parent did."""
        target = s.get("$ref")
        all_of = s.get("allOf") or []
        if target is None and len(all_of) == 1 and isinstance(all_of[0], dict):
            target = all_of[0].get("$ref")
        if isinstance(target, str):
            t = self.named(target.removeprefix(REF))
            relationship = _map_type(s)
            if relationship is not None and t.map is not None:
                t = Type(t.scalar, MapType(t.map.fields, t.map.element, relationship), t.list)
            return t
        return self.parse(s, preserve)

    def parse(self, s: Schema, preserve: bool) -> Type:
        preserve = preserve or s.get(PRESERVE) is True
        typ = s.get("type", "")
        if typ == "":
            return Type("untyped", self.object(s, preserve), self.array(s, preserve))
        if typ == "object":
            return Type(map=self.object(s, preserve))
        if typ == "array":
            return Type(list=self.array(s, preserve))
        if typ in ("integer", "number"):
            return Type("numeric")
        if typ == "boolean":
            return Type("boolean")
        if typ == "string":
            return Type("string" if s.get("format", "") in ("", "byte") else "untyped")
        raise SchemaError(f"unrecognized type: {typ!r}")

    def object(self, s: Schema, preserve: bool) -> MapType:
        props: dict[str, Any] = s.get("properties") or {}
        fields = {name: self.ref(member, preserve) for name, member in props.items()}
        extra = s.get("additionalProperties")
        element: Type | None
        if extra is None:
            element = DEDUCED if preserve or not props else None
        elif isinstance(extra, dict):
            element = self.ref(extra, preserve)
        else:
            element = DEDUCED if extra else None
        return MapType(fields, element, bool(_map_type(s)))

    def array(self, s: Schema, preserve: bool) -> ListType:
        associative, keys = _list_type(s)
        items = s.get("items")
        element = self.ref(items, preserve) if isinstance(items, dict) else UNTYPED
        return ListType(element, associative, keys)


def _map_type(s: Schema) -> bool | None:
    value = s.get(MAP_TYPE)
    if value is None:
        return None
    if value not in ("atomic", "granular"):
        raise SchemaError(f"unknown map type {value}")
    return bool(value == "atomic")


def _list_type(s: Schema) -> tuple[bool, tuple[str, ...]]:
    value = s.get(LIST_TYPE)
    if value is not None:
        if value == "atomic":
            return False, ()
        if value == "set":
            return True, ()
        if value == "map":
            keys = s.get(LIST_MAP_KEYS)
            if not isinstance(keys, list) or not keys:
                raise SchemaError("missing map keys")
            return True, tuple(str(k) for k in keys)
        raise SchemaError(f"unknown list type {value}")
    strategy = s.get(PATCH_STRATEGY)
    if strategy in ("merge", "merge,retainKeys"):
        merge_key = s.get(PATCH_MERGE_KEY)
        return True, (str(merge_key),) if merge_key else ()
    return False, ()


def from_schema(schema: Schema, components: dict[str, Schema] | None = None) -> Type:
    """The type of a schema whose ``$ref`` s name entries of ``components``."""
    return _Converter(components or {}).parse(schema, preserve=False)


@cache
def kind_type(kind: Kind) -> Type:
    """The type of a whole object of ``kind`` (cached: kinds and their schemas are constants)."""
    return from_schema(kind_schema(kind), meta_components())
