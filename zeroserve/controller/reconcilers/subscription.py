"""Subscription reconciler (Knative's ``pkg/reconciler/subscription/subscription.go``).

Phases, as ``ReconcileKind``: ``OIDCIdentityCreated`` True (``authentication-oidc feature
disabled``) -> the channel: ``spec.channel`` in the Subscription's namespace; for a generic Channel,
once Ready, its backing channel (``status.channel``); not there -> ``ReferencesResolved`` Unknown
``ChannelReferenceFailed`` -> the subscriber, the reply and the dead letter sink (the
Subscription's own, else the channel's resolved one) resolve into ``status.physicalSubscription``
(``ReferencesResolved``, or False ``SubscriberResolveFailed``/``ReplyResolveFailed``/
``DeadLetterSinkResolveFailed``) -> the channel's ``spec.subscribers`` gets (or updates) this
Subscription's entry, with the delivery Knative merges from the Subscription's and the channel's
(``AddedToChannel``) -> the channel's ``status.subscribers`` entry of this uid and generation gives
``ChannelReady``.

A Subscription carries the finalizer ``subscriptions.messaging.knative.dev`` (Knative's generated
reconciler's): on delete its entry leaves the channel first, then the finalizer goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from zeroserve.api import eventing as ev
from zeroserve.api import messaging as msg
from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.conditions import READY, ConditionManager
from zeroserve.api.domainmapping import KReference
from zeroserve.api.eventing import DeliverySpec, Destination
from zeroserve.api.kinds import CHANNEL, SUBSCRIPTION, Kind, by_kind
from zeroserve.api.messaging import Subscription
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.reconcilers.destinations import ResolveError, resolve

AGENT = "subscription-controller"
CHANNEL_REFERENCE_FAILED = "ChannelReferenceFailed"
NOT_MARKED_READY = "SubscriptionNotMarkedReadyByChannel"


class ChannelError(Exception):
    """The channel (or a generic Channel's backing channel) cannot be used yet."""


async def physical_channel(deps: Deps, s: Subscription) -> tuple[Kind, Obj]:
    """``getChannel``: the channelable the Subscription's entry goes into."""
    ref, namespace = s.spec.channel, s.metadata.namespace or ""
    if ref.namespace and deps.config().features.enabled("cross-namespace-event-links"):
        namespace = ref.namespace
    kind = by_kind(ref.api_version or "", ref.kind or "")
    if kind is None:
        raise ChannelError(f"no kind {ref.api_version}, Kind={ref.kind} in this API server")
    obj = await get_or_none(deps.store, kind, namespace, ref.name or "")
    if obj is None:
        group = f".{kind.group}" if kind.group else ""
        raise ChannelError(f'{kind.plural}{group} "{ref.name}" not found')
    if kind is CHANNEL:
        status = obj.get("status") or {}
        backing = status.get("channel") or {}
        ready = [c for c in status.get("conditions") or [] if c.get("type") == READY]
        if not ready or ready[0].get("status") != "True" or not backing:
            raise ChannelError("channel is not ready.")
        kind_ = by_kind(str(backing.get("apiVersion", "")), str(backing.get("kind", "")))
        found = await get_or_none(deps.store, kind_, namespace, str(backing.get("name"))) if kind_ else None
        if kind_ is None or found is None:
            raise ChannelError(f'backing channel "{backing.get("name")}" not found')
        return kind_, found
    return kind, obj


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, SUBSCRIPTION, Subscription, key.namespace, key.name)
    if loaded is None:
        return None
    stored, s = loaded
    finalizers = stored.get("metadata", {}).get("finalizers") or []
    if s.metadata.deletion_timestamp:
        if msg.SUBSCRIPTION_FINALIZER in finalizers:
            await _finalize(deps, s, stored)
        return None
    if msg.SUBSCRIPTION_FINALIZER not in finalizers:  # the update comes back as an event
        meta = {**stored["metadata"], "finalizers": [*finalizers, msg.SUBSCRIPTION_FINALIZER]}
        await deps.store.update(SUBSCRIPTION, {**stored, "metadata": meta})
        return None
    status = s.status
    cm = msg.SUBSCRIPTION_CONDITIONS.manage(status, deps.now())
    ev.pre_process(cm, status, s.metadata.generation)
    status.observed_generation = s.metadata.generation
    cm.mark_true(msg.OIDC_IDENTITY_CREATED, "authentication-oidc feature disabled", "")
    try:
        kind, channel = await physical_channel(deps, s)
    except ChannelError as e:
        message = f"Failed to get Spec.Channel or backing channel: {e}"
        cm.mark_unknown(msg.REFERENCES_RESOLVED, CHANNEL_REFERENCE_FAILED, message)
    else:
        if await _resolve(deps, s, channel, cm):
            await _sync(deps, s, kind, channel)
            cm.mark_true(msg.ADDED_TO_CHANNEL)
            _channel_ready(s, channel, cm)
    await write_status(deps.store, SUBSCRIPTION, stored, s)
    return None


async def _finalize(deps: Deps, s: Subscription, stored: Obj) -> None:
    try:
        kind, channel = await physical_channel(deps, s)
    except ChannelError:
        pass  # no channel (or no backing channel) left to remove the entry from
    else:
        entries = [e for e in channel.get("spec", {}).get("subscribers") or [] if e.get("uid") != s.metadata.uid]
        if len(entries) != len(channel.get("spec", {}).get("subscribers") or []):
            await deps.store.update(kind, {**channel, "spec": {**channel.get("spec", {}), "subscribers": entries}})
    meta = stored["metadata"]
    rest = [f for f in meta.get("finalizers") or [] if f != msg.SUBSCRIPTION_FINALIZER]
    await deps.store.update(SUBSCRIPTION, {**stored, "metadata": {**meta, "finalizers": rest}})


async def _resolve(deps: Deps, s: Subscription, channel: Obj, cm: ConditionManager) -> bool:
    """``resolveSubscriptionURIs``; False when one failed (its condition says why)."""
    phys = s.status.physical_subscription
    cm.mark_unknown(msg.REFERENCES_RESOLVED, "Resolving", "Subscription resolution interrupted.")
    for field, dest, reason in (
        ("subscriber", s.spec.subscriber, "SubscriberResolveFailed"),
        ("reply", s.spec.reply, "ReplyResolveFailed"),
    ):
        uri: str | None = None
        if not msg.empty_destination(dest):
            assert dest is not None
            try:
                uri = await resolve(deps.store, _defaulted(dest, s.metadata.namespace or ""))
            except ResolveError as e:
                cm.mark_false(msg.REFERENCES_RESOLVED, reason, f"Failed to resolve spec.{field}: {e}")
                return False
        setattr(phys, f"{field}_uri", uri)
    phys.dead_letter_sink_uri = None
    own = s.spec.delivery.dead_letter_sink if s.spec.delivery is not None else None
    channel_delivery = (channel.get("spec") or {}).get("delivery") or {}
    if own is not None:
        try:
            phys.dead_letter_sink_uri = await resolve(deps.store, own)
        except ResolveError as e:
            message = f"Failed to resolve spec.delivery.deadLetterSink: {e}"
            cm.mark_false(msg.REFERENCES_RESOLVED, "DeadLetterSinkResolveFailed", message)
            return False
    elif channel_delivery.get("deadLetterSink"):
        resolved = (channel.get("status") or {}).get("deadLetterSinkUri")
        if not resolved:
            name = channel.get("metadata", {}).get("name", "")
            message = f"channel {name} didn't set status.deadLetterSinkURI"
            cm.mark_false(msg.REFERENCES_RESOLVED, "DeadLetterSinkResolveFailed", message)
            return False
        phys.dead_letter_sink_uri = resolved
    cm.mark_true(msg.REFERENCES_RESOLVED)
    return True


def _defaulted(dest: Destination, namespace: str) -> Destination:
    d = dest.model_copy(deep=True)
    msg.default_destination(d, namespace)
    return d


def delivery_for(s: Subscription, channel_delivery: dict[str, Any]) -> dict[str, Any] | None:
    """``deliverySpec``: the resolved dead letter sink as a URI, and the retry fields of the
    Subscription's delivery (else, with no delivery of its own, the channel's)."""
    own = s.spec.delivery
    source = to_wire(own) if own is not None else channel_delivery
    out: dict[str, Any] = {}
    dls = s.status.physical_subscription.dead_letter_sink_uri
    if dls:
        out["deadLetterSink"] = {"uri": dls}
    keys = ("backoffPolicy", "retry", "backoffDelay", "timeout", "retryAfterMax")
    if any(k in source for k in keys):
        out.update({k: source[k] for k in keys if k in source})
    return out or None


async def _sync(deps: Deps, s: Subscription, kind: Kind, channel: Obj) -> None:
    """``syncPhysicalChannel``: this Subscription's entry in the channel's ``spec.subscribers``."""
    spec = channel.get("spec") or {}
    phys = s.status.physical_subscription
    entry: dict[str, Any] = {
        "name": s.metadata.name,
        "uid": s.metadata.uid,
        "generation": s.metadata.generation,
        "subscriberUri": phys.subscriber_uri,
        "replyUri": phys.reply_uri,
        "delivery": delivery_for(s, spec.get("delivery") or {}),
    }
    entry = {k: v for k, v in entry.items() if v is not None}
    entries = list(spec.get("subscribers") or [])
    at = next((i for i, e in enumerate(entries) if e.get("uid") == s.metadata.uid), None)
    if at is None:
        entries.append(entry)
    elif entries[at] != entry:
        entries[at] = entry
    else:
        return
    await deps.store.update(kind, {**channel, "spec": {**spec, "subscribers": entries}})


def _channel_ready(s: Subscription, channel: Obj, cm: ConditionManager) -> None:
    """``checkChannelStatusForSubscription``."""
    found = [
        e
        for e in (channel.get("status") or {}).get("subscribers") or []
        if e.get("uid") == s.metadata.uid and e.get("observedGeneration") == s.metadata.generation
    ]
    if not found:
        name = json.dumps(s.metadata.name)
        channel_name = json.dumps(channel.get("metadata", {}).get("name", ""))
        message = (
            f"Failed to get subscription status: subscription {name} not present in channel {channel_name} "
            "subscriber's list"
        )
        cm.mark_unknown(msg.CHANNEL_READY, NOT_MARKED_READY, message)
    elif found[0].get("ready") == "True":
        cm.mark_true(msg.CHANNEL_READY)
    elif found[0].get("ready") == "False":
        cm.mark_false(msg.CHANNEL_READY, NOT_MARKED_READY, "Subscription marked by Channel as False")
    else:
        cm.mark_unknown(msg.CHANNEL_READY, NOT_MARKED_READY, "Subscription marked by Channel as Unknown")


# ----------------------------------------------------------------------------- tracking

Ref = tuple[str, str, str]


def _ref(ref: KReference | None, namespace: str) -> Ref | None:
    if ref is None or not ref.kind or not ref.name:
        return None
    return ref.kind, ref.namespace or namespace, ref.name


def depends_on(obj: Obj) -> set[Ref]:
    """What a Subscription's reconcile reads: its channel (and a Channel's backing channel of the same
    name), its subscriber's, reply's and dead letter sink's refs."""
    s = from_wire(Subscription, obj)
    ns = s.metadata.namespace or ""
    refs = {_ref(s.spec.channel, ns)}
    if s.spec.channel.kind == CHANNEL.kind:
        refs.add(("InMemoryChannel", ns, s.spec.channel.name or ""))
    for dest in (s.spec.subscriber, s.spec.reply):
        refs.add(_ref(dest.ref if dest is not None else None, ns))
    delivery: DeliverySpec | None = s.spec.delivery
    if delivery is not None and delivery.dead_letter_sink is not None:
        refs.add(_ref(delivery.dead_letter_sink.ref, ns))
    return {r for r in refs if r is not None}


class Tracker:
    """Which Subscriptions to reconcile when a channel or a destination they name changes."""

    def __init__(self) -> None:
        self._refs: dict[Key, set[Ref]] = {}

    def observe(self, kind: str, obj: Obj, deleted: bool) -> Iterable[Key]:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if kind == SUBSCRIPTION.kind:
            key = Key(kind, ns, name)
            if deleted:
                self._refs.pop(key, None)
            else:
                try:
                    self._refs[key] = depends_on(obj)
                except ValueError:
                    self._refs.pop(key, None)
        changed = (kind, ns, name)
        return [key for key, refs in self._refs.items() if changed in refs]
