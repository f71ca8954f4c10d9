"""What the gateway and the activators read from Endpoints (zeroserve/kubernetes/dataplane.py): the
serving port's addresses, the revision from the labels the SKS copies, and an activator's place
among those in a revision's public Endpoints."""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.kubernetes.dataplane import ActivatorFeed, GatewayFeed, serving_addresses


def endpoints(service_type: str, ready: list[str], not_ready: tuple[str, ...] = (), port: str = "http") -> Obj:
    number = 8013 if port == "http2" else 8012
    return {
        "metadata": {
            "name": "hello-00001" if service_type == "Public" else "hello-00001-private",
            "namespace": "default",
            "labels": {
                "serving.knative.dev/revision": "hello-00001",
                "networking.internal.knative.dev/serverlessservice": "hello-00001",
                "networking.internal.knative.dev/serviceType": service_type,
            },
        },
        "subsets": [
            {
                "addresses": [{"ip": ip} for ip in ready],
                "notReadyAddresses": [{"ip": ip} for ip in not_ready],
                "ports": [
                    {"name": port, "port": number},
                    {"name": "https", "port": 8112},
                    {"name": "http-autometric", "port": 9090},
                ],
            }
        ],
    }


def test_serving_addresses_are_the_serving_ports() -> None:
    ready, not_ready, h2c = serving_addresses(endpoints("Private", ["10.0.0.2", "10.0.0.1"], ("10.0.0.3",)))
    assert ready == [("10.0.0.1", 8012), ("10.0.0.2", 8012)] and not_ready == [("10.0.0.3", 8012)] and not h2c
    assert serving_addresses(endpoints("Private", ["10.0.0.1"], port="http2")) == ([("10.0.0.1", 8013)], [], True)
    assert serving_addresses({"metadata": {"name": "x"}}) == ([], [], False)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def set_endpoints(
        self, namespace: str, revision: str, endpoints: list[tuple[str, int]], *, h2c: bool = False
    ) -> None:
        self.calls.append(("endpoints", namespace, revision, endpoints, h2c))

    def set_activators(self, namespace: str, revision: str, activators: int, index: int) -> None:
        self.calls.append(("activators", namespace, revision, activators, index))


def test_the_gateway_follows_the_public_endpoints_only() -> None:
    gateway = Recorder()
    feed = GatewayFeed(gateway)
    feed.apply(endpoints("Private", ["10.0.0.1"]), False)
    feed.apply(endpoints("Public", ["10.1.0.1"], ("10.1.0.9",)), False)
    feed.apply(endpoints("Public", ["10.1.0.1"], port="http2"), False)
    feed.apply(endpoints("Public", ["10.1.0.1"]), True)
    assert gateway.calls == [
        ("endpoints", "default", "hello-00001", [("10.1.0.1", 8012)], False),  # ready ones only
        ("endpoints", "default", "hello-00001", [("10.1.0.1", 8013)], True),
        ("endpoints", "default", "hello-00001", [], False),
    ]


def test_an_activator_learns_the_pods_and_its_place() -> None:
    throttler = Recorder()
    feed = ActivatorFeed(throttler, "10.1.0.2")
    feed.apply(endpoints("Private", ["10.0.0.1"], ("10.0.0.2",)), False)  # probes the not-ready itself
    feed.apply(endpoints("Public", ["10.1.0.3", "10.1.0.2", "10.1.0.1"]), False)
    feed.apply(endpoints("Public", ["10.1.0.1", "10.1.0.4"]), False)  # not in the path: nothing changes
    feed.apply(endpoints("Public", ["10.0.0.1"]), False)  # serve mode: the pods, nothing changes
    feed.apply(endpoints("Private", ["10.0.0.1"]), True)
    assert throttler.calls == [
        ("endpoints", "default", "hello-00001", [("10.0.0.1", 8012), ("10.0.0.2", 8012)], False),
        ("activators", "default", "hello-00001", 3, 1),
        ("endpoints", "default", "hello-00001", [], False),
    ]
