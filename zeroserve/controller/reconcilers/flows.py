"""Sequence and Parallel reconcilers (Knative's ``pkg/reconciler/{sequence,parallel}``), on channels
and Subscriptions (:mod:`zeroserve.api.flows` names them and says what each holds).

Each pass makes the channels of ``spec.channelTemplate``'s kind that are missing (owned by the flow,
never updated: a template change does not remake them, as Knative's), then the Subscriptions: created
when missing, updated when their spec differs, deleted and created again when ``spec.channel``
(immutable) would change; the statuses of both are propagated; channels and Subscriptions the flow
controls but no longer wants (fewer steps or branches) are deleted. ``EventPoliciesReady`` is True
(``OIDCDisabled``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from zeroserve.api import eventing as ev
from zeroserve.api import flows
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.flows import Parallel, Sequence
from zeroserve.api.kinds import PARALLEL, SEQUENCE, SUBSCRIPTION, Kind, by_kind
from zeroserve.api.messaging import API_VERSION as MESSAGING_API_VERSION
from zeroserve.api.messaging import ChannelTemplateSpec
from zeroserve.api.meta import ObjectMeta
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.errors import NotFound

log = logging.getLogger(__name__)

SEQUENCE_AGENT = "sequence-controller"
PARALLEL_AGENT = "parallel-controller"
OIDC_DISABLED = 'Feature "authentication-oidc" must be enabled to support Authorization'


class TemplateError(Exception):
    pass


def _channel_kind(template: ChannelTemplateSpec | None) -> Kind:
    if template is None:
        raise TemplateError("no channelTemplate")
    kind = by_kind(template.api_version or "", template.kind or "")
    if kind is None:
        raise TemplateError(f"no channel kind {template.api_version}, Kind={template.kind} in this API server")
    return kind


def _controlled_by(obj: Obj, owner: ObjectMeta) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(r.get("controller") and r.get("uid") == owner.uid for r in refs)


async def _channel(deps: Deps, kind: Kind, kind_name: str, owner: ObjectMeta, name: str, spec: Any) -> Obj:
    """``reconcileChannel``: the channel, created from the template when missing."""
    ns = owner.namespace or ""
    found = await get_or_none(deps.store, kind, ns, name)
    if found is not None:
        return found
    meta = {"name": name, "namespace": ns, "ownerReferences": [to_wire(flows.owner_ref(kind_name, owner))]}
    new = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": dict(spec or {})}
    return await deps.store.create(kind, new)


async def _subscription(deps: Deps, kind_name: str, owner: ObjectMeta, name: str, spec: dict[str, Any]) -> Obj:
    """``reconcileSubscription``: created, updated, or (its channel changed) deleted and created."""
    ns = owner.namespace or ""
    meta = {"name": name, "namespace": ns, "ownerReferences": [to_wire(flows.owner_ref(kind_name, owner))]}
    want = {"apiVersion": MESSAGING_API_VERSION, "kind": "Subscription", "metadata": meta, "spec": spec}
    found = await get_or_none(deps.store, SUBSCRIPTION, ns, name)
    if found is None:
        return await deps.store.create(SUBSCRIPTION, want)
    if (found.get("spec") or {}).get("channel") != spec.get("channel"):
        with contextlib.suppress(NotFound):
            await deps.store.delete(SUBSCRIPTION, ns, name)
        raise NotFound(f"subscription {ns}/{name} is being replaced (its channel changed)")
    if found.get("spec") != spec:
        return await deps.store.update(SUBSCRIPTION, {**found, "spec": spec})
    return found


async def _remove_unwanted(deps: Deps, kind: Kind, owner: ObjectMeta, wanted: set[str]) -> None:
    objs, _ = await deps.store.list(kind, owner.namespace or "")
    for obj in objs:
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp") or not _controlled_by(obj, owner) or meta.get("name") in wanted:
            continue
        with contextlib.suppress(NotFound):
            await deps.store.delete(kind, owner.namespace or "", str(meta.get("name")))


async def reconcile_sequence(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, SEQUENCE, Sequence, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        return None
    stored, s = loaded
    status = s.status
    cm = flows.FLOW_CONDITIONS.manage(status, deps.now())
    ev.pre_process(cm, status, s.metadata.generation)
    status.observed_generation = s.metadata.generation
    try:
        kind = _channel_kind(s.spec.channel_template)
    except TemplateError as e:
        cm.mark_unknown(flows.CHANNELS_READY, "ChannelsNotReady", str(e))
        await write_status(deps.store, SEQUENCE, stored, s)
        return None
    assert s.spec.channel_template is not None
    template_spec = s.spec.channel_template.spec
    names = [flows.sequence_channel_name(key.name, i) for i in range(len(s.spec.steps))]
    channels = [await _channel(deps, kind, "Sequence", s.metadata, name, template_spec) for name in names]
    flows.propagate_sequence_channels(cm, status, channels)
    subs = [
        await _subscription(
            deps,
            "Sequence",
            s.metadata,
            flows.sequence_channel_name(key.name, i),
            flows.sequence_subscription_spec(s, i),
        )
        for i in range(len(s.spec.steps))
    ]
    flows.propagate_sequence_subscriptions(cm, status, subs)
    await _remove_unwanted(deps, kind, s.metadata, {c["metadata"]["name"] for c in channels})
    cm.mark_true(flows.EVENT_POLICIES_READY, "OIDCDisabled", OIDC_DISABLED)
    await _remove_unwanted(deps, SUBSCRIPTION, s.metadata, {o["metadata"]["name"] for o in subs})
    await write_status(deps.store, SEQUENCE, stored, s)
    return None


async def reconcile_parallel(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, PARALLEL, Parallel, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        return None
    stored, p = loaded
    status = p.status
    cm = flows.FLOW_CONDITIONS.manage(status, deps.now())
    ev.pre_process(cm, status, p.metadata.generation)
    status.observed_generation = p.metadata.generation
    try:
        kind = _channel_kind(p.spec.channel_template)
    except TemplateError as e:
        cm.mark_false(flows.CHANNELS_READY, "ChannelsNotReady", str(e))
        await write_status(deps.store, PARALLEL, stored, p)
        return None
    assert p.spec.channel_template is not None
    spec, meta, n = p.spec.channel_template.spec, p.metadata, len(p.spec.branches)
    ingress = await _channel(deps, kind, "Parallel", meta, flows.parallel_channel_name(key.name), spec)
    branches = [
        await _channel(deps, kind, "Parallel", meta, flows.parallel_branch_channel_name(key.name, i), spec)
        for i in range(n)
    ]
    filters, subs = [], []
    for i in range(n):
        name = flows.parallel_filter_subscription_name(key.name, i)
        filters.append(await _subscription(deps, "Parallel", meta, name, flows.parallel_filter_subscription_spec(p, i)))
        name = flows.parallel_branch_channel_name(key.name, i)
        subs.append(await _subscription(deps, "Parallel", meta, name, flows.parallel_subscription_spec(p, i)))
    flows.propagate_parallel_channels(cm, status, ingress, branches)
    flows.propagate_parallel_subscriptions(cm, status, filters, subs)
    cm.mark_true(flows.EVENT_POLICIES_READY, "OIDCDisabled", OIDC_DISABLED)
    await _remove_unwanted(deps, kind, meta, {o["metadata"]["name"] for o in (ingress, *branches)})
    await _remove_unwanted(deps, SUBSCRIPTION, meta, {o["metadata"]["name"] for o in (*filters, *subs)})
    await write_status(deps.store, PARALLEL, stored, p)
    return None
