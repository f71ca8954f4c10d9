"""A request through the Kubernetes mode's gateway, in CI: ``zeroserve kubernetes controller``'s
process on the API double, and for the revision's pod a real queue-proxy process and a real app on
127.0.0.1 (the pod's IP, as the kubelet would report it). The gateway sends the request through the
activator (proxy mode), which probes the pod's queue-proxy, to the app, and back."""

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
from zeroserve.api.kinds import REVISION, SERVICE
from zeroserve.cli import kubeserve
from zeroserve.kubernetes.kinds import DEPLOYMENT, POD


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


async def test_a_request_goes_through_the_gateway_and_the_activator_to_the_pod(cluster: Double, app: App) -> None:
    await install(cluster)
    proc, serving, admin = await start_queue_proxy(env_for(app, SERVING_NAMESPACE="default"))
    gateway = free_port()
    settings = kubeserve.Settings(
        "dev.local/zeroserve:test",
        gateway=("127.0.0.1", gateway),
        internal=("127.0.0.1", 0),
        webhook=None,
        metrics=None,
    )
    task = asyncio.create_task(kubeserve.serve(cluster.conn, settings))
    try:
        await cluster.store.create(SERVICE, hello())
        deployment = await until(lambda: _get(cluster.store, DEPLOYMENT, "default", "hello-00001-deployment"))
        assert isinstance(deployment, dict)
        pod = await cluster.store.create(POD, as_kubelet_runs_it(deployment, serving, admin))
        pod["status"] = {"phase": "Running", "podIP": "127.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}
        await cluster.store.update_status(POD, pod)
        deployment["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
        await cluster.store.update_status(DEPLOYMENT, deployment)

        async def ready() -> bool:
            return _condition(await _get(cluster.store, REVISION, "default", "hello-00001"), "Ready") == "True"

        await until(ready)
        async with aiohttp.ClientSession() as client:

            async def answer() -> object:
                async with client.get(
                    f"http://127.0.0.1:{gateway}/headers", headers={"Host": "hello.default.localhost"}
                ) as r:
                    return await r.json() if r.status == 200 else None

            got = await until(answer)
        assert isinstance(got, dict)
        assert got["host"] == "hello.default.localhost"  # the app saw the route's host, from the gateway
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        proc.terminate()
        await proc.wait()
