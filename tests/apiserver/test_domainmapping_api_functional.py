"""DomainMapping (namespaced) and ClusterDomainClaim (cluster-scoped) over the real API server with
real admission: paths as the Kubernetes API serves CRDs of each scope, discovery, validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import admitted_session, call
from zeroserve.apiserver import ADMIN_USER

DMS = "/apis/serving.knative.dev/v1beta1/namespaces/default/domainmappings"
CDCS = "/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for session in admitted_session(tmp_path):
        yield session


def claim(name: str = "hello.example.com", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "ClusterDomainClaim",
        "metadata": {"name": name, **meta},
        "spec": {"namespace": "default"},
    }


def mapping(name: str = "hello.example.com") -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1beta1",
        "kind": "DomainMapping",
        "metadata": {"name": name},
        "spec": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello"}},
    }


async def test_a_cluster_scoped_claim_has_no_namespace(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", CDCS, json=claim(namespace="default"))
    assert status == 201, body
    assert "namespace" not in body["metadata"]  # Kubernetes clears it for a cluster-scoped kind
    status, body = await call(http, "GET", f"{CDCS}/hello.example.com")
    assert (status, body["spec"]) == (200, {"namespace": "default"})
    status, body = await call(http, "PUT", f"{CDCS}/hello.example.com", json={**body, "spec": {"namespace": "b"}})
    assert status == 200 and "namespace" not in body["metadata"], body
    namespaced = "/apis/networking.internal.knative.dev/v1alpha1/namespaces/default/clusterdomainclaims"
    status, _ = await call(http, "GET", f"{namespaced}/hello.example.com")
    assert status == 404
    status, body = await call(http, "GET", CDCS)
    assert [i["metadata"]["name"] for i in body["items"]] == ["hello.example.com"]
    status, body = await call(http, "POST", CDCS, json={**claim(), "spec": {}})
    assert status == 422
    assert [(c["message"], c["field"]) for c in body["details"]["causes"]] == [("missing field(s)", "spec.namespace")]
    status, _ = await call(http, "DELETE", f"{CDCS}/hello.example.com")
    assert status == 200


async def test_a_mapping_is_defaulted_and_validated(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", DMS, json=mapping())
    assert status == 201, body
    assert body["spec"]["ref"]["namespace"] == "default"
    assert body["metadata"]["annotations"]["serving.knative.dev/creator"] == ADMIN_USER
    status, body = await call(http, "POST", DMS, json=mapping("hello"))
    assert status == 422
    assert [(c["message"], c["field"]) for c in body["details"]["causes"]] == [
        (
            'invalid name "hello": name: Invalid value: "hello": should be a domain with at least two segments '
            "separated by dots",
            "metadata.name",
        )
    ]


async def test_discovery_lists_both(http: aiohttp.ClientSession) -> None:
    _, body = await call(http, "GET", "/apis/serving.knative.dev/v1beta1")
    dm = next(r for r in body["resources"] if r["name"] == "domainmappings")
    assert (dm["kind"], dm["namespaced"], dm["shortNames"]) == ("DomainMapping", True, ["dm"])
    _, body = await call(http, "GET", "/apis/networking.internal.knative.dev/v1alpha1")
    cdc = next(r for r in body["resources"] if r["name"] == "clusterdomainclaims")
    assert (cdc["kind"], cdc["namespaced"], cdc["shortNames"]) == ("ClusterDomainClaim", False, ["cdc"])
    _, body = await call(http, "GET", "/apis/serving.knative.dev")
    assert body["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in body["versions"]] == ["v1", "v1beta1"]
