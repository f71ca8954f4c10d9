"""A ServerlessService's Kubernetes Services and Endpoints (controller/resources/sksservices.py,
pure): Knative's services.go facts, all valid against Kubernetes' own schemas; the activators'
subsetting with knative.dev/pkg hash's own expected subsets."""

from __future__ import annotations

import pytest

from tests.support.kubeschema import validate
from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.base import Obj
from zeroserve.api.networking import ServerlessService
from zeroserve.controller.resources.sks import make_sks
from zeroserve.controller.resources.sksservices import (
    _fnv1a64,
    choose_subset,
    filter_subset_ports,
    make_private_service,
    make_public_endpoints,
    make_public_service,
    ready_address_count,
    subset_endpoints,
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


PRIVATE_PORTS = [
    port("http", 8012),
    port("https", 8112),
    port("http-autometric", 9090),
    port("http-usermetric", 9091),
    port("http-istio", 8012),
]


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


PLANETS = {"sun", "moon", "mars", "mercury"}


@pytest.mark.parametrize(
    ("names", "n", "target", "want"),
    [  # knative.dev/pkg hash/hash_test.go's TestChooseSubset and its examples
        (PLANETS, 4, "a target!", PLANETS),
        (PLANETS, 2, "a target!", {"mercury", "moon"}),
        (PLANETS, 2, "something else entirely", {"mercury", "mars"}),
        (PLANETS, 3, "something else entirely", {"mars", "mercury", "sun"}),
        ({"task1", "task2", "task3"}, 1, "my-key1", {"task3"}),
        ({"task1", "task2", "task3"}, 1, "something/another-key", {"task2"}),
        ({"task1", "task2", "task3", "task4", "task5"}, 2, "my-key1", {"task3", "task4"}),
    ],
)
def test_choose_subset_as_knative_does(names: set[str], n: int, target: str, want: set[str]) -> None:
    assert choose_subset(names, n, target) == want


def test_choose_subset_resolves_a_collision() -> None:
    """hash_test.go's TestCollisionHandling: two keys on one angle for this target; rehashed, each
    keeps a place, so choosing all but one of three still leaves both eligible."""
    key1, key2 = "b08006d4-81f9-42ee-808b-ea18a39cbd83", "c9dc8df4-8c8d-4077-8750-6d2c2113a23b"
    target = "e68a64e1-19d8-4855-9ffa-04f49223a059"
    assert _fnv1a64((key1 + target).encode()) % 2048 == _fnv1a64((key2 + target).encode()) % 2048
    chosen = [choose_subset({key1, key2, f"other-{i}"}, 2, target) for i in range(20)]
    assert all(len(c) == 2 for c in chosen)
    assert any(key1 in c for c in chosen) and any(key2 in c for c in chosen)


def test_choose_subset_moves_few_targets_when_an_activator_joins() -> None:
    ten = {f"10.0.0.{i}" for i in range(10)}
    eleven = ten | {"10.0.0.10"}
    moved = 0
    for rev in range(100):
        before, after = choose_subset(ten, 3, f"rev-{rev}"), choose_subset(eleven, 3, f"rev-{rev}")
        moved += len(before - after)
    assert moved < 100  # of 300 places; a plain hash modulo the count would move most of them


def activators(*ips: str) -> Obj:
    ports = [port("http", 8012), port("http2", 8013), port("http-metrics", 9090)]
    return endpoints(
        {"addresses": [{"ip": ip} for ip in ips], "notReadyAddresses": [{"ip": "10.1.9.9"}], "ports": ports}
    )


def test_the_public_endpoints_in_proxy_mode_name_a_subset_of_the_activators() -> None:
    source = activators("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5")
    subset = subset_endpoints(source, "hello-00001", 2)
    assert ready_address_count(subset) == 2 and ready_address_count(source) == 5
    chosen = {a["ip"] for a in subset["subsets"][0]["addresses"]}
    assert chosen == choose_subset({f"10.1.0.{i}" for i in range(1, 6)}, 2, "hello-00001")
    assert subset["subsets"][0]["notReadyAddresses"] == [{"ip": "10.1.9.9"}]
    ep = make_public_endpoints(sks(), subset)
    validate(ep)
    assert ep["subsets"][0]["ports"] == [port("http", 8012)]
    assert subset_endpoints(source, "hello-00001", 0) is source  # 0: all of them
    assert subset_endpoints(source, "hello-00001", 5) is source


def test_a_subset_drops_the_subsets_left_empty() -> None:
    two = endpoints(
        {"addresses": [{"ip": "10.1.0.1"}], "ports": [port("http", 8012)]},
        {"addresses": [{"ip": "10.1.0.2"}], "ports": [port("http", 8012)]},
    )
    subset = subset_endpoints(two, "hello-00001", 1)
    assert len(subset["subsets"]) == 1 and ready_address_count(subset) == 1
