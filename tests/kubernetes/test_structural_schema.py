"""The structural-schema check (zeroserve.kubernetes.structural): table tests, one known-bad schema
per rule, each with the line kube-apiserver prints for it; known-good schemas pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from zeroserve.kubernetes import structural
from zeroserve.kubernetes.fielderror import Error, forbidden, invalid, required

P = "spec.versions[0].schema.openAPIV3Schema"
OBJ: dict[str, Any] = {"type": "object"}
STR: dict[str, Any] = {"type": "string"}


def root(**props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"apiVersion": STR, "kind": STR, "metadata": OBJ, **props},
    }


def spec(node: dict[str, Any]) -> dict[str, Any]:
    return root(spec=node)


def lines(schema: Any, *, status: bool = False) -> list[str]:
    return [str(e) for e in structural.check(schema, P, status=status)]


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("plain object", spec({"type": "object", "properties": {"a": STR, "b": {"type": "integer", "format": "int32"}}})),
    ("map", spec({"type": "object", "additionalProperties": STR})),
    ("preserve without type", spec({structural.PRESERVE: True})),
    ("int-or-string anyOf", spec({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, STR]})),
    (
        "int-or-string allOf",
        spec(
            {
                "x-kubernetes-int-or-string": True,
                "allOf": [{"anyOf": [{"type": "integer"}, STR]}, {"pattern": "^[0-9]+%?$"}],
            }
        ),
    ),
    (
        "value validation naming structural properties",
        spec(
            {"type": "object", "properties": {"a": STR, "b": STR}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
        ),
    ),
    (
        "map list with required key",
        spec(
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "required": ["name"], "properties": {"name": STR}},
            }
        ),
    ),
    (
        "map list with defaulted key",
        spec(
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string", "default": ""}}},
            }
        ),
    ),
    ("set of strings", spec({"type": "array", "x-kubernetes-list-type": "set", "items": STR})),
    ("atomic map", spec({"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": STR})),
    (
        "metadata restricting name",
        root(metadata={"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}}),
    ),
    (
        "embedded resource",
        spec({"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True}),
    ),
    ("nullable field", spec({"type": "string", "nullable": True})),
    ("pruned valid default", spec({"type": "object", "properties": {"a": STR}, "default": {"a": "x"}})),
    ("CEL rule", spec({"type": "object", "x-kubernetes-validations": [{"rule": "self.a == 1"}]})),
]


@pytest.mark.parametrize(("name", "schema"), GOOD, ids=[g[0] for g in GOOD])
def test_structural_schemas_pass(name: str, schema: dict[str, Any]) -> None:
    assert lines(schema, status=True) == []


S = f"{P}.properties[spec]"
BAD: list[tuple[str, Any, str]] = [
    ("no type", spec({"properties": {}}), f"{S}.type: Required value: must not be empty for specified object fields"),
    (
        "no type in items",
        spec({"type": "array", "items": {}}),
        f"{S}.items.type: Required value: must not be empty for specified array items",
    ),
    ("no type at the root", {"properties": {}}, f"{P}.type: Required value: must not be empty at the root"),
    ("root not an object", {"type": "string"}, f'{P}.type: Invalid value: "string": must be object at the root'),
    (
        "additionalProperties at the root",
        {"type": "object", "additionalProperties": STR},
        f"{P}.additionalProperties: Forbidden: must not be used at the root",
    ),
    ("array without items", spec({"type": "array"}), f"{S}.items: Required value: must be specified"),
    ("$ref", spec({"type": "object", "$ref": "#/definitions/x"}), f"{S}.$ref: Forbidden: $ref is not supported"),
    ("id", spec({"type": "object", "id": "x"}), f"{S}.id: Forbidden: id is not supported"),
    (
        "definitions",
        spec({"type": "object", "definitions": {"x": STR}}),
        f"{S}.definitions: Forbidden: definitions is not supported",
    ),
    (
        "dependencies",
        spec({"type": "object", "dependencies": {"a": ["b"]}}),
        f"{S}.dependencies: Forbidden: dependencies is not supported",
    ),
    (
        "additionalItems",
        spec({"type": "array", "items": STR, "additionalItems": False}),
        f"{S}.additionalItems: Forbidden: additionalItems is not supported",
    ),
    (
        "patternProperties",
        spec({"type": "object", "patternProperties": {"^a": STR}}),
        f"{S}.patternProperties: Forbidden: patternProperties is not supported",
    ),
    (
        "items a list",
        spec({"type": "array", "items": [STR]}),
        f"{S}.items: Forbidden: items must be a schema object and not an array",
    ),
    (
        "type null",
        spec({"type": "null"}),
        f"{S}.type: Forbidden: type cannot be set to null, use nullable as an alternative",
    ),
    (
        "unknown type",
        spec({"type": "map"}),
        f'{S}.type: Unsupported value: "map": supported values: "array", "boolean", "integer", "number", '
        '"object", "string"',
    ),
    (
        "uniqueItems",
        spec({"type": "array", "items": STR, "uniqueItems": True}),
        f"{S}.uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
    ),
    (
        "properties and additionalProperties",
        spec({"type": "object", "properties": {"a": STR}, "additionalProperties": STR}),
        f"{S}.additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
    ),
    (
        "preserve false",
        spec({"type": "object", "x-kubernetes-preserve-unknown-fields": False}),
        f"{S}.x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
    ),
    (
        "type under anyOf",
        spec({"type": "object", "anyOf": [{"type": "object"}]}),
        f"{S}.anyOf[0].type: Forbidden: must be empty to be structural",
    ),
    (
        "description under allOf",
        spec({"type": "object", "allOf": [{"description": "x"}]}),
        f"{S}.allOf[0].description: Forbidden: must be empty to be structural",
    ),
    (
        "default under oneOf",
        spec({"type": "object", "oneOf": [{"default": 1}]}),
        f"{S}.oneOf[0].default: Forbidden: must be undefined to be structural",
    ),
    (
        "nullable under not",
        spec({"type": "object", "not": {"nullable": True}}),
        f"{S}.not.nullable: Forbidden: must be false to be structural",
    ),
    (
        "additionalProperties under anyOf",
        spec({"type": "object", "anyOf": [{"additionalProperties": STR}]}),
        f"{S}.anyOf[0].additionalProperties: Forbidden: must be undefined to be structural",
    ),
    (
        "preserve under allOf",
        spec({"type": "object", "allOf": [{"x-kubernetes-preserve-unknown-fields": True}]}),
        f"{S}.allOf[0].x-kubernetes-preserve-unknown-fields: Forbidden: must be false to be structural",
    ),
    (
        "list type under allOf",
        spec({"type": "array", "items": STR, "allOf": [{"x-kubernetes-list-type": "set"}]}),
        f"{S}.allOf[0].x-kubernetes-list-type: Forbidden: must be undefined to be structural",
    ),
    (
        "metadata under a junctor",
        {"type": "object", "properties": {"metadata": OBJ}, "anyOf": [{"properties": {"metadata": {}}}]},
        f"{P}.anyOf[0].properties[metadata]: Forbidden: must not be specified in a nested context",
    ),
    (
        "junctor naming a field not specified",
        {"type": "object", "properties": {"a": STR}, "anyOf": [{"properties": {"b": {}}}]},
        f"{P}.properties[b]: Required value: because it is defined in {P}.anyOf[0].properties[b]",
    ),
    (
        "metadata restricting labels",
        root(metadata={"type": "object", "properties": {"labels": OBJ}}),
        f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
        "metadata is implicitly specified",
    ),
    (
        "metadata with a description",
        root(metadata={"type": "object", "description": "x"}),
        f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
        "metadata is implicitly specified",
    ),
    (
        "metadata not an object",
        root(metadata=STR),
        f'{P}.properties[metadata].type: Invalid value: "string": must be object',
    ),
    ("kind not a string", root(kind=OBJ), f'{P}.properties[kind].type: Invalid value: "object": must be string'),
    (
        "default in top-level metadata",
        root(metadata={"type": "object", "default": {}}),
        f"{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata",
    ),
    (
        "int-or-string preserving",
        spec({"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}),
        f"{S}.x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string "
        "is true",
    ),
    (
        "embedded not an object",
        spec({"type": "string", "x-kubernetes-embedded-resource": True}),
        f'{S}.type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true',
    ),
    (
        "embedded without properties",
        spec({"type": "object", "x-kubernetes-embedded-resource": True}),
        f"{S}.properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without "
        "x-kubernetes-preserve-unknown-fields",
    ),
    (
        "embedded with additionalProperties",
        spec({"type": "object", "x-kubernetes-embedded-resource": True, "additionalProperties": STR}),
        f"{S}.additionalProperties: Forbidden: must not be used if x-kubernetes-embedded-resource is set",
    ),
    (
        "embedded inside metadata",
        root(metadata={"type": "object", "x-kubernetes-embedded-resource": True}),
        f"{P}.properties[metadata].x-kubernetes-embedded-resource: Forbidden: must not be used inside of resource meta",
    ),
    (
        "map type on a string",
        spec({"type": "string", "x-kubernetes-map-type": "atomic"}),
        f'{S}.type: Invalid value: "string": must be object if x-kubernetes-map-type is specified',
    ),
    (
        "unknown map type",
        spec({"type": "object", "x-kubernetes-map-type": "merge"}),
        f'{S}.x-kubernetes-map-type: Unsupported value: "merge": supported values: "atomic", "granular"',
    ),
    (
        "list type on an object",
        spec({"type": "object", "x-kubernetes-list-type": "atomic"}),
        f'{S}.type: Invalid value: "object": must be array if x-kubernetes-list-type is specified',
    ),
    (
        "unknown list type",
        spec({"type": "array", "items": STR, "x-kubernetes-list-type": "bag"}),
        f'{S}.x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map"',
    ),
    (
        "map keys without map type",
        spec({"type": "array", "items": OBJ, "x-kubernetes-list-map-keys": ["a"]}),
        f"{S}.x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty",
    ),
    (
        "map list without keys",
        spec({"type": "array", "items": OBJ, "x-kubernetes-list-type": "map"}),
        f"{S}.x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
    ),
    (
        "map list of strings",
        spec({"type": "array", "items": STR, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a"]}),
        f'{S}.items.type: Invalid value: "string": must be object if parent array\'s x-kubernetes-list-type is map',
    ),
    (
        "map key not a property",
        spec(
            {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            }
        ),
        f'{S}.x-kubernetes-list-map-keys: Invalid value: ["name"]: entries must all be names of item properties',
    ),
    (
        "map key neither required nor defaulted",
        spec(
            {
                "type": "array",
                "items": {"type": "object", "properties": {"name": STR}},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            }
        ),
        f"{S}.items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it "
        "must have a default or be a required property",
    ),
    (
        "set of objects not atomic",
        spec({"type": "array", "items": OBJ, "x-kubernetes-list-type": "set"}),
        f"{S}.items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with "
        "x-kubernetes-list-type=set",
    ),
    (
        "nullable set items",
        spec({"type": "array", "items": {"type": "string", "nullable": True}, "x-kubernetes-list-type": "set"}),
        f"{S}.items.nullable: Forbidden: cannot be nullable when x-kubernetes-list-type is set",
    ),
    (
        "bad pattern",
        spec({"type": "string", "pattern": "("}),
        f'{S}.pattern: Invalid value: "(": must be a valid regular expression, but isn\'t: missing ), unterminated '
        "subpattern at position 0",
    ),
    (
        "default with unknown fields",
        spec({"type": "object", "properties": {"a": STR}, "default": {"b": "x"}}),
        f'{S}.default: Invalid value: {{"b":"x"}}: must not have unknown fields',
    ),
    (
        "default of the wrong type",
        spec({"type": "object", "properties": {"a": {"type": "integer", "default": "one"}}}),
        f'{S}.properties[a].default: Invalid value: "one": must be of type integer',
    ),
    (
        "nullable root",
        {"type": "object", "nullable": True},
        f"{P}.nullable: Forbidden: nullable cannot be true at the root",
    ),
    (
        "CEL rule missing",
        spec({"type": "object", "x-kubernetes-validations": [{"message": "m"}]}),
        f"{S}.x-kubernetes-validations[0].rule: Required value: rule is not specified",
    ),
    (
        "not a keyword",
        spec({"type": "object", "propertes": {}}),
        f"{S}.propertes: Forbidden: unknown field: not a JSONSchemaProps keyword (kube-apiserver drops it)",
    ),
]


@pytest.mark.parametrize(("name", "schema", "line"), BAD, ids=[b[0] for b in BAD])
def test_each_rule_fails_with_the_apiservers_line(name: str, schema: Any, line: str) -> None:
    assert line in lines(schema)


def test_root_with_status_subresource_allows_only_some_keywords() -> None:
    schema = {"type": "object", "anyOf": [{"required": ["spec"]}], "properties": {"spec": OBJ}}
    assert lines(schema) == []
    (line,) = lines(schema, status=True)
    assert line.startswith(f"{P}: Forbidden: only [") and line.endswith("found: anyOf")


def test_every_error_is_found_not_only_the_first() -> None:
    schema = spec({"type": "object", "properties": {"a": {}, "b": {"type": "array"}}, "$ref": "#/x"})
    assert lines(schema) == [
        f"{S}.$ref: Forbidden: $ref is not supported",
        f"{S}.properties[a].type: Required value: must not be empty for specified object fields",
        f"{S}.properties[b].items: Required value: must be specified",
    ]


def test_defaults_are_checked_only_once_the_schema_is_structural() -> None:
    schema = spec({"type": "object", "properties": {"a": {}}, "default": {"b": 1}})
    assert lines(schema) == [f"{S}.properties[a].type: Required value: must not be empty for specified object fields"]


def test_error_renders_like_field_error() -> None:
    assert str(required("a.b", "x")) == "a.b: Required value: x"
    assert str(forbidden("a", "")) == "a: Forbidden"
    assert str(invalid("a", {"k": [1, True]}, "bad")) == 'a: Invalid value: {"k":[1,true]}: bad'
    assert isinstance(structural.check("x")[0], Error)


def test_check_does_not_change_the_schema() -> None:
    schema = root(metadata={"type": "object", "properties": {"name": STR}})
    before = copy.deepcopy(schema)
    structural.check(schema)
    assert schema == before
