"""A cold start through Kubernetes mode's data plane, in CI: ``zeroserve kubernetes controller``'s
process and ``zeroserve kubernetes activator``'s on the API double, and for the revision's pod a
real queue-proxy process and a real app on 127.0.0.1 (the pod's IP, as the kubelet would report it).
The test writes what the cluster's own parts would: the pod, and the Endpoints of the private
Service, the activators' and the autoscaler's Services (the endpoints controller's).

The revision starts at zero replicas. The SKS points its public Endpoints at the activator; the
gateway sends the request there; the activator holds it and reports it to the controller's stat
server; the KPA scales the Deployment to one; once the pod is in the private Endpoints the
activator probes it and forwards the request. Then the SKS switches to serve mode and the next
request goes from the gateway straight to the pod."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.kubernetes.conftest import Double, hello
from tests.kubernetes.test_kubernetes_controller_functional import _condition, _get, install, until
from tests.queue.qp_app import App, run_app
from tests.queue.test_queue_proxy_process import env_for, start_queue_proxy
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, CORE_SERVICE, REVISION, ROUTE
from zeroserve.cli import kubeactivator, kubeserve
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.kinds import DEPLOYMENT, ENDPOINTS, POD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def app() -> AsyncIterator[App]:
    async with run_app() as app:
        yield app


def as_kubelet_runs_it(deployment: Obj, serving: int, admin: int) -> Obj:
    """The revision's pod: its Deployment's template, its queue-proxy's ports those a real process
    listens on here (the kubelet would have started it on 8012 / 8022 in the pod's own network)."""
    template = deployment["spec"]["template"]
    spec = template["spec"]
    for container in spec["containers"]:
        if container["name"] == "queue-proxy":
            container["ports"] = [p for p in container["ports"] if p["name"] != "queue-port"]
            container["ports"].append({"name": "queue-port", "containerPort": serving})
            container["env"] = [e for e in container["env"] if e["name"] != "QUEUE_ADMIN_PORT"]
            container["env"].append({"name": "QUEUE_ADMIN_PORT", "value": str(admin)})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello-00001-deployment-5f7d9-x2x9k", "namespace": "default", **template["metadata"]},
        "spec": spec,
    }


def endpoints(namespace: str, name: str, port: int, labels: dict[str, str] | None = None) -> Obj:
    """Endpoints as the endpoints controller writes them: one ready address, 127.0.0.1, on ``port``
    named ``http`` (the Service's port name), with the Service's labels."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}],
    }


async def get_headers(client: aiohttp.ClientSession, gateway: int) -> dict[str, str]:
    host = "hello.default.example.com"
    async with client.get(f"http://127.0.0.1:{gateway}/headers", headers={"Host": host}) as r:
        assert r.status == 200, await r.text()
        got = await r.json()
    assert got["host"] == "hello.default.example.com"  # the app sees the route's host
    return {k.lower(): v for k, v in got["headers"]}


async def public_addresses(cluster: Double) -> list[tuple[str, int]]:
    eps = await _get(cluster.store, ENDPOINTS, "default", "hello-00001") or {}
    return [
        (a["ip"], p["port"]) for s in eps.get("subsets") or [] for a in s.get("addresses") or [] for p in s["ports"]
    ]


async def test_a_cold_start_goes_through_an_activator_and_serve_mode_straight_to_the_pod(
    cluster: Double, app: App
) -> None:
    await install(cluster)
    autoscaler = {"initial-scale": "0", "allow-zero-initial-scale": "true", "target-burst-capacity": "0"}
    config = {"metadata": {"name": "config-autoscaler", "namespace": "knative-serving"}, "data": autoscaler}
    await cluster.store.create(CONFIGMAP, config)
    # Knative's default domain on a cluster, svc.cluster.local, is cluster-local: a real one is set, as its docs say
    domain = {"metadata": {"name": "config-domain", "namespace": "knative-serving"}, "data": {"example.com": ""}}
    await cluster.store.create(CONFIGMAP, domain)
    proc, serving, admin = await start_queue_proxy(env_for(app, SERVING_NAMESPACE="default"))
    gateway, stats, activator_port = free_port(), free_port(), free_port()
    await cluster.store.create(ENDPOINTS, endpoints("knative-serving", "autoscaler", stats))
    await cluster.store.create(ENDPOINTS, endpoints("knative-serving", "activator-service", activator_port))
    settings = kubeserve.Settings(
        "dev.local/zeroserve:test",
        gateway=("127.0.0.1", gateway),
        internal=("127.0.0.1", 0),
        stats=("127.0.0.1", stats),
        webhook=None,
        metrics=None,
    )
    activator_settings = kubeactivator.Settings("127.0.0.1", host="127.0.0.1", ports=(activator_port,), metrics=None)
    listening: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
    controller = asyncio.create_task(kubeserve.serve(cluster.conn, settings))
    activator = asyncio.create_task(kubeactivator.serve(cluster.conn, activator_settings, listening))
    try:
        assert await listening == [activator_port]
        async with KubeApi(cluster.conn) as api:  # a user's kubectl apply, admitted as the webhook would
            await api.request("POST", "/apis/serving.knative.dev/v1/namespaces/default/services", body=hello())
        deployment = await until(lambda: _get(cluster.store, DEPLOYMENT, "default", "hello-00001-deployment"))
        assert isinstance(deployment, dict) and deployment["spec"]["replicas"] == 0
        # proxy mode: the public Endpoints are the activator's
        assert await until(lambda: public_addresses(cluster)) == [("127.0.0.1", activator_port)]
        private = await cluster.store.get(CORE_SERVICE, "default", "hello-00001-private")

        async def routed() -> bool:  # at zero replicas from the start, the revision is Ready and routed
            return _condition(await _get(cluster.store, ROUTE, "default", "hello"), "Ready") == "True"

        await until(routed)
        assert private["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        async with aiohttp.ClientSession() as client:
            first = asyncio.create_task(get_headers(client, gateway))

            async def scaled() -> Obj | None:
                d = await _get(cluster.store, DEPLOYMENT, "default", "hello-00001-deployment")
                return d if d and d["spec"].get("replicas") == 1 else None

            deployment = await until(scaled)  # the activator's report scaled it from zero
            assert isinstance(deployment, dict) and not first.done()
            pod = await cluster.store.create(POD, as_kubelet_runs_it(deployment, serving, admin))
            pod["status"] = {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
            }
            await cluster.store.update_status(POD, pod)
            labels = private["metadata"]["labels"]
            await cluster.store.create(ENDPOINTS, endpoints("default", "hello-00001-private", serving, labels))
            held = await asyncio.wait_for(first, 15)
            assert held["k-proxy-request"] == "activator"  # it came through the activator
            assert "knative-serving-revision" not in held  # which took the gateway's marks off

            async def serve_mode() -> bool:
                return await public_addresses(cluster) == [("127.0.0.1", serving)]

            await until(serve_mode)
            direct = await get_headers(client, gateway)
            assert "k-proxy-request" not in direct  # straight to the pod's queue-proxy
            assert direct["knative-serving-revision"] == "hello-00001"  # marked, as Knative's ingress does

        async def ready() -> bool:
            return _condition(await _get(cluster.store, REVISION, "default", "hello-00001"), "Ready") == "True"

        await until(ready)
    finally:
        for task in (activator, controller):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        proc.terminate()
        await proc.wait()
