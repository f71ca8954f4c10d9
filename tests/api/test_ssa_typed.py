"""Typed values and the updater: field sets, merge, compare, removal, ownership, conflicts
(structured-merge-diff's ``typed`` and ``merge`` packages, on a schema with every list and map kind)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_ssa_fieldpath import p
from zeroserve.api.kinds import SERVICE
from zeroserve.api.ssa import typed
from zeroserve.api.ssa.fieldpath import FieldSet, path_string
from zeroserve.api.ssa.typeschema import SchemaError, from_schema, kind_type
from zeroserve.api.ssa.updater import Conflicts, Updater, VersionedSet

_ITEM = {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "integer"}}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer"},
        "flag": {"type": "boolean"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "struct": {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "inner": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        },
        "atomicMap": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"a": {"type": "string"}}},
        "atomicList": {"type": "array", "items": {"type": "string"}},
        "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "list": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": _ITEM,
        },
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}},
        },
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
    },
}
T = from_schema(SCHEMA)


def paths(s: FieldSet) -> list[str]:
    return [path_string(x) for x in s.paths()]


# ---- schema ------------------------------------------------------------------------------------


def test_knative_lists_are_atomic_unless_the_crd_says_otherwise() -> None:
    spec = kind_type(SERVICE).map.fields["spec"].map.fields["template"].map.fields["spec"]  # type: ignore[union-attr]
    containers = spec.map.fields["containers"].list  # type: ignore[union-attr]
    assert containers is not None and not containers.associative
    env = containers.element.map.fields["env"].list  # type: ignore[union-attr]
    assert env is not None and env.associative and env.keys == ("name",)
    volumes = spec.map.fields["volumes"].list  # type: ignore[union-attr]
    assert volumes is not None and volumes.keys == ("name",)
    assert spec.map.fields["nodeSelector"].map.atomic  # type: ignore[union-attr]


def test_metadata_is_object_meta() -> None:
    meta = kind_type(SERVICE).map.fields["metadata"].map  # type: ignore[union-attr]
    assert meta is not None
    owners = meta.fields["ownerReferences"].list
    assert owners is not None and owners.keys == ("uid",) and owners.element.map.atomic  # type: ignore[union-attr]
    finalizers = meta.fields["finalizers"].list
    assert finalizers is not None and finalizers.associative and not finalizers.keys
    assert meta.fields["labels"].map.element is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"type": "array", "x-kubernetes-list-type": "bag"}, id="list-type"),
        pytest.param({"type": "array", "x-kubernetes-list-type": "map"}, id="no-keys"),
        pytest.param({"type": "object", "x-kubernetes-map-type": "loose"}, id="map-type"),
        pytest.param({"type": "tuple"}, id="type"),
    ],
)
def test_a_schema_smd_cannot_use_is_an_error(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        from_schema(schema)


# ---- validate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        pytest.param({"nope": 1}, ".nope: field not declared in schema", id="unknown-field"),
        pytest.param({"struct": {"c": "x"}}, ".struct.c: field not declared in schema", id="unknown-nested"),
        pytest.param({"count": "1"}, ".count: expected numeric (int or float), got string", id="numeric"),
        pytest.param({"count": True}, ".count: expected numeric (int or float), got boolean", id="bool-not-number"),
        pytest.param({"name": 1}, ".name: expected string, got number", id="string"),
        pytest.param({"flag": "yes"}, ".flag: expected boolean, got string", id="boolean"),
        pytest.param({"struct": []}, ".struct: expected map, got list", id="map"),
        pytest.param({"list": {}}, ".list: expected list, got map", id="list"),
        pytest.param(
            {"list": [{"value": 1}]},
            '.list: element 0: associative list with keys has an element that omits all key fields ["name"] '
            "(and doesn't have default values for any key fields)",
            id="no-key",
        ),
        pytest.param(
            {"list": [{"name": "a"}, {"name": "a"}]}, '.list: duplicate entries for key [name="a"]', id="duplicate"
        ),
        pytest.param(
            {"set": [{"a": 1}]},
            ".set: element 0: associative list without keys has an element that's a map type",
            id="set-of-maps",
        ),
        pytest.param({"atomicList": [1]}, ".atomicList[0]: expected string, got number", id="indexed"),
        pytest.param({"list": [{"name": "a", "x": 1}]}, '.list[name="a"].x: field not declared in schema', id="item"),
    ],
)
def test_validate_names_the_path(obj: dict[str, Any], problem: str) -> None:
    with pytest.raises(typed.TypedError) as e:
        typed.validate(T, obj)
    assert e.value.problems == [problem]


def test_validate_accepts_what_the_schema_allows() -> None:
    typed.validate(T, {"free": {"any": [1, {"x": None}]}, "port": "http", "labels": {"a": "b"}, "name": None})
    typed.validate(T, {"port": 8080, "list": [{"name": "a"}, {"name": "a"}]}, allow_duplicates=True)


def test_several_problems_are_listed() -> None:
    with pytest.raises(typed.TypedError) as e:
        typed.validate(T, {"count": "x", "name": 1})
    assert str(e.value) == (
        "errors:\n  .count: expected numeric (int or float), got string\n  .name: expected string, got number"
    )


# ---- field sets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "want"),
    [
        pytest.param({"name": "a", "count": 1}, [".count", ".name"], id="scalars"),
        pytest.param({"struct": {"a": "x", "inner": {"x": "y"}}}, [".struct.a", ".struct.inner.x"], id="struct"),
        pytest.param({"struct": {}, "labels": None}, [".labels", ".struct"], id="empty-and-null-owned"),
        pytest.param({"labels": {"app": "x"}}, [".labels.app"], id="map-keys"),
        pytest.param({"atomicMap": {"a": "x"}, "atomicList": ["a"]}, [".atomicList", ".atomicMap"], id="atomic"),
        pytest.param({"list": []}, [], id="empty-granular-list-not-owned"),
        pytest.param({"atomicList": []}, [".atomicList"], id="empty-atomic-list-owned"),
        pytest.param({"set": ["b", "a"]}, ['.set[="a"]', '.set[="b"]'], id="set"),
        pytest.param(
            {"list": [{"name": "a", "value": 1}]},
            ['.list[name="a"]', '.list[name="a"].name', '.list[name="a"].value'],
            id="keyed",
        ),
        pytest.param(
            {"list": [{"name": "a", "value": 1}, {"name": "a", "value": 2}]},
            ['.list[name="a"]'],
            id="duplicates-owned-whole",
        ),
        pytest.param({"free": {"x": {"y": 1}}}, [".free.x", ".free.x.y"], id="preserved-keys"),
    ],
)
def test_field_sets(obj: dict[str, Any], want: list[str]) -> None:
    assert paths(typed.to_field_set(T, obj)) == want


def test_ensure_named_fields_adds_struct_parents_not_map_keys() -> None:
    s = FieldSet.of(p("struct", "inner", "x"), p("labels", "app"), p("list", {"name": "a"}, "value"))
    assert paths(typed.ensure_named_fields(T, s)) == [
        ".labels",
        ".list",
        ".struct",
        ".labels.app",
        '.list[name="a"].value',  # an item is no named field: it stays out
        ".struct.inner",
        ".struct.inner.x",
    ]


# ---- merge -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lhs", "rhs", "want"),
    [
        pytest.param({"name": "a", "count": 1}, {"count": 2}, {"name": "a", "count": 2}, id="fields"),
        pytest.param(
            {"struct": {"a": "1", "b": "2"}}, {"struct": {"a": "3"}}, {"struct": {"a": "3", "b": "2"}}, id="deep"
        ),
        pytest.param({"atomicMap": {"a": "1"}}, {"atomicMap": {}}, {"atomicMap": {}}, id="atomic-map-replaced"),
        pytest.param({"atomicList": ["a", "b"]}, {"atomicList": ["c"]}, {"atomicList": ["c"]}, id="atomic-list"),
        pytest.param({"set": ["a", "b"]}, {"set": ["c", "a"]}, {"set": ["c", "a", "b"]}, id="set"),
        pytest.param(
            {"set": ["a", "b", "c", "d"]}, {"set": ["d", "e", "a"]}, {"set": ["b", "c", "d", "e", "a"]}, id="set-2"
        ),
        pytest.param(
            {"list": [{"name": "a", "value": 1}, {"name": "b"}]},
            {"list": [{"name": "c"}, {"name": "a", "value": 2}]},
            {"list": [{"name": "c"}, {"name": "a", "value": 2}, {"name": "b"}]},
            id="keyed-rhs-order",
        ),
        pytest.param({"labels": {"a": "1"}}, {"labels": {"b": "2"}}, {"labels": {"a": "1", "b": "2"}}, id="map"),
        pytest.param({"struct": {"a": "1"}}, {"struct": None}, {"struct": {"a": "1"}}, id="null-over-struct-keeps"),
        pytest.param({"name": "a"}, {"name": None}, {"name": None}, id="null-scalar"),
        pytest.param({"free": {"x": 1}}, {"free": {"x": "s", "y": [1]}}, {"free": {"x": "s", "y": [1]}}, id="free"),
        pytest.param({"port": {"a": 1}}, {"port": 8080}, {"port": 8080}, id="type-change"),
    ],
)
def test_merge(lhs: dict[str, Any], rhs: dict[str, Any], want: dict[str, Any]) -> None:
    assert typed.merge(T, lhs, rhs) == want


def test_merge_keeps_the_empty_and_the_absent_apart() -> None:
    assert typed.merge(T, typed.ABSENT, typed.ABSENT) is typed.ABSENT
    assert typed.merge(T, {"list": []}, {}) == {"list": []}


# ---- compare -----------------------------------------------------------------------------------


def test_compare_reports_leaves_and_whole_containers() -> None:
    old = {"name": "a", "count": 1, "list": [{"name": "x", "value": 1}], "set": ["a"]}
    new = {"name": "b", "list": [{"name": "x", "value": 2}, {"name": "y"}], "struct": {"a": "1"}, "set": ["a"]}
    c = typed.compare(T, old, new)
    assert paths(c.modified) == [".name", '.list[name="x"].value']
    assert paths(c.added) == [".struct", '.list[name="y"]', '.list[name="y"].name', ".struct.a"]
    assert paths(c.removed) == [".count"]
    assert typed.compare(T, new, new).same()


def test_compare_counts_true_and_one_apart() -> None:
    assert paths(typed.compare(T, {"port": 1}, {"port": True}).modified) == [".port"]
    assert typed.compare(T, {"port": 1}, {"port": 1.0}).same()


def test_compare_skips_equal_subtrees_but_not_ones_that_only_look_equal() -> None:
    nested = {"struct": {"a": "1", "b": "2"}, "list": [{"name": "x", "value": 1}]}
    reordered = {"list": [{"value": 1, "name": "x"}], "struct": {"b": "2", "a": "1"}}
    assert typed.compare(T, nested, reordered).same()
    flipped = {"struct": {"a": "1", "b": "2"}, "list": [{"name": "x", "value": True}]}
    assert paths(typed.compare(T, nested, flipped).modified) == ['.list[name="x"].value']
    assert typed.compare(T, nested, {**nested, "list": [{"name": "x", "value": 1.0}]}).same()


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (1, 1.0, True),
        (True, 1, False),  # Python holds these equal; SMD does not
        ({"a": [1, {"b": "x"}]}, {"a": [1.0, {"b": "x"}]}, True),
        ({"a": [1, {"b": True}]}, {"a": [1, {"b": 1}]}, False),
        ([{"type": "Ready", "status": "True"}], [{"status": "True", "type": "Ready"}], True),
        ([{"type": "Ready", "status": "True"}], [{"type": "Ready", "status": "False"}], False),
        (["a", "b"], ["b", "a"], False),
        ({"a": None}, {}, False),
        ("1", 1, False),
    ],
)
def test_equal_is_smd_equality(a: Any, b: Any, want: bool) -> None:
    assert typed.equal(a, b) is want
    assert typed.equal(b, a) is want


def test_compare_excluding_drops_whole_subtrees() -> None:
    c = typed.compare(T, {}, {"struct": {"a": "1"}, "name": "x"}).excluding(FieldSet.of(p("struct")))
    assert paths(c.added) == [".name"]


# ---- remove ------------------------------------------------------------------------------------


def test_remove_items() -> None:
    obj = {"name": "a", "struct": {"a": "1", "b": "2"}, "list": [{"name": "x", "value": 1}, {"name": "y"}]}
    out = typed.remove_items(T, obj, FieldSet.of(p("name"), p("struct", "a"), p("list", {"name": "y"})))
    assert out == {"struct": {"b": "2"}, "list": [{"name": "x", "value": 1}]}
    # a granular map left empty becomes null, as SMD leaves it
    assert typed.remove_items(T, {"struct": {"a": "1"}}, FieldSet.of(p("struct", "a"))) == {"struct": None}


# ---- the updater -------------------------------------------------------------------------------


class Server:
    """An object and its managers, written to as kube-apiserver does."""

    def __init__(self) -> None:
        self.obj: dict[str, Any] = {}
        self.managers: dict[str, VersionedSet] = {}
        self.updater: Updater[str] = Updater(T)

    def apply(self, manager: str, config: dict[str, Any], force: bool = False) -> None:
        new, self.managers = self.updater.apply(self.obj, config, "v1", self.managers, manager, force)
        if new is not typed.ABSENT:
            self.obj = new

    def update(self, manager: str, new: dict[str, Any]) -> None:
        self.managers = self.updater.update(self.obj, new, "v1", self.managers, manager)
        self.obj = new

    def owned(self) -> dict[str, list[str]]:
        return {m: paths(vs.set) for m, vs in sorted(self.managers.items())}


def test_an_applier_owns_its_configuration() -> None:
    s = Server()
    s.apply("one", {"name": "a", "list": [{"name": "x", "value": 1}]})
    assert s.owned() == {"one": [".name", '.list[name="x"]', '.list[name="x"].name', '.list[name="x"].value']}
    assert s.managers["one"].applied


def test_what_an_applier_stops_applying_is_removed() -> None:
    s = Server()
    s.apply("one", {"list": [{"name": "a"}, {"name": "b"}]})
    s.apply("two", {"list": [{"name": "c"}]})
    s.apply("one", {"list": [{"name": "a"}]})
    assert s.obj == {"list": [{"name": "a"}, {"name": "c"}]}
    assert s.owned() == {
        "one": ['.list[name="a"]', '.list[name="a"].name'],
        "two": ['.list[name="c"]', '.list[name="c"].name'],
    }


def test_a_co_owned_field_stays_when_one_applier_drops_it() -> None:
    s = Server()
    s.apply("one", {"name": "a", "count": 1})
    s.apply("two", {"count": 1})
    s.apply("one", {"name": "a"})
    assert s.obj == {"name": "a", "count": 1}
    assert s.owned() == {"one": [".name"], "two": [".count"]}


def test_a_field_an_updater_changed_is_not_pruned() -> None:
    s = Server()
    s.apply("one", {"name": "a", "count": 1})
    s.update("edit", {"name": "a", "count": 2})
    assert s.owned() == {"edit": [".count"], "one": [".name"]}
    s.apply("one", {"name": "a"})
    assert s.obj == {"name": "a", "count": 2}


def test_applying_the_same_value_is_no_conflict() -> None:
    s = Server()
    s.apply("one", {"list": [{"name": "a", "value": 0}]})
    s.apply("two", {"list": [{"name": "a", "value": 0}]})
    assert s.owned()["one"] == s.owned()["two"]


def test_changing_anothers_field_conflicts_and_force_takes_it() -> None:
    s = Server()
    s.apply("one", {"list": [{"name": "a", "value": 0}], "name": "x"})
    with pytest.raises(Conflicts) as e:
        s.apply("two", {"list": [{"name": "a", "value": 1}], "name": "y"})
    assert [(c.manager, path_string(c.path)) for c in e.value.conflicts] == [
        ("one", ".name"),
        ("one", '.list[name="a"].value'),
    ]
    assert s.obj == {"list": [{"name": "a", "value": 0}], "name": "x"}  # unchanged
    s.apply("two", {"list": [{"name": "a", "value": 1}], "name": "y"}, force=True)
    assert s.obj == {"list": [{"name": "a", "value": 1}], "name": "y"}
    assert s.owned() == {
        "one": ['.list[name="a"]', '.list[name="a"].name'],
        "two": [".name", '.list[name="a"]', '.list[name="a"].name', '.list[name="a"].value'],
    }


def test_an_update_takes_what_it_changes_and_drops_what_it_removes() -> None:
    s = Server()
    s.apply("one", {"name": "a", "count": 1, "labels": {"x": "1"}})
    s.update("edit", {"name": "b", "labels": {"x": "1", "y": "2"}})
    assert s.owned() == {"edit": [".name", ".labels.y"], "one": [".labels.x"]}


def test_an_update_of_a_new_container_owns_it_too() -> None:
    s = Server()
    s.update("create", {"struct": {"a": "1"}})
    assert s.owned() == {"create": [".struct", ".struct.a"]}


def test_an_atomic_list_is_owned_and_conflicts_as_a_whole() -> None:
    s = Server()
    s.apply("one", {"atomicList": ["a"]})
    with pytest.raises(Conflicts):
        s.apply("two", {"atomicList": ["a", "b"]})
    s.apply("two", {"atomicList": ["a"]})  # the same value: co-owned


def test_a_no_op_apply_returns_absent() -> None:
    s = Server()
    s.apply("one", {"name": "a"})
    new, _ = s.updater.apply(s.obj, {"name": "a"}, "v1", s.managers, "one", False)
    assert new is typed.ABSENT


def test_ignored_fields_are_never_owned_or_compared() -> None:
    updater: Updater[str] = Updater(T, FieldSet.of(p("struct")))
    new, managers = updater.apply({}, {"name": "a", "struct": {"a": "1"}}, "v1", {}, "one", False)
    assert paths(managers["one"].set) == [".name"]
    managers = updater.update(new, {**new, "struct": {"a": "2"}}, "v1", managers, "two")
    assert "two" not in managers
