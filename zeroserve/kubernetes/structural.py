"""kube-apiserver's checks of a CRD's ``openAPIV3Schema``: is it a *structural* schema?

A port of what ``apiextensions-apiserver`` runs when a ``CustomResourceDefinition`` is created
(``pkg/apis/apiextensions/validation``: ``validateCustomResourceDefinitionValidation``,
``ValidateCustomResourceDefinitionOpenAPISchema``; ``pkg/apiserver/schema``: ``NewStructural``,
``ValidateStructural``, its completeness check; ``pkg/apiserver/schema/defaulting``:
``ValidateDefaults``), with its field paths and messages, so that a schema :func:`check` accepts is
one a real API server accepts, and one it rejects fails here with the line kube-apiserver would
print. No Python library does this. The rules:

- **OpenAPI subset**: no ``$ref``, ``id``, ``definitions``, ``dependencies``, ``additionalItems``,
  ``patternProperties``, no ``type: null`` (``nullable`` instead), ``items`` one schema (not a
  list), no ``uniqueItems: true``, ``properties`` and ``additionalProperties`` (a schema or
  ``false``) not both, ``x-kubernetes-preserve-unknown-fields`` only ``true``; ``type`` one of the
  six JSON types; no ``default`` in the root's ``apiVersion``/``kind``/``metadata``;
- **extensions consistent**: ``x-kubernetes-map-type`` (atomic/granular) only on objects,
  ``x-kubernetes-list-type`` (atomic/set/map) only on arrays, a map list has
  ``x-kubernetes-list-map-keys`` naming scalar item properties, each required or defaulted, items
  not nullable; ``x-kubernetes-int-or-string`` never with preserve-unknown or embedded-resource;
  ``x-kubernetes-embedded-resource`` an object, not inside a resource's meta;
- **structural**: every node of the structural part (``properties``, ``items``,
  ``additionalProperties``) has a ``type`` unless it preserves unknown fields or is
  int-or-string; arrays have ``items``; the root is an object without ``additionalProperties``;
  inside ``allOf``/``anyOf``/``oneOf``/``not`` (value validation) no ``type``, ``default``,
  ``description``, ``title``, ``nullable``, ``additionalProperties`` or ``x-kubernetes-*``
  (except the int-or-string ``anyOf: [{type: integer}, {type: string}]``), no ``metadata``, and
  every property and ``items`` they name exist in the structural part (checked at the root, as
  kube-apiserver does);
- **metadata**: at the root ``apiVersion``/``kind`` are strings and ``metadata`` an object
  that restricts nothing but ``name``/``generateName``;
- with the **status subresource**, the root holds only the keywords kube-apiserver allows there
  and ``nullable`` is never true at the root;
- **defaults** (checked once the rest is structural) are pruned (no field the schema would drop)
  and valid against their node.

Not ported: compiling ``x-kubernetes-validations`` CEL rules (only their shape is checked) and
Go's RE2 dialect (patterns are compiled with Python's ``re``). :func:`check_crd` adds the CRD's
own fields (names, scope, versions, printer columns). PURE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any, Final

from zeroserve.kubernetes import values
from zeroserve.kubernetes.fielderror import Error, child, forbidden, index, invalid, key, not_supported, required

Schema = Mapping[str, Any]

TYPES: Final = ("array", "boolean", "integer", "number", "object", "string")
PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"
EMBEDDED: Final = "x-kubernetes-embedded-resource"
INT_OR_STRING: Final = "x-kubernetes-int-or-string"
LIST_TYPE: Final = "x-kubernetes-list-type"
LIST_MAP_KEYS: Final = "x-kubernetes-list-map-keys"
MAP_TYPE: Final = "x-kubernetes-map-type"
VALIDATIONS: Final = "x-kubernetes-validations"

KEYWORDS: Final = frozenset(
    {
        "$ref",
        "$schema",
        "additionalItems",
        "additionalProperties",
        "allOf",
        "anyOf",
        "default",
        "definitions",
        "dependencies",
        "description",
        "enum",
        "example",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "externalDocs",
        "format",
        "id",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "nullable",
        "oneOf",
        "pattern",
        "patternProperties",
        "properties",
        "required",
        "title",
        "type",
        "uniqueItems",
        EMBEDDED,
        INT_OR_STRING,
        LIST_MAP_KEYS,
        LIST_TYPE,
        MAP_TYPE,
        PRESERVE,
        VALIDATIONS,
    }
)
"""The JSON names of ``JSONSchemaProps`` (apiextensions/v1): anything else is not a schema keyword."""

ROOT_WITH_STATUS: Final = frozenset(
    {
        "description",
        "type",
        "format",
        "title",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "required",
        "items",
        "properties",
        "externalDocs",
        "example",
        PRESERVE,
        VALIDATIONS,
    }
)
"""``allowedFieldsAtRootSchema``: what the root may hold when the status subresource is on."""

META_FIELDS: Final = ("apiVersion", "kind", "metadata")
_INT_OR_STRING_ANY_OF: Final = [{"type": "integer"}, {"type": "string"}]
_FORBIDDEN_NESTED: Final = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    (PRESERVE, "must be false to be structural"),
    (EMBEDDED, "must be false to be structural"),
    (INT_OR_STRING, "must be false to be structural"),
    (LIST_MAP_KEYS, "must be empty to be structural"),
    (LIST_TYPE, "must be undefined to be structural"),
    (MAP_TYPE, "must be undefined to be structural"),
    (VALIDATIONS, "must be empty to be structural"),
)
"""What value validation (under a junctor) must not say, and how kube-apiserver says so."""


class Level(Enum):
    ROOT = "root"
    ITEM = "item"
    FIELD = "field"


_TYPE_REQUIRED: Final = {
    Level.ROOT: "must not be empty at the root",
    Level.ITEM: "must not be empty for specified array items",
    Level.FIELD: "must not be empty for specified object fields",
}


def check(schema: object, path: str = "openAPIV3Schema", *, status: bool = False) -> list[Error]:
    """Every reason kube-apiserver would refuse ``schema`` as a CRD version's ``openAPIV3Schema``
    (``path`` is where it sits in the CRD), sorted; empty when it is structural and valid.
    ``status``: the version has the status subresource."""
    if not isinstance(schema, Mapping):
        return [invalid(path, schema, "must be a JSON object")]
    errs: list[Error] = []
    if status:
        errs.extend(_root_with_status(schema, path))
    if schema.get("nullable") is True:
        errs.append(forbidden(child(path, "nullable"), "nullable cannot be true at the root"))
    errs.extend(_openapi(schema, path, root=True, in_meta=False, no_default=""))
    structure = [*_invariants(schema, Level.ROOT, path), *_completeness(schema, path)]
    errs.extend(structure)
    if not structure and not errs:
        errs.extend(_defaults(schema, path))
    return sorted(set(errs))


def _root_with_status(schema: Schema, path: str) -> Iterator[Error]:
    if "type" in schema and schema["type"] != "object":
        yield invalid(
            child(path, "type"),
            schema["type"],
            'only "object" is allowed as the type at the root of the schema if the status subresource is enabled',
        )
    extra = sorted(k for k, v in schema.items() if k not in ROOT_WITH_STATUS and k != "type" and _set(v))
    if extra:
        allowed = ", ".join(sorted(ROOT_WITH_STATUS))
        yield forbidden(
            path,
            f"only [{allowed}] fields are allowed at the root of the schema if the status subresource is "
            f"enabled, found: {', '.join(extra)}",
        )


def _set(value: object) -> bool:
    """Not a Go zero value (an unset ``JSONSchemaProps`` field)."""
    return value is not None and value is not False and value != "" and value != [] and value != {}


# ---- ValidateCustomResourceDefinitionOpenAPISchema ------------------------------------------------


def _openapi(node: object, path: str, *, root: bool, in_meta: bool, no_default: str) -> Iterator[Error]:
    if not isinstance(node, Mapping):
        if isinstance(node, bool) and path.endswith("additionalProperties"):
            return
        yield invalid(path, node, "must be a JSON object (a schema)")
        return
    yield from _keywords(node, path, in_meta=in_meta, no_default=no_default)
    yield from _extensions(node, path)
    props = node.get("properties")
    ap = node.get("additionalProperties")
    if ap is not None:
        if isinstance(props, Mapping) and props and (ap is False or isinstance(ap, Mapping)):
            yield forbidden(
                child(path, "additionalProperties"), "additionalProperties and properties are mutual exclusive"
            )
        if isinstance(ap, Mapping):
            reason = "inside additionalProperties applying to object metadata" if in_meta else no_default
            yield from _openapi(ap, child(path, "additionalProperties"), root=False, in_meta=in_meta, no_default=reason)
        elif not isinstance(ap, bool):
            yield invalid(child(path, "additionalProperties"), ap, "must be a boolean or a schema")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            meta = (root or node.get(EMBEDDED) is True) and name in META_FIELDS
            reason = f"in top-level {name}" if root and name in META_FIELDS else no_default
            yield from _openapi(
                sub, key(child(path, "properties"), name), root=False, in_meta=in_meta or meta, no_default=reason
            )
    elif props is not None:
        yield invalid(child(path, "properties"), props, "must be an object of schemas")
    for name, sub in _junctors(node, path):
        yield from _openapi(sub, name, root=False, in_meta=in_meta, no_default=no_default)
    items = node.get("items")
    if isinstance(items, Mapping):
        yield from _openapi(items, child(path, "items"), root=False, in_meta=in_meta, no_default=no_default)
    elif isinstance(items, list):
        for i, sub in enumerate(items):
            yield from _openapi(sub, index(child(path, "items"), i), root=False, in_meta=in_meta, no_default=no_default)
    for group in ("definitions", "dependencies"):
        subs = node.get(group)
        if isinstance(subs, Mapping):
            for name, sub in subs.items():
                if isinstance(sub, Mapping):
                    yield from _openapi(
                        sub, key(child(path, group), name), root=False, in_meta=in_meta, no_default=no_default
                    )


def _junctors(node: Schema, path: str) -> Iterator[tuple[str, object]]:
    """The schemas under ``not``, ``allOf``, ``oneOf``, ``anyOf``, with their paths."""
    if "not" in node:
        yield child(path, "not"), node["not"]
    for name in ("allOf", "oneOf", "anyOf"):
        subs = node.get(name)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                yield index(child(path, name), i), sub


def _keywords(node: Schema, path: str, *, in_meta: bool, no_default: str) -> Iterator[Error]:
    """``specStandardValidatorV3.validate`` and the keywords checked beside it."""
    for name in sorted(k for k in node if k not in KEYWORDS):
        yield forbidden(child(path, name), "unknown field: not a JSONSchemaProps keyword (kube-apiserver drops it)")
    type_ = node.get("type")
    if type_ is not None and not isinstance(type_, str):
        yield invalid(child(path, "type"), type_, "must be a string (one type; nullable: true for null)")
    elif type_ and type_ not in TYPES:
        yield not_supported(child(path, "type"), type_, list(TYPES))
    if type_ == "null":
        yield forbidden(child(path, "type"), "type cannot be set to null, use nullable as an alternative")
    if "default" in node and no_default:
        yield forbidden(child(path, "default"), f"must not be set {no_default}")
    if node.get("id"):
        yield forbidden(child(path, "id"), "id is not supported")
    if node.get("additionalItems") is not None:
        yield forbidden(child(path, "additionalItems"), "additionalItems is not supported")
    for name in ("patternProperties", "definitions"):
        if node.get(name):
            yield forbidden(child(path, name), f"{name} is not supported")
    if node.get("dependencies") is not None:
        yield forbidden(child(path, "dependencies"), "dependencies is not supported")
    if node.get("$ref") is not None:
        yield forbidden(child(path, "$ref"), "$ref is not supported")
    if isinstance(node.get("items"), list) and node["items"]:
        yield forbidden(child(path, "items"), "items must be a schema object and not an array")
    if in_meta and node.get(EMBEDDED) is True:
        yield forbidden(child(path, EMBEDDED), "must not be used inside of resource meta")
    if node.get("uniqueItems") is True:
        yield forbidden(
            child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        )
    if node.get(PRESERVE) is False:
        yield invalid(child(path, PRESERVE), False, "must be true or undefined")
    yield from _cel_rules(node, path)


def _cel_rules(node: Schema, path: str) -> Iterator[Error]:
    rules = node.get(VALIDATIONS)
    if rules is None:
        return
    if not isinstance(rules, list):
        yield invalid(child(path, VALIDATIONS), rules, "must be a list of rules")
        return
    for i, rule in enumerate(rules):
        at = index(child(path, VALIDATIONS), i)
        if not isinstance(rule, Mapping):
            yield invalid(at, rule, "must be an object with a rule")
            continue
        text = str(rule.get("rule") or "").strip()
        message = str(rule.get("message") or "")
        if not text:
            yield required(child(at, "rule"), "rule is not specified")
        elif message and not message.strip():
            yield invalid(child(at, "message"), message, "message must be non-empty if specified")
        elif "\n" in message.strip() or "\r" in message.strip():
            yield invalid(child(at, "message"), message, "message must not contain line breaks")
        elif ("\n" in text or "\r" in text) and not message.strip():
            yield required(child(at, "message"), "message must be specified if rule contains line breaks")


def _extensions(node: Schema, path: str) -> Iterator[Error]:
    """The ``x-kubernetes-map-type``/``-list-type``/``-list-map-keys`` rules."""
    type_ = node.get("type") or ""
    map_type = node.get(MAP_TYPE)
    if map_type is not None and type_ != "object":
        yield _type_must(path, type_, "must be object if x-kubernetes-map-type is specified")
    if map_type is not None and map_type not in ("atomic", "granular"):
        yield not_supported(child(path, MAP_TYPE), map_type, ["atomic", "granular"])
    list_type = node.get(LIST_TYPE)
    items = node.get("items")
    if list_type is not None and type_ != "array":
        yield _type_must(path, type_, "must be array if x-kubernetes-list-type is specified")
    elif list_type == "set" and isinstance(items, Mapping):
        yield from _set_items(items, path)
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        yield not_supported(child(path, LIST_TYPE), list_type, ["atomic", "set", "map"])
    keys = node.get(LIST_MAP_KEYS) or []
    if keys and list_type is None:
        yield required(child(path, LIST_TYPE), "must be map if x-kubernetes-list-map-keys is non-empty")
    elif keys and list_type != "map":
        yield invalid(child(path, LIST_TYPE), list_type, "must be map if x-kubernetes-list-map-keys is non-empty")
    if list_type == "map":
        yield from _map_list(node, keys, path)
    if list_type in ("set", "map") and isinstance(items, Mapping) and items.get("nullable") is True:
        yield forbidden(
            child(child(path, "items"), "nullable"), f"cannot be nullable when x-kubernetes-list-type is {list_type}"
        )


def _type_must(path: str, type_: str, detail: str) -> Error:
    if not type_:
        return required(child(path, "type"), detail)
    return invalid(child(path, "type"), type_, detail)


def _set_items(items: Schema, path: str) -> Iterator[Error]:
    at = child(path, "items")
    if items.get("type") == "array" and items.get(LIST_TYPE) not in (None, "atomic"):
        yield invalid(
            child(at, LIST_TYPE),
            items.get(LIST_TYPE),
            "must be atomic as item of a list with x-kubernetes-list-type=set",
        )
    if items.get("type") == "object" and items.get(MAP_TYPE) != "atomic":
        yield invalid(
            child(at, MAP_TYPE), items.get(MAP_TYPE), "must be atomic as item of a list with x-kubernetes-list-type=set"
        )


def _map_list(node: Schema, keys: list[Any], path: str) -> Iterator[Error]:
    items = node.get("items")
    at = child(path, "items")
    if not keys:
        yield required(child(path, LIST_MAP_KEYS), "must not be empty if x-kubernetes-list-type is map")
    if items is None:
        yield required(at, "must have a schema if x-kubernetes-list-type is map")
        return
    if not isinstance(items, Mapping):
        yield invalid(at, items, "must only have a single schema if x-kubernetes-list-type is map")
        return
    if items.get("type") != "object":
        yield invalid(
            child(at, "type"), items.get("type"), "must be object if parent array's x-kubernetes-list-type is map"
        )
        return
    props = items.get("properties") or {}
    needed = set(items.get("required") or [])
    seen: set[str] = set()
    for k in keys:
        prop = props.get(k)
        if prop is None:
            yield invalid(child(path, LIST_MAP_KEYS), keys, "entries must all be names of item properties")
        else:
            if prop.get("type") in ("array", "object"):
                yield invalid(
                    child(key(child(at, "properties"), k), "type"),
                    items.get("type"),
                    "must be a scalar type if parent array's x-kubernetes-list-type is map",
                )
            if k not in needed and "default" not in prop:
                yield required(
                    child(key(child(at, "properties"), k), "default"),
                    "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required "
                    "property",
                )
            if prop.get("nullable") is True:
                yield forbidden(
                    child(key(child(at, "properties"), k), "nullable"),
                    "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                )
        if k in seen:
            yield invalid(child(path, LIST_MAP_KEYS), keys, "must not contain duplicate entries")
        seen.add(k)


# ---- ValidateStructural ----------------------------------------------------------------------------


def _invariants(node: object, level: Level, path: str) -> Iterator[Error]:
    """``validateStructuralInvariants``: the structural part (properties, items, additionalProperties)."""
    if not isinstance(node, Mapping):
        return
    type_ = node.get("type") or ""
    items = node.get("items")
    if type_ == "array" and items is None:
        yield required(child(path, "items"), "must be specified")
    if isinstance(items, Mapping):
        yield from _invariants(items, Level.ITEM, child(path, "items"))
    props = node.get("properties")
    props = props if isinstance(props, Mapping) else {}
    for name, sub in props.items():
        yield from _invariants(sub, Level.FIELD, key(child(path, "properties"), name))
    ap = node.get("additionalProperties")
    if ap is not None:
        if level is Level.ROOT:
            yield forbidden(child(path, "additionalProperties"), "must not be used at the root")
        if isinstance(ap, Mapping):
            yield from _invariants(ap, Level.FIELD, child(path, "additionalProperties"))
    int_or_string = node.get(INT_OR_STRING) is True
    preserve = node.get(PRESERVE) is True
    embedded = node.get(EMBEDDED) is True
    if int_or_string and preserve:
        yield invalid(child(path, PRESERVE), True, "must be false if x-kubernetes-int-or-string is true")
    if int_or_string and embedded:
        yield invalid(child(path, EMBEDDED), True, "must be false if x-kubernetes-int-or-string is true")
    skip_any_of = node.get("anyOf") == _INT_OR_STRING_ANY_OF
    all_of = node.get("allOf")
    skip_first = isinstance(all_of, list) and bool(all_of) and _first_any_of(all_of[0]) == _INT_OR_STRING_ANY_OF
    yield from _value_validation(node, skip_any_of, skip_first, level, path)
    if embedded and type_ != "object":
        yield _type_must(path, type_, "must be object if x-kubernetes-embedded-resource is true")
    elif not type_ and not int_or_string and not preserve:
        yield required(child(path, "type"), _TYPE_REQUIRED[level])
    if embedded and ap is not None:
        yield forbidden(
            child(path, "additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"
        )
    if level is Level.ROOT and type_ and type_ != "object":
        yield invalid(child(path, "type"), type_, "must be object at the root")
    check_meta = level is Level.ROOT or embedded
    for name in ("kind", "apiVersion"):
        sub = props.get(name)
        if check_meta and isinstance(sub, Mapping) and sub.get("type") != "string":
            yield invalid(child(key(child(path, "properties"), name), "type"), sub.get("type") or "", "must be string")
    metadata = props.get("metadata")
    if isinstance(metadata, Mapping):
        yield from _metadata(metadata, check_meta, level, key(child(path, "properties"), "metadata"))
    if embedded and not preserve and not props:
        yield required(
            child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        )


def _first_any_of(node: object) -> object:
    return node.get("anyOf") if isinstance(node, Mapping) else None


def _metadata(node: Schema, check_meta: bool, level: Level, path: str) -> Iterator[Error]:
    if check_meta and node.get("type") != "object":
        yield invalid(child(path, "type"), node.get("type") or "", "must be object")
    if level is not Level.ROOT:
        return
    rest = {k: v for k, v in node.items() if k not in ("type", "default") and _set(v)}
    props = rest.get("properties")
    if isinstance(props, Mapping) and set(props) <= {"name", "generateName"}:
        del rest["properties"]
    if rest:
        yield forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        )


def _value_validation(node: Schema, skip_any_of: bool, skip_first: bool, level: Level, path: str) -> Iterator[Error]:
    """``validateValueValidation``: the junctors of ``node`` hold value validation only."""
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and not skip_any_of:
        for i, sub in enumerate(any_of):
            yield from _nested(sub, False, level, index(child(path, "anyOf"), i))
    all_of = node.get("allOf")
    if isinstance(all_of, list):
        for i, sub in enumerate(all_of):
            yield from _nested(sub, skip_first and i == 0, level, index(child(path, "allOf"), i))
    one_of = node.get("oneOf")
    if isinstance(one_of, list):
        for i, sub in enumerate(one_of):
            yield from _nested(sub, False, level, index(child(path, "oneOf"), i))
    if "not" in node:
        yield from _nested(node["not"], False, level, child(path, "not"))
    pattern = node.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            yield invalid(child(path, "pattern"), pattern, f"must be a valid regular expression, but isn't: {e}")


def _nested(node: object, skip_any_of: bool, level: Level, path: str) -> Iterator[Error]:
    """``validateNestedValueValidation``: a schema under a junctor."""
    if not isinstance(node, Mapping):
        return
    yield from _value_validation(node, skip_any_of, False, level, path)
    items = node.get("items")
    if isinstance(items, Mapping):
        yield from _nested(items, False, level, child(path, "items"))
    props = node.get("properties")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            yield from _nested(sub, False, Level.FIELD, key(child(path, "properties"), name))
        if "metadata" in props:
            yield forbidden(key(child(path, "properties"), "metadata"), "must not be specified in a nested context")
    for name, detail in _FORBIDDEN_NESTED:
        if _set(node.get(name)) or (name in ("additionalProperties", "default") and name in node):
            yield forbidden(child(path, name), detail)


def _completeness(node: Schema, path: str) -> Iterator[Error]:
    """``validateStructuralCompleteness``: what the root's junctors name exists structurally."""
    for vpath, sub in _junctors(node, path):
        yield from _complete(sub, node, path, vpath)


def _complete(v: object, s: object, spath: str, vpath: str) -> Iterator[Error]:
    if not isinstance(v, Mapping):
        return
    if not isinstance(s, Mapping):
        yield required(spath, f"because it is defined in {vpath}")
        return
    for vsub_path, vsub in _junctors(v, vpath):
        yield from _complete(vsub, s, spath, vsub_path)
    if "items" in v:
        yield from _complete(v["items"], s.get("items"), child(spath, "items"), child(vpath, "items"))
    sprops = s.get("properties") or {}
    for name, vsub in (v.get("properties") or {}).items():
        at = key(child(spath, "properties"), name)
        if name not in sprops:
            yield required(at, f"because it is defined in {key(child(vpath, 'properties'), name)}")
        else:
            yield from _complete(vsub, sprops[name], at, key(child(vpath, "properties"), name))


# ---- defaults --------------------------------------------------------------------------------------


def _defaults(node: object, path: str) -> Iterator[Error]:
    """``ValidateDefaults``: each default of the structural part is pruned and valid."""
    if not isinstance(node, Mapping):
        return
    if "default" in node:
        at = child(path, "default")
        default = node["default"]
        if values.unknown_fields(node, default, at, embedded=node.get(EMBEDDED) is True):
            yield invalid(at, default, "must not have unknown fields")
        yield from values.validate(node, default, at)
    if isinstance(node.get("items"), Mapping):
        yield from _defaults(node["items"], child(path, "items"))
    for name, sub in (node.get("properties") or {}).items():
        yield from _defaults(sub, key(child(path, "properties"), name))
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from _defaults(node["additionalProperties"], child(path, "additionalProperties"))


# ---- the CRD around the schemas --------------------------------------------------------------------

_DNS1035: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
COLUMN_TYPES: Final = ("boolean", "date", "integer", "number", "string")
COLUMN_FORMATS: Final = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")


def check_crd(crd: Mapping[str, Any]) -> list[Error]:
    """:func:`check` for every version of a ``CustomResourceDefinition`` (apiextensions/v1), plus
    its names, scope, storage version and printer columns as kube-apiserver validates them."""
    errs: list[Error] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    if (crd.get("metadata") or {}).get("name") != f"{plural}.{group}":
        errs.append(
            invalid(
                "metadata.name", (crd.get("metadata") or {}).get("name"), 'must be spec.names.plural+"."+spec.group'
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(not_supported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"]))
    errs.extend(_names(names))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(required("spec.versions", "must have exactly one version marked as storage version"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(
            invalid(
                "spec.versions",
                versions and [v.get("name") for v in versions],
                "must have exactly one version marked as storage version",
            )
        )
    for i, version in enumerate(versions):
        at = index("spec.versions", i)
        status = "status" in (version.get("subresources") or {})
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errs.append(required(child(child(at, "schema"), "openAPIV3Schema"), "schemas are required"))
        else:
            errs.extend(check(schema, child(child(at, "schema"), "openAPIV3Schema"), status=status))
        for j, column in enumerate(version.get("additionalPrinterColumns") or []):
            errs.extend(_column(column, index(child(at, "additionalPrinterColumns"), j)))
    return sorted(set(errs))


def _names(names: Mapping[str, Any]) -> Iterator[Error]:
    for name in ("plural", "singular"):
        if not names.get(name) and name == "plural":
            yield required("spec.names.plural", "")
        elif names.get(name) and not _DNS1035.match(names[name]):
            yield invalid(
                child("spec.names", name),
                names[name],
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
            )
    kind = names.get("kind") or ""
    if not kind:
        yield required("spec.names.kind", "")
    elif not _DNS1035.match(kind.lower()):
        yield invalid("spec.names.kind", kind, "may have mixed case, but should otherwise match a DNS-1035 label")
    if kind and names.get("listKind") == kind:
        yield invalid("spec.names.listKind", kind, "kind and listKind may not be the same")
    for group in ("shortNames", "categories"):
        for i, name in enumerate(names.get(group) or []):
            if not _DNS1035.match(str(name)):
                yield invalid(
                    index(child("spec.names", group), i),
                    name,
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
                )


def _column(column: Mapping[str, Any], path: str) -> Iterator[Error]:
    if not column.get("name"):
        yield required(child(path, "name"), "")
    if column.get("type") not in COLUMN_TYPES:
        yield invalid(child(path, "type"), column.get("type"), f"must be one of {','.join(COLUMN_TYPES)}")
    if column.get("format") and column["format"] not in COLUMN_FORMATS:
        yield invalid(child(path, "format"), column["format"], f"must be one of {','.join(COLUMN_FORMATS)}")
    json_path = column.get("jsonPath") or ""
    if not json_path:
        yield required(child(path, "JSONPath"), "")
    elif not json_path.startswith("."):
        yield invalid(child(path, "JSONPath"), json_path, "must be a simple json path starting with .")
