"""Issue 22 item 7 on a real `zeroserve up`: readiness probes hold traffic. Two instances with an
httpGet readiness probe both serve once Ready; one told to turn unready (its probe fails from then
on) leaves the rotation: no request reaches it again while the other keeps answering. httpGet and
tcpSocket probes with periodSeconds 0 (Knative's aggressive probing) hold traffic until ready.
(exec probes run inside containers: tests/runtime/test_container_runtime_functional.py and Knative's
TestProbeRuntime; a process workload's exec probe is probed as TCP, with a warning.)"""

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


def test_an_instance_that_turns_unready_leaves_the_rotation(up: Up) -> None:
    probe = {"httpGet": {"path": "/healthz"}, "periodSeconds": 1}
    up.cli("apply", "-f", "-", "--wait", input=manifest(probe))
    both = wait_for(lambda: len(set(seen := idents(up, 20))) == 2 and seen, 30, "both instances serving")
    gone = unready_one(up)
    assert gone in both
    wait_for(lambda: gone not in idents(up, 20), 30, "the unready instance out of the rotation")
    assert set(idents(up, 40)) == set(both) - {gone}


@pytest.mark.parametrize(
    "probe",
    [
        pytest.param({"httpGet": {"path": "/healthz"}}, id="httpGet-period-0"),
        pytest.param({"tcpSocket": {}}, id="tcpSocket-period-0"),
    ],
)
def test_aggressive_probes_hold_traffic_until_ready(up: Up, probe: dict[str, Any]) -> None:
    """periodSeconds 0 (Knative's aggressive probing at start): Ready only once the probe passes,
    then every request answered by both instances. (After start such a probe runs every 10 s with
    failureThreshold 3, as the kubelet's default period under Knative's queue-proxy probe, so turning
    unready takes ~30 s: the period-1 test above covers leaving the rotation.)"""
    up.cli("apply", "-f", "-", "--wait", input=manifest(probe))
    assert len(set(idents(up, 40))) == 2
