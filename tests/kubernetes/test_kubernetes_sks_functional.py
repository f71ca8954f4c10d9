"""The ServerlessService on a cluster (zeroserve/kubernetes/sks.py) against the API double: the
revision's private and public Services, and public Endpoints that follow the private Service's
and the activators' Endpoints (which the tests write, as the cluster's endpoints controller would)."""

from __future__ import annotations

from tests.kubernetes.conftest import Double, hello
from tests.kubernetes.test_kubernetes_controller_functional import _get, install, running_controller, until
from tests.support.kubeschema import validate
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CORE_SERVICE, SERVERLESSSERVICE
from zeroserve.controller.resources.sksservices import choose_subset
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.kinds import ENDPOINTS

ACTIVATORS = [f"10.1.0.{i}" for i in range(1, 8)]


def endpoints(namespace: str, name: str, ips: list[str], labels: dict[str, str] | None = None) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "http", "port": 8012}]}],
    }


def ips(eps: Obj | None) -> set[str]:
    return {a["ip"] for s in (eps or {}).get("subsets") or [] for a in s.get("addresses") or []}


def condition(obj: Obj | None, kind: str) -> tuple[str, str]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status")), str(c.get("reason", ""))
    return "", ""


async def apply(double: Double, service: Obj) -> None:
    async with KubeApi(double.conn) as api:  # a user's kubectl apply, admitted as the webhook would
        await api.request("POST", "/apis/serving.knative.dev/v1/namespaces/default/services", body=service)


async def test_the_public_endpoints_follow_the_pods_and_the_activators(cluster: Double) -> None:
    await install(cluster)
    async with running_controller(cluster):
        await apply(cluster, hello())
        public = await until(lambda: _get(cluster.store, ENDPOINTS, "default", "hello-00001"))
        assert isinstance(public, dict) and ips(public) == set()  # no activator, no pod: nothing yet
        validate(public)
        private_service = await cluster.store.get(CORE_SERVICE, "default", "hello-00001-private")
        public_service = await cluster.store.get(CORE_SERVICE, "default", "hello-00001")
        for service in (private_service, public_service):
            validate(service)
        assert "selector" not in public_service["spec"]  # its Endpoints are written

        await cluster.store.create(ENDPOINTS, endpoints("knative-serving", "activator-service", ACTIVATORS))

        async def proxied() -> bool:  # the activators' change reached every SKS: its subset of them
            sks = await cluster.store.get(SERVERLESSSERVICE, "default", "hello-00001")
            n = sks["spec"]["numActivators"]  # the KPA sets it; it changes as the revision does
            chosen = choose_subset(set(ACTIVATORS), n, "hello-00001")
            return (
                0 < n < len(ACTIVATORS)
                and ips(await _get(cluster.store, ENDPOINTS, "default", "hello-00001")) == chosen
            )

        await until(proxied)
        assert condition(await _get(cluster.store, SERVERLESSSERVICE, "default", "hello-00001"), "Ready") == (
            "Unknown",
            "NoHealthyBackends",
        )

        labels = private_service["metadata"]["labels"]
        await cluster.store.create(ENDPOINTS, endpoints("default", "hello-00001-private", ["10.0.0.9"], labels))

        async def populated() -> bool:
            sks = await _get(cluster.store, SERVERLESSSERVICE, "default", "hello-00001")
            return condition(sks, "EndpointsPopulated")[0] == "True"

        await until(populated)
        await until(proxied)  # Knative's default burst capacity (200) keeps the activators in one pod's path

        activators = await cluster.store.get(ENDPOINTS, "knative-serving", "activator-service")
        await cluster.store.delete(ENDPOINTS, "knative-serving", "activator-service")
        assert activators

        async def served() -> bool:  # no activator left: Serve, never empty public Endpoints
            return ips(await _get(cluster.store, ENDPOINTS, "default", "hello-00001")) == {"10.0.0.9"}

        await until(served)


async def test_a_service_of_the_name_it_does_not_own_is_not_owned(cluster: Double) -> None:
    await install(cluster)
    taken = {
        "metadata": {"name": "hello-00001", "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }
    await cluster.store.create(CORE_SERVICE, taken)
    async with running_controller(cluster):
        await apply(cluster, hello())

        async def not_owned() -> bool:
            sks = await _get(cluster.store, SERVERLESSSERVICE, "default", "hello-00001")
            return condition(sks, "EndpointsPopulated") == ("False", "NotOwned")

        await until(not_owned)
        sks = await cluster.store.get(SERVERLESSSERVICE, "default", "hello-00001")
        (message,) = [c["message"] for c in sks["status"]["conditions"] if c["type"] == "EndpointsPopulated"]
        assert message == "Resource hello-00001 of type Service is not owned by SKS"
        service = await cluster.store.get(CORE_SERVICE, "default", "hello-00001")
        assert [p["port"] for p in service["spec"]["ports"]] == [80]  # left as it was
        assert "ownerReferences" not in service["metadata"]
