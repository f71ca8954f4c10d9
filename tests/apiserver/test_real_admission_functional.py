"""The API server wired as ``zeroserve up`` wires it: real admission (defaults + validation)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import SERVICES, admitted_session, call, service
from zeroserve.api.kinds import SERVICE
from zeroserve.apiserver import ADMIN_USER


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for session in admitted_session(tmp_path):
        yield session


async def test_create_is_defaulted_and_attributed(http: aiohttp.ClientSession) -> None:
    code, body = await call(http, "POST", SERVICES, json=service("hello"))
    assert code == 201, body
    annotations = body["metadata"].get("annotations", {})
    assert annotations.get("serving.knative.dev/creator") == ADMIN_USER
    assert body["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    assert body["spec"] != service("hello")["spec"], "defaults were applied"
    status = {"status": {"observedGeneration": 1}}
    headers = {"Content-Type": "application/merge-patch+json"}
    code, body = await call(http, "PATCH", f"{SERVICES}/hello/status", data=json.dumps(status), headers=headers)
    assert (code, body["status"]["observedGeneration"]) == (200, 1)
    assert body["metadata"]["generation"] == 1


async def test_invalid_service_gets_causes(http: aiohttp.ClientSession) -> None:
    bad = service("hello", image="")
    bad["spec"]["template"]["spec"]["containerConcurrency"] = -1
    code, body = await call(http, "POST", SERVICES, json=bad)
    assert code == 422, body
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == SERVICE.kind
    fields = {c["field"] for c in body["details"]["causes"] if "field" in c}
    assert "spec.template.spec.containerConcurrency" in fields, body
    assert all(c["reason"] == "FieldValueInvalid" for c in body["details"]["causes"])


# -- issue 11: bad input is a clear 4xx; replace of an unchanged manifest is accepted ------------


def _deep(depth: int) -> bytes:
    return b'{"apiVersion":"serving.knative.dev/v1","kind":"Service","spec":' + b"[" * depth + b"]" * depth + b"}"


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(_deep(990), "the request body exceeded max depth of 100", id="deep-990"),
        pytest.param(_deep(100_000), "the request body exceeded max depth of 100", id="deep-100000"),
        pytest.param(b'{"spec": NaN}', "the request body is not valid JSON: NaN is not a JSON value", id="nan"),
        pytest.param(
            b'{"spec": 1e400}', "the request body is not valid JSON: the number 1e400 is out of range", id="inf"
        ),
        pytest.param(
            b'{"spec": ' + b"9" * 5000 + b"}",
            "the request body is not valid JSON: an integer of 5000 digits is out of range",
            id="huge-int",
        ),
    ],
)
async def test_hostile_bodies_are_400(http: aiohttp.ClientSession, body: bytes, message: str) -> None:
    code, doc = await call(http, "POST", SERVICES, data=io.BytesIO(body), headers=JSON)
    assert (code, doc["reason"]) == (400, "BadRequest"), doc
    assert doc["message"].startswith(message)


async def test_too_large_body_is_413_in_kubernetes_words(http: aiohttp.ClientSession) -> None:
    big = service("big")
    big["metadata"]["annotations"] = {"a": "x" * (4 << 20)}
    code, doc = await call(http, "POST", SERVICES, data=io.BytesIO(json.dumps(big).encode()), headers=JSON)
    assert (code, doc["reason"], doc["message"]) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    )


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        pytest.param(
            ("metadata", "labels"), "x", "metadata.labels", 'invalid type: got "string", expected "map"', id="labels"
        ),
        pytest.param(
            ("spec", "template", "spec", "containers", 0, "env"),
            [{"name": "A", "value": "\udc80"}],
            "spec.template.spec.containers[0].env[0].value",
            "not valid UTF-8 (lone surrogate \\udc80)",
            id="surrogate",
        ),
        pytest.param(
            ("spec", "template", "spec", "containerConcurrency"),
            True,
            "spec.template.spec.containerConcurrency",
            'invalid type: got "boolean", expected "integer"',
            id="bool-for-int",
        ),
    ],
)
async def test_type_errors_are_422_in_knatives_words(
    http: aiohttp.ClientSession, path: tuple[str | int, ...], value: Any, field: str, message: str
) -> None:
    obj = service("hello")
    cur: Any = obj
    for part in path[:-1]:
        cur = cur.setdefault(part, {}) if isinstance(part, str) else cur[part]
    cur[path[-1]] = value
    code, doc = await call(http, "POST", SERVICES, data=json.dumps(obj).encode(), headers=JSON)
    assert code == 422, doc
    assert doc["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": message, "field": field}]


async def test_null_annotations_mean_absent(http: aiohttp.ClientSession) -> None:
    obj = service("hello")
    obj["metadata"]["annotations"] = None
    obj["spec"]["template"]["metadata"] = {"annotations": None}
    code, doc = await call(http, "POST", SERVICES, json=obj)
    assert code == 201, doc


async def test_replace_of_the_unchanged_manifest_with_a_byo_revision_name(http: aiohttp.ClientSession) -> None:
    """``kubectl replace`` of what was applied: the raw manifest and the stored resourceVersion."""
    manifest = service("hello")
    manifest["spec"]["template"]["metadata"] = {"name": "hello-v1"}
    code, created = await call(http, "POST", SERVICES, json=manifest)
    assert code == 201, created
    replaced = json.loads(json.dumps(manifest))
    replaced["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    code, doc = await call(http, "PUT", f"{SERVICES}/hello", json=replaced)
    assert code == 200, doc
    assert doc["metadata"]["generation"] == 1 and doc["spec"] == created["spec"]
    replaced["metadata"]["resourceVersion"] = doc["metadata"]["resourceVersion"]
    replaced["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    code, doc = await call(http, "PUT", f"{SERVICES}/hello", json=replaced)
    assert code == 422 and "Saw the following changes without a name change" in doc["message"], doc
