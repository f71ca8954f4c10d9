"""Fuzz the REST API (issue 11, item 6): a real ApiServer with real admission on 127.0.0.1:0, real
HTTP. Whatever the body of a create, replace or patch, the answer is a Kubernetes ``Status`` below
500 (or the object), in Knative's words, never a 5xx, a traceback or a hang."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.cli_harness import TOKEN, Api, running_api
from tests.fuzz.strategies import BASES, PYDANTIC_WORDS, fuzz_settings, json_values, manifests

PLURALS = {"Service": "services", "Configuration": "configurations", "Route": "routes", "Revision": "revisions"}
BASE = "/apis/serving.knative.dev/v1/namespaces/default"


def _deep(depth: int) -> bytes:
    return b'{"apiVersion":"serving.knative.dev/v1","kind":"Service","spec":' + b"[" * depth + b"]" * depth + b"}"


raw_bodies = st.one_of(
    st.binary(max_size=48),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'"x"',
            b"NaN",
            b'{"metadata": {"name": "fuzz"}, "spec": {"x": Infinity}}',
            b'{"metadata": {"name": 1e400}}',
            b'{"metadata": {"name": "a"}, "spec": ' + b"9" * 5000 + b"}",
            b'{"metadata": {"name": "\\ud800"}}',
            b'{"metadata": null, "spec": null}',
            b"\xff\xfe{",
            _deep(101),
            _deep(990),
            _deep(20_000),
        ]
    ),
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from running_api(tmp_path_factory.mktemp("fuzz-api"))


def request(api: Api, method: str, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    url = urlsplit(api.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def check(status: int, doc: Any) -> None:
    assert status < 500, doc
    if status >= 400:
        assert doc.get("kind") == "Status" and doc.get("code") == status, doc
        assert not any(word in json.dumps(doc) for word in PYDANTIC_WORDS), doc


def _ensure(api: Api, kind_name: str) -> dict[str, Any]:
    """The stored base object of ``kind_name`` (created when missing)."""
    path = f"{BASE}/{PLURALS[kind_name]}"
    name = BASES[kind_name]["metadata"]["name"]
    status, doc = request(api, "GET", f"{path}/{name}", b"")
    if status == 404:
        status, doc = request(api, "POST", path, json.dumps(BASES[kind_name]).encode())
    assert status in (200, 201), doc
    return dict(doc)


def _plural(obj: Any) -> str:
    return PLURALS.get(str(obj.get("kind")) if isinstance(obj, dict) else "", "services")


@given(
    st.one_of(manifests().map(lambda m: json.dumps(m).encode()), raw_bodies), st.sampled_from(list(PLURALS.values()))
)
@fuzz_settings(120)
def test_create_never_fails_on_the_server(api: Api, body: bytes, plural: str) -> None:
    check(*request(api, "POST", f"{BASE}/{plural}", body))
    check(*request(api, "POST", f"{BASE}/{plural}?dryRun=All", body))


@given(st.sampled_from(list(PLURALS)), manifests(), st.booleans())
@fuzz_settings(100)
def test_replace_never_fails_on_the_server(api: Api, kind_name: str, mutated: dict[str, Any], pin: bool) -> None:
    stored = _ensure(api, kind_name)
    body = dict(mutated)
    body["metadata"] = (
        {**(mutated.get("metadata") or {}), "name": stored["metadata"]["name"]}
        if isinstance(mutated.get("metadata"), dict)
        else mutated.get("metadata")
    )
    if pin and isinstance(body["metadata"], dict):
        body["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
    name = stored["metadata"]["name"]
    check(*request(api, "PUT", f"{BASE}/{PLURALS[kind_name]}/{name}", json.dumps(body).encode()))
    check(*request(api, "PUT", f"{BASE}/{PLURALS[kind_name]}/{name}/status", json.dumps(body).encode()))


patches = st.one_of(
    json_values,
    st.lists(
        st.fixed_dictionaries(
            {"op": st.sampled_from(["add", "replace", "remove", "test", "move", "copy", "bogus"])},
            optional={
                "path": st.sampled_from(["/spec", "/metadata/labels/a", "/spec/template/spec/containers/0", "", "x"]),
                "value": json_values,
                "from": st.just("/spec"),
            },
        ),
        max_size=3,
    ),
)


@given(st.sampled_from(list(PLURALS)), patches, st.sampled_from(["merge-patch", "json-patch", "strategic-merge-patch"]))
@fuzz_settings(100)
def test_patch_never_fails_on_the_server(api: Api, kind_name: str, patch: Any, style: str) -> None:
    stored = _ensure(api, kind_name)
    path = f"{BASE}/{PLURALS[kind_name]}/{stored['metadata']['name']}"
    check(*request(api, "PATCH", path, json.dumps(patch).encode(), f"application/{style}+json"))


def test_deep_json_is_a_400(api: Api) -> None:
    """The issue's 990-deep body answered 500 (RecursionError)."""
    for depth in (101, 990, 100_000):
        status, doc = request(api, "POST", f"{BASE}/services", _deep(depth))
        assert (status, doc["reason"]) == (400, "BadRequest"), doc
        assert "exceeded max depth of 100" in doc["message"]


def test_base_objects_are_valid(api: Api) -> None:
    for kind_name in PLURALS:
        assert _ensure(api, kind_name)["metadata"]["resourceVersion"]
