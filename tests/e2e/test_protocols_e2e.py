"""HTTP/2 cleartext (h2c) end to end on a real `zeroserve up` (issue 22 item 5): Knative's
TestProtocols (an HTTP/1.1 client reaches an app whose port is named ``h2c`` as HTTP/2.0, an
``http1`` or unnamed one as HTTP/1.1) and gRPC as a Knative user runs it (grpc-ping: the client
dials the gateway with h2c prior knowledge, ``:authority`` names the service), unary, server
streaming and bidirectional, the first call from zero through the activator. Inline queue-proxy
(the default) and sidecar queue-proxies.

The apps (tests/support/h2app.py, tests/support/grpcping.py) need h2 and grpcio: they run on the
interpreter of the tests (``sys.executable``), whose environment has them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import Up, condition, get_object
from tests.support import grpcping
from tests.support.polling import wait_for

ZERO = "config-autoscaler:\n  allow-zero-initial-scale: 'true'\n"


def service(name: str, app: str, port_name: str | None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"command": [sys.executable, f"tests/support/{app}"]}
    if port_name is not None:
        container["ports"] = [{"name": port_name, "containerPort": 8080}]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"metadata": {"annotations": annotations or {}}, "spec": {"containers": [container]}}},
    }


def apply(up: Up, *objects: dict[str, Any]) -> None:
    manifest = "\n---\n".join(json.dumps(o) for o in objects)
    wait_for(lambda: up.cli("apply", "-f", "-", input=manifest, check=False).returncode == 0, 10, "admitted")


def ready(up: Up, name: str) -> None:
    wait_for(lambda: condition(get_object(up, "ksvc", name), "Ready").get("status") == "True", 60, f"{name} Ready")


def at_zero(up: Up, revision: str) -> bool:
    return bool(get_object(up, "revision", revision).get("status", {}).get("actualReplicas") == 0)


def grpc_calls(up: Up, authority: str) -> tuple[bytes, list[bytes], list[bytes]]:
    with grpcping.Client(f"127.0.0.1:{up.port}", authority) as client:
        unary = client.ping(b"hi", timeout=60)
        streamed = list(client.count(b"3", timeout=30))
        chat = list(client.chat(iter([b"a", b"b"]), timeout=30))
    return unary, streamed, chat


def test_protocols_and_grpc_from_zero_through_the_inline_queue(up: Up) -> None:
    up.write_config(ZERO)
    zero = {"autoscaling.knative.dev/initial-scale": "0"}
    apply(
        up,
        service("proto-h2c", "h2app.py", "h2c"),
        service("proto-http1", "h2app.py", "http1"),
        service("proto-default", "h2app.py", None),
        service("grpc", "grpcping.py", "h2c", zero),
    )
    for name in ("proto-h2c", "proto-http1", "proto-default", "grpc"):
        ready(up, name)
    assert up.get("proto-h2c.default.localhost", "/proto") == (200, "HTTP/2.0")
    assert up.get("proto-http1.default.localhost", "/proto") == (200, "HTTP/1.1")
    assert up.get("proto-default.default.localhost", "/proto") == (200, "HTTP/1.1")
    with httpx.Client(http1=False, http2=True) as client:  # an HTTP/2 client, to the gateway itself
        got = client.get(f"http://127.0.0.1:{up.port}/proto", headers={"Host": "proto-http1.default.localhost"})
        assert (got.http_version, got.text) == ("HTTP/2", "HTTP/1.1")
        got = client.get(f"http://127.0.0.1:{up.port}/proto", headers={"Host": "proto-h2c.default.localhost"})
        assert (got.http_version, got.text) == ("HTTP/2", "HTTP/2.0")

    assert at_zero(up, "grpc-00001"), "initial-scale 0: the first call is held by the activator"
    unary, streamed, chat = grpc_calls(up, "grpc.default.localhost")
    assert unary == b"pong: hi from grpc-00001"
    assert streamed == [b"0", b"1", b"2"]
    assert chat == [b"A", b"B"]


def test_protocols_and_grpc_through_sidecar_queue_proxies(tmp_path: Path) -> None:
    h2c_and_grpc_from_zero(Up(tmp_path / "data", args=("--queue-proxy", "sidecar")))


def test_protocols_and_grpc_with_gateway_workers(tmp_path: Path) -> None:
    """``--workers 3``: a gRPC channel lands on any of three processes; the first call from zero is
    relayed to up's activator (over h2c, as it came), the later ones are a worker's own (its activator,
    h2c to the app)."""
    h2c_and_grpc_from_zero(Up(tmp_path / "data", args=("--workers", "3")), rounds=3)


def h2c_and_grpc_from_zero(up: Up, rounds: int = 1) -> None:
    """An h2c app answers over HTTP/2 (on new connections); gRPC's three kinds of call, the first from zero."""
    up.start()
    try:
        up.write_config(ZERO)
        apply(
            up,
            service("proto-h2c", "h2app.py", "h2c"),
            service("grpc", "grpcping.py", "h2c", {"autoscaling.knative.dev/initial-scale": "0"}),
        )
        ready(up, "proto-h2c")
        ready(up, "grpc")
        for _ in range(2 * rounds):  # new connections: each may be accepted by another gateway process
            assert up.get("proto-h2c.default.localhost", "/proto") == (200, "HTTP/2.0")
        assert at_zero(up, "grpc-00001")
        for _ in range(rounds):
            unary, streamed, chat = grpc_calls(up, "grpc.default.localhost")
            assert (unary, streamed, chat) == (b"pong: hi from grpc-00001", [b"0", b"1", b"2"], [b"A", b"B"])
    finally:
        up.stop()
