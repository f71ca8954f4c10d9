"""Server-side apply and managedFields over real HTTP, with the real admission (Knative's defaults)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import SERVICES, admitted_session, service

APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for session in admitted_session(tmp_path):
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        return resp.status, await resp.json()


async def apply(
    http: aiohttp.ClientSession, path: str, obj: Any, manager: str = "kubectl", **query: str
) -> tuple[int, Any]:
    params = {"fieldManager": manager, **query} if manager else query
    body = obj if isinstance(obj, str) else json.dumps(obj)
    return await call(http, "PATCH", path, data=body, headers=APPLY, params=params)


def managers(obj: Any) -> list[tuple[str, str, str]]:
    return [(e["manager"], e["operation"], e.get("subresource", "")) for e in obj["metadata"].get("managedFields", [])]


def fields_of(obj: Any, manager: str) -> Any:
    return next(e["fieldsV1"] for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_apply_creates_reapplies_and_changes(http: aiohttp.ClientSession) -> None:
    code, created = await apply(http, f"{SERVICES}/hello", service("hello", "img:1"))
    assert code == 201, created
    assert managers(created) == [("kubectl", "Apply", "")]
    assert fields_of(created, "kubectl") == {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}
    # Knative's defaults are in the object and owned by nobody
    assert created["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]

    code, again = await apply(http, f"{SERVICES}/hello", service("hello", "img:1"))
    assert code == 200
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # nothing written

    code, changed = await apply(http, f"{SERVICES}/hello", service("hello", "img:2"))
    assert code == 200
    assert changed["metadata"]["generation"] == 2
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"


async def test_a_yaml_body_applies_too(http: aiohttp.ClientSession) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: '1'\n"
    code, created = await apply(http, f"{CONFIGMAPS}/from-yaml", text)
    assert (code, created["data"]) == (201, {"a": "1"})


async def test_a_conflict_is_a_409_with_field_manager_causes_and_force_takes_over(
    http: aiohttp.ClientSession,
) -> None:
    await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="1", b="1"), manager="one")
    code, conflict = await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="2"), manager="two")
    assert code == 409
    assert conflict["reason"] == "Conflict"
    assert conflict["message"] == 'Apply failed with 1 conflict: conflict with "one": .data.a'
    assert conflict["details"] == {
        "causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "one"', "field": ".data.a"}]
    }
    code, forced = await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="2"), manager="two", force="true")
    assert code == 200
    assert forced["data"] == {"a": "2", "b": "1"}
    assert fields_of(forced, "one") == {"f:data": {"f:b": {}}}
    assert fields_of(forced, "two") == {"f:data": {"f:a": {}}}


async def test_a_field_the_applier_stops_applying_is_removed(http: aiohttp.ClientSession) -> None:
    await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="1", b="1"))
    code, pruned = await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="1"))
    assert (code, pruned["data"]) == (200, {"a": "1"})


@pytest.mark.parametrize(
    ("headers", "query", "message"),
    [
        pytest.param(
            APPLY,
            {},
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            id="apply-without-manager",
        ),
        pytest.param(
            MERGE,
            {"force": "true"},
            'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
            id="force-on-merge-patch",
        ),
        pytest.param(
            APPLY,
            {"fieldManager": "x" * 129},
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
            id="long-manager",
        ),
    ],
)
async def test_bad_patch_options(
    http: aiohttp.ClientSession, headers: dict[str, str], query: dict[str, str], message: str
) -> None:
    body = json.dumps(configmap("c", a="1"))
    code, status = await call(http, "PATCH", f"{CONFIGMAPS}/c", data=body, headers=headers, params=query)
    assert (code, status["reason"], status["message"]) == (422, "Invalid", message)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            {**service("hello"), "spec": {"foo": 1}},
            "failed to create typed patch object (/hello; serving.knative.dev/v1, Kind=Service): "
            ".spec.foo: field not declared in schema",
            id="unknown-field",
        ),
        pytest.param(
            service("other"), "the name of the object (other) does not match the name on the URL (hello)", id="name"
        ),
        pytest.param(
            {**service("hello"), "apiVersion": "serving.knative.dev/v2"},
            "invalid object type: serving.knative.dev/v2, Kind=Service",
            id="version",
        ),
        pytest.param("[1]", "error decoding patch: expected an object, got array", id="not-an-object"),
    ],
)
async def test_an_apply_the_server_refuses(http: aiohttp.ClientSession, obj: Any, message: str) -> None:
    code, status = await apply(http, f"{SERVICES}/hello", obj)
    assert (code, status["reason"], status["message"]) == (400, "BadRequest", message)


async def test_updates_are_owned_by_the_field_manager_or_the_user_agent(http: aiohttp.ClientSession) -> None:
    ua = {"User-Agent": "kubectl/v1.37.0 (linux/amd64) kubernetes/abc"}
    code, created = await call(http, "POST", CONFIGMAPS, json=configmap("c", a="1"), headers=ua)
    assert code == 201 and managers(created) == [("kubectl", "Update", "")]
    patch = {"data": {"b": "2"}}
    code, patched = await call(
        http, "PATCH", f"{CONFIGMAPS}/c", json=patch, headers=MERGE, params={"fieldManager": "kubectl-edit"}
    )
    assert code == 200
    assert fields_of(patched, "kubectl-edit") == {"f:data": {"f:b": {}}}
    assert fields_of(patched, "kubectl") == {"f:data": {".": {}, "f:a": {}}}


async def test_a_status_write_is_recorded_with_its_subresource(http: aiohttp.ClientSession) -> None:
    _, created = await call(http, "POST", SERVICES, json=service("hello"), params={"fieldManager": "creator"})
    status = {**created, "status": {"observedGeneration": 1}}
    code, written = await call(
        http, "PUT", f"{SERVICES}/hello/status", json=status, params={"fieldManager": "controller"}
    )
    assert code == 200
    assert sorted(managers(written)) == [("controller", "Update", "status"), ("creator", "Update", "")]
    assert fields_of(written, "controller") == {"f:status": {".": {}, "f:observedGeneration": {}}}
    _, got = await call(http, "GET", f"{SERVICES}/hello")
    assert got["metadata"]["managedFields"] == written["metadata"]["managedFields"]


async def test_dry_run_apply_and_patch_return_the_would_be_object(http: aiohttp.ClientSession) -> None:
    _, created = await apply(http, f"{SERVICES}/hello", service("hello", "img:1"))
    code, preview = await apply(http, f"{SERVICES}/hello", service("hello", "img:2"), dryRun="All")
    assert code == 200
    assert preview["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"
    assert preview["metadata"]["generation"] == 2
    patch = {"spec": {"template": {"spec": {"containers": [{"image": "img:3"}]}}}}
    code, merged = await call(http, "PATCH", f"{SERVICES}/hello", json=patch, headers=MERGE, params={"dryRun": "All"})
    assert code == 200 and merged["metadata"]["generation"] == 2
    _, stored = await call(http, "GET", f"{SERVICES}/hello")
    assert stored == created
    code, new = await apply(http, f"{SERVICES}/other", service("other"), dryRun="All")
    assert code == 201 and new["metadata"]["name"] == "other"
    code, _ = await call(http, "GET", f"{SERVICES}/other")
    assert code == 404


async def test_client_side_apply_moves_to_server_side_for_the_same_user(http: aiohttp.ClientSession) -> None:
    """kubectl apply, then kubectl apply --server-side with a change: the fields kubectl applied
    client-side and nobody changed since are the same user's, not a conflict."""
    old = configmap("c", a="1")
    csa = {**old, "metadata": {"name": "c", "annotations": {LAST_APPLIED: json.dumps(old) + "\n"}}}
    await call(http, "POST", CONFIGMAPS, json=csa, params={"fieldManager": "kubectl-client-side-apply"})
    code, conflict = await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="2"), manager="someone-else")
    assert code == 409
    assert (
        conflict["message"]
        == 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.a'
    )
    code, moved = await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="2"))
    assert (code, moved["data"]) == (200, {"a": "2"})
    assert json.loads(moved["metadata"]["annotations"][LAST_APPLIED]) == configmap("c", a="2")

    # kubectl then moves the client-side manager's fields to its own entry with a JSON patch
    entries = [dict(e) for e in moved["metadata"]["managedFields"]]
    for e in entries:
        if e["manager"] == "kubectl-client-side-apply":
            e.update(manager="kubectl", operation="Apply")
    ops = [
        {
            "op": "replace",
            "path": "/metadata/managedFields",
            "value": [e for e in entries if e["manager"] == "kubectl"],
        },
        {"op": "replace", "path": "/metadata/resourceVersion", "value": moved["metadata"]["resourceVersion"]},
    ]
    code, migrated = await call(
        http, "PATCH", f"{CONFIGMAPS}/c", data=json.dumps(ops), headers=JSON_PATCH, params={"fieldManager": "kubectl"}
    )
    assert code == 200, migrated
    assert [m for m, _, _ in managers(migrated)] == ["kubectl"]


async def test_empty_managed_fields_clear_them(http: aiohttp.ClientSession) -> None:
    await apply(http, f"{CONFIGMAPS}/c", configmap("c", a="1"))
    reset: dict[str, Any] = {"metadata": {"managedFields": [{}]}}
    code, cleared = await call(http, "PATCH", f"{CONFIGMAPS}/c", json=reset, headers=MERGE)
    assert code == 200 and "managedFields" not in cleared["metadata"]


async def test_apply_to_the_status_subresource(http: aiohttp.ClientSession) -> None:
    status_only = {**service("hello"), "status": {"observedGeneration": 7}}
    code, _ = await apply(http, f"{SERVICES}/hello/status", status_only, manager="ctl")
    assert code == 404  # no object to apply a status to
    await apply(http, f"{SERVICES}/hello", service("hello", "img:1"))
    code, written = await apply(http, f"{SERVICES}/hello/status", status_only, manager="ctl")
    assert code == 200, written
    assert written["status"]["observedGeneration"] == 7
    assert written["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    assert ("ctl", "Apply", "status") in managers(written)
    assert fields_of(written, "ctl") == {"f:status": {"f:observedGeneration": {}}}
