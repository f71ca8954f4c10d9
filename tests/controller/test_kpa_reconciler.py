"""Revision -> PA -> SKS through the reconcilers, a fake multiscaler and the fake runtime (kpa_test.go)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, PODAUTOSCALER, REVISION, SERVERLESSSERVICE
from zeroserve.autoscaler.collector import DeciderKey, MetricSpec
from zeroserve.autoscaler.scaling import DeciderSpec
from zeroserve.controller.reconcilers import configuration, revision
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.kpa import KPAReconciler, PodCounts, pod_counts
from zeroserve.controller.reconcilers.sks import NullServingMode, SKSReconciler
from zeroserve.observability.metrics import AutoscalerMetrics, MeterRegistry, revision_attrs
from zeroserve.runtime.base import InstanceView, WorkloadKey
from zeroserve.testing import cond
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NAME = "hello-00001"
REV = Key("Revision", "default", NAME)
PA = Key("PodAutoscaler", "default", NAME)
SKS = Key("ServerlessService", "default", NAME)
WKEY = WorkloadKey("default", NAME)
DKEY = DeciderKey("default", NAME)


@dataclass(frozen=True)
class FakeDecision:
    desired_scale: int
    excess_burst_capacity: int


@dataclass
class FakeDeciders:
    """The multiscaler's contract: watch creates with desired -1; tests set decisions."""

    specs: dict[DeciderKey, DeciderSpec] = field(default_factory=dict)
    metrics: dict[DeciderKey, MetricSpec | None] = field(default_factory=dict)
    decisions: dict[DeciderKey, FakeDecision] = field(default_factory=dict)
    forgotten: list[DeciderKey] = field(default_factory=list)

    def watch(self, key: DeciderKey, spec: DeciderSpec, metric: MetricSpec | None = None) -> object:
        self.specs[key] = spec
        self.metrics[key] = metric
        return self.decisions.setdefault(key, FakeDecision(-1, 0))

    def forget(self, key: DeciderKey) -> None:
        self.forgotten.append(key)
        self.decisions.pop(key, None)

    def get(self, key: DeciderKey) -> FakeDecision | None:
        return self.decisions.get(key)

    def decide(self, desired: int, ebc: int = 0) -> None:
        self.decisions[DKEY] = FakeDecision(desired, ebc)


@dataclass
class Bench:
    env: Env
    deciders: FakeDeciders
    modes: NullServingMode
    kpa: KPAReconciler
    sks: SKSReconciler

    async def all(self) -> float | None:
        """One pass as the controller would run it after a change: revision, PA, SKS, PA, revision."""
        await revision.reconcile(self.env.deps, REV)
        await self.kpa.reconcile(self.env.deps, PA)
        await self.sks.reconcile(self.env.deps, SKS)
        requeue = await self.kpa.reconcile(self.env.deps, PA)
        await self.sks.reconcile(self.env.deps, SKS)
        await revision.reconcile(self.env.deps, REV)
        return requeue

    async def pa(self) -> Obj:
        return await self.env.get(PODAUTOSCALER, NAME)


@pytest.fixture(name="bench")
def bench_fixture(env: Env) -> Bench:
    deciders, modes = FakeDeciders(), NullServingMode()
    return Bench(env, deciders, modes, KPAReconciler(deciders), SKSReconciler(modes))


async def stamp(env: Env, annotations: dict[str, str] | None = None, routing: str = "active") -> None:
    cfg = configuration_obj("default", "hello")
    cfg["spec"]["template"]["metadata"]["annotations"] = annotations or {}
    await env.store.create(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, Key("Configuration", "default", "hello"))
    rev = await env.get(REVISION, NAME)
    rev["metadata"]["labels"]["serving.knative.dev/routingState"] = routing
    rev["metadata"]["annotations"]["serving.knative.dev/routes"] = "hello"
    await env.store.update(REVISION, rev)


async def test_revision_creates_its_pa(bench: Bench) -> None:
    await stamp(bench.env, {"autoscaling.knative.dev/min-scale": "1"})
    await revision.reconcile(bench.env.deps, REV)
    pa = await bench.pa()
    rev = await bench.env.get(REVISION, NAME)
    assert pa["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "name": NAME,
            "uid": rev["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = pa["metadata"]["labels"]
    assert labels["serving.knative.dev/revision"] == NAME
    assert labels["serving.knative.dev/configuration"] == "hello"
    assert labels["app"] == NAME
    assert "serving.knative.dev/routingState" not in labels
    assert pa["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert "serving.knative.dev/routes" not in pa["metadata"]["annotations"]
    assert pa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{NAME}-deployment"},
        "containerConcurrency": 0,
        "reachability": "Reachable",
        "protocolType": "http1",
    }


async def test_routing_state_reserve_makes_the_pa_unreachable(bench: Bench) -> None:
    await stamp(bench.env)
    await revision.reconcile(bench.env.deps, REV)
    rev = await bench.env.get(REVISION, NAME)
    rev["metadata"]["labels"]["serving.knative.dev/routingState"] = "reserve"
    await bench.env.store.update(REVISION, rev)
    await revision.reconcile(bench.env.deps, REV)
    assert (await bench.pa())["spec"]["reachability"] == "Unreachable"
    await bench.kpa.reconcile(bench.env.deps, PA)
    await bench.sks.reconcile(bench.env.deps, SKS)
    await bench.kpa.reconcile(bench.env.deps, PA)
    assert bench.deciders.specs[DKEY].reachable is False


async def test_first_reconcile_creates_a_proxy_sks(bench: Bench) -> None:
    await stamp(bench.env)
    await revision.reconcile(bench.env.deps, REV)
    assert await bench.kpa.reconcile(bench.env.deps, PA) is None
    sks = await bench.env.get(SERVERLESSSERVICE, NAME)
    assert sks["spec"]["mode"] == "Proxy"
    # Knative's first pass says minActivators (2) and its next one ceil(TBC 211 / capacity 100) = 3:
    # the SKS is born with the 3, and the next pass leaves its spec alone (below)
    assert sks["spec"]["numActivators"] == 3
    assert sks["metadata"]["ownerReferences"][0]["kind"] == "PodAutoscaler"
    pa = await bench.pa()
    assert cond(pa, "SKSReady") == ("Unknown", "NotReady", "No Private Service Name")
    assert cond(pa, "Active")[:2] == ("Unknown", "Queued")
    assert pa["status"]["desiredScale"] == -1
    assert DKEY not in bench.deciders.specs  # no decider before the SKS has a private service

    await bench.sks.reconcile(bench.env.deps, SKS)
    sks = await bench.env.get(SERVERLESSSERVICE, NAME)
    assert (sks["status"]["serviceName"], sks["status"]["privateServiceName"]) == (NAME, f"{NAME}-private")
    assert cond(sks, "EndpointsPopulated") == ("Unknown", "NoHealthyBackends", "K8s Service is not ready")
    assert cond(sks, "ActivatorEndpointsPopulated")[0] == "True"
    assert bench.modes.modes[("default", NAME)] == "Proxy"

    await bench.kpa.reconcile(bench.env.deps, PA)  # the SKS has its private service: the decider's pass
    assert DKEY in bench.deciders.specs
    after = await bench.env.get(SERVERLESSSERVICE, NAME)
    assert after["metadata"]["generation"] == 1
    assert after["metadata"]["resourceVersion"] == sks["metadata"]["resourceVersion"]
    assert after["spec"]["numActivators"] == 3


async def test_scale_to_zero_and_back(bench: Bench) -> None:
    env, deciders = bench.env, bench.deciders
    await stamp(env)
    await bench.all()
    assert env.runtime.replicas[WKEY] == 1  # initial scale before any decision
    assert bench.deciders.metrics[DKEY] == MetricSpec(60.0, 6.0, "linear", True)

    env.runtime.make_ready(WKEY)
    deciders.decide(1, ebc=0)
    await bench.all()
    pa = await bench.pa()
    assert cond(pa, "Active")[0] == "True"
    assert cond(pa, "ScaleTargetInitialized")[0] == "True"
    assert cond(pa, "Ready")[0] == "True"
    assert (pa["status"]["desiredScale"], pa["status"]["actualScale"]) == (1, 1)
    assert bench.modes.modes[("default", NAME)] == "Serve"
    rev = await env.get(REVISION, NAME)
    assert cond(rev, "Active")[0] == "True"
    assert (rev["status"]["desiredReplicas"], rev["status"]["actualReplicas"]) == (1, 1)

    deciders.decide(0, ebc=0)  # no traffic: held at one instance for the stable window
    env.clock.step(10)
    assert await bench.all() == pytest.approx(50.0)
    assert env.runtime.replicas[WKEY] == 1
    assert cond(await bench.pa(), "Active")[0] == "True"

    env.clock.step(50)  # active for the stable window: inactive, activator in the path, grace starts
    await bench.all()
    pa = await bench.pa()
    assert cond(pa, "Active") == ("False", "NoTraffic", "The target is not receiving traffic.")
    assert pa["status"]["desiredScale"] == 0
    assert env.runtime.replicas[WKEY] == 1
    assert (await env.get(SERVERLESSSERVICE, NAME))["spec"]["mode"] == "Proxy"
    assert bench.modes.modes[("default", NAME)] == "Proxy"
    assert await bench.kpa.reconcile(env.deps, PA) == pytest.approx(30.0)
    rev = await env.get(REVISION, NAME)
    assert cond(rev, "Active") == ("False", "NoTraffic", "The target is not receiving traffic.")
    assert cond(rev, "Ready")[0] == "True"

    env.clock.step(30)  # grace period over: zero
    await bench.all()
    assert env.runtime.replicas[WKEY] == 0
    assert (await bench.pa())["status"]["appliedScale"] == 0

    deciders.decide(1, ebc=-11)  # a request at the activator: scale from zero, activator stays in path
    await bench.all()
    assert env.runtime.replicas[WKEY] == 1
    pa = await bench.pa()
    assert cond(pa, "Active")[:2] == ("Unknown", "Queued")
    assert (await env.get(SERVERLESSSERVICE, NAME))["spec"]["mode"] == "Proxy"
    rev = await env.get(REVISION, NAME)
    assert cond(rev, "Active")[:2] == ("Unknown", "Queued")
    env.runtime.make_ready(WKEY)
    await bench.all()
    assert cond(await bench.pa(), "Active")[0] == "True"


async def test_the_kpa_applies_its_scale_to_the_runtime_and_the_revision_keeps_it(bench: Bench) -> None:
    """Knative's scaler patches the Deployment's scale itself (no Revision reconcile in between), and the
    Revision reconciler keeps the Deployment's replicas: one that read the PA before its status was
    written does not undo the scale."""
    env, deciders = bench.env, bench.deciders
    await stamp(env)
    await bench.all()
    env.runtime.make_ready(WKEY)
    deciders.decide(1, ebc=0)
    await bench.all()
    stale = await bench.pa()
    assert stale["status"]["appliedScale"] == 1
    deciders.decide(3, ebc=0)
    await bench.kpa.reconcile(env.deps, PA)  # the KPA alone
    assert env.runtime.replicas[WKEY] == 3
    assert (await bench.pa())["status"]["appliedScale"] == 3
    fresh = await bench.pa()
    await env.store.update_status(PODAUTOSCALER, {**fresh, "status": stale["status"]})  # as if read before the write
    await revision.reconcile(env.deps, REV)
    assert env.runtime.replicas[WKEY] == 3


async def test_a_wish_above_zero_is_applied_at_once_within_the_last_reconciles_bounds(bench: Bench) -> None:
    """``scale_now`` (the multiscaler's ``on_change``): the scale a PA's reconcile would apply for a wish
    above zero, applied before that reconcile runs; nothing before a first reconcile, for a wish of
    zero or none, or while a reconcile is under way (until it scales)."""
    env, deciders = bench.env, bench.deciders
    await stamp(env, {"autoscaling.knative.dev/max-scale": "2"})
    deciders.decide(5, ebc=0)
    bench.kpa.scale_now(env.deps, DKEY)
    assert WKEY not in env.runtime.replicas  # not reconciled yet: no bounds known
    await bench.all()
    assert env.runtime.replicas[WKEY] == 2  # the reconcile's own scale: 5 within max-scale 2
    env.runtime.scale(WKEY, 0)
    deciders.decide(0, ebc=0)
    bench.kpa.scale_now(env.deps, DKEY)
    assert env.runtime.replicas[WKEY] == 0  # zero is the reconcile's to gate (grace, retention)
    deciders.decide(1, ebc=0)
    bench.kpa.scale_now(env.deps, DKEY)
    assert env.runtime.replicas[WKEY] == 1  # no reconcile in between
    deciders.decide(7, ebc=0)
    bench.kpa.scale_now(env.deps, DKEY)
    assert env.runtime.replicas[WKEY] == 2
    await bench.kpa.reconcile(env.deps, PA)  # agrees
    assert env.runtime.replicas[WKEY] == 2 and (await bench.pa())["status"]["appliedScale"] == 2


async def test_initial_scale_zero(bench: Bench) -> None:
    env = bench.env
    env.config = env.config.__class__(
        autoscaler=env.config.autoscaler.__class__(allow_zero_initial_scale=True),
    )
    await stamp(env, {"autoscaling.knative.dev/initial-scale": "0"})
    await bench.all()
    assert env.runtime.replicas[WKEY] == 0
    pa = await bench.pa()
    assert cond(pa, "Active")[:2] == ("False", "NoTraffic")
    assert cond(pa, "ScaleTargetInitialized")[0] == "True"
    rev = await env.get(REVISION, NAME)
    assert cond(rev, "ResourcesAvailable")[0] == "True"
    assert cond(rev, "Ready")[0] == "True"


async def test_min_scale_and_activation(bench: Bench) -> None:
    env = bench.env
    await stamp(env, {"autoscaling.knative.dev/min-scale": "2"})
    await bench.all()
    assert env.runtime.replicas[WKEY] == 2  # activating: min-scale applied before any data
    env.runtime.make_ready(WKEY)
    bench.deciders.decide(0)
    await bench.all()
    assert env.runtime.replicas[WKEY] == 2
    assert cond(await bench.pa(), "Active")[0] == "True"


async def test_deleted_pa_forgets_its_decider(bench: Bench) -> None:
    await stamp(bench.env)
    await bench.all()
    await bench.env.store.delete(PODAUTOSCALER, "default", NAME)
    await bench.kpa.reconcile(bench.env.deps, PA)
    assert bench.deciders.forgotten == [DKEY]


async def test_sks_not_owned(bench: Bench) -> None:
    env = bench.env
    await stamp(env)
    await env.store.create(
        SERVERLESSSERVICE,
        {
            "metadata": {"name": NAME, "namespace": "default"},
            "spec": {"mode": "Serve", "objectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}},
        },
    )
    await revision.reconcile(env.deps, REV)
    await bench.kpa.reconcile(env.deps, PA)
    assert cond(await bench.pa(), "Active") == (
        "False",
        "NotOwned",
        f'There is an existing ServerlessService "{NAME}" that we do not own.',
    )


async def test_knatives_pod_gauges_follow_the_scale_wanted_and_the_pods(env: Env) -> None:
    """kpa.go reportMetrics: requested (unknown keeps the last), count (ready), not ready, by PA."""
    deciders, modes, metrics = FakeDeciders(), NullServingMode(), AutoscalerMetrics(MeterRegistry())
    bench = Bench(env, deciders, modes, KPAReconciler(deciders, metrics), SKSReconciler(modes))
    await stamp(env)
    await bench.all()  # no decision yet: requested 0, one instance starting
    a = revision_attrs("default", NAME, "", "hello")
    assert (metrics.requested.values[a], metrics.count.values[a], metrics.not_ready.values[a]) == (0, 0, 1)
    env.runtime.make_ready(WKEY)
    deciders.decide(1, ebc=0)
    await bench.all()
    assert (metrics.requested.values[a], metrics.count.values[a], metrics.not_ready.values[a]) == (1, 1, 0)
    assert (metrics.pending.values[a], metrics.terminating.values[a]) == (0, 0)
    deciders.decisions.clear()  # the decider restarted: the scale unknown keeps the last requested
    await bench.all()
    assert metrics.requested.values[a] == 1


def test_pods_by_state_as_knatives_pod_accessor() -> None:
    views = (
        InstanceView("a", started=True, ready=True, stopping=False),
        InstanceView("b", started=True, ready=False, stopping=False),
        InstanceView("c", started=False, ready=False, stopping=False),  # Pending
        InstanceView("d", started=True, ready=True, stopping=True),  # terminating
        InstanceView("e", started=False, ready=False, stopping=False, restarts=2),  # crash-looping: Running
    )
    assert pod_counts(views) == PodCounts(ready=1, not_ready=4, pending=1, terminating=1)
