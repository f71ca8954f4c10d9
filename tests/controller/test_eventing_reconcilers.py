"""Broker and Trigger reconciler table tests: admitted objects in a real SqliteStore + key -> status and
the ingress's Brokers afterwards. Cases follow Knative's pkg/reconciler/broker/broker_test.go and
pkg/reconciler/broker/trigger/trigger_test.go; the last test runs the whole Controller."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api.admission import admit
from zeroserve.api.base import Obj
from zeroserve.api.kinds import BROKER, CORE_SERVICE, SERVICE, TRIGGER, Kind
from zeroserve.config import Config
from zeroserve.controller.reconcilers import trigger as trigger_rec
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.broker import BrokerReconciler, NullBrokerIngress
from zeroserve.controller.reconcilers.destinations import Tracker, depends_on
from zeroserve.controller.runner import Controller
from zeroserve.testing import cond, eventually, service
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NS = "default"
ADDRESS = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default"
SINK = "http://sink.default.svc.cluster.local"
KSVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "sink"}
OIDC = ("True", "authentication-oidc feature not yet supported for this Broker class", None)
READY = ("True", None, None)
BROKER_CONDITIONS = {
    "Addressable": READY,
    "DeadLetterSinkResolved": ("True", "DeadLetterSinkNotConfigured", "No dead letter sink is configured."),
    "EventPoliciesReady": (
        "True",
        "OIDCDisabled",
        'Feature "authentication-oidc" must be enabled to support Authorization',
    ),
    "FilterReady": READY,
    "IngressReady": READY,
    "Ready": READY,
    "TriggerChannelReady": READY,
}


def broker_obj(name: str = "default", cls: str | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": NS}
    if cls is not None:
        meta["annotations"] = {"eventing.knative.dev/broker.class": cls}
    return {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": meta, "spec": spec}


def trigger_obj(name: str = "t", annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": NS, **({"annotations": annotations} if annotations else {})}
    body = {"broker": "default", "subscriber": {"ref": dict(KSVC)}, **spec}
    return {"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": meta, "spec": body}


async def create(env: Env, kind: Kind, obj: Obj) -> Obj:
    """As through the API: admitted (defaulted and validated), then stored."""
    return await env.store.create(kind, admit(kind, obj, None, Config()))


async def sink(env: Env, name: str = "sink", address: str | None = SINK) -> None:
    await env.store.create(SERVICE, service(NS, name))
    if address is not None:
        await env.set_status(SERVICE, name, {"address": {"url": address}})


def conditions(obj: Obj) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {c["type"]: cond(obj, c["type"]) for c in obj["status"]["conditions"]}


async def reconcile_broker(env: Env, ingress: NullBrokerIngress, name: str = "default") -> Obj:
    assert await BrokerReconciler(ingress).reconcile(env.deps, Key(BROKER.kind, NS, name)) is None
    return await env.get(BROKER, name)


async def reconcile_trigger(env: Env, name: str = "t") -> Obj:
    assert await trigger_rec.reconcile(env.deps, Key(TRIGGER.kind, NS, name)) is None
    return await env.get(TRIGGER, name)


# ----------------------------------------------------------------------------- Broker


async def test_broker_is_ready_addressable_and_served_by_the_ingress(env: Env) -> None:
    ingress = NullBrokerIngress()
    await create(env, BROKER, broker_obj())
    b = await reconcile_broker(env, ingress)
    assert conditions(b) == BROKER_CONDITIONS
    assert b["status"]["address"] == {"name": "http", "url": ADDRESS}
    assert b["status"]["observedGeneration"] == 1
    assert "deadLetterSinkUri" not in b["status"]
    assert ingress.brokers == {(NS, "default")}
    again = await reconcile_broker(env, ingress)
    assert again["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]  # nothing to write


async def test_a_broker_of_another_class_is_left_alone(env: Env) -> None:
    ingress = NullBrokerIngress()
    await create(env, BROKER, broker_obj(cls="Kafka"))
    b = await reconcile_broker(env, ingress)
    assert b.get("status", {}) == {} and ingress.brokers == set()


async def test_broker_dead_letter_sink_resolves_to_its_url(env: Env) -> None:
    await sink(env)
    await create(env, BROKER, broker_obj(delivery={"deadLetterSink": {"ref": dict(KSVC), "uri": "/dead"}}))
    b = await reconcile_broker(env, NullBrokerIngress())
    assert b["status"]["deadLetterSinkUri"] == SINK + "/dead"
    assert cond(b, "DeadLetterSinkResolved") == READY and cond(b, "Ready") == READY


async def test_broker_dead_letter_sink_missing_stops_before_the_address(env: Env) -> None:
    await create(env, BROKER, broker_obj(delivery={"deadLetterSink": {"ref": dict(KSVC)}}))
    b = await reconcile_broker(env, NullBrokerIngress())
    msg = 'failed to get object default/sink: services.serving.knative.dev "sink" not found'
    assert cond(b, "DeadLetterSinkResolved") == ("False", "Unable to get the dead letter sink's URI", msg)
    assert cond(b, "Ready") == ("False", "Unable to get the dead letter sink's URI", msg)
    assert "address" not in b["status"]


async def test_a_deleted_broker_is_withdrawn(env: Env) -> None:
    ingress = NullBrokerIngress()
    await create(env, BROKER, broker_obj())
    await reconcile_broker(env, ingress)
    await env.store.delete(BROKER, NS, "default")
    assert await BrokerReconciler(ingress).reconcile(env.deps, Key(BROKER.kind, NS, "default")) is None
    assert ingress.brokers == set()


# ----------------------------------------------------------------------------- Trigger


async def ready_broker(env: Env, **spec: Any) -> Obj:
    await create(env, BROKER, broker_obj(**spec))
    return await reconcile_broker(env, NullBrokerIngress())


async def test_trigger_without_its_broker(env: Env) -> None:
    await create(env, TRIGGER, trigger_obj())
    t = await reconcile_trigger(env)
    assert cond(t, "BrokerReady") == ("False", "BrokerDoesNotExist", 'Broker "default" does not exist')
    assert cond(t, "Ready") == ("False", "BrokerDoesNotExist", 'Broker "default" does not exist')
    assert cond(t, "OIDCIdentityCreated") == OIDC
    assert t["status"]["observedGeneration"] == 1


async def test_trigger_waits_for_its_broker(env: Env) -> None:
    await create(env, BROKER, broker_obj())
    await create(env, TRIGGER, trigger_obj())
    t = await reconcile_trigger(env)
    expect = ("Unknown", "BrokerNotConfigured", "Broker has not yet been reconciled.")
    assert cond(t, "BrokerReady") == expect
    assert cond(t, "SubscriberResolved") == ("Unknown", None, None)
    assert "subscriberUri" not in t["status"]


async def test_trigger_of_another_class_broker_is_left_alone(env: Env) -> None:
    await create(env, BROKER, broker_obj(cls="Kafka"))
    await create(env, TRIGGER, trigger_obj())
    assert (await reconcile_trigger(env)).get("status", {}) == {}


async def test_trigger_is_ready_with_a_resolved_subscriber(env: Env) -> None:
    await ready_broker(env)
    await sink(env)
    await create(env, TRIGGER, trigger_obj(subscriber={"ref": dict(KSVC), "uri": "/orders?x=1"}))
    t = await reconcile_trigger(env)
    assert t["status"]["subscriberUri"] == SINK + "/orders?x=1"
    assert conditions(t) == {
        "BrokerReady": READY,
        "DeadLetterSinkResolved": ("True", "DeadLetterSinkNotConfigured", "No dead letter sink is configured."),
        "DependencyReady": READY,
        "OIDCIdentityCreated": OIDC,
        "Ready": READY,
        "SubscriberResolved": READY,
        "SubscriptionReady": READY,
    }


@pytest.mark.parametrize(
    ("subscriber", "message"),
    [
        pytest.param(
            {"ref": dict(KSVC)},
            'failed to get object default/sink: services.serving.knative.dev "sink" not found',
            id="missing service",
        ),
        pytest.param(
            {"ref": {"apiVersion": "v1", "kind": "Pod", "name": "x"}},
            "failed to get lister for /v1, Resource=pods: no such kind in this API server",
            id="unknown kind",
        ),
        pytest.param(
            {"ref": {"apiVersion": "v1", "kind": "Service", "name": "nosuch"}},
            'failed to get object default/nosuch: services "nosuch" not found',
            id="missing core service",
        ),
        pytest.param(
            {"ref": {**KSVC, "name": "noaddress"}},
            "address not set for Kind = Service, Namespace = default, Name = noaddress, "
            "APIVersion = serving.knative.dev/v1, Group = , Address = ",
            id="service without an address",
        ),
    ],
)
async def test_trigger_subscriber_that_does_not_resolve(env: Env, subscriber: Obj, message: str) -> None:
    await ready_broker(env)
    await sink(env, "noaddress", address=None)
    await create(env, TRIGGER, trigger_obj(subscriber=subscriber))
    t = await reconcile_trigger(env)
    assert cond(t, "SubscriberResolved") == ("False", "Unable to get the Subscriber's URI", message)
    assert cond(t, "Ready")[0] == "False" and "subscriberUri" not in t["status"]


async def test_trigger_absolute_uri_and_its_own_dead_letter_sink(env: Env) -> None:
    await ready_broker(env)
    await sink(env)
    dls = {"deadLetterSink": {"ref": dict(KSVC)}}
    await create(env, TRIGGER, trigger_obj(subscriber={"uri": "http://127.0.0.1:9/x"}, delivery=dls))
    t = await reconcile_trigger(env)
    assert (t["status"]["subscriberUri"], t["status"]["deadLetterSinkUri"]) == ("http://127.0.0.1:9/x", SINK)
    assert cond(t, "DeadLetterSinkResolved") == READY and cond(t, "Ready") == READY


async def test_trigger_dead_letter_sink_falls_back_to_the_brokers(env: Env) -> None:
    await sink(env)
    await ready_broker(env, delivery={"deadLetterSink": {"uri": "http://dead.example.com/"}})
    await create(env, TRIGGER, trigger_obj())
    t = await reconcile_trigger(env)
    assert t["status"]["deadLetterSinkUri"] == "http://dead.example.com/"
    assert cond(t, "DeadLetterSinkResolved") == READY


async def test_trigger_dependency_annotation(env: Env) -> None:
    await ready_broker(env)
    await sink(env)
    dep = '{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "source"}'
    await create(env, TRIGGER, trigger_obj(annotations={"knative.dev/dependency": dep}))
    t = await reconcile_trigger(env)
    msg = 'Dependency does not exist: services.serving.knative.dev "source" not found'
    assert cond(t, "DependencyReady") == ("False", "DependencyDoesNotExist", msg)
    await env.store.create(SERVICE, service(NS, "source"))
    t = await reconcile_trigger(env)
    assert cond(t, "DependencyReady")[:2] == ("Unknown", "GenerationNotEqual")
    await env.mark_ready(SERVICE, "source")
    t = await reconcile_trigger(env)
    assert cond(t, "DependencyReady") == READY and cond(t, "Ready") == READY


def test_tracker_maps_refs_to_their_brokers_and_triggers() -> None:
    tracker = Tracker()
    trig = admit(TRIGGER, trigger_obj(delivery={"deadLetterSink": {"ref": {**KSVC, "name": "dls"}}}), None, Config())
    assert depends_on(TRIGGER.kind, trig) == {
        ("Broker", NS, "default"),
        ("Service", NS, "sink"),
        ("Service", NS, "dls"),
    }
    assert list(tracker.observe(TRIGGER.kind, trig, deleted=False)) == []
    assert list(tracker.observe(SERVICE.kind, service(NS, "sink"), deleted=False)) == [Key(TRIGGER.kind, NS, "t")]
    assert list(tracker.observe(BROKER.kind, broker_obj(), deleted=False)) == [Key(TRIGGER.kind, NS, "t")]
    tracker.observe(TRIGGER.kind, trig, deleted=True)
    assert list(tracker.observe(SERVICE.kind, service(NS, "sink"), deleted=False)) == []


async def test_controller_resolves_a_trigger_once_its_subscriber_has_an_address(env: Env) -> None:
    ingress = NullBrokerIngress()
    await create(env, BROKER, broker_obj())
    await create(env, TRIGGER, trigger_obj())
    async with Controller(env.store, env.runtime, lambda: env.config, clock=env.clock, broker_ingress=ingress):

        async def subscriber_failed() -> Obj | None:
            t = await env.get(TRIGGER, "t")
            return t if cond(t, "SubscriberResolved")[0] == "False" else None

        await eventually(subscriber_failed)
        assert ingress.brokers == {(NS, "default")}
        await sink(env)  # the Service appears with an address: its Trigger is reconciled again

        async def resolved() -> Obj | None:
            t = await env.get(TRIGGER, "t")
            return t if t["status"].get("subscriberUri") == SINK and cond(t, "Ready") == READY else None

        await eventually(resolved)


async def test_a_core_service_subscriber_is_its_cluster_local_name(env: Env) -> None:
    """knative.dev/pkg's resolver special-cases core/v1 Services: callable though not Addressable."""
    await ready_broker(env)
    await env.store.create(CORE_SERVICE, {"metadata": {"name": "display", "namespace": NS}, "spec": {}})
    await create(
        env, TRIGGER, trigger_obj(subscriber={"ref": {"apiVersion": "v1", "kind": "Service", "name": "display"}})
    )
    t = await reconcile_trigger(env)
    assert t["status"]["subscriberUri"] == "http://display.default.svc.cluster.local"
    assert cond(t, "SubscriberResolved") == READY
