"""DomainMapping reconciler table tests: objects in a real SqliteStore + key -> objects, status and
the gateway's mappings afterwards. Cases follow Knative's pkg/reconciler/domainmapping/table_test.go
(TestReconcile, TestReconcileAutocreateClaimsDisabled); one runs the whole Controller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.domainmapping import DomainMapping, KReference
from zeroserve.api.kinds import CLUSTERDOMAINCLAIM, DOMAINMAPPING, ROUTE, SERVICE
from zeroserve.config import Config, NetworkConfig
from zeroserve.controller.ingress import HostMapping, NullIngress
from zeroserve.controller.reconcilers import domainmapping
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.domainmapping import FINALIZER, ResolveError, target_host
from zeroserve.controller.runner import Controller
from zeroserve.errors import NotFound
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import cond, eventually, service
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

HOST = "first-reconcile.com"
KEY = Key("DomainMapping", "default", HOST)
AUTOCREATE = Config(network=NetworkConfig(autocreate_cluster_domain_claims=True))
TARGET = "target.default.svc.cluster.local"


def mapping(host: str = HOST, ns: str = "default", **ref: Any) -> Obj:
    r = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "target", "namespace": ns, **ref}
    return {
        "apiVersion": "serving.knative.dev/v1beta1",
        "kind": "DomainMapping",
        "metadata": {"name": host, "namespace": ns},
        "spec": {"ref": r},
    }


def claim(host: str = HOST, ns: str = "default") -> Obj:
    return {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "ClusterDomainClaim",
        "metadata": {"name": host},
        "spec": {"namespace": ns},
    }


async def ksvc(env: Env, name: str = "target", address: str | None = f"http://{TARGET}") -> None:
    await env.store.create(SERVICE, service("default", name))
    if address is not None:
        await env.set_status(SERVICE, name, {"address": {"url": address}})


async def reconciled(env: Env, key: Key = KEY) -> Obj:
    assert await domainmapping.reconcile(env.deps, key) is None
    return await env.store.get(DOMAINMAPPING, key.namespace, key.name)


def conditions(obj: Obj) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {c["type"]: cond(obj, c["type"]) for c in obj["status"]["conditions"]}


READY = ("True", None, None)
TLS_NOT_ENABLED = ("True", "TLSNotEnabled", "external-domain-tls is not enabled")
NOT_OWNED = ("False", "DomainAlreadyClaimed", "The domain name is already in use by another DomainMapping")


async def test_first_reconcile_claims_the_host_and_maps_it(env: Env) -> None:
    env.config = AUTOCREATE
    await ksvc(env)
    await env.store.create(DOMAINMAPPING, mapping())
    dm = await reconciled(env)
    assert dm["status"]["url"] == f"http://{HOST}:8080"
    assert dm["status"]["address"] == {"url": f"http://{HOST}:8080"}
    assert dm["status"]["observedGeneration"] == 1
    assert conditions(dm) == {
        "CertificateProvisioned": TLS_NOT_ENABLED,
        "DomainClaimed": READY,
        "IngressReady": READY,
        "Ready": READY,
        "ReferenceResolved": READY,
    }
    assert dm["metadata"]["finalizers"] == [FINALIZER]
    created = await env.store.get(CLUSTERDOMAINCLAIM, "", HOST)
    assert created["spec"] == {"namespace": "default"}
    assert "namespace" not in created["metadata"] and "ownerReferences" not in created["metadata"]
    assert env.ingress.mappings == {("default", HOST): HostMapping("default", HOST, 1, TARGET)}
    before = dm["metadata"]["resourceVersion"]
    assert (await reconciled(env))["metadata"]["resourceVersion"] == before  # nothing changes twice


async def test_key_not_found_withdraws(env: Env) -> None:
    env.ingress.publish_mapping(HostMapping("default", HOST, 1, TARGET))
    assert await domainmapping.reconcile(env.deps, KEY) is None
    assert env.ingress.mappings == {}


async def test_ref_does_not_exist(env: Env) -> None:
    env.config = AUTOCREATE
    await env.store.create(DOMAINMAPPING, mapping())
    dm = await reconciled(env)
    reason = 'failed to get object default/target: services.serving.knative.dev "target" not found'
    assert cond(dm, "ReferenceResolved") == ("False", "ResolveFailed", reason)
    assert cond(dm, "Ready") == ("False", "ResolveFailed", reason)
    assert cond(dm, "DomainClaimed") == READY
    assert env.ingress.mappings == {}


async def test_ref_without_an_address(env: Env) -> None:
    env.config = AUTOCREATE
    await ksvc(env, address=None)
    await env.store.create(DOMAINMAPPING, mapping())
    dm = await reconciled(env)
    assert cond(dm, "ReferenceResolved") == (
        "False",
        "ResolveFailed",
        "address not set for Kind = Service, Namespace = default, Name = target, "
        "APIVersion = serving.knative.dev/v1, Group = , Address = ",
    )


async def test_a_route_is_a_target_too(env: Env) -> None:
    env.config = AUTOCREATE
    route = {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": {"name": "target"}, "spec": {}}
    await env.store.create(ROUTE, {**route, "metadata": {"name": "target", "namespace": "default"}})
    await env.set_status(ROUTE, "target", {"address": {"url": f"http://{TARGET}"}})
    await env.store.create(DOMAINMAPPING, mapping(kind="Route"))
    assert cond(await reconciled(env), "Ready") == READY


def dm_model(ns: str = "default") -> DomainMapping:
    return DomainMapping.model_validate(mapping(ns=ns))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "http://the-target-svc.svc.cluster.local/path",
            'resolved URI "http://the-target-svc.svc.cluster.local/path" contains a path',
            id="path",
        ),
        pytest.param(
            "http://notasvc.cluster.local",
            'resolved URI "http://notasvc.cluster.local" must be of the form {name}.{namespace}.svc.cluster.local',
            id="not-a-service",
        ),
        pytest.param(
            "http://name.anothernamespace.svc.cluster.local",
            'resolved URI "http://name.anothernamespace.svc.cluster.local" must be in same namespace as DomainMapping',
            id="other-namespace",
        ),
        pytest.param("http:///", "hostname missing in address of " + KReference().describe(), id="no-host"),
    ],
)
def test_target_host_refuses(url: str, message: str) -> None:
    dm = dm_model()
    if message.startswith("hostname"):
        dm.spec.ref = KReference()
    with pytest.raises(ResolveError) as info:
        target_host({"status": {"address": {"url": url}}}, dm)
    assert str(info.value) == message


def test_target_host_accepts_a_trailing_slash() -> None:
    assert target_host({"status": {"address": {"url": f"http://{TARGET}/"}}}, dm_model()) == TARGET


async def test_pre_owned_claim(env: Env) -> None:
    await env.store.create(CLUSTERDOMAINCLAIM, claim())
    await ksvc(env)
    await env.store.create(DOMAINMAPPING, mapping())
    assert cond(await reconciled(env), "Ready") == READY  # autocreate off: the claim suffices


@pytest.mark.parametrize("config", [pytest.param(AUTOCREATE, id="autocreate"), pytest.param(Config(), id="manual")])
async def test_a_claim_of_another_namespace(env: Env, config: Config) -> None:
    env.config = config
    await env.store.create(CLUSTERDOMAINCLAIM, claim(ns="wrong-namespace"))
    await ksvc(env)
    await env.store.create(DOMAINMAPPING, mapping())
    env.ingress.publish_mapping(HostMapping("default", HOST, 1, TARGET))  # served before the claim moved
    dm = await reconciled(env)
    assert cond(dm, "DomainClaimed") == NOT_OWNED
    assert cond(dm, "Ready") == NOT_OWNED
    assert cond(dm, "ReferenceResolved") == ("Unknown", None, None)
    assert env.ingress.mappings == {}
    assert (await env.store.get(CLUSTERDOMAINCLAIM, "", HOST))["spec"] == {"namespace": "wrong-namespace"}


async def test_without_autocreate_and_without_a_claim(env: Env) -> None:
    await ksvc(env)
    await env.store.create(DOMAINMAPPING, mapping())
    dm = await reconciled(env)
    assert cond(dm, "DomainClaimed") == NOT_OWNED
    assert dm["status"]["url"] == f"http://{HOST}:8080"
    with pytest.raises(NotFound):
        await env.store.get(CLUSTERDOMAINCLAIM, "", HOST)


async def test_tls_secret_marks_the_certificate_as_provided(env: Env) -> None:
    env.config = Config(network=NetworkConfig(autocreate_cluster_domain_claims=True, external_port=80))
    await ksvc(env)
    obj = mapping()
    obj["spec"]["tls"] = {"secretName": "my-cert"}
    await env.store.create(DOMAINMAPPING, obj)
    dm = await reconciled(env)
    assert cond(dm, "CertificateProvisioned") == (
        "True",
        "CertificateExternallyProvided",
        "TLS certificate was provided externally",
    )
    assert dm["status"]["url"] == f"http://{HOST}"


class SlowIngress(NullIngress):
    def is_mapping_ready(self, namespace: str, host: str, generation: int) -> bool:
        return False


async def test_an_ingress_not_serving_yet_requeues(env: Env) -> None:
    env.config = AUTOCREATE
    env.deps.ingress = SlowIngress()
    await ksvc(env)
    await env.store.create(DOMAINMAPPING, mapping())
    assert await domainmapping.reconcile(env.deps, KEY) == domainmapping.INGRESS_RETRY
    dm = await env.store.get(DOMAINMAPPING, "default", HOST)
    assert cond(dm, "IngressReady") == ("Unknown", "IngressNotConfigured", "Ingress has not yet been reconciled.")


async def delete_mapping(env: Env) -> None:
    await env.store.delete(DOMAINMAPPING, "default", HOST)
    assert (await env.store.get(DOMAINMAPPING, "default", HOST))["metadata"]["deletionTimestamp"]
    assert await domainmapping.reconcile(env.deps, KEY) is None
    with pytest.raises(NotFound):
        await env.store.get(DOMAINMAPPING, "default", HOST)
    assert env.ingress.mappings == {}


async def test_finalize_cleans_up_the_claim(env: Env) -> None:
    env.config = AUTOCREATE
    await ksvc(env)
    await env.store.create(DOMAINMAPPING, mapping())
    await reconciled(env)
    await delete_mapping(env)
    with pytest.raises(NotFound):
        await env.store.get(CLUSTERDOMAINCLAIM, "", HOST)


@pytest.mark.parametrize(
    ("config", "owner"),
    [
        pytest.param(AUTOCREATE, "wrong-namespace", id="unowned"),
        pytest.param(Config(), "default", id="autocreate-off"),
    ],
)
async def test_finalize_keeps_a_claim_it_does_not_manage(env: Env, config: Config, owner: str) -> None:
    env.config = config
    await env.store.create(CLUSTERDOMAINCLAIM, claim(ns=owner))
    await env.store.create(DOMAINMAPPING, mapping())
    await reconciled(env)
    await delete_mapping(env)
    assert (await env.store.get(CLUSTERDOMAINCLAIM, "", HOST))["spec"] == {"namespace": owner}


async def wait_dm(store: SqliteStore, pred: Callable[[Obj], bool]) -> Obj:
    async def probe() -> Obj | None:
        try:
            obj = await store.get(DOMAINMAPPING, "default", HOST)
        except NotFound:
            return None
        return obj if pred(obj) else None

    return await eventually(probe)


async def test_claims_and_targets_reach_the_mapping_through_the_controller() -> None:
    store = await SqliteStore.open(":memory:")
    ingress = NullIngress()
    try:
        async with Controller(store, FakeRuntime(auto_ready=True), Config, ingress=ingress, workers=2):
            await store.create(SERVICE, service("default", "target"))
            await store.create(DOMAINMAPPING, mapping())
            await wait_dm(store, lambda o: cond(o, "DomainClaimed") == NOT_OWNED)
            await store.create(CLUSTERDOMAINCLAIM, claim())  # the claim's event brings the mapping back
            await wait_dm(store, lambda o: cond(o, "Ready") == READY)
            assert ingress.mappings[("default", HOST)].rewrite_host == TARGET
            await store.delete(SERVICE, "default", "target")  # the target's event too
            await wait_dm(store, lambda o: cond(o, "ReferenceResolved")[0] == "False")
            assert ingress.mappings == {}
            await store.delete(DOMAINMAPPING, "default", HOST)
            await eventually(lambda: _gone(store))
            assert (await store.get(CLUSTERDOMAINCLAIM, "", HOST))["spec"] == {"namespace": "default"}
    finally:
        await store.close()


async def _gone(store: SqliteStore) -> bool:
    try:
        await store.get(DOMAINMAPPING, "default", HOST)
    except NotFound:
        return True
    return False
