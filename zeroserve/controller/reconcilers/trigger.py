"""Trigger reconciler (Knative's MT trigger reconciler, ``pkg/reconciler/broker/trigger/trigger.go``).

Phases, as ``ReconcileKind``: the Broker (``spec.broker`` in the Trigger's namespace, or
``spec.brokerRef`` with ``cross-namespace-event-links``) must exist (else ``BrokerReady`` False
``BrokerDoesNotExist``); a Broker of another class leaves the Trigger alone (Knative's trigger
informer filter); the Broker's Ready becomes ``BrokerReady`` and nothing more happens until it is
ready -> the subscriber resolves to ``status.subscriberUri`` (``SubscriberResolved``) -> the dead
letter sink: the Trigger's own, else the Broker's resolved one, else ``DeadLetterSinkNotConfigured``
-> ``SubscriptionReady`` (the dispatcher follows the Trigger's status from the store: no
Subscription object) -> ``DependencyReady`` from the ``knative.dev/dependency`` annotation's object
(its Ready, once it observed its generation). ``OIDCIdentityCreated`` is True with Knative's "not
yet supported" reason.

The subscriber's URL is all the dispatcher needs from here (``zeroserve.eventing.dispatch`` reads
the Trigger's status): an unresolved subscriber keeps the Trigger's events waiting in the log.
"""

from __future__ import annotations

import json

from zeroserve.api import eventing as ev
from zeroserve.api.base import Obj, from_wire
from zeroserve.api.conditions import READY, ConditionManager
from zeroserve.api.eventing import Broker, Trigger
from zeroserve.api.kinds import BROKER, TRIGGER, by_kind
from zeroserve.api.meta import Condition
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.reconcilers.destinations import ResolveError, resolve


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, TRIGGER, Trigger, key.namespace, key.name)
    if loaded is None:
        return None
    stored, t = loaded
    if t.metadata.deletion_timestamp:
        return None
    cfg = deps.config()
    namespace, name = t.broker_key(cfg.features)
    broker_obj = await get_or_none(deps.store, BROKER, namespace, name)
    broker = from_wire(Broker, broker_obj) if broker_obj is not None else None
    if broker is not None and broker.broker_class != ev.MT_CHANNEL_BROKER_CLASS:
        return None
    status = t.status
    cm = ev.TRIGGER_CONDITIONS.manage(status, deps.now())
    ev.pre_process(cm, status, t.metadata.generation)
    ev.mark_oidc_identity_not_supported(cm)
    status.observed_generation = t.metadata.generation
    if broker is None:
        cm.mark_false(ev.BROKER_READY, "BrokerDoesNotExist", f"Broker {json.dumps(name)} does not exist")
    else:
        await _reconcile_with_broker(deps, t, broker, cm)
    await write_status(deps.store, TRIGGER, stored, t)
    return None


async def _reconcile_with_broker(deps: Deps, t: Trigger, b: Broker, cm: ConditionManager) -> None:
    status = t.status
    ev.propagate_broker_condition(cm, b.status.get_condition(READY))
    if not b.is_ready():
        return
    try:
        status.subscriber_uri = await resolve(deps.store, t.spec.subscriber)
    except ResolveError as e:
        status.subscriber_uri = status.subscriber_ca_certs = status.subscriber_audience = None
        cm.mark_false(ev.SUBSCRIBER_RESOLVED, "Unable to get the Subscriber's URI", str(e))
        return
    cm.mark_true(ev.SUBSCRIBER_RESOLVED)
    if not await _dead_letter_sink(deps, t, b, cm):
        return
    cm.mark_true(ev.SUBSCRIPTION_READY)
    await _dependency(deps, t, cm)


async def _dead_letter_sink(deps: Deps, t: Trigger, b: Broker, cm: ConditionManager) -> bool:
    """``resolveDeadLetterSink``: the Trigger's sink, else the Broker's; False when it failed."""
    status = t.status
    own = t.spec.delivery.dead_letter_sink if t.spec.delivery is not None else None
    if own is not None:
        try:
            uri = await resolve(deps.store, own)
        except ResolveError as e:
            ev.mark_dead_letter_sink_failed(cm, status, "Unable to get the dead letter sink's URI", str(e))
            return False
        ev.mark_dead_letter_sink_resolved(cm, status, uri)
    elif b.spec.delivery is not None and b.spec.delivery.dead_letter_sink is not None:
        if not b.status.dead_letter_sink_uri:
            ev.mark_dead_letter_sink_failed(
                cm, status, f"Broker {b.metadata.name} didn't set status.deadLetterSinkURI", ""
            )
            return False
        ev.mark_dead_letter_sink_resolved(cm, status, b.status.dead_letter_sink_uri)
        status.dead_letter_sink_ca_certs = b.status.dead_letter_sink_ca_certs
        status.dead_letter_sink_audience = b.status.dead_letter_sink_audience
    else:
        ev.mark_dead_letter_sink_not_configured(cm, status)
    return True


async def _dependency(deps: Deps, t: Trigger, cm: ConditionManager) -> None:
    """``checkDependencyAnnotation`` + ``propagateDependencyReadiness``."""
    raw = t.metadata.annotations.get(ev.DEPENDENCY_ANNOTATION)
    if raw is None:
        cm.mark_true(ev.DEPENDENCY_READY)
        return
    try:
        ref = json.loads(raw)
        if not isinstance(ref, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        msg = f"Unable to unmarshal objectReference from dependency annotation of trigger: {e}"
        cm.mark_false(ev.DEPENDENCY_READY, "ReferenceError", msg)
        return
    kind = by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
    if kind is None:
        cm.mark_unknown(ev.DEPENDENCY_READY, "ListerDoesNotExist", f"Failed to retrieve lister: {ref.get('kind')}")
        return
    obj = await get_or_none(deps.store, kind, t.metadata.namespace or "", str(ref.get("name", "")))
    if obj is None:
        msg = f'Dependency does not exist: {kind.plural}.{kind.group} "{ref.get("name", "")}" not found'
        cm.mark_false(ev.DEPENDENCY_READY, "DependencyDoesNotExist", msg)
        return
    _propagate_dependency(cm, obj)


def _propagate_dependency(cm: ConditionManager, obj: Obj) -> None:
    generation = (obj.get("metadata") or {}).get("generation")
    status = obj.get("status") or {}
    observed = status.get("observedGeneration")
    if generation != observed:
        msg = (
            f"The dependency's metadata.generation, {generation}, "
            f"is not equal to its status.observedGeneration, {observed}."
        )
        cm.mark_unknown(ev.DEPENDENCY_READY, "GenerationNotEqual", msg)
        return
    found = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == READY]
    ready = Condition.model_validate(found[0]) if found else None
    if ready is None:
        cm.mark_unknown(ev.DEPENDENCY_READY, "DependencyNotConfigured", "Dependency has not yet been reconciled.")
    elif ready.status == "True":
        cm.mark_true(ev.DEPENDENCY_READY)
    elif ready.status == "False":
        cm.mark_false(ev.DEPENDENCY_READY, ready.reason or "", ready.message or "")
    else:
        cm.mark_unknown(ev.DEPENDENCY_READY, ready.reason or "", ready.message or "")
