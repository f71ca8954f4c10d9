"""Channel, InMemoryChannel, Subscription, Sequence and Parallel reconcilers: admitted objects in a
real SqliteStore (fake clock) + key -> what they make and their status. Cases follow Knative's
pkg/reconciler/{channel,subscription,sequence,parallel} tests."""

from __future__ import annotations

from typing import Any

from zeroserve.api.admission import admit
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CHANNEL, IN_MEMORY_CHANNEL, PARALLEL, SEQUENCE, SERVICE, SUBSCRIPTION, Kind
from zeroserve.config import Config
from zeroserve.controller.reconcilers import subscription as sub_rec
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.channel import InMemoryChannelReconciler, reconcile_channel
from zeroserve.controller.reconcilers.flows import reconcile_parallel, reconcile_sequence
from zeroserve.testing import cond, service
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NS = "default"
MSG = "messaging.knative.dev/v1"
IMC_URL = "http://orders-kn-channel.default.svc.cluster.local"
SINK = "http://sink.default.svc.cluster.local"


def ksvc(name: str = "sink") -> dict[str, Any]:
    return {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": name}}


def obj(kind: Kind, name: str, spec: Obj) -> Obj:
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


async def create(env: Env, kind: Kind, o: Obj) -> Obj:
    return await env.store.create(kind, admit(kind, o, None, Config()))


async def sink(env: Env, name: str = "sink") -> None:
    await env.store.create(SERVICE, service(NS, name))
    await env.set_status(SERVICE, name, {"address": {"url": f"http://{name}.default.svc.cluster.local"}})


class Plane:
    def __init__(self) -> None:
        self.published: set[tuple[str, str]] = set()
        self.taken: set[str] = set()

    def publish(self, namespace: str, name: str) -> None:
        self.published.add((namespace, name))

    def withdraw(self, namespace: str, name: str) -> None:
        self.published.discard((namespace, name))

    def subscribed(self, namespace: str, name: str) -> set[str] | None:
        return set(self.taken)


async def test_in_memory_channel_is_published_addressable_and_ready(env: Env) -> None:
    plane = Plane()
    await create(env, IN_MEMORY_CHANNEL, obj(IN_MEMORY_CHANNEL, "orders", {}))
    rec = InMemoryChannelReconciler(plane)
    assert await rec.reconcile(env.deps, Key(IN_MEMORY_CHANNEL.kind, NS, "orders")) is None
    got = await env.get(IN_MEMORY_CHANNEL, "orders")
    assert got["status"]["address"] == {"name": "http", "url": IMC_URL}
    assert cond(got, "Ready") == ("True", None, None)
    assert cond(got, "DeadLetterSinkResolved")[1] == "DeadLetterSinkNotConfigured"
    assert plane.published == {(NS, "orders")}
    await env.store.delete(IN_MEMORY_CHANNEL, NS, "orders")
    await rec.reconcile(env.deps, Key(IN_MEMORY_CHANNEL.kind, NS, "orders"))
    assert plane.published == set()


async def test_in_memory_channel_dead_letter_sink_that_does_not_resolve(env: Env) -> None:
    await create(env, IN_MEMORY_CHANNEL, obj(IN_MEMORY_CHANNEL, "orders", {"delivery": {"deadLetterSink": ksvc("x")}}))
    await InMemoryChannelReconciler(Plane()).reconcile(env.deps, Key(IN_MEMORY_CHANNEL.kind, NS, "orders"))
    got = await env.get(IN_MEMORY_CHANNEL, "orders")
    status, reason, message = cond(got, "DeadLetterSinkResolved")
    assert (status, reason) == ("False", "Unable to get the DeadLetterSink's URI")
    assert message is not None and 'services.serving.knative.dev "x" not found' in message
    assert cond(got, "Ready")[0] == "False"


async def test_channel_makes_its_backing_channel_and_takes_its_status(env: Env) -> None:
    await create(env, CHANNEL, obj(CHANNEL, "orders", {"delivery": {"retry": 3}}))
    key = Key(CHANNEL.kind, NS, "orders")
    await reconcile_channel(env.deps, key)
    backing = await env.get(IN_MEMORY_CHANNEL, "orders")
    assert backing["spec"] == {"delivery": {"retry": 3}}
    assert backing["metadata"]["ownerReferences"][0]["kind"] == "Channel"
    got = await env.get(CHANNEL, "orders")
    assert got["status"]["channel"] == {"kind": "InMemoryChannel", "namespace": NS, "name": "orders", "apiVersion": MSG}
    assert cond(got, "BackingChannelReady") == (
        "Unknown",
        "BackingChannelNotConfigured",
        "BackingChannel has not yet been reconciled.",
    )
    await InMemoryChannelReconciler(Plane()).reconcile(env.deps, Key(IN_MEMORY_CHANNEL.kind, NS, "orders"))
    await reconcile_channel(env.deps, key)
    got = await env.get(CHANNEL, "orders")
    assert cond(got, "Ready") == ("True", None, None)
    assert got["status"]["address"]["url"] == IMC_URL


async def test_channel_of_an_unknown_kind_fails(env: Env) -> None:
    template = {"apiVersion": "messaging.knative.dev/v1beta1", "kind": "KafkaChannel"}
    await create(env, CHANNEL, obj(CHANNEL, "k", {"channelTemplate": template}))
    await reconcile_channel(env.deps, Key(CHANNEL.kind, NS, "k"))
    status, reason, _ = cond(await env.get(CHANNEL, "k"), "BackingChannelReady")
    assert (status, reason) == ("False", "ChannelFailure")


async def subscription_ready(env: Env, plane: Plane, name: str = "s") -> Obj:
    """Reconcile the Subscription (finalizer, then sync), the channel, and the Subscription again."""
    key = Key(SUBSCRIPTION.kind, NS, name)
    await sub_rec.reconcile(env.deps, key)  # adds the finalizer
    await sub_rec.reconcile(env.deps, key)  # resolves and syncs
    await InMemoryChannelReconciler(plane).reconcile(env.deps, Key(IN_MEMORY_CHANNEL.kind, NS, "orders"))
    await sub_rec.reconcile(env.deps, key)
    return await env.get(SUBSCRIPTION, name)


async def test_subscription_resolves_syncs_and_waits_for_the_dispatcher(env: Env) -> None:
    await sink(env)
    await sink(env, "dls")
    await create(env, IN_MEMORY_CHANNEL, obj(IN_MEMORY_CHANNEL, "orders", {}))
    channel = {"apiVersion": MSG, "kind": "InMemoryChannel", "name": "orders"}
    spec = {"channel": channel, "subscriber": ksvc(), "delivery": {"retry": 2, "deadLetterSink": ksvc("dls")}}
    await create(env, SUBSCRIPTION, obj(SUBSCRIPTION, "s", spec))
    plane = Plane()
    got = await subscription_ready(env, plane)
    assert got["metadata"]["finalizers"] == ["subscriptions.messaging.knative.dev"]
    assert got["status"]["physicalSubscription"] == {
        "subscriberUri": SINK,
        "deadLetterSinkUri": "http://dls.default.svc.cluster.local",
    }
    imc = await env.get(IN_MEMORY_CHANNEL, "orders")
    assert imc["spec"]["subscribers"] == [
        {
            "name": "s",
            "uid": got["metadata"]["uid"],
            "generation": 1,
            "subscriberUri": SINK,
            "delivery": {"deadLetterSink": {"uri": "http://dls.default.svc.cluster.local"}, "retry": 2},
        }
    ]
    assert cond(got, "AddedToChannel") == ("True", None, None)
    assert cond(got, "ChannelReady") == (
        "Unknown",
        "SubscriptionNotMarkedReadyByChannel",
        "Subscription marked by Channel as Unknown",
    )
    assert cond(got, "OIDCIdentityCreated") == ("True", "authentication-oidc feature disabled", None)
    plane.taken.add(got["metadata"]["uid"])
    got = await subscription_ready(env, plane)
    assert cond(got, "Ready") == ("True", None, None)

    await env.store.delete(SUBSCRIPTION, NS, "s")  # held by the finalizer until the entry is gone
    await sub_rec.reconcile(env.deps, Key(SUBSCRIPTION.kind, NS, "s"))
    assert (await env.get(IN_MEMORY_CHANNEL, "orders"))["spec"].get("subscribers") in (None, [])
    assert (await env.store.list(SUBSCRIPTION, NS))[0] == []


async def test_subscription_to_a_missing_channel_or_subscriber(env: Env) -> None:
    channel = {"apiVersion": MSG, "kind": "Channel", "name": "nope"}
    await create(env, SUBSCRIPTION, obj(SUBSCRIPTION, "s", {"channel": channel, "subscriber": ksvc()}))
    key = Key(SUBSCRIPTION.kind, NS, "s")
    await sub_rec.reconcile(env.deps, key)
    await sub_rec.reconcile(env.deps, key)
    got = await env.get(SUBSCRIPTION, "s")
    assert cond(got, "ReferencesResolved") == (
        "Unknown",
        "ChannelReferenceFailed",
        'Failed to get Spec.Channel or backing channel: channels.messaging.knative.dev "nope" not found',
    )
    await create(env, IN_MEMORY_CHANNEL, obj(IN_MEMORY_CHANNEL, "orders", {}))
    spec = {"channel": {"apiVersion": MSG, "kind": "InMemoryChannel", "name": "orders"}, "subscriber": ksvc("gone")}
    await create(env, SUBSCRIPTION, obj(SUBSCRIPTION, "t", spec))
    for _ in range(2):
        await sub_rec.reconcile(env.deps, Key(SUBSCRIPTION.kind, NS, "t"))
    status, reason, message = cond(await env.get(SUBSCRIPTION, "t"), "ReferencesResolved")
    assert (status, reason) == ("False", "SubscriberResolveFailed")
    assert message is not None and message.startswith("Failed to resolve spec.subscriber: failed to get object")


async def test_sequence_makes_channels_and_chained_subscriptions(env: Env) -> None:
    reply = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}
    await create(env, SEQUENCE, obj(SEQUENCE, "seq", {"steps": [ksvc("a"), ksvc("b")], "reply": reply}))
    await reconcile_sequence(env.deps, Key(SEQUENCE.kind, NS, "seq"))
    for i in range(2):
        ch = await env.get(IN_MEMORY_CHANNEL, f"seq-kn-sequence-{i}")
        assert ch["metadata"]["ownerReferences"][0]["kind"] == "Sequence"
    first = await env.get(SUBSCRIPTION, "seq-kn-sequence-0")
    assert first["spec"]["channel"] == {"kind": "InMemoryChannel", "name": "seq-kn-sequence-0", "apiVersion": MSG}
    assert first["spec"]["reply"]["ref"]["name"] == "seq-kn-sequence-1"
    last = await env.get(SUBSCRIPTION, "seq-kn-sequence-1")
    assert last["spec"]["reply"] == {"ref": {**reply["ref"], "namespace": NS}}
    got = await env.get(SEQUENCE, "seq")
    assert cond(got, "ChannelsReady")[0] == "Unknown" and cond(got, "Addressable")[1] == "emptyAddress"
    for i in range(2):
        await InMemoryChannelReconciler(Plane()).reconcile(
            env.deps, Key(IN_MEMORY_CHANNEL.kind, NS, f"seq-kn-sequence-{i}")
        )
    await reconcile_sequence(env.deps, Key(SEQUENCE.kind, NS, "seq"))
    got = await env.get(SEQUENCE, "seq")
    assert cond(got, "ChannelsReady") == ("True", None, None)
    assert got["status"]["address"]["url"] == "http://seq-kn-sequence-0-kn-channel.default.svc.cluster.local"
    assert cond(got, "SubscriptionsReady")[1] == "SubscriptionsNotReady"
    # one step fewer: the second channel and Subscription go
    updated = {**got, "spec": {**got["spec"], "steps": [ksvc("a")]}}
    await env.store.update(SEQUENCE, updated)
    await reconcile_sequence(env.deps, Key(SEQUENCE.kind, NS, "seq"))
    names = [o["metadata"]["name"] for o in (await env.store.list(SUBSCRIPTION, NS))[0]]
    assert names == ["seq-kn-sequence-0"]


async def test_parallel_makes_ingress_branch_channels_and_filter_subscriptions(env: Env) -> None:
    branches = [{"filter": ksvc("f"), "subscriber": ksvc("a")}, {"subscriber": ksvc("b"), "reply": ksvc("r")}]
    await create(env, PARALLEL, obj(PARALLEL, "par", {"branches": branches, "reply": ksvc("final")}))
    await reconcile_parallel(env.deps, Key(PARALLEL.kind, NS, "par"))
    for name in ("par-kn-parallel", "par-kn-parallel-0", "par-kn-parallel-1"):
        await env.get(IN_MEMORY_CHANNEL, name)
    f0 = await env.get(SUBSCRIPTION, "par-kn-parallel-filter-0")
    assert f0["spec"]["subscriber"]["ref"]["name"] == "f" and f0["spec"]["reply"]["ref"]["name"] == "par-kn-parallel-0"
    f1 = await env.get(SUBSCRIPTION, "par-kn-parallel-filter-1")
    assert f1["spec"]["subscriber"]["ref"]["name"] == "par-kn-parallel-1" and "reply" not in f1["spec"]
    s0, s1 = await env.get(SUBSCRIPTION, "par-kn-parallel-0"), await env.get(SUBSCRIPTION, "par-kn-parallel-1")
    assert s0["spec"]["reply"]["ref"]["name"] == "final" and s1["spec"]["reply"]["ref"]["name"] == "r"
    got = await env.get(PARALLEL, "par")
    assert cond(got, "ChannelsReady") == ("False", "ChannelsNotReady", "Channels are not ready yet, or there are none")
    assert got["status"]["ingressChannelStatus"]["ready"]["reason"] == "NotAddressable"
    assert len(got["status"]["branchStatuses"]) == 2
