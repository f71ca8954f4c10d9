"""The Pod of an instance (controller/resources/pod.py, pure): Knative's labels, the Revision as owner,
containers, phase, conditions and container statuses from the runtime's view."""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.controller.resources.pod import build_pod, pod_labels
from zeroserve.runtime.base import InstanceView

NOW = "2026-01-02T03:04:05Z"
REVISION: Obj = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Revision",
    "metadata": {
        "name": "hello-00001",
        "namespace": "ns",
        "uid": "rev-uid",
        "labels": {
            "serving.knative.dev/configuration": "hello",
            "serving.knative.dev/configurationUID": "cfg-uid",
            "serving.knative.dev/service": "hello",
            "serving.knative.dev/serviceUID": "svc-uid",
            "serving.knative.dev/routingState": "active",
            "serving.knative.dev/route": "hello",
            "team": "a",
        },
    },
    "spec": {
        "timeoutSeconds": 300,
        "containers": [{"image": "example.com/hello:1", "ports": [{"containerPort": 8080}], "args": ["-v"]}],
    },
    "status": {"containerStatuses": [{"name": "user-container", "imageDigest": "example.com/hello@sha256:abc"}]},
}
NAME = "hello-00001-deployment-abcdefghij-klmno"


def view(**kw: object) -> InstanceView:
    defaults: dict[str, object] = {"name": NAME, "started": True, "ready": True, "stopping": False}
    return InstanceView(**{**defaults, "started_at": 1767323045.0, **kw})  # type: ignore[arg-type]


def test_labels_are_knatives_less_route_and_routing_state() -> None:
    assert pod_labels(REVISION) == {
        "serving.knative.dev/configuration": "hello",
        "serving.knative.dev/configurationUID": "cfg-uid",
        "serving.knative.dev/service": "hello",
        "serving.knative.dev/serviceUID": "svc-uid",
        "team": "a",
        "serving.knative.dev/revision": "hello-00001",
        "serving.knative.dev/revisionUID": "rev-uid",
        "app": "hello-00001",
    }
    own_app = {**REVISION, "metadata": {**REVISION["metadata"], "labels": {"app": "mine"}}}
    assert pod_labels(own_app)["app"] == "mine"


def test_a_ready_instance_with_a_queue_proxy() -> None:
    pod = build_pod(REVISION, view(queue_proxy=True), node_name="box", now=NOW)
    meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
    assert (meta["name"], meta["namespace"]) == (NAME, "ns")
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "name": "hello-00001",
            "uid": "rev-uid",
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ]
    assert [c["name"] for c in spec["containers"]] == ["user-container", "queue-proxy"]
    assert spec["containers"][0]["image"] == "example.com/hello@sha256:abc"
    assert spec["containers"][0]["args"] == ["-v"]
    assert spec["nodeName"] == "box" and spec["terminationGracePeriodSeconds"] == 300
    assert status["phase"] == "Running" and status["podIP"] == "127.0.0.1"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    user, queue = status["containerStatuses"]
    assert user["name"] == "user-container" and user["ready"] and user["started"]
    assert user["imageID"] == "example.com/hello@sha256:abc" and user["restartCount"] == 0
    assert user["state"] == {"running": {"startedAt": "2026-01-02T03:04:05Z"}}
    assert queue["name"] == "queue-proxy" and queue["ready"]


def test_an_instance_not_started_is_pending_and_waiting() -> None:
    pod = build_pod(REVISION, view(started=False, ready=False, started_at=None), node_name="box", now=NOW)
    assert pod["status"]["phase"] == "Pending" and pod["status"]["podIP"] is None
    (user,) = pod["status"]["containerStatuses"]
    assert user["state"] == {"waiting": {"reason": "ContainerCreating"}} and not user["started"]
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "False"


def test_restarts_and_transition_times_kept_while_unchanged() -> None:
    first = build_pod(REVISION, view(ready=False), node_name="box", now=NOW)
    later = build_pod(
        REVISION, view(ready=False, restarts=2), node_name="box", now="2026-01-02T03:09:00Z", previous=first
    )
    times = {c["type"]: c["lastTransitionTime"] for c in later["status"]["conditions"]}
    assert times["Ready"] == NOW and later["status"]["startTime"] == NOW
    assert later["status"]["containerStatuses"][0]["restartCount"] == 2
    ready = build_pod(REVISION, view(), node_name="box", now="2026-01-02T03:10:00Z", previous=later)
    assert {c["type"]: c["lastTransitionTime"] for c in ready["status"]["conditions"]}[
        "Ready"
    ] == "2026-01-02T03:10:00Z"


def test_a_crashed_instance_waits_in_crash_loop_back_off_with_its_last_exit() -> None:
    crashed = view(
        started=False, ready=False, started_at=None, restarts=1, waiting="CrashLoopBackOff", last_exit=(137, "Error")
    )
    pod = build_pod(REVISION, crashed, node_name="box", now=NOW)
    assert pod["status"]["phase"] == "Running"
    (user,) = pod["status"]["containerStatuses"]
    assert user["state"] == {"waiting": {"reason": "CrashLoopBackOff"}} and user["restartCount"] == 1
    assert user["lastState"] == {"terminated": {"exitCode": 137, "reason": "Error"}}
