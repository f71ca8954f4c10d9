"""Sequence and Parallel (``flows.knative.dev/v1``): types, defaults, validation, the names of what
they make, and their status propagation. PURE.

Mirrors knative/eventing ``pkg/apis/flows/v1/{sequence,parallel}_{types,defaults,validation,lifecycle}.go``
and ``pkg/reconciler/{sequence,parallel}/resources``: a Sequence makes a channel per step
(``NAME-kn-sequence-I``) and a Subscription per step on it (same name) whose reply is the next step's
channel (the last one's is ``spec.reply``); a Parallel makes an ingress channel (``NAME-kn-parallel``),
per branch a channel (``NAME-kn-parallel-I``), a filter Subscription on the ingress
(``NAME-kn-parallel-filter-I``: the filter, replying into the branch's channel, or with no filter the
branch's channel itself) and a Subscription on the branch's channel (``NAME-kn-parallel-I``: the
subscriber, replying to the branch's reply, else the Parallel's).

Differences, each toward a clearer error: an invalid step or branch is reported with the nested
problem as its details (Knative prints the whole Go struct as the "invalid value").
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from zeroserve.api import validation
from zeroserve.api.base import Model
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.domainmapping import KReference
from zeroserve.api.eventing import Addressable, AppliedEventPolicyRef, DeliverySpec, Destination, validate_delivery
from zeroserve.api.messaging import (
    ChannelTemplateSpec,
    default_delivery,
    default_destination,
    template_from_config,
    validate_destination,
    validate_template,
)
from zeroserve.api.meta import Condition, ObjectMeta, OwnerReference, Status
from zeroserve.config import Config
from zeroserve.errors import FieldError

GROUP = "flows.knative.dev"
API_VERSION = f"{GROUP}/v1"

CHANNELS_READY = "ChannelsReady"
SUBSCRIPTIONS_READY = "SubscriptionsReady"
ADDRESSABLE = "Addressable"
EVENT_POLICIES_READY = "EventPoliciesReady"
FLOW_CONDITIONS = ConditionSet(READY, (CHANNELS_READY, SUBSCRIPTIONS_READY, ADDRESSABLE, EVENT_POLICIES_READY))
"""Sequence's and Parallel's condition sets (the same four dependents)."""
SUBSCRIPTIONS_NOT_READY = "Subscriptions are not ready yet, or there are none"


# ----------------------------------------------------------------------------- types


class ObjectReference(Model):
    """corev1 ``ObjectReference`` as the flows' statuses fill it."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class ChannelStatusRef(Model):
    """``SequenceChannelStatus`` / ``ParallelChannelStatus``."""

    channel: ObjectReference = Field(default_factory=ObjectReference)
    ready: Condition | None = None


class SubscriptionStatusRef(Model):
    """``SequenceSubscriptionStatus`` / ``ParallelSubscriptionStatus``."""

    subscription: ObjectReference = Field(default_factory=ObjectReference)
    ready: Condition | None = None


class SequenceStep(Destination):
    delivery: DeliverySpec | None = None


class SequenceSpec(Model):
    steps: list[SequenceStep] = Field(default_factory=list)
    channel_template: ChannelTemplateSpec | None = None
    reply: Destination | None = None


class SequenceStatus(Status):
    subscription_statuses: list[SubscriptionStatusRef] = Field(default_factory=list)
    channel_statuses: list[ChannelStatusRef] = Field(default_factory=list)
    address: Addressable = Field(default_factory=Addressable)
    auth: dict[str, Any] | None = None
    policies: list[AppliedEventPolicyRef] = Field(default_factory=list)


class Sequence(Model):
    api_version: Literal["flows.knative.dev/v1"] = "flows.knative.dev/v1"
    kind: Literal["Sequence"] = "Sequence"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SequenceSpec = Field(default_factory=SequenceSpec)
    status: SequenceStatus = Field(default_factory=SequenceStatus)


class ParallelBranch(Model):
    filter: Destination | None = None
    subscriber: Destination = Field(default_factory=Destination)
    reply: Destination | None = None
    delivery: DeliverySpec | None = None


class ParallelSpec(Model):
    branches: list[ParallelBranch] = Field(default_factory=list)
    channel_template: ChannelTemplateSpec | None = None
    reply: Destination | None = None


class ParallelBranchStatus(Model):
    filter_subscription_status: SubscriptionStatusRef = Field(default_factory=SubscriptionStatusRef)
    filter_channel_status: ChannelStatusRef = Field(default_factory=ChannelStatusRef)
    subscriber_subscription_status: SubscriptionStatusRef = Field(default_factory=SubscriptionStatusRef)


class ParallelStatus(Status):
    ingress_channel_status: ChannelStatusRef | None = None
    branch_statuses: list[ParallelBranchStatus] = Field(default_factory=list)
    address: Addressable | None = None
    addresses: list[Addressable] = Field(default_factory=list)
    auth: dict[str, Any] | None = None
    policies: list[AppliedEventPolicyRef] = Field(default_factory=list)


class Parallel(Model):
    api_version: Literal["flows.knative.dev/v1"] = "flows.knative.dev/v1"
    kind: Literal["Parallel"] = "Parallel"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ParallelSpec = Field(default_factory=ParallelSpec)
    status: ParallelStatus = Field(default_factory=ParallelStatus)


# ----------------------------------------------------------------------------- names and children


def sequence_channel_name(name: str, step: int) -> str:
    return f"{name}-kn-sequence-{step}"


def parallel_channel_name(name: str) -> str:
    return f"{name}-kn-parallel"


def parallel_branch_channel_name(name: str, branch: int) -> str:
    return f"{name}-kn-parallel-{branch}"


def parallel_filter_subscription_name(name: str, branch: int) -> str:
    return f"{name}-kn-parallel-filter-{branch}"


def owner_ref(kind: str, meta: ObjectMeta) -> OwnerReference:
    """``kmeta.NewControllerRef`` of a Sequence or Parallel."""
    return OwnerReference(
        api_version=API_VERSION,
        kind=kind,
        name=meta.name or "",
        uid=meta.uid or "",
        controller=True,
        block_owner_deletion=True,
    )


def _channel_ref(template: ChannelTemplateSpec, name: str, namespace: str | None = None) -> KReference:
    return KReference(api_version=template.api_version, kind=template.kind, name=name, namespace=namespace)


def _copy(d: Destination | None) -> Destination | None:
    return d.model_copy(deep=True) if d is not None else None


def sequence_subscription_spec(s: Sequence, step: int) -> dict[str, Any]:
    """``resources.NewSubscription`` for a Sequence's step: its spec (wire form)."""
    assert s.spec.channel_template is not None
    template, ns = s.spec.channel_template, s.metadata.namespace or ""
    source = s.spec.steps[step]
    spec: dict[str, Any] = {
        "channel": _channel_ref(template, sequence_channel_name(s.metadata.name or "", step)),
        "subscriber": Destination(ref=source.ref, uri=source.uri, ca_certs=source.ca_certs, audience=source.audience),
        "delivery": source.delivery,
    }
    if step < len(s.spec.steps) - 1:
        next_channel = sequence_channel_name(s.metadata.name or "", step + 1)
        spec["reply"] = Destination(ref=_channel_ref(template, next_channel, ns))
    elif s.spec.reply is not None:
        spec["reply"] = _copy(s.spec.reply)
    return _wire(spec)


def parallel_filter_subscription_spec(p: Parallel, branch: int) -> dict[str, Any]:
    """``resources.NewFilterSubscription``."""
    assert p.spec.channel_template is not None
    template, name, ns = p.spec.channel_template, p.metadata.name or "", p.metadata.namespace or ""
    branch_channel = Destination(ref=_channel_ref(template, parallel_branch_channel_name(name, branch), ns))
    spec: dict[str, Any] = {"channel": _channel_ref(template, parallel_channel_name(name))}
    filter_ = p.spec.branches[branch].filter
    if filter_ is None:
        spec["subscriber"] = branch_channel
    else:
        spec["subscriber"], spec["reply"] = _copy(filter_), branch_channel
    return _wire(spec)


def parallel_subscription_spec(p: Parallel, branch: int) -> dict[str, Any]:
    """``resources.NewSubscription`` for a Parallel's branch."""
    assert p.spec.channel_template is not None
    b = p.spec.branches[branch]
    spec: dict[str, Any] = {
        "channel": _channel_ref(p.spec.channel_template, parallel_branch_channel_name(p.metadata.name or "", branch)),
        "subscriber": _copy(b.subscriber),
        "delivery": b.delivery,
        "reply": _copy(b.reply) if b.reply is not None else _copy(p.spec.reply),
    }
    return _wire(spec)


def _wire(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, Model):
            out[key] = value.model_dump(by_alias=True, exclude_none=True)
        elif value is not None:
            out[key] = value
    return out


# ----------------------------------------------------------------------------- defaults


def default_sequence(s: Sequence, cfg: Config) -> None:
    """``Sequence.SetDefaults``: the template from default-ch-webhook; the refs' namespaces."""
    ns = s.metadata.namespace or ""
    if s.spec.channel_template is None:
        s.spec.channel_template = template_from_config(cfg, ns)
    for step in s.spec.steps:
        default_destination(step, ns)
        default_delivery(step.delivery, ns)
    default_destination(s.spec.reply, ns)


def default_parallel(p: Parallel, cfg: Config) -> None:
    """``Parallel.SetDefaults``."""
    ns = p.metadata.namespace or ""
    if p.spec.channel_template is None:
        p.spec.channel_template = template_from_config(cfg, ns)
    for b in p.spec.branches:
        default_destination(b.filter, ns)
        default_destination(b.subscriber, ns)
        default_destination(b.reply, ns)
    default_destination(p.spec.reply, ns)


# ----------------------------------------------------------------------------- validation


def _invalid_item(item: Model, errs: list[FieldError], path: str) -> list[FieldError]:
    """``ErrInvalidArrayValue``: one error at the item (its JSON as the value), the nested problems
    as its details."""
    if not errs:
        return []
    value = json.dumps(item.model_dump(by_alias=True, exclude_none=True), separators=(",", ":"))
    return [validation.err_invalid_value(value, path, "; ".join(str(e).replace("\n", " ") for e in errs))]


def validate_sequence(s: Sequence, old: Sequence | None, cfg: Config) -> list[FieldError]:
    """``SequenceSpec.Validate``: steps (each a valid destination and delivery), a template, the reply."""
    errs = validation.via(validation.validate_object_meta(s.metadata, dns1035=False), "metadata")
    spec: list[FieldError] = []
    if not s.spec.steps:
        spec.append(validation.err_missing("steps"))
    for i, step in enumerate(s.spec.steps):
        nested = validate_destination(Destination(ref=step.ref, uri=step.uri, ca_certs=step.ca_certs), cfg)
        nested += validation.via(validate_delivery(step.delivery, cfg.features, "", other_namespace=True), "delivery")
        spec += _invalid_item(step, nested, f"steps[{i}]")
    if s.spec.channel_template is None:
        spec.append(validation.err_missing("channelTemplate"))
    else:
        spec += validation.via(validate_template(s.spec.channel_template), "channelTemplate")
    if s.spec.reply is not None:
        spec += validation.via(validate_destination(s.spec.reply, cfg), "reply")
    return errs + validation.via(spec, "spec")


def validate_parallel(p: Parallel, old: Parallel | None, cfg: Config) -> list[FieldError]:
    """``ParallelSpec.Validate``: branches (filter, subscriber, reply), a template, the reply."""
    errs = validation.via(validation.validate_object_meta(p.metadata, dns1035=False), "metadata")
    spec: list[FieldError] = []
    if not p.spec.branches:
        spec.append(validation.err_missing("branches"))
    for i, b in enumerate(p.spec.branches):
        if b.filter is not None:
            spec += _invalid_item(b, validate_destination(b.filter, cfg), f"branches.filter[{i}]")
        spec += _invalid_item(b, validate_destination(b.subscriber, cfg), f"branches.subscriber[{i}]")
        if b.reply is not None:
            spec += _invalid_item(b, validate_destination(b.reply, cfg), f"branches.reply[{i}]")
    template = p.spec.channel_template
    if template is None:
        spec.append(validation.err_missing("channelTemplate"))
        return errs + validation.via(spec, "spec")
    if not template.api_version:
        spec.append(validation.err_missing("channelTemplate.apiVersion"))
    if not template.kind:
        spec.append(validation.err_missing("channelTemplate.kind"))
    if p.spec.reply is not None:
        spec += validation.via(validate_destination(p.spec.reply, cfg), "reply")
    return errs + validation.via(spec, "spec")


# ----------------------------------------------------------------------------- status


def object_ref(obj: dict[str, Any]) -> ObjectReference:
    meta = obj.get("metadata") or {}
    return ObjectReference(
        api_version=obj.get("apiVersion"), kind=obj.get("kind"), name=meta.get("name"), namespace=meta.get("namespace")
    )


def ready_of(obj: dict[str, Any]) -> Condition | None:
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == READY]
    return Condition.model_validate(found[0]) if found else None


def address_of(obj: dict[str, Any]) -> Addressable | None:
    raw = (obj.get("status") or {}).get("address")
    return Addressable.model_validate(raw) if isinstance(raw, dict) and raw.get("url") else None


def _no_ready(what: str, now: str) -> Condition:
    message = f"{what} does not have Ready condition"
    return Condition(type=READY, status="Unknown", reason="NoReady", message=message, last_transition_time=now)


def propagate_sequence_channels(cm: ConditionManager, status: SequenceStatus, channels: list[dict[str, Any]]) -> None:
    """``SequenceStatus.PropagateChannelStatuses``: the first channel's address is the Sequence's."""
    status.channel_statuses = []
    all_ready = bool(channels)
    for i, c in enumerate(channels):
        if i == 0:
            address = address_of(c)
            if address is None:
                status.address = Addressable()
                cm.mark_unknown(ADDRESSABLE, "emptyAddress", "addressable is nil")
            else:
                status.address = Addressable(url=address.url, ca_certs=address.ca_certs, audience=address.audience)
                cm.mark_true(ADDRESSABLE)
        ready = ready_of(c) or _no_ready("Channel", cm.now)
        all_ready = all_ready and ready.status == "True"
        status.channel_statuses.append(ChannelStatusRef(channel=object_ref(c), ready=ready))
    if all_ready:
        cm.mark_true(CHANNELS_READY)
    else:
        cm.mark_unknown(CHANNELS_READY, "ChannelsNotReady", "Channels are not ready yet, or there are none")


def propagate_sequence_subscriptions(
    cm: ConditionManager, status: SequenceStatus, subscriptions: list[dict[str, Any]]
) -> None:
    """``SequenceStatus.PropagateSubscriptionStatuses``."""
    status.subscription_statuses = []
    all_ready = bool(subscriptions)
    for s in subscriptions:
        ready = ready_of(s) or _no_ready("Subscription", cm.now)
        all_ready = all_ready and ready.status == "True"
        status.subscription_statuses.append(SubscriptionStatusRef(subscription=object_ref(s), ready=ready))
    if all_ready:
        cm.mark_true(SUBSCRIPTIONS_READY)
    else:
        cm.mark_unknown(
            SUBSCRIPTIONS_READY, "SubscriptionsNotReady", "Subscriptions are not ready yet, or there are none"
        )


def _addressable_ready(c: dict[str, Any]) -> Condition:
    if address_of(c) is not None:
        return Condition(type=READY, status="True")
    return Condition(type=READY, status="False", reason="NotAddressable", message="Channel is not addressable")


def _branches(status: ParallelStatus, n: int) -> list[ParallelBranchStatus]:
    if len(status.branch_statuses) != n:
        status.branch_statuses = [ParallelBranchStatus() for _ in range(n)]
    return status.branch_statuses


def propagate_parallel_channels(
    cm: ConditionManager, status: ParallelStatus, ingress: dict[str, Any], channels: list[dict[str, Any]]
) -> None:
    """``ParallelStatus.PropagateChannelStatuses``: channels count as ready once addressable."""
    branches = _branches(status, len(channels))
    ingress_ready = _addressable_ready(ingress)
    status.ingress_channel_status = ChannelStatusRef(channel=object_ref(ingress), ready=ingress_ready)
    all_ready = ingress_ready.status == "True"
    status.address = address_of(ingress)
    if status.address is None:
        cm.mark_false(ADDRESSABLE, "emptyAddress", "addressable is nil")
    else:
        cm.mark_true(ADDRESSABLE)
    for i, c in enumerate(channels):
        ready = _addressable_ready(c)
        all_ready = all_ready and ready.status == "True"
        branches[i].filter_channel_status = ChannelStatusRef(channel=object_ref(c), ready=ready)
    if all_ready:
        cm.mark_true(CHANNELS_READY)
    else:
        cm.mark_false(CHANNELS_READY, "ChannelsNotReady", "Channels are not ready yet, or there are none")


def propagate_parallel_subscriptions(
    cm: ConditionManager, status: ParallelStatus, filters: list[dict[str, Any]], subscriptions: list[dict[str, Any]]
) -> None:
    """``ParallelStatus.PropagateSubscriptionStatuses``."""
    branches = _branches(status, len(subscriptions))
    all_ready = bool(subscriptions)
    for i, (f, s) in enumerate(zip(filters, subscriptions, strict=True)):
        for target, obj in (
            (branches[i].subscriber_subscription_status, s),
            (branches[i].filter_subscription_status, f),
        ):
            target.subscription = object_ref(obj)
            ready = ready_of(obj)
            if ready is not None:
                target.ready = ready
            all_ready = all_ready and ready is not None and ready.status == "True"
    if all_ready:
        cm.mark_true(SUBSCRIPTIONS_READY)
    else:
        cm.mark_false(
            SUBSCRIPTIONS_READY, "SubscriptionsNotReady", "Subscriptions are not ready yet, or there are none"
        )
