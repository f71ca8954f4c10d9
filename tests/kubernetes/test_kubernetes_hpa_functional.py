"""HPA-class PodAutoscalers on a cluster (zeroserve/kubernetes/hpa.py, Knative's hpa.go) against the
API double: the controller keeps an autoscaling/v2 HorizontalPodAutoscaler per PA and reports its
status; the test plays the kube-controller-manager's HPA controller (it writes the HPA's status)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.kubernetes.conftest import Double, hello
from tests.kubernetes.test_kubernetes_controller_functional import install, running_controller
from tests.support.kubeschema import validate
from zeroserve import errors
from zeroserve.api import annotations as ann
from zeroserve.api.base import INT32_MAX, Obj
from zeroserve.api.kinds import CONFIGMAP, PODAUTOSCALER, SERVERLESSSERVICE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.ingress import NullIngress
from zeroserve.controller.reconcilers.base import Deps, Key
from zeroserve.controller.resources.hpa import defaulted_spec
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.controller import WATCHED
from zeroserve.kubernetes.hpa import ClusterHPAReconciler
from zeroserve.kubernetes.kinds import DEPLOYMENT, HPA
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.testing import cond, eventually

HPA_CLASS = {ann.CLASS: ann.HPA, ann.METRIC: "cpu", ann.TARGET: "70"}
NAME = "hello-00001"


def hpa_service(annotations: dict[str, str]) -> Obj:
    svc = hello()
    svc["spec"]["template"]["metadata"] = {"annotations": annotations}
    return svc


async def _get(store: Any, kind: Any, name: str, ns: str = "default") -> Obj | None:
    with contextlib.suppress(errors.NotFound):
        found: Obj = await store.get(kind, ns, name)
        return found
    return None


def _scales(pa: Obj | None) -> tuple[object, object]:
    status = (pa or {}).get("status") or {}
    return status.get("desiredScale"), status.get("actualScale")


def test_the_cluster_controller_watches_hpas() -> None:
    assert HPA in WATCHED


async def test_an_hpa_class_service_gets_a_horizontal_pod_autoscaler_whose_status_its_pa_reports(
    cluster: Double,
) -> None:
    await install(cluster)
    async with running_controller(cluster) as task:
        async with KubeApi(cluster.conn) as api:  # a user's kubectl apply, admitted as the webhook would
            path = "/apis/serving.knative.dev/v1/namespaces/default/services"
            await api.request("POST", path, body=hpa_service(HPA_CLASS))
        hpa = await eventually(lambda: _get(cluster.store, HPA, NAME))
        assert isinstance(hpa, dict) and not task.done()
        validate(hpa)
        pa = await cluster.store.get(PODAUTOSCALER, "default", NAME)
        [ref] = hpa["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "PodAutoscaler",
            NAME,
            pa["metadata"]["uid"],
            True,
        )
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{NAME}-deployment",
        }
        assert hpa["spec"]["metrics"][0]["resource"] == {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 70},
        }
        deployment = await eventually(lambda: _get(cluster.store, DEPLOYMENT, f"{NAME}-deployment"))
        assert isinstance(deployment, dict) and deployment["spec"]["replicas"] == 1

        # the kube-controller-manager's HPA controller reports: its PA follows
        hpa["status"] = {"currentReplicas": 2, "desiredReplicas": 3}
        validate(hpa)
        await cluster.store.update_status(HPA, hpa)

        async def followed() -> Obj | None:
            pa = await _get(cluster.store, PODAUTOSCALER, NAME)
            return pa if _scales(pa) == (3, 2) and (pa or {})["status"].get("serviceName") == NAME else None

        pa = await eventually(followed)
        assert cond(pa, "Active")[0] == "True"
        deployment = await cluster.store.get(DEPLOYMENT, "default", f"{NAME}-deployment")
        assert deployment["spec"]["replicas"] == 1, "the HPA controller scales the Deployment, not zeroserve"

        # an edit of the HPA's spec is an event of its PA's: put back as MakeHPA builds it
        hpa = await cluster.store.get(HPA, "default", NAME)
        hpa["spec"]["maxReplicas"] = 99
        uid = hpa["metadata"]["uid"]
        await cluster.store.update(HPA, hpa)

        async def restored() -> Obj | None:
            hpa = await _get(cluster.store, HPA, NAME)
            return hpa if hpa is not None and hpa["spec"]["maxReplicas"] == INT32_MAX else None

        hpa = await eventually(restored)
        assert hpa["metadata"]["uid"] == uid and hpa["status"]["desiredReplicas"] == 3

        # a new revision with another target: its own HPA
        svc = await cluster.store.get(SERVICE, "default", "hello")
        svc["spec"]["template"]["metadata"]["annotations"][ann.TARGET] = "50"
        await cluster.store.update(SERVICE, svc)
        second = await eventually(lambda: _get(cluster.store, HPA, "hello-00002"))
        assert isinstance(second, dict)
        validate(second)
        assert second["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
        assert second["spec"]["scaleTargetRef"]["name"] == "hello-00002-deployment"

        # config-autoscaler's max-scale bounds every HPA: updated in place
        cm = {"metadata": {"name": "config-autoscaler", "namespace": "knative-serving"}, "data": {"max-scale": "5"}}
        await cluster.store.create(CONFIGMAP, cm)

        async def bounded() -> Obj | None:
            hpa = await _get(cluster.store, HPA, "hello-00002")
            return hpa if hpa is not None and hpa["spec"]["maxReplicas"] == 5 else None

        bounded_hpa = await eventually(bounded)
        assert bounded_hpa["metadata"]["uid"] == second["metadata"]["uid"]


# ----------------------------------------------------------------------------- one reconcile at a time


@pytest.fixture
async def kube(cluster: Double) -> AsyncIterator[KubernetesStore]:
    store = KubernetesStore(KubeApi(cluster.conn))
    try:
        yield store
    finally:
        await store.close()


def deps_on(store: KubernetesStore, cfg: Config | None = None) -> Deps:
    return Deps(store, FakeRuntime(), lambda: cfg or Config(), FakeClock(), NullIngress())


def podautoscaler(annotations: dict[str, str]) -> Obj:
    return {
        "apiVersion": "autoscaling.internal.knative.dev/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": {
            "name": NAME,
            "namespace": "default",
            "labels": {"serving.knative.dev/revision": NAME},
            "annotations": annotations,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{NAME}-deployment"},
            "protocolType": "http1",
        },
    }


async def reconcile(store: KubernetesStore) -> Obj:
    """One reconcile of the PA; the PA afterwards."""
    await ClusterHPAReconciler().reconcile(deps_on(store), Key(PODAUTOSCALER.kind, "default", NAME))
    return await store.get(PODAUTOSCALER, "default", NAME)


async def test_the_hpa_is_created_and_left_alone_while_its_defaulted_spec_matches(kube: KubernetesStore) -> None:
    await kube.create(PODAUTOSCALER, podautoscaler({**HPA_CLASS, ann.WINDOW: "2m"}))
    pa = await reconcile(kube)
    assert _scales(pa) == (0, 0), "no status from the HPA controller yet"
    assert cond(pa, "Active")[0] == "True"
    assert cond(pa, "SKSReady") == ("Unknown", "NotReady", "SKS Services are not ready yet")
    assert cond(pa, "ScaleTargetInitialized")[0] == "Unknown"
    sks = await kube.get(SERVERLESSSERVICE, "default", NAME)
    assert (sks["spec"]["mode"], sks["spec"].get("numActivators", 0)) == ("Serve", 0)

    # kube-apiserver stores the HPA with its defaults: not a change
    hpa = await kube.get(HPA, "default", NAME)
    built = hpa["spec"]
    hpa["spec"] = defaulted_spec(built)
    assert hpa["spec"]["minReplicas"] == 1 and hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    written = await kube.update(HPA, hpa)
    await reconcile(kube)
    assert (await kube.get(HPA, "default", NAME))["metadata"]["resourceVersion"] == written["metadata"][
        "resourceVersion"
    ]

    # another spec is put back as MakeHPA builds it
    written["spec"]["minReplicas"] = 4
    written = await kube.update(HPA, written)
    await reconcile(kube)
    hpa = await kube.get(HPA, "default", NAME)
    assert hpa["spec"] == built
    assert hpa["metadata"]["resourceVersion"] != written["metadata"]["resourceVersion"]


async def test_the_scale_target_is_initialized_once_the_sks_is_ready_and_the_hpa_has_the_replicas(
    kube: KubernetesStore,
) -> None:
    await kube.create(PODAUTOSCALER, podautoscaler({**HPA_CLASS, ann.MIN_SCALE: "2"}))
    await reconcile(kube)
    sks = await kube.get(SERVERLESSSERVICE, "default", NAME)
    sks["status"] = {  # as the SKS reconciler reports it
        "observedGeneration": sks["metadata"]["generation"],
        "serviceName": NAME,
        "privateServiceName": f"{NAME}-private",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }
    await kube.update_status(SERVERLESSSERVICE, sks)
    hpa = await kube.get(HPA, "default", NAME)
    assert hpa["spec"]["minReplicas"] == 2
    hpa["status"] = {"currentReplicas": 1, "desiredReplicas": 2}
    hpa = await kube.update_status(HPA, hpa)
    pa = await reconcile(kube)
    assert cond(pa, "SKSReady")[0] == "True"
    assert cond(pa, "ScaleTargetInitialized")[0] == "Unknown", "1 of the 2 min-scale replicas"
    assert (pa["status"]["serviceName"], pa["status"]["metricsServiceName"]) == (NAME, f"{NAME}-private")
    hpa["status"] = {"currentReplicas": 2, "desiredReplicas": 2}
    await kube.update_status(HPA, hpa)
    pa = await reconcile(kube)
    assert cond(pa, "ScaleTargetInitialized")[0] == "True"
    assert cond(pa, "Ready")[0] == "True"
    assert _scales(pa) == (2, 2)


async def test_an_hpa_the_pa_does_not_control_is_not_owned(kube: KubernetesStore) -> None:
    await kube.create(PODAUTOSCALER, podautoscaler(HPA_CLASS))
    theirs = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": NAME, "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "other"}, "maxReplicas": 3},
    }
    validate(theirs)
    created = await kube.create(HPA, theirs)
    with pytest.raises(errors.ZeroserveError, match=f'PodAutoscaler: "{NAME}" does not own HPA: "{NAME}"'):
        await ClusterHPAReconciler().reconcile(deps_on(kube), Key(PODAUTOSCALER.kind, "default", NAME))
    pa = await kube.get(PODAUTOSCALER, "default", NAME)
    assert cond(pa, "Active") == (
        "False",
        "NotOwned",
        f'There is an existing HorizontalPodAutoscaler "{NAME}" that we do not own.',
    )
    assert cond(pa, "Ready")[0] == "False"
    hpa = await kube.get(HPA, "default", NAME)
    assert hpa["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"], "left as it is"
