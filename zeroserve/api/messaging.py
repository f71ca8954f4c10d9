"""Channel, InMemoryChannel and Subscription (``messaging.knative.dev/v1``): types, defaults,
validation and condition sets. PURE.

Mirrors knative/eventing ``pkg/apis/messaging/v1/{channel,in_memory_channel,subscription}_*.go`` and
the channelable/subscribable ducks (``pkg/apis/duck/v1/{channelable,subscribable}_types.go``).
A Channel without ``spec.channelTemplate`` gets the namespace's or the cluster's template from
``default-ch-webhook`` (:mod:`zeroserve.config.channels`).

Differences, each toward a clearer error: an InMemoryChannel's ``spec.subscribers`` is written by the
Subscription reconciler (Knative refuses any other writer through its webhook's user check; zeroserve's
admission does not know the user, so a hand-written subscriber is accepted and the next Subscription
reconcile of that uid rewrites it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zeroserve.api import eventing as ev
from zeroserve.api import fielderrors, validation
from zeroserve.api.base import Int64, Model
from zeroserve.api.conditions import READY, ConditionSet
from zeroserve.api.domainmapping import KReference
from zeroserve.api.eventing import Addressable, AppliedEventPolicyRef, DeliverySpec, Destination
from zeroserve.api.meta import Condition, ObjectMeta, Status
from zeroserve.config import Config
from zeroserve.errors import FieldError

GROUP = "messaging.knative.dev"
API_VERSION = f"{GROUP}/v1"
SUBSCRIBABLE_ANNOTATION = "messaging.knative.dev/subscribable"
"""``SubscribableDuckVersionAnnotation``: the subscribable duck version a channel implements (v1)."""
SCOPE_ANNOTATION = "eventing.knative.dev/scope"
CHANNEL_SERVICE_SUFFIX = "-kn-channel"
"""``K8ServiceNameSuffix``: an InMemoryChannel's address is ``NAME-kn-channel.NS.svc.cluster.local``."""
SUBSCRIPTION_FINALIZER = "subscriptions.messaging.knative.dev"
"""The finalizer Knative's generated reconciler puts on a Subscription (its removal from the channel
happens before the Subscription goes)."""

# Channel conditions (channel_lifecycle.go)
BACKING_CHANNEL_READY = "BackingChannelReady"
ADDRESSABLE = ev.ADDRESSABLE
DEAD_LETTER_SINK_RESOLVED = ev.DEAD_LETTER_SINK_RESOLVED
EVENT_POLICIES_READY = ev.EVENT_POLICIES_READY
CHANNEL_CONDITIONS = ConditionSet(
    READY, (BACKING_CHANNEL_READY, ADDRESSABLE, DEAD_LETTER_SINK_RESOLVED, EVENT_POLICIES_READY)
)

# InMemoryChannel conditions (in_memory_channel_lifecycle.go; DispatcherReady is not in the set)
SERVICE_READY = "ServiceReady"
ENDPOINTS_READY = "EndpointsReady"
CHANNEL_SERVICE_READY = "ChannelServiceReady"
IMC_CONDITIONS = ConditionSet(
    READY,
    (
        SERVICE_READY,
        ENDPOINTS_READY,
        ADDRESSABLE,
        CHANNEL_SERVICE_READY,
        DEAD_LETTER_SINK_RESOLVED,
        EVENT_POLICIES_READY,
    ),
)

# Subscription conditions (subscription_lifecycle.go)
REFERENCES_RESOLVED = "ReferencesResolved"
ADDED_TO_CHANNEL = "AddedToChannel"
CHANNEL_READY = "ChannelReady"
OIDC_IDENTITY_CREATED = ev.OIDC_IDENTITY_CREATED
SUBSCRIPTION_CONDITIONS = ConditionSet(
    READY, (REFERENCES_RESOLVED, ADDED_TO_CHANNEL, CHANNEL_READY, OIDC_IDENTITY_CREATED)
)


# ----------------------------------------------------------------------------- types


class ChannelTemplateSpec(Model):
    """``ChannelTemplateSpec``: the kind of channel to make, and its spec (any object)."""

    api_version: str | None = None
    kind: str | None = None
    spec: dict[str, Any] | None = None


class SubscriberSpec(Model):
    """eventingduckv1 ``SubscriberSpec``: one subscription as its channel delivers it."""

    name: str | None = None
    uid: str | None = None
    generation: Int64 | None = None
    subscriber_uri: str | None = None
    subscriber_ca_certs: str | None = Field(default=None, alias="subscriberCACerts")
    subscriber_audience: str | None = None
    reply_uri: str | None = None
    reply_ca_certs: str | None = Field(default=None, alias="replyCACerts")
    reply_audience: str | None = None
    delivery: DeliverySpec | None = None
    auth: dict[str, Any] | None = None


class SubscriberStatus(Model):
    uid: str | None = None
    observed_generation: Int64 | None = None
    ready: str | None = None
    message: str | None = None
    auth: dict[str, Any] | None = None


class ChannelableStatus(Status):
    """eventingduckv1 ``ChannelableStatus``: address, subscribers, dead letter sink, policies."""

    address: Addressable | None = None
    addresses: list[Addressable] = Field(default_factory=list)
    subscribers: list[SubscriberStatus] = Field(default_factory=list)
    dead_letter_sink_uri: str | None = None
    dead_letter_sink_ca_certs: str | None = Field(default=None, alias="deadLetterSinkCACerts")
    dead_letter_sink_audience: str | None = None
    policies: list[AppliedEventPolicyRef] = Field(default_factory=list)


class ChannelSpec(Model):
    channel_template: ChannelTemplateSpec | None = None
    subscribers: list[SubscriberSpec] = Field(default_factory=list)
    delivery: DeliverySpec | None = None


class ChannelStatus(ChannelableStatus):
    channel: KReference | None = None
    """The backing channel (made from the template, named as the Channel)."""


class Channel(Model):
    api_version: Literal["messaging.knative.dev/v1"] = "messaging.knative.dev/v1"
    kind: Literal["Channel"] = "Channel"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ChannelSpec = Field(default_factory=ChannelSpec)
    status: ChannelStatus = Field(default_factory=ChannelStatus)


class InMemoryChannelSpec(Model):
    subscribers: list[SubscriberSpec] = Field(default_factory=list)
    delivery: DeliverySpec | None = None


class InMemoryChannel(Model):
    api_version: Literal["messaging.knative.dev/v1"] = "messaging.knative.dev/v1"
    kind: Literal["InMemoryChannel"] = "InMemoryChannel"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: InMemoryChannelSpec = Field(default_factory=InMemoryChannelSpec)
    status: ChannelableStatus = Field(default_factory=ChannelableStatus)

    def is_ready(self) -> bool:
        return self.status.observed_generation == self.metadata.generation and is_true(self.status.get_condition(READY))


class SubscriptionSpec(Model):
    channel: KReference = Field(default_factory=KReference)
    subscriber: Destination | None = None
    reply: Destination | None = None
    delivery: DeliverySpec | None = None


class PhysicalSubscription(Model):
    """``SubscriptionStatusPhysicalSubscription``: the resolved URIs the channel delivers with."""

    subscriber_uri: str | None = None
    subscriber_ca_certs: str | None = Field(default=None, alias="subscriberCACerts")
    subscriber_audience: str | None = None
    reply_uri: str | None = None
    reply_ca_certs: str | None = Field(default=None, alias="replyCACerts")
    reply_audience: str | None = None
    dead_letter_sink_uri: str | None = None
    dead_letter_sink_ca_certs: str | None = Field(default=None, alias="deadLetterSinkCACerts")
    dead_letter_sink_audience: str | None = None


class SubscriptionStatus(Status):
    physical_subscription: PhysicalSubscription = Field(default_factory=PhysicalSubscription)
    auth: dict[str, Any] | None = None


class Subscription(Model):
    api_version: Literal["messaging.knative.dev/v1"] = "messaging.knative.dev/v1"
    kind: Literal["Subscription"] = "Subscription"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SubscriptionSpec = Field(default_factory=SubscriptionSpec)
    status: SubscriptionStatus = Field(default_factory=SubscriptionStatus)


def is_true(cond: Condition | None) -> bool:
    return cond is not None and cond.status == "True"


def channel_host(namespace: str, name: str) -> str:
    """An InMemoryChannel's host: its ``NAME-kn-channel`` Service in its namespace."""
    return f"{name}{CHANNEL_SERVICE_SUFFIX}.{namespace}.svc.cluster.local"


def empty_destination(d: Destination | None) -> bool:
    """``isDestinationNilOrEmpty``."""
    return d is None or d == Destination()


# ----------------------------------------------------------------------------- defaults


def default_destination(d: Destination | None, namespace: str) -> None:
    """``Destination.SetDefaults``: a ref without a namespace gets the holder's."""
    if d is not None and d.ref is not None and not d.ref.namespace:
        d.ref.namespace = namespace


def default_delivery(ds: DeliverySpec | None, namespace: str) -> None:
    if ds is not None:
        default_destination(ds.dead_letter_sink, namespace)


def template_from_config(cfg: Config, namespace: str) -> ChannelTemplateSpec | None:
    """``GetChannelConfig`` as a template (None: no default configured)."""
    found = cfg.ch_defaults.channel_template(namespace)
    return ChannelTemplateSpec.model_validate(found) if found is not None else None


def default_channel(c: Channel, cfg: Config) -> None:
    """``Channel.SetDefaults``: the subscribable annotation, the template from default-ch-webhook."""
    c.metadata.annotations.setdefault(SUBSCRIBABLE_ANNOTATION, "v1")
    if c.spec.channel_template is None:
        c.spec.channel_template = template_from_config(cfg, c.metadata.namespace or "")
        default_delivery(c.spec.delivery, c.metadata.namespace or "")  # Knative's early return skips it otherwise


def default_in_memory_channel(c: InMemoryChannel, cfg: Config) -> None:
    c.metadata.annotations.setdefault(SUBSCRIBABLE_ANNOTATION, "v1")
    default_delivery(c.spec.delivery, c.metadata.namespace or "")


def default_subscription(s: Subscription, cfg: Config) -> None:
    namespace = s.metadata.namespace or ""
    default_destination(s.spec.subscriber, namespace)
    default_destination(s.spec.reply, namespace)
    default_delivery(s.spec.delivery, namespace)


# ----------------------------------------------------------------------------- validation


def validate_template(ct: ChannelTemplateSpec) -> list[FieldError]:
    """``IsValidChannelTemplate`` (relative to the template)."""
    errs: list[FieldError] = []
    if not ct.kind:
        errs.append(validation.err_missing("kind"))
    if not ct.api_version:
        errs.append(validation.err_missing("apiVersion"))
    return errs


def _delivery(ds: DeliverySpec | None, cfg: Config) -> list[FieldError]:
    return validation.via(ev.validate_delivery(ds, cfg.features, "", other_namespace=True), "delivery")


def validate_channel(c: Channel, old: Channel | None, cfg: Config) -> list[FieldError]:
    """``Channel.Validate``: a template, no subscribers of its own, delivery; the spec is immutable
    but for its subscribers."""
    errs = validation.via(validation.validate_object_meta(c.metadata, dns1035=False), "metadata")
    spec: list[FieldError] = []
    if c.spec.channel_template is None:
        spec.append(validation.err_missing("channelTemplate"))
    else:
        spec += validation.via(validate_template(c.spec.channel_template), "channelTemplate")
    if c.spec.subscribers:
        spec.append(fielderrors.err_disallowed("subscribable.subscribers"))
    spec += _delivery(c.spec.delivery, cfg)
    errs += validation.via(spec, "spec")
    if old is not None:
        before = old.spec.model_dump(by_alias=True, exclude_none=True, exclude={"subscribers"})
        after = c.spec.model_dump(by_alias=True, exclude_none=True, exclude={"subscribers"})
        if diff := validation.short_diff(before, after):
            errs.append(FieldError("Immutable fields changed (-old +new)", ("spec",), diff))
    return errs


def validate_in_memory_channel(c: InMemoryChannel, old: InMemoryChannel | None, cfg: Config) -> list[FieldError]:
    """``InMemoryChannel.Validate``: each subscriber has a subscriber or reply URI; the scope annotation."""
    errs = validation.via(validation.validate_object_meta(c.metadata, dns1035=False), "metadata")
    for i, sub in enumerate(c.spec.subscribers):
        if sub.reply_uri is None and sub.subscriber_uri is None:
            err = FieldError(
                fielderrors.MSG_MISSING, ("replyURI", "subscriberURI"), "expected at least one of, got none"
            )
            errs += validation.via([err], f"spec.subscribable.subscriber[{i}]")
    errs += validation.via(_delivery(c.spec.delivery, cfg), "spec")
    scope = c.metadata.annotations.get(SCOPE_ANNOTATION)
    if scope is not None and scope not in ("namespace", "cluster"):
        path = f"metadata.annotations.{SCOPE_ANNOTATION}"
        errs.append(validation.err_invalid_value(scope, path, "expected either 'cluster' or 'namespace'"))
    return errs


def validate_channel_ref(ref: KReference, cfg: Config) -> list[FieldError]:
    """``isValidChannel`` (relative to the reference)."""
    group = cfg.features.enabled("kreference-group")
    errs = ev.validate_reference(ref, "", other_namespace=True, group=group)
    if ref.namespace and not cfg.features.enabled("cross-namespace-event-links"):
        details = (
            "only name, apiVersion and kind are supported fields when feature.CrossNamespaceEventLinks is disabled"
        )
        errs.append(FieldError(fielderrors.MSG_DISALLOWED, ("namespace",), details))
    return errs


def validate_destination(d: Destination, cfg: Config) -> list[FieldError]:
    """``Destination.Validate`` outside a parent (a ref in another namespace is allowed)."""
    return ev.validate_destination(d, "", other_namespace=True, group=cfg.features.enabled("kreference-group"))


def _validate_subscription_spec(ss: SubscriptionSpec, cfg: Config) -> list[FieldError]:
    """``SubscriptionSpec.Validate``: a missing channel is the only error reported."""
    if ss.channel == KReference():
        return [FieldError(fielderrors.MSG_MISSING, ("channel",), "the Subscription must reference a channel")]
    errs = validation.via(validate_channel_ref(ss.channel, cfg), "channel")
    if empty_destination(ss.subscriber):
        errs.append(
            FieldError(fielderrors.MSG_MISSING, ("subscriber",), "the Subscription must reference a subscriber")
        )
    elif ss.subscriber is not None:
        errs += validation.via(validate_destination(ss.subscriber, cfg), "subscriber")
    if ss.reply is not None and not empty_destination(ss.reply):
        errs += validation.via(validate_destination(ss.reply, cfg), "reply")
    errs += _delivery(ss.delivery, cfg)
    return errs


def validate_subscription(s: Subscription, old: Subscription | None, cfg: Config) -> list[FieldError]:
    """``Subscription.Validate``: the spec; on update only subscriber, reply and delivery may change."""
    errs = validation.via(validation.validate_object_meta(s.metadata, dns1035=False), "metadata")
    errs += validation.via(_validate_subscription_spec(s.spec, cfg), "spec")
    if old is not None:
        keep = {"subscriber", "reply", "delivery"}
        before = old.spec.model_dump(by_alias=True, exclude_none=True, exclude=keep)
        after = s.spec.model_dump(by_alias=True, exclude_none=True, exclude=keep)
        if diff := validation.short_diff(before, after):
            errs.append(FieldError("Immutable fields changed (-old +new)", ("spec",), diff))
    return errs
