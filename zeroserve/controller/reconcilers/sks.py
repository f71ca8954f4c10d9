"""ServerlessService reconciler (Knative ``pkg/reconciler/serverlessservice``): who receives the traffic.

Knative rewrites the public Endpoints to the revision's pods (Serve) or to activators (Proxy).
Here the public "endpoints" are the gateway's route for the revision: the effective mode is
announced to a :class:`ServingMode` (the gateway) on every reconcile, and the status reports
what the runtime has ready:

* effective mode = ``spec.mode``, except Proxy while no instance is ready (the activator is always
  available locally, so Knative's "no activator endpoints -> Serve" case does not arise);
* ``EndpointsPopulated`` (-> ``Ready``) True with a ready instance, else Unknown ``NoHealthyBackends``;
* ``ActivatorEndpointsPopulated`` True while no instance is ready or ``spec.mode`` is Proxy; the
  time since it turned True is what the scale-to-zero grace period waits on.
"""

from __future__ import annotations

from typing import Literal, Protocol

from zeroserve.api import labels
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.kinds import SERVERLESSSERVICE
from zeroserve.api.networking import (
    ACTIVATOR_ENDPOINTS_POPULATED,
    ACTIVATOR_MESSAGE,
    ENDPOINTS_POPULATED,
    PROXY,
    SERVICE_NOT_READY_MESSAGE,
    SKS_CONDITIONS,
    Mode,
    ServerlessService,
)
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.resources.sks import private_service_name
from zeroserve.runtime.base import WorkloadKey

NO_HEALTHY_BACKENDS = "NoHealthyBackends"


class ServingMode(Protocol):
    """Where a revision's traffic goes (the lead wires the gateway to it)."""

    def set_mode(self, namespace: str, revision: str, mode: Literal["Serve", "Proxy"]) -> None: ...


class NullServingMode:
    """Remembers the last mode per revision; nothing routes by it (tests, controller without a gateway)."""

    def __init__(self) -> None:
        self.modes: dict[tuple[str, str], Mode] = {}

    def set_mode(self, namespace: str, revision: str, mode: Literal["Serve", "Proxy"]) -> None:
        self.modes[(namespace, revision)] = mode


def revision_of(sks: ServerlessService) -> str:
    return sks.metadata.labels.get(labels.REVISION) or sks.metadata.name or ""


def effective_mode(spec_mode: Mode | None, ready: int) -> Mode:
    """The mode traffic really takes: Proxy whenever no instance is ready."""
    return PROXY if ready == 0 or spec_mode is None else spec_mode


def mark_status(cm: ConditionManager, sks: ServerlessService, ready: int) -> None:
    if ready > 0:
        cm.mark_true(ENDPOINTS_POPULATED)
    else:
        cm.mark_unknown(ENDPOINTS_POPULATED, NO_HEALTHY_BACKENDS, SERVICE_NOT_READY_MESSAGE)
    if ready == 0 or sks.spec.mode == PROXY:
        cm.mark_true(ACTIVATOR_ENDPOINTS_POPULATED, ACTIVATOR_ENDPOINTS_POPULATED, ACTIVATOR_MESSAGE)
    else:
        cm.mark_false(ACTIVATOR_ENDPOINTS_POPULATED, ACTIVATOR_ENDPOINTS_POPULATED, ACTIVATOR_MESSAGE)


class SKSReconciler:
    def __init__(self, serving_mode: ServingMode) -> None:
        self.serving_mode = serving_mode

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load(deps.store, SERVERLESSSERVICE, ServerlessService, key.namespace, key.name)
        if loaded is None or loaded[1].metadata.deletion_timestamp:
            return None
        stored, sks = loaded
        revision = revision_of(sks)
        status = deps.runtime.status(WorkloadKey(key.namespace, revision))
        ready = 0 if status is None else status.ready
        self.serving_mode.set_mode(key.namespace, revision, effective_mode(sks.spec.mode, ready))
        cm = SKS_CONDITIONS.manage(sks.status, deps.now())
        cm.initialize()
        sks.status.service_name = sks.metadata.name
        sks.status.private_service_name = private_service_name(sks.metadata.name or "")
        mark_status(cm, sks, ready)
        sks.status.observed_generation = sks.metadata.generation
        await write_status(deps.store, SERVERLESSSERVICE, stored, sks)
        return None
