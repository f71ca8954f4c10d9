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
