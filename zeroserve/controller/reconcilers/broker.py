"""Broker reconciler (Knative's MT channel-based broker, ``pkg/reconciler/broker/broker.go``).

Only Brokers of the ``MTChannelBasedBroker`` class are reconciled; another class belongs to another
controller and is left alone, as Knative's class-filtered reconciler leaves it.

Phases, as ``ReconcileKind``: the trigger channel (here the durable event log, always there:
``TriggerChannelReady``) -> the filter (the dispatcher in ``zeroserve up``: ``FilterReady``) -> the
ingress (the Broker is published to the shared ingress, which then accepts its events:
``IngressReady``) -> the dead letter sink of ``spec.delivery`` resolved into
``status.deadLetterSinkUri`` (``DeadLetterSinkResolved``, or ``DeadLetterSinkNotConfigured``; on
failure the reconcile stops there, as Knative's returns its error) -> ``status.address``:
``http://broker-ingress.knative-eventing.svc.cluster.local/NAMESPACE/NAME`` (``Addressable``) ->
``EventPoliciesReady`` (``OIDCDisabled``: zeroserve has no OIDC). A deleted Broker is withdrawn
from the ingress.
"""

from __future__ import annotations

from typing import Protocol

from zeroserve.api import eventing as ev
from zeroserve.api.eventing import Broker
from zeroserve.api.kinds import BROKER
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.destinations import ResolveError, resolve


class BrokerIngress(Protocol):
    """The Broker ingress as the reconciler sees it (``zeroserve.eventing.ingress.BrokerSet``)."""

    def publish(self, namespace: str, name: str) -> None: ...

    def withdraw(self, namespace: str, name: str) -> None: ...


class NullBrokerIngress:
    """No ingress in this process (tests, a controller on its own): every Broker counts as served."""

    def __init__(self) -> None:
        self.brokers: set[tuple[str, str]] = set()

    def publish(self, namespace: str, name: str) -> None:
        self.brokers.add((namespace, name))

    def withdraw(self, namespace: str, name: str) -> None:
        self.brokers.discard((namespace, name))


class BrokerReconciler:
    def __init__(self, ingress: BrokerIngress | None = None) -> None:
        self.ingress: BrokerIngress = ingress if ingress is not None else NullBrokerIngress()

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load(deps.store, BROKER, Broker, key.namespace, key.name)
        if loaded is None:
            self.ingress.withdraw(key.namespace, key.name)
            return None
        stored, b = loaded
        if b.broker_class != ev.MT_CHANNEL_BROKER_CLASS:
            return None
        if b.metadata.deletion_timestamp:
            self.ingress.withdraw(key.namespace, key.name)
            return None
        status = b.status
        cm = ev.BROKER_CONDITIONS.manage(status, deps.now())
        ev.pre_process(cm, status, b.metadata.generation)
        cm.mark_true(ev.TRIGGER_CHANNEL_READY)
        cm.mark_true(ev.FILTER_READY)
        self.ingress.publish(key.namespace, key.name)
        cm.mark_true(ev.INGRESS_READY)
        status.observed_generation = b.metadata.generation  # PostProcessReconcile: on success or failure
        dls = b.spec.delivery.dead_letter_sink if b.spec.delivery is not None else None
        if dls is not None:
            try:
                uri = await resolve(deps.store, dls)
            except ResolveError as e:
                ev.mark_dead_letter_sink_failed(cm, status, "Unable to get the dead letter sink's URI", str(e))
                await write_status(deps.store, BROKER, stored, b)
                return None
            ev.mark_dead_letter_sink_resolved(cm, status, uri)
        else:
            ev.mark_dead_letter_sink_not_configured(cm, status)
        ev.set_broker_address(cm, status, ev.ingress_url(key.namespace, key.name))
        ev.mark_event_policies_oidc_disabled(cm, status)
        await write_status(deps.store, BROKER, stored, b)
        return None
