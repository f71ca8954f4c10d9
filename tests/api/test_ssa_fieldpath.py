"""Field paths, sets and the FieldsV1 encoding (structured-merge-diff's ``fieldpath``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zeroserve.api.ssa.fieldpath import (
    FieldsError,
    FieldSet,
    Path,
    field,
    from_fields_v1,
    go_json,
    index,
    key,
    path_string,
    serialize_element,
    to_fields_v1,
    value,
)


def p(*parts: Any) -> Path:
    """A path: a str is a field, a dict a key, a one-element tuple a value, an int an index."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(field(part))
        elif isinstance(part, dict):
            out.append(key(part))
        elif isinstance(part, tuple):
            out.append(value(part[0]))
        else:
            out.append(index(part))
    return tuple(out)


def fields_json(s: FieldSet) -> str:
    return json.dumps(to_fields_v1(s), separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(
            p("spec", "template", "spec", "containers", {"name": "user-container"}, "image"),
            '.spec.template.spec.containers[name="user-container"].image',
            id="key",
        ),
        pytest.param(p("ports", {"protocol": "TCP", "port": 80}), '.ports[port=80,protocol="TCP"]', id="keys-sorted"),
        pytest.param(p("finalizers", ("a",)), '.finalizers[="a"]', id="set-string"),
        pytest.param(p("set", (1.5,)), ".set[=1.5]", id="set-float"),
        pytest.param(p("set", (True,)), ".set[=true]", id="set-bool"),
        pytest.param(p("args", 0), ".args[0]", id="index"),
        pytest.param(p("env", {"name": 'a"b\n'}), '.env[name="a\\"b\\n"]', id="go-quoted"),
    ],
)
def test_path_strings_are_smds(path: Path, text: str) -> None:
    assert path_string(path) == text


def test_elements_order_fields_keys_values_indices_and_values_by_kind() -> None:
    elements = [index(0), value("a"), key({"name": "a"}), field("b"), value(True), value(2), field("a"), value(1.5)]
    assert sorted(elements) == [
        field("a"),
        field("b"),
        key({"name": "a"}),
        value(1.5),
        value(2),
        value("a"),
        value(True),
        index(0),
    ]


def test_json_values_keep_bool_and_number_apart() -> None:
    assert value(1) == value(1.0)
    assert value(True) != value(1)
    assert key({"port": 80}) != key({"port": "80"})


def test_insert_and_has_track_paths_not_their_parents() -> None:
    s = FieldSet.of(p("spec", "replicas"))
    assert s.has(p("spec", "replicas"))
    assert not s.has(p("spec"))
    assert not s.has(())
    s.insert(())
    assert s.empty() is False and len(s) == 1


def test_set_algebra_is_path_by_path() -> None:
    parent, child = FieldSet.of(p("a")), FieldSet.of(p("a", "b"))
    assert parent.difference(child) == parent  # a parent minus its child keeps the parent
    assert child.difference(parent) == child  # and the other way round
    assert child.recursive_difference(parent).empty()  # everything below a goes too
    both = parent.union(child)
    assert list(both.paths()) == [p("a"), p("a", "b")]
    assert both.intersection(child) == child
    assert both.intersection(FieldSet.of(p("c"))).empty()
    assert FieldSet.of(p("a", "b"), p("a", "c")).difference(FieldSet.of(p("a", "b"), p("a", "c"))).empty()


def test_paths_iterate_members_before_children() -> None:
    s = FieldSet.of(p("z"), p("a", "b"), p("b"), p("a"))
    assert [path_string(x) for x in s.paths()] == [".a", ".b", ".z", ".a.b"]


@pytest.mark.parametrize(
    ("paths", "encoded"),
    [
        pytest.param([], "{}", id="empty"),
        pytest.param([p("data", "key")], '{"f:data":{"f:key":{}}}', id="field"),
        pytest.param(
            [p("spec"), p("spec", "x")],
            '{"f:spec":{".":{},"f:x":{}}}',
            id="member-and-parent",
        ),
        pytest.param(
            [
                p("env", {"name": "B"}),
                p("env", {"name": "A"}),
                p("env", {"name": "A"}, "name"),
                p("env", {"name": "A"}, "value"),
            ],
            '{"f:env":{"k:{\\"name\\":\\"A\\"}":{".":{},"f:name":{},"f:value":{}},"k:{\\"name\\":\\"B\\"}":{}}}',
            id="keyed-items",
        ),
        pytest.param(
            [p("ports", {"protocol": "UDP", "port": 53})],
            '{"f:ports":{"k:{\\"port\\":53,\\"protocol\\":\\"UDP\\"}":{}}}',
            id="key-fields-sorted",
        ),
        pytest.param(
            [p("s", ("b",)), p("s", (2,)), p("s", (True,)), p("s", ("a",))],
            '{"f:s":{"v:2":{},"v:\\"a\\"":{},"v:\\"b\\"":{},"v:true":{}}}',
            id="set-values-ordered",
        ),
        pytest.param([p("l", 3), p("l", 1)], '{"f:l":{"i:1":{},"i:3":{}}}', id="indices"),
        pytest.param(
            [p("apps", {"name": " app-🚀"}, "name")],
            '{"f:apps":{"k:{\\"name\\":\\" app-🚀\\"}":{"f:name":{}}}}',
            id="unicode",
        ),
    ],
)
def test_fields_v1_encoding_and_round_trip(paths: list[Path], encoded: str) -> None:
    s = FieldSet.of(*paths)
    assert fields_json(s) == encoded
    assert from_fields_v1(json.loads(encoded)) == s


def test_decoding_normalizes_key_order_and_spacing() -> None:
    doc: dict[str, Any] = {'k:{ "protocol":"TCP", "port":80}': {}, "v: 3": {}, "f:b": {}, "f:a": {"f:c": {}, ".": {}}}
    assert fields_json(from_fields_v1(doc)) == (
        '{"f:a":{".":{},"f:c":{}},"f:b":{},"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{},"v:3":{}}'
    )


def test_unknown_element_types_are_dropped_as_smd_does() -> None:
    assert from_fields_v1({"x:future": {}, "f:a": {}}) == FieldSet.of(p("a"))


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param([], id="not-an-object"),
        pytest.param({"f:a": 1}, id="child-not-an-object"),
        pytest.param({"fa": {}}, id="no-colon"),
        pytest.param({"f": {}}, id="too-short"),
        pytest.param({"k:[1]": {}}, id="key-not-an-object"),
        pytest.param({"v:{oops": {}}, id="value-not-json"),
        pytest.param({"i:x": {}}, id="index-not-a-number"),
    ],
)
def test_bad_fields_v1_is_an_error(doc: Any) -> None:
    with pytest.raises(FieldsError):
        from_fields_v1(doc)


def test_keys_and_values_are_json_as_go_writes_it() -> None:
    assert serialize_element(key({"name": "<a&b>"})) == 'k:{"name":"\\u003ca\\u0026b\\u003e"}'
    assert serialize_element(value(1.0)) == "v:1"
    assert go_json({"b": 1, "a": [2.5, None]}) == '{"a":[2.5,null],"b":1}'


def test_the_truth_of_a_set_does_not_count_its_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """``with_prefix`` and the updater test sets for emptiness on every write; counting walked the tree."""
    full = FieldSet.of(p("spec", "a"), p("status"))

    def counted(self: FieldSet) -> int:
        raise AssertionError("len() walked the set to tell whether it is empty")

    monkeypatch.setattr(FieldSet, "__len__", counted)
    assert full
    assert full.with_prefix(field("spec"))
    assert not FieldSet()
    assert not full.with_prefix(field("metadata"))
