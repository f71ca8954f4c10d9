"""KubernetesRuntime on the API double: what it reads of a revision's Deployment and pods (the
test writes them as the cluster's Deployment controller and kubelet would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.kubernetes.conftest import Double
from zeroserve.api.base import Obj
from zeroserve.config import Config
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.kinds import DEPLOYMENT, POD
from zeroserve.kubernetes.runtime import KubernetesRuntime
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.runtime.base import Endpoint, Failure, WorkloadKey

KEY = WorkloadKey("default", "hello-00001")
LABELS = {"serving.knative.dev/revision": "hello-00001", "serving.knative.dev/service": "hello"}


@pytest.fixture
async def runtime(cluster: Double) -> AsyncIterator[KubernetesRuntime]:
    store = KubernetesStore(KubeApi(cluster.conn), selectors={POD: "serving.knative.dev/revision"})
    rt = KubernetesRuntime(store, Config, "dev.local/zeroserve:test")
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()
        await store.close()


def deployment(replicas: int, status: Obj) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello-00001-deployment", "namespace": "default", "labels": LABELS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}},
        },
        "status": status,
    }


async def pod(cluster: Double, name: str, status: Obj, **meta: object) -> Obj:
    created = await cluster.store.create(
        POD,
        {
            "metadata": {"name": name, "namespace": "default", "labels": LABELS, **meta},
            "spec": {"containers": [{"name": "user-container", "image": "x"}]},
        },
    )
    created["status"] = status
    written: Obj = await cluster.store.update_status(POD, created)
    return written


def ready(ip: str) -> Obj:
    return {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}


def starting(ip: str) -> Obj:
    return {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "False"}]}


async def settled(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not callable(check) or not check():
            await asyncio.sleep(0.01)  # wait-ok: polling interval of a deadline-bounded wait


async def test_endpoints_are_ready_pods_and_the_activator_gets_starting_ones_too(
    cluster: Double, runtime: KubernetesRuntime
) -> None:
    changed: list[WorkloadKey] = []
    runtime.subscribe(changed.append)
    assert runtime.status(KEY) is None
    d = await cluster.store.create(DEPLOYMENT, deployment(2, {}))
    d["status"] = {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1}
    await cluster.store.update_status(DEPLOYMENT, d)
    await pod(cluster, "hello-00001-deployment-a", ready("10.244.0.7"))
    await pod(cluster, "hello-00001-deployment-b", starting("10.244.0.8"))
    await pod(cluster, "hello-00001-deployment-c", {"phase": "Pending"})  # no IP yet
    cached = runtime.store.cached_list
    await settled(lambda: len(cached(POD)) == 3 and (s := runtime.status(KEY)) is not None and s.ready == 1)
    status = runtime.status(KEY)
    assert status is not None and (status.desired, status.ready, status.failure) == (2, 1, None)
    assert status.endpoints == (Endpoint("10.244.0.7", 8012, 8022),)
    assert runtime.serving() == [("default", "hello-00001")]
    assert runtime.owners("default", "hello-00001") == ("", "")  # no Revision cached: no names
    assert KEY in changed  # every Deployment or pod event announces its revision
    assert runtime.keys() == [KEY]


@pytest.mark.parametrize(
    ("deployment_status", "pod_status", "want"),
    [
        (  # a container that exited: Knative's ExitCode reason and message
            {"replicas": 1},
            {
                "containerStatuses": [
                    {"name": "queue-proxy", "state": {"running": {}}},
                    {
                        "name": "user-container",
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 3, "message": "boom"}},
                    },
                ]
            },
            Failure("ExitCode3", "Container failed with: boom"),
        ),
        (  # waiting before the progress deadline: not a failure yet
            {"replicas": 1},
            {"containerStatuses": [{"name": "user-container", "state": {"waiting": {"reason": "ErrImageNeverPull"}}}]},
            None,
        ),
        (  # waiting once the deadline passed: the waiting reason
            {
                "replicas": 1,
                "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
            },
            {
                "containerStatuses": [
                    {
                        "name": "user-container",
                        "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "never pull"}},
                    }
                ]
            },
            Failure("ErrImageNeverPull", "never pull"),
        ),
        (  # some pod available: nothing to report
            {"replicas": 1, "availableReplicas": 1},
            {"containerStatuses": [{"name": "user-container", "lastState": {"terminated": {"exitCode": 1}}}]},
            None,
        ),
    ],
)
async def test_failures_read_as_knative_reads_them(
    cluster: Double, runtime: KubernetesRuntime, deployment_status: Obj, pod_status: Obj, want: Failure | None
) -> None:
    d = await cluster.store.create(DEPLOYMENT, deployment(1, {}))
    d["status"] = deployment_status
    await cluster.store.update_status(DEPLOYMENT, d)
    await pod(cluster, "hello-00001-deployment-a", {"phase": "Running", **pod_status})
    await settled(lambda: runtime.status(KEY) is not None and len(runtime.store.cached_list(POD)) == 1)
    await settled(lambda: (s := runtime.status(KEY)) is not None and s.failure == want)
