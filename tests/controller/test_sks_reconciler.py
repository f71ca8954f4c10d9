"""SKS reconciler, PA/SKS admission and printer columns, and the controller with autoscaling wired."""

from __future__ import annotations

import pytest

from zeroserve.api import admission
from zeroserve.api.kinds import PODAUTOSCALER, SERVERLESSSERVICE, SERVICE, lookup
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.cli.resources import kind_table
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.sks import NullServingMode, SKSReconciler, effective_mode
from zeroserve.controller.runner import Controller
from zeroserve.errors import Invalid
from zeroserve.runtime.base import WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import cond, eventually, service
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello-00001-deployment"}


def sks_obj(mode: str = "Serve", name: str = "hello-00001") -> dict[str, object]:
    return {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": name, "namespace": "default", "labels": {"serving.knative.dev/revision": "hello-00001"}},
        "spec": {"mode": mode, "numActivators": 2, "objectRef": REF, "protocolType": "http1"},
    }


@pytest.mark.parametrize(
    ("spec_mode", "ready", "mode", "endpoints", "activator"),
    [
        pytest.param("Serve", 2, "Serve", ("True", None), "False", id="serve"),
        pytest.param("Serve", 0, "Proxy", ("Unknown", "NoHealthyBackends"), "True", id="serve-but-nothing-ready"),
        pytest.param("Proxy", 2, "Proxy", ("True", None), "True", id="proxy-with-instances"),
        pytest.param("Proxy", 0, "Proxy", ("Unknown", "NoHealthyBackends"), "True", id="proxy-at-zero"),
    ],
)
async def test_sks_status_and_mode(
    env: Env, spec_mode: str, ready: int, mode: str, endpoints: tuple[str, str | None], activator: str
) -> None:
    await env.store.create(SERVERLESSSERVICE, sks_obj(spec_mode))
    wkey = WorkloadKey("default", "hello-00001")
    env.runtime.replicas[wkey] = ready
    env.runtime.make_ready(wkey, ready)
    modes = NullServingMode()
    await SKSReconciler(modes).reconcile(env.deps, Key("ServerlessService", "default", "hello-00001"))
    sks = await env.get(SERVERLESSSERVICE, "hello-00001")
    assert modes.modes == {("default", "hello-00001"): mode}
    assert cond(sks, "EndpointsPopulated")[:2] == endpoints
    assert cond(sks, "Ready")[0] == endpoints[0]
    assert cond(sks, "ActivatorEndpointsPopulated") == (
        activator,
        "ActivatorEndpointsPopulated",
        "Revision is backed by Activator",
    )
    assert sks["status"]["observedGeneration"] == 1


def test_effective_mode() -> None:
    assert effective_mode("Serve", 1) == "Serve"
    assert effective_mode("Serve", 0) == "Proxy"
    assert effective_mode(None, 3) == "Proxy"


def test_kinds_are_looked_up_by_short_names() -> None:
    assert lookup("pa") is PODAUTOSCALER and lookup("kpa") is PODAUTOSCALER
    assert lookup("sks") is SERVERLESSSERVICE and lookup("serverlessservices") is SERVERLESSSERVICE


def test_admission_of_a_pa() -> None:
    obj = {
        "apiVersion": "autoscaling.internal.knative.dev/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": {"name": "p", "namespace": "default", "annotations": {"autoscaling.knative.dev/min-scale": "-1"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment"}, "containerConcurrency": -2},
    }
    with pytest.raises(Invalid) as info:
        admission.admit(PODAUTOSCALER, obj, None, Config())
    rendered = str(info.value)
    assert "expected 0 <= -1 <= 2147483647: metadata.annotations.autoscaling.knative.dev/min-scale" in rendered
    assert "missing field(s): spec.scaleTargetRef.apiVersion, spec.scaleTargetRef.name" in rendered
    assert "expected 0 <= -2 <= 1000: spec.containerConcurrency" in rendered
    ok = admission.admit(
        PODAUTOSCALER, {**obj, "metadata": {"name": "p"}, "spec": {"scaleTargetRef": REF}}, None, Config()
    )
    assert ok["spec"]["scaleTargetRef"] == REF


def test_admission_of_an_sks() -> None:
    bad = sks_obj()
    bad["spec"] = {"mode": "Sideways", "objectRef": REF}
    with pytest.raises(Invalid):
        admission.admit(SERVERLESSSERVICE, bad, None, Config())
    missing = sks_obj()
    missing["spec"] = {"objectRef": REF}
    with pytest.raises(Invalid, match="missing field"):
        admission.admit(SERVERLESSSERVICE, missing, None, Config())
    assert admission.admit(SERVERLESSSERVICE, sks_obj("Proxy"), None, Config())["spec"]["mode"] == "Proxy"


def test_printer_columns() -> None:
    pa = {
        "metadata": {"name": "hello-00001"},
        "status": {
            "desiredScale": 0,
            "actualScale": 1,
            "conditions": [{"type": "Ready", "status": "False", "reason": "NoTraffic"}],
        },
    }
    lines = kind_table(PODAUTOSCALER, [pa], False).splitlines()
    assert lines[0].split() == ["NAME", "DESIREDSCALE", "ACTUALSCALE", "READY", "REASON"]
    assert lines[1].split() == ["hello-00001", "0", "1", "False", "NoTraffic"]
    sks = {**sks_obj("Proxy"), "status": {"serviceName": "hello-00001", "privateServiceName": "hello-00001-private"}}
    lines = kind_table(SERVERLESSSERVICE, [sks], False).splitlines()
    assert lines[0].split() == ["NAME", "MODE", "ACTIVATORS", "SERVICENAME", "PRIVATESERVICENAME", "READY", "REASON"]
    assert lines[1].split() == ["hello-00001", "Proxy", "2", "hello-00001", "hello-00001-private"]


class ScalingDeciders:
    """A multiscaler stand-in that wants ``desired`` instances once watched and tells the controller."""

    def __init__(self) -> None:
        self.desired = 1
        self.watched: set[object] = set()

    def watch(self, key: object, spec: object, metric: object = None) -> object:
        self.watched.add(key)
        return None

    def watch_hpa(self, key: object, spec: object) -> object:
        self.watched.add(key)
        return None

    def forget(self, key: object) -> None:
        self.watched.discard(key)

    def get(self, key: object) -> ScalingDeciders:
        return self

    @property
    def desired_scale(self) -> int:
        return self.desired

    @property
    def excess_burst_capacity(self) -> int:
        return 0


async def test_controller_scales_through_the_pa() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    runtime = FakeRuntime(auto_ready=True)
    deciders, modes = ScalingDeciders(), NullServingMode()
    wkey = WorkloadKey("default", "hello-00001")
    try:
        async with Controller(store, runtime, Config, clock=clock, multiscaler=deciders, serving_mode=modes) as ctl:
            await store.create(SERVICE, service("default", "hello"))

            async def serving() -> bool:
                return modes.modes.get(("default", "hello-00001")) == "Serve"

            await eventually(serving)
            deciders.desired = 3
            ctl.on_decider_change(DeciderKey("default", "hello-00001"))

            async def three() -> bool:
                return runtime.replicas.get(wkey) == 3

            await eventually(three)

            async def applied() -> bool:  # the PA's status is written just after the scale
                pa = await store.get(PODAUTOSCALER, "default", "hello-00001")
                return bool(pa["status"].get("appliedScale") == 3)

            await eventually(applied)
    finally:
        await store.close()
