"""A ServerlessService's Kubernetes Services, Endpoints and EndpointSlices
(controller/resources/sksservices.py, pure): Knative's services.go facts, all valid against
Kubernetes' own schemas."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kubeschema import validate
from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.base import Obj
from zeroserve.api.networking import ServerlessService
from zeroserve.controller.resources.sks import make_sks
from zeroserve.controller.resources.sksservices import (
    filter_subset_ports,
    make_private_service,
    make_public_endpoint_slices,
    make_public_endpoints,
    make_public_service,
)

SELECTOR = {"serving.knative.dev/revisionUID": "rev-uid"}


def sks(protocol: str = "http1") -> ServerlessService:
    """The SKS the KPA makes for a revision's PodAutoscaler."""
    pa = PodAutoscaler.model_validate(
        {
            "metadata": {
                "name": "hello-00001",
                "namespace": "ns",
                "uid": "pa-uid",
                "labels": {"serving.knative.dev/revision": "hello-00001", "app": "hello-00001"},
                "annotations": {"autoscaling.knative.dev/metric": "concurrency", "other": "x"},
            },
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello-00001-deployment"},
                "protocolType": protocol,
            },
        }
    )
    made = make_sks(pa, "Serve", 2)
    made.metadata.uid = "sks-uid"
    return made


OWNER = {
    "apiVersion": "networking.internal.knative.dev/v1alpha1",
    "kind": "ServerlessService",
    "name": "hello-00001",
    "uid": "sks-uid",
    "controller": True,
    "blockOwnerDeletion": True,
}


def labels(service_type: str) -> dict[str, str]:
    return {
        "serving.knative.dev/revision": "hello-00001",
        "app": "hello-00001",
        "networking.internal.knative.dev/serverlessservice": "hello-00001",
        "networking.internal.knative.dev/serviceType": service_type,
    }


def endpoints(*subsets: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "src"}, "subsets": list(subsets)}


def port(name: str, number: int) -> Obj:
    return {"name": name, "port": number, "protocol": "TCP"}


PRIVATE_PORTS = [port("http", 8012), port("https", 8112), port("http-autometric", 9090), port("http-usermetric", 9091)]


@pytest.mark.parametrize(
    ("protocol", "serving"),
    [
        ("http1", {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8012}),
        (
            "h2c",
            {"name": "http2", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c", "port": 81, "targetPort": 8013},
        ),
    ],
)
def test_the_public_service(protocol: str, serving: Obj) -> None:
    svc = make_public_service(sks(protocol))
    validate(svc)
    assert svc["metadata"] == {
        "name": "hello-00001",
        "namespace": "ns",
        "labels": labels("Public"),
        "annotations": {"autoscaling.knative.dev/metric": "concurrency"},
        "ownerReferences": [OWNER],
    }
    assert svc["spec"] == {
        "type": "ClusterIP",
        "ports": [serving, {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8112}],
    }


@pytest.mark.parametrize(("protocol", "name", "target"), [("http1", "http", 8012), ("h2c", "http2", 8013)])
def test_the_private_service(protocol: str, name: str, target: int) -> None:
    svc = make_private_service(sks(protocol), SELECTOR)
    validate(svc)
    assert (svc["metadata"]["name"], svc["metadata"]["labels"]) == ("hello-00001-private", labels("Private"))
    assert svc["metadata"]["ownerReferences"] == [OWNER]
    assert svc["spec"]["selector"] == SELECTOR
    ports = [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]]
    assert ports == [
        (name, 80, target),
        ("https", 443, 8112),
        ("http-autometric", 9090, "http-autometric"),
        ("http-usermetric", 9091, "http-usermetric"),
        (f"{name}-istio", target, target),
    ]


def test_the_public_endpoints_keep_only_the_serving_ports() -> None:
    source = endpoints(
        {
            "addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p1"}}],
            "notReadyAddresses": [{"ip": "10.0.0.2"}],
            "ports": PRIVATE_PORTS,
        }
    )
    ep = make_public_endpoints(sks(), source)
    validate(ep)
    assert ep["metadata"]["name"] == "hello-00001" and ep["metadata"]["labels"] == labels("Public")
    assert ep["subsets"] == [
        {
            "addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p1"}}],
            "notReadyAddresses": [{"ip": "10.0.0.2"}],
            "ports": [port("http", 8012), port("https", 8112)],
        }
    ]
    assert source["subsets"][0]["ports"] == PRIVATE_PORTS  # a copy: the source is untouched


def test_the_activators_endpoints_for_an_h2c_revision() -> None:
    activator = endpoints(
        {"addresses": [{"ip": "10.1.0.1"}], "ports": [port("http", 8012), port("http2", 8013), port("https", 8112)]}
    )
    assert filter_subset_ports(sks("h2c"), activator["subsets"])[0]["ports"] == [
        port("http2", 8013),
        port("https", 8112),
    ]


@pytest.mark.parametrize("source", [endpoints(), {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "x"}}])
def test_no_endpoints_yet(source: Obj) -> None:
    ep = make_public_endpoints(sks(), source)
    validate(ep)
    assert "subsets" not in ep
    assert make_public_endpoint_slices(sks(), source) == []


def test_endpoints_a_backend_mirrors_itself_are_not_mirrored() -> None:
    ep = make_public_endpoints(sks(), endpoints(), skip_mirror=True)
    validate(ep)
    assert ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"


def test_endpoint_slices_by_address_type_and_ports() -> None:
    source = endpoints(
        {
            "addresses": [{"ip": "10.0.0.1", "nodeName": "n1"}, {"ip": "fd00::1"}],
            "notReadyAddresses": [{"ip": "10.0.0.2"}],
            "ports": PRIVATE_PORTS,
        },
        {"addresses": [{"ip": "10.0.0.3"}], "ports": [port("http", 8012)]},
    )
    slices = make_public_endpoint_slices(sks(), source)
    for s in slices:
        validate(s)
    summary: list[tuple[Any, ...]] = [
        (
            s["metadata"]["name"],
            s["addressType"],
            [p["port"] for p in s["ports"]],
            [(e["addresses"][0], e["conditions"]["ready"]) for e in s["endpoints"]],
        )
        for s in slices
    ]
    assert summary == [
        ("hello-00001-0", "IPv4", [8012, 8112], [("10.0.0.1", True), ("10.0.0.2", False)]),
        ("hello-00001-1", "IPv6", [8012, 8112], [("fd00::1", True)]),
        ("hello-00001-2", "IPv4", [8012], [("10.0.0.3", True)]),
    ]
    meta = slices[0]["metadata"]
    assert meta["labels"]["kubernetes.io/service-name"] == "hello-00001"
    assert meta["labels"]["endpointslice.kubernetes.io/managed-by"] == "zeroserve.knative.dev"
    assert meta["ownerReferences"] == [OWNER]
    assert slices[0]["endpoints"][0]["nodeName"] == "n1"
