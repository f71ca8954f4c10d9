"""Issue 22 item 7 on a real `zeroserve up`: readiness probes hold traffic. Two instances with an
httpGet readiness probe (periodSeconds 0, Knative's aggressive probing, and 1) both serve once
Ready; one told to turn unready (its probe fails from then on) leaves the rotation: no request
reaches it again while the other keeps answering. A tcpSocket probe holds traffic until the port
opens. (exec probes run inside containers: tests/runtime/test_container_runtime_functional.py and
Knative's TestProbeRuntime; a process workload's exec probe is probed as TCP, with a warning.)"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.e2e.harness import Up
from tests.support.polling import wait_for

HOST = "ready.default.localhost"
APP = ["python3", "tests/apps/readiness.py"]


def manifest(probe: dict[str, Any]) -> str:
    scale = {"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "2"}
    container = {"command": APP, "readinessProbe": probe}
    return json.dumps(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "ready", "namespace": "default"},
            "spec": {"template": {"metadata": {"annotations": scale}, "spec": {"containers": [container]}}},
        }
    )


def idents(up: Up, n: int) -> list[str]:
    """``n`` answers of ``GET /`` over new connections (each may go to either instance)."""
    out = []
    for _ in range(n):
        status, body = up.get(HOST)
        assert status == 200, (status, body)
        out.append(body)
    return out


def unready_one(up: Up) -> str:
    port = int(up.endpoints["gateway"].rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/unready", headers={"Host": HOST})
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "probe",
    [
        pytest.param({"httpGet": {"path": "/healthz"}, "periodSeconds": 1}, id="httpGet-period-1"),
        pytest.param({"httpGet": {"path": "/healthz"}}, id="httpGet-period-0"),
    ],
)
def test_an_instance_that_turns_unready_leaves_the_rotation(up: Up, probe: dict[str, Any]) -> None:
    up.cli("apply", "-f", "-", "--wait", input=manifest(probe))
    both = wait_for(lambda: len(set(seen := idents(up, 20))) == 2 and seen, 30, "both instances serving")
    gone = unready_one(up)
    assert gone in both
    wait_for(lambda: gone not in idents(up, 20), 30, "the unready instance out of the rotation")
    assert set(idents(up, 40)) == set(both) - {gone}


def test_a_tcp_socket_probe_holds_traffic_until_the_port_opens(up: Up) -> None:
    """tcpSocket with periodSeconds 0: Ready only once the app listens, every request answered."""
    up.cli("apply", "-f", "-", "--wait", input=manifest({"tcpSocket": {}}))
    assert len(set(idents(up, 40))) == 2
