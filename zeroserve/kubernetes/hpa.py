"""HPA-class PodAutoscalers on a cluster (Knative ``pkg/reconciler/autoscaling/hpa/hpa.go``): the
cluster's HorizontalPodAutoscaler scales the revision, the reconciler keeps it and reports it.

On one machine :class:`~zeroserve.controller.reconcilers.hpa.HPAReconciler` is the HPA (zeroserve
measures and scales); here the kube-controller-manager's HPA controller is, and the Deployment's
replicas are never set by us. Each reconcile, as Knative's ``ReconcileKind``:

1. the autoscaling/v2 HPA that ``MakeHPA`` builds (:func:`~zeroserve.controller.resources.hpa.make_hpa`:
   named as the PA, controlled by it, scaling its Deployment): created when missing (``Active``
   False ``FailedCreate`` when that fails), updated when its spec differs (compared as kube-apiserver
   defaults it: :func:`~zeroserve.controller.resources.hpa.spec_matches`); one the PA does not
   control is ``NotOwned`` and an error;
2. the SKS in Serve mode with no activators: the activator never holds an HPA revision's requests;
   ``SKSReady`` from it, and ``ScaleTargetInitialized`` once the HPA counts as many current replicas
   as the PA needs to be active;
3. ``Active`` (an HPA revision always is), ``desiredScale`` and ``actualScale`` the HPA's
   ``status.desiredReplicas`` and ``status.currentReplicas`` (0 until its controller first writes them).

The HPA's status comes back through the controller's watch: HPAs are in
:data:`~zeroserve.kubernetes.controller.WATCHED`, and an event of one enqueues the PodAutoscaler its
controller ownerReference names.
"""

from __future__ import annotations

import logging
from typing import Final

from zeroserve import errors
from zeroserve.api.autoscaling import ACTIVE, SCALE_TARGET_INITIALIZED, PodAutoscaler
from zeroserve.api.base import Obj, from_wire
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.kinds import PODAUTOSCALER, SERVERLESSSERVICE
from zeroserve.api.networking import SERVE, ServerlessService
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.kpa import (
    active_threshold,
    load_pa,
    mark_not_owned,
    mark_sks,
    reconcile_sks,
    sks_ready,
)
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.hpa import make_hpa, spec_matches
from zeroserve.controller.resources.sks import sks_name
from zeroserve.kubernetes.kinds import HPA, Unstructured
from zeroserve.store.base import Store

log = logging.getLogger(__name__)

SKS_NOT_READY: Final = "SKS Services are not ready yet"


async def reconcile_hpa(store: Store, pa: PodAutoscaler, cm: ConditionManager, want: Obj) -> Obj:
    """The PA's HPA as the cluster holds it: created, or its spec (and labels and annotations) updated
    to ``want``'s. Raises, with ``Active`` marked False, when it cannot be created or is another's."""
    meta = want["metadata"]
    name = meta["name"]
    try:
        have = await store.get(HPA, meta["namespace"], name)
    except errors.NotFound:
        log.info("creating HPA %s/%s", meta["namespace"], name)
        try:
            return await store.create(HPA, want)
        except errors.ZeroserveError:
            cm.mark_false(ACTIVE, "FailedCreate", f'Failed to create {HPA.kind} "{name}".')
            raise
    if not owners.is_controlled_by(from_wire(Unstructured, have).metadata, pa.metadata):
        mark_not_owned(cm, HPA.kind, name)
        raise errors.ZeroserveError(f'PodAutoscaler: "{pa.metadata.name}" does not own HPA: "{name}"')
    if spec_matches(want["spec"], have.get("spec") or {}):
        return have
    log.info("updating HPA %s/%s", meta["namespace"], name)
    metadata = {**have["metadata"], "labels": meta.get("labels", {}), "annotations": meta.get("annotations", {})}
    return await store.update(HPA, {**have, "metadata": metadata, "spec": want["spec"]})


async def reconcile_serving_sks(deps: Deps, pa: PodAutoscaler, cm: ConditionManager) -> ServerlessService:
    """Knative's ``ReconcileSKS`` in Serve mode with no activators; another's SKS is ``NotOwned``, an error."""
    ns, name = pa.metadata.namespace or "", sks_name(pa.metadata.name or "")
    current = await load(deps.store, SERVERLESSSERVICE, ServerlessService, ns, name)
    if current is not None and not owners.is_controlled_by(current[1].metadata, pa.metadata):
        mark_not_owned(cm, "ServerlessService", name)
        raise errors.ZeroserveError(f"PA: {pa.metadata.name} does not own SKS: {name}")
    return await reconcile_sks(deps, pa, SERVE, 0, current)


class ClusterHPAReconciler:
    """The ``hpa.autoscaling.knative.dev`` PodAutoscaler reconciler of ``zeroserve kubernetes controller``."""

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load_pa(deps, key, None)
        if loaded is None:
            return None
        stored, pa, cm = loaded
        try:
            await self._reconcile(deps, pa, cm)
        finally:  # as Knative's generated reconciler, the status is written even when the reconcile fails
            pa.status.observed_generation = pa.metadata.generation
            await write_status(deps.store, PODAUTOSCALER, stored, pa)
        return None

    async def _reconcile(self, deps: Deps, pa: PodAutoscaler, cm: ConditionManager) -> None:
        cfg = deps.config()
        hpa = await reconcile_hpa(deps.store, pa, cm, make_hpa(pa, cfg))
        sks = await reconcile_serving_sks(deps, pa, cm)
        pa.status.metrics_service_name = sks.status.private_service_name
        pa.status.service_name = sks.status.service_name
        status = hpa.get("status") or {}
        current = int(status.get("currentReplicas") or 0)
        mark_sks(cm, sks, SKS_NOT_READY)
        if sks_ready(sks) and not pa.status.is_scale_target_initialized() and current >= active_threshold(pa, cfg):
            cm.mark_true(SCALE_TARGET_INITIALIZED)
        cm.mark_true(ACTIVE)
        pa.status.desired_scale = int(status.get("desiredReplicas") or 0)
        pa.status.actual_scale = current
