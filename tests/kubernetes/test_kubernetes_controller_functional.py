"""The Kubernetes backend end to end against the API double (conftest.py); the tests play the
cluster's other parts themselves (the Deployment controller's status, the kubelet's pods)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.kubernetes.conftest import Double, hello
from tests.support.kubeschema import validate
from zeroserve import errors
from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, CONFIGURATION, CORE_SERVICE, NAMESPACE, REVISION, SERVICE
from zeroserve.cli import kubeserve
from zeroserve.config import Config
from zeroserve.kubernetes import controller as kcontroller
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.crds import crds
from zeroserve.kubernetes.kinds import CRD, DEPLOYMENT, POD
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.store import SqliteStore

QUEUE_IMAGE = "dev.local/zeroserve:test"


async def install(double: Double, labelled: str = "zeroserve") -> None:
    """``zeroserve kubernetes manifests``' system namespace and CRDs (``labelled``: as another
    installer labels them)."""
    await double.store.create(NAMESPACE, {"metadata": {"name": "knative-serving"}})
    for obj in crds():
        obj["metadata"]["labels"]["app.kubernetes.io/name"] = labelled
        await double.store.create(CRD, obj)


@contextlib.asynccontextmanager
async def running_controller(double: Double) -> AsyncIterator[asyncio.Task[None]]:
    settings = kubeserve.Settings(
        QUEUE_IMAGE,
        gateway=("127.0.0.1", 0),
        internal=("127.0.0.1", 0),
        webhook=("127.0.0.1", 0),
        stats=("127.0.0.1", 0),
        metrics=("127.0.0.1", 0),
    )
    task = asyncio.create_task(kubeserve.serve(double.conn, settings))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(read: Callable[[], Awaitable[object]], timeout: float = 15.0) -> object:
    """``read()``'s first truthy answer, polled within ``timeout``."""
    async with asyncio.timeout(timeout):
        while not (value := await read()):
            await asyncio.sleep(0.02)  # wait-ok: polling interval of a deadline-bounded wait
        return value


async def _get(store: SqliteStore, kind: object, ns: str, name: str) -> Obj | None:
    with contextlib.suppress(errors.NotFound):
        return await store.get(kind, ns, name)  # type: ignore[arg-type]
    return None


def _condition(obj: Obj | None, kind: str) -> str:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status"))
    return ""


async def test_a_service_becomes_a_deployment_and_its_revision_ready(cluster: Double) -> None:
    await install(cluster)
    async with running_controller(cluster) as task:
        async with KubeApi(cluster.conn) as api:  # a user's kubectl apply, admitted as the webhook would
            await api.request("POST", "/apis/serving.knative.dev/v1/namespaces/default/services", body=hello())
        deployment = await until(lambda: _get(cluster.store, DEPLOYMENT, "default", "hello-00001-deployment"))
        assert isinstance(deployment, dict) and not task.done()
        rev = await cluster.store.get(REVISION, "default", "hello-00001")
        assert deployment["metadata"]["ownerReferences"][0]["uid"] == rev["metadata"]["uid"]
        assert deployment["spec"]["replicas"] == 1
        containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
        assert containers["user-container"]["image"] == "dev.local/helloworld-go"
        assert containers["queue-proxy"]["image"] == QUEUE_IMAGE
        assert _condition(rev, "Ready") != "True"

        # the cluster runs it: the Deployment controller's status, the kubelet's Ready pod
        deployment["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}
        await cluster.store.update_status(DEPLOYMENT, deployment)
        template = deployment["spec"]["template"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "hello-00001-deployment-7d9-abcde", "namespace": "default", **template["metadata"]},
            "spec": template["spec"],
        }
        pod = await cluster.store.create(POD, pod)
        pod["status"] = {"phase": "Running", "podIP": "10.244.0.7", "conditions": [{"type": "Ready", "status": "True"}]}
        await cluster.store.update_status(POD, pod)

        async def ready() -> bool:
            rev = await _get(cluster.store, REVISION, "default", "hello-00001")
            return _condition(rev, "Ready") == "True" and (rev or {})["status"].get("actualReplicas") == 1

        await until(ready)

        async def latest_ready() -> object:
            config = await _get(cluster.store, CONFIGURATION, "default", "hello")
            return ((config or {}).get("status") or {}).get("latestReadyRevisionName")

        assert await until(latest_ready) == "hello-00001"
        placeholder = await until(lambda: _get(cluster.store, CORE_SERVICE, "default", "hello"))
        assert isinstance(placeholder, dict)  # the Route's, to the cluster-local gateway's Service
        assert placeholder["spec"]["externalName"] == "gateway-local.knative-serving.svc.cluster.local"
        validate(placeholder)

        async def url() -> object:  # Knative's default domain on a cluster, and the gateway Service's port
            return ((await _get(cluster.store, SERVICE, "default", "hello") or {}).get("status") or {}).get("url")

        assert await until(url) == "http://hello.default.svc.cluster.local"
        validate(await cluster.store.get(DEPLOYMENT, "default", "hello-00001-deployment"))
        assert pod["metadata"]["labels"][labels.REVISION] == "hello-00001"


async def test_the_deployment_follows_a_changed_revision_config(cluster: Double) -> None:
    await install(cluster)
    async with running_controller(cluster):
        await cluster.store.create(SERVICE, hello())
        first = await until(lambda: _get(cluster.store, DEPLOYMENT, "default", "hello-00001-deployment"))
        assert isinstance(first, dict)
        grace = first["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        await cluster.store.create(
            CONFIGMAP,
            {
                "metadata": {"name": "config-deployment", "namespace": "knative-serving"},
                "data": {"progress-deadline": "77s"},
            },
        )

        async def rolled() -> Obj | None:
            d = await _get(cluster.store, DEPLOYMENT, "default", "hello-00001-deployment")
            return d if d is not None and d["spec"].get("progressDeadlineSeconds") == 77 else None

        second = await until(rolled)
        assert isinstance(second, dict)
        assert second["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == grace
        assert second["metadata"]["uid"] == first["metadata"]["uid"]


async def test_a_cluster_with_knative_serving_is_refused(cluster: Double) -> None:
    async with KubeApi(cluster.conn) as api:
        with pytest.raises(errors.ZeroserveError, match="is not installed: run `zeroserve kubernetes manifests"):
            await kcontroller.check_cluster(api)
        await install(cluster, labelled="knative-serving")
        with pytest.raises(errors.ZeroserveError, match="Knative Serving is installed on this cluster"):
            await kcontroller.check_cluster(api)


async def test_the_cluster_config_follows_its_configmaps(cluster: Double) -> None:
    store = KubernetesStore(KubeApi(cluster.conn))
    config = kcontroller.ClusterConfig(store)
    seen: list[Config] = []
    config.subscribe(seen.append)
    try:
        await config.start()
        assert config.current().domain.domains == {"svc.cluster.local": {}}  # Knative's defaults on a cluster
        assert config.current().network.external_port == 80
        assert config.current().autoscaler == Config().autoscaler
        cm = {
            "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"},
            "data": {"stable-window": "90s"},
        }
        cm = await cluster.store.create(CONFIGMAP, cm)

        async def changed() -> bool:
            return config.current().autoscaler.stable_window == 90

        await until(changed)
        assert len(seen) == 1
        cm["data"] = {"stable-window": "not a duration"}  # a bad edit: logged, the last good one stays
        await cluster.store.update(CONFIGMAP, cm)
        cm = await cluster.store.get(CONFIGMAP, "knative-serving", "config-autoscaler")
        cm["data"]["container-concurrency-target-default"] = "50"
        cm["data"]["stable-window"] = "60s"
        await cluster.store.update(CONFIGMAP, cm)

        async def default_target() -> bool:
            return config.current().autoscaler.container_concurrency_target_default == 50

        await until(default_target)
    finally:
        await config.close()
        await store.close()
