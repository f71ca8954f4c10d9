"""Channel and InMemoryChannel reconcilers (Knative's ``pkg/reconciler/channel/channel.go`` and
``pkg/reconciler/inmemorychannel/controller``).

**InMemoryChannel**: no dispatcher Deployment or Services to make here, so ``ServiceReady``,
``EndpointsReady`` and ``ChannelServiceReady`` are True once the channel is published to the
in-process ingress (its host answered by ``zeroserve up``'s gateway) -> the dead letter sink of
``spec.delivery`` resolved into ``status.deadLetterSinkUri`` (on failure the reconcile stops there,
as Knative's) -> ``status.address`` ``http://NAME-kn-channel.NS.svc.cluster.local`` (``Addressable``)
-> ``EventPoliciesReady`` (``OIDCDisabled``) -> ``status.subscribers``: each of ``spec.subscribers``
ready once the dispatcher delivers to it (Knative's dispatcher writes the same list); until then it
is Unknown and the channel is looked at again shortly.

**Channel**: the backing channel of ``spec.channelTemplate``'s kind, named as the Channel and owned
by it, is created with the template's spec and the Channel's delivery (never updated afterwards, as
Knative's); ``status.channel`` names it; its Ready becomes ``BackingChannelReady``, its address and
subscribers the Channel's; ``DeadLetterSinkResolved`` from the backing channel's resolved sink.
"""

from __future__ import annotations

from typing import Protocol

from zeroserve.api import eventing as ev
from zeroserve.api import messaging as msg
from zeroserve.api.base import from_wire, to_wire
from zeroserve.api.conditions import READY, ConditionManager
from zeroserve.api.domainmapping import KReference
from zeroserve.api.eventing import Addressable
from zeroserve.api.kinds import CHANNEL, IN_MEMORY_CHANNEL, by_kind
from zeroserve.api.messaging import Channel, ChannelableStatus, InMemoryChannel, SubscriberStatus
from zeroserve.api.meta import OwnerReference
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.reconcilers.destinations import ResolveError, resolve

NOT_DISPATCHED_POLL = 0.1
"""Seconds before an InMemoryChannel whose subscribers the dispatcher has not all taken up is
looked at again."""
NOT_TAKEN_UP = "the dispatcher has not taken the subscriber up yet"
OIDC_DISABLED = 'Feature "authentication-oidc" must be enabled to support Authorization'
NO_DLS = ("DeadLetterSinkNotConfigured", "No dead letter sink is configured.")
IMC_AGENT = "inmemorychannel-controller"
CHANNEL_AGENT = "channel-controller"


class InMemoryChannels(Protocol):
    """The channels' data plane as the reconciler sees it (``zeroserve.eventing.channels.ChannelPlane``)."""

    def publish(self, namespace: str, name: str) -> None: ...

    def withdraw(self, namespace: str, name: str) -> None: ...

    def subscribed(self, namespace: str, name: str) -> set[str] | None:
        """The subscriber uids the dispatcher delivers to (None: all of them)."""
        ...


class NullInMemoryChannels:
    """No data plane in this process (tests, a controller on its own): every subscriber counts as
    taken up."""

    def __init__(self) -> None:
        self.channels: set[tuple[str, str]] = set()

    def publish(self, namespace: str, name: str) -> None:
        self.channels.add((namespace, name))

    def withdraw(self, namespace: str, name: str) -> None:
        self.channels.discard((namespace, name))

    def subscribed(self, namespace: str, name: str) -> set[str] | None:
        return None


class InMemoryChannelReconciler:
    def __init__(self, plane: InMemoryChannels | None = None) -> None:
        self.plane: InMemoryChannels = plane if plane is not None else NullInMemoryChannels()

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load(deps.store, IN_MEMORY_CHANNEL, InMemoryChannel, key.namespace, key.name)
        if loaded is None or loaded[1].metadata.deletion_timestamp:
            self.plane.withdraw(key.namespace, key.name)
            return None
        stored, imc = loaded
        status = imc.status
        cm = msg.IMC_CONDITIONS.manage(status, deps.now())
        ev.pre_process(cm, status, imc.metadata.generation)
        self.plane.publish(key.namespace, key.name)
        for cond in (msg.SERVICE_READY, msg.ENDPOINTS_READY, msg.CHANNEL_SERVICE_READY):
            cm.mark_true(cond)
        status.observed_generation = imc.metadata.generation
        dls = imc.spec.delivery.dead_letter_sink if imc.spec.delivery is not None else None
        status.dead_letter_sink_uri = None
        if dls is not None:
            try:
                status.dead_letter_sink_uri = await resolve(deps.store, dls)
            except ResolveError as e:
                cm.mark_false(msg.DEAD_LETTER_SINK_RESOLVED, "Unable to get the DeadLetterSink's URI", str(e))
                await write_status(deps.store, IN_MEMORY_CHANNEL, stored, imc)
                return None
            cm.mark_true(msg.DEAD_LETTER_SINK_RESOLVED)
        else:
            cm.mark_true(msg.DEAD_LETTER_SINK_RESOLVED, *NO_DLS)
        status.address = Addressable(name="http", url=f"http://{msg.channel_host(key.namespace, key.name)}")
        cm.mark_true(msg.ADDRESSABLE)
        status.policies = []
        cm.mark_true(msg.EVENT_POLICIES_READY, "OIDCDisabled", OIDC_DISABLED)
        taken = self.plane.subscribed(key.namespace, key.name)
        status.subscribers = [
            SubscriberStatus(uid=s.uid, observed_generation=s.generation, ready="True")
            if taken is None or s.uid in taken
            else SubscriberStatus(uid=s.uid, observed_generation=s.generation, ready="Unknown", message=NOT_TAKEN_UP)
            for s in imc.spec.subscribers
        ]
        await write_status(deps.store, IN_MEMORY_CHANNEL, stored, imc)
        waiting = any(s.ready != "True" for s in status.subscribers)
        return NOT_DISPATCHED_POLL if waiting else None


async def reconcile_channel(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, CHANNEL, Channel, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        return None
    stored, c = loaded
    status = c.status
    cm = msg.CHANNEL_CONDITIONS.manage(status, deps.now())
    ev.pre_process(cm, status, c.metadata.generation)
    status.observed_generation = c.metadata.generation
    template = c.spec.channel_template or msg.ChannelTemplateSpec()
    kind = by_kind(template.api_version or "", template.kind or "")
    if kind is None or kind is CHANNEL:
        what = f"{template.api_version}, Kind={template.kind}"
        cm.mark_false(msg.BACKING_CHANNEL_READY, "ChannelFailure", f"no channel kind {what} in this API server")
        await write_status(deps.store, CHANNEL, stored, c)
        return None
    backing = await get_or_none(deps.store, kind, key.namespace, key.name)
    if backing is None:
        spec = {
            **(template.spec or {}),
            **({"delivery": to_wire(c.spec.delivery)} if c.spec.delivery else {}),
        }
        owner = OwnerReference(
            api_version=msg.API_VERSION,
            kind="Channel",
            name=key.name,
            uid=c.metadata.uid or "",
            controller=True,
            block_owner_deletion=True,
        )
        new = {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {"name": key.name, "namespace": key.namespace, "ownerReferences": [to_wire(owner)]},
            "spec": spec,
        }
        backing = await deps.store.create(kind, new)
    status.channel = KReference(kind=kind.kind, api_version=kind.api_version, name=key.name, namespace=key.namespace)
    bstatus = from_wire(ChannelableStatus, backing.get("status") or {})
    _propagate(cm, status, bstatus)
    if c.spec.delivery is not None and c.spec.delivery.dead_letter_sink is not None:
        if bstatus.dead_letter_sink_uri:
            status.dead_letter_sink_uri = bstatus.dead_letter_sink_uri
            cm.mark_true(msg.DEAD_LETTER_SINK_RESOLVED)
        else:
            status.dead_letter_sink_uri = None
            reason = f"Backing Channel {key.name} didn't set status.deadLetterSinkURI"
            cm.mark_false(msg.DEAD_LETTER_SINK_RESOLVED, reason, "")
    else:
        status.dead_letter_sink_uri = None
        cm.mark_true(msg.DEAD_LETTER_SINK_RESOLVED, *NO_DLS)
    cm.mark_true(msg.EVENT_POLICIES_READY, "OIDCDisabled", OIDC_DISABLED)
    await write_status(deps.store, CHANNEL, stored, c)
    return None


def _propagate(cm: ConditionManager, status: msg.ChannelStatus, backing: ChannelableStatus) -> None:
    """``ChannelStatus.PropagateStatuses``."""
    ready = backing.get_condition(READY)
    if ready is None:
        reason, message = "BackingChannelNotConfigured", "BackingChannel has not yet been reconciled."
        cm.mark_unknown(msg.BACKING_CHANNEL_READY, reason, message)
    elif ready.status == "True":
        cm.mark_true(msg.BACKING_CHANNEL_READY)
    elif ready.status == "False":
        cm.mark_false(msg.BACKING_CHANNEL_READY, ready.reason or "", ready.message or "")
    else:
        cm.mark_unknown(msg.BACKING_CHANNEL_READY, ready.reason or "", ready.message or "")
    status.address = backing.address
    if backing.address is None or not backing.address.url:
        cm.mark_false(msg.ADDRESSABLE, "EmptyHostname", "hostname is the empty string")
    else:
        cm.mark_true(msg.ADDRESSABLE)
    status.subscribers = backing.subscribers
