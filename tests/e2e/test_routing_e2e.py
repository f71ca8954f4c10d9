"""Routing state and gradual rollout through a real `zeroserve up` (issue 12, item 1 and the rollout).

Knative: pkg/reconciler/labeler/ and service/resources/configuration.go (revisions of a Service are
born active and go to reserve once the Route is Ready without them), revision/resources/pa.go
(reserve -> Unreachable: min-scale no longer applies), pkg/reconciler/gc/ (reserve revisions are
collected), route/traffic/rollout.go (rollout-duration moves latestRevision traffic in steps).
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.harness import Up
from tests.support.polling import wait_for

FAST = "config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n"
COLLECT = (
    "config-gc:\n  retain-since-create-time: disabled\n  retain-since-last-active-time: 1s\n"
    "  min-non-active-revisions: '0'\n"
)
HELLO = "python3 examples/hello/app.py"
SLOW_HELLO = "sh -c 'sleep 8; exec python3 examples/hello/app.py'"


def get(up: Up, kind: str, name: str) -> dict[str, Any] | None:
    done = up.cli("get", kind, name, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def state(up: Up, rev: str) -> tuple[str | None, str | None]:
    obj = get(up, "revision", rev) or {"metadata": {}}
    meta = obj["metadata"]
    return meta.get("labels", {}).get("serving.knative.dev/routingState"), meta.get("annotations", {}).get(
        "serving.knative.dev/routes"
    )


def instances(up: Up, rev: str) -> int:
    obj = get(up, "revision", rev)
    return int(obj["status"].get("actualReplicas", -1)) if obj else -1


def test_a_revision_superseded_before_it_was_routed_is_reserved_scaled_to_zero_and_collected(up: Up) -> None:
    """min-scale 2; v2 (slow to start) then v3; v3 is Ready first."""
    up.write_config(FAST)
    wait_for(lambda: "6s" in up.cli("config", "show").stdout, 10, "config read")
    up.cli("service", "create", "hello", "--cmd", HELLO, "--scale-min", "2")
    assert instances(up, "hello-00001") == 2
    up.cli("service", "update", "hello", "--cmd", SLOW_HELLO, "--no-wait")
    wait_for(lambda: get(up, "revision", "hello-00002"), 30, "hello-00002")
    assert state(up, "hello-00002") == ("active", "hello")  # born active: its Service routes it
    up.cli("service", "update", "hello", "--cmd", HELLO, "--env", "V=3")
    svc = get(up, "ksvc", "hello")
    assert svc is not None and svc["status"]["latestReadyRevisionName"] == "hello-00003"
    assert [t["revisionName"] for t in svc["status"]["traffic"]] == ["hello-00003"]

    wait_for(lambda: state(up, "hello-00002") == ("reserve", None), 30, "hello-00002 reserve")
    pa = get(up, "pa", "hello-00002")
    assert pa is not None and pa["spec"]["reachability"] == "Unreachable"
    wait_for(lambda: instances(up, "hello-00002") == 0, 90, "hello-00002 at zero despite min-scale 2")
    wait_for(lambda: state(up, "hello-00001") == ("reserve", None), 30, "hello-00001 reserve")
    assert instances(up, "hello-00003") == 2  # the routed one keeps its min-scale

    up.write_config(FAST + COLLECT)
    wait_for(lambda: get(up, "revision", "hello-00002") is None, 30, "hello-00002 collected")
    wait_for(lambda: get(up, "revision", "hello-00001") is None, 30, "hello-00001 collected")
    assert get(up, "revision", "hello-00003") is not None
    assert up.get("hello.default.localhost")[1] == "Hello World! (revision hello-00003)\n"


def test_rollout_duration_moves_traffic_to_the_new_revision_in_steps(up: Up) -> None:
    up.cli(
        "service", "create", "roll", "--cmd", HELLO, "--annotation", "serving.knative.dev/rollout-duration=12s",
    )  # fmt: skip
    up.cli("service", "update", "roll", "--env", "TARGET=Rollout", "--no-wait")
    seen: set[tuple[int, int]] = set()

    def split() -> bool:
        route = get(up, "route", "roll") or {"status": {}}
        traffic = {t["revisionName"]: t["percent"] for t in route["status"].get("traffic", [])}
        if len(traffic) == 2:
            seen.add((traffic["roll-00001"], traffic["roll-00002"]))
        return traffic == {"roll-00002": 100}

    wait_for(split, 60, "all traffic on roll-00002")
    assert len(seen) >= 2, seen  # observed in at least two intermediate steps
    assert all(old + new == 100 and new >= 1 for old, new in seen), seen
    route = get(up, "route", "roll")
    assert route is not None and route["status"]["annotations"]["networking.internal.knative.dev/rollout"]
    assert up.get("roll.default.localhost")[1] == "Hello Rollout! (revision roll-00002)\n"
