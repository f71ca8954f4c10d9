from __future__ import annotations

import pytest

from zeroserve.api.loading import load_documents
from zeroserve.errors import BadRequest

SVC = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n"


def test_multi_document_yaml_skips_empty_documents() -> None:
    text = "---\n" + SVC.format(name="a") + "---\n\n---\n" + SVC.format(name="b")
    docs = load_documents(text)
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]


def test_json_document() -> None:
    docs = load_documents('{"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "x"}}')
    assert docs == [{"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "x"}}]


def test_list_expands() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: serving.knative.dev/v1, kind: Service, metadata: {name: a}}\n"
        "- {apiVersion: serving.knative.dev/v1, kind: Route, metadata: {name: b}}\n"
    )
    assert [(d["kind"], d["metadata"]["name"]) for d in load_documents(text)] == [("Service", "a"), ("Route", "b")]


def test_empty_text_is_no_documents() -> None:
    assert load_documents("") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            SVC.format(name="a") + "---\n- 1\n- 2\n", "app.yaml: document 1: expected a mapping", id="not-a-mapping"
        ),
        pytest.param("kind: Service\n", "app.yaml: document 0: missing apiVersion", id="no-api-version"),
        pytest.param("apiVersion: v1\n", "app.yaml: document 0: missing kind", id="no-kind"),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems: [3]\n",
            "app.yaml: document 0: items[0]: expected a mapping",
            id="bad-item",
        ),
        pytest.param("a: [\n", "app.yaml: invalid YAML", id="bad-yaml"),
    ],
)
def test_bad_documents(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        load_documents(text, source="app.yaml")
    assert str(info.value).startswith(message)


# -- issue 11, item 6: YAML read as Kubernetes reads it, hostile text bounded ----------------------

HEAD = "apiVersion: serving.knative.dev/v1\nkind: Service\n"


def test_yaml_scalars_become_json_as_in_kubernetes() -> None:
    text = HEAD + "metadata:\n  name: x\n  annotations: {built: 2024-01-01, at: 2024-01-01T10:00:00Z}\n"
    text += "  labels: {1: a, true: b}\n"
    (doc,) = load_documents(text)
    assert doc["metadata"]["annotations"] == {"built": "2024-01-01", "at": "2024-01-01T10:00:00Z"}
    assert doc["metadata"]["labels"] == {"1": "a", "true": "b"}


def test_alias_bomb_is_refused_before_it_expands() -> None:
    anchors = ['  a0: &a0 "lol"\n'] + [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)]
    text = "anchors:\n" + "".join(anchors) + HEAD + "metadata: {name: x}\nspec: *a9\n"
    with pytest.raises(BadRequest) as info:
        load_documents(text, source="bomb.yaml")
    assert str(info.value) == "bomb.yaml: invalid YAML: document contains excessive aliasing (line 1, column 1)"


def test_a_few_aliases_are_fine() -> None:
    text = HEAD + "metadata: {name: x, labels: &l {a: b}, annotations: *l}\n"
    (doc,) = load_documents(text)
    assert doc["metadata"]["annotations"] == doc["metadata"]["labels"] == {"a": "b"}
    assert doc["metadata"]["annotations"] is not doc["metadata"]["labels"]  # a tree, not a graph


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            HEAD + "spec: &a [*a]\n",
            'f.yaml: invalid YAML: anchor "a" value contains itself (line 3, column 7)',
            id="self-alias",
        ),
        pytest.param(
            HEAD + "spec: " + "[" * 500 + "]" * 500 + "\n",
            "f.yaml: invalid YAML: exceeded max depth of 100 (line 3, column 106)",
            id="deep-flow",
        ),
        pytest.param(
            HEAD + "spec: " + "9" * 5000 + "\n",
            "f.yaml: invalid YAML: an integer of 5000 digits is out of range (line 3, column 7)",
            id="huge-int",
        ),
        pytest.param(
            HEAD + "metadata:\n  name: a\n  name: b\n",
            'f.yaml: invalid YAML: mapping key "name" already defined at line 4 (line 5, column 3)',
            id="duplicate-key",
        ),
        pytest.param(
            HEAD + "x: \x01\n", "f.yaml: invalid YAML: unacceptable character #x0001 (line 3, column 4)", id="control"
        ),
        pytest.param(
            HEAD + "a: [\n",
            "f.yaml: invalid YAML: while parsing a flow node, expected the node content, but found '<stream end>' "
            "(line 4, column 1)",
            id="one-line-syntax-error",
        ),
    ],
)
def test_hostile_yaml_is_one_line(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        load_documents(text, source="f.yaml")
    assert str(info.value) == message


def test_every_document_problem_is_reported_with_its_path() -> None:
    text = (
        HEAD
        + "metadata: {name: x, labels: !!set {a}}\nspec: {x: .inf, y: !!binary aGk=, z: {null: 1}}\n---\n"
        + HEAD
        + 'metadata: {name: "\\udc80"}\n---\n- not a resource\n'
    )
    with pytest.raises(BadRequest) as info:
        load_documents(text, source="f.yaml")
    assert str(info.value).splitlines() == [
        "f.yaml: document 0: unsupported YAML type !!set: metadata.labels",
        "f.yaml: document 0: not a finite number (inf): spec.x",
        "f.yaml: document 0: unsupported YAML type !!binary: spec.y",
        "f.yaml: document 0: unsupported map key null: spec.z",
        "f.yaml: document 1: not valid UTF-8 (lone surrogate \\udc80): metadata.name",
        "f.yaml: document 2: expected a mapping (an object with apiVersion and kind), got array",
    ]


def test_load_manifest_says_where_each_resource_came_from() -> None:
    from zeroserve.api.loading import load_manifest

    text = HEAD + "metadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- " + "{apiVersion: v1, kind: Route}\n"
    assert [d.where for d in load_manifest(text)] == ["document 0", "document 1: items[0]"]
