"""HPA-class PodAutoscaler reconciler (Knative ``pkg/reconciler/autoscaling/hpa``).

Knative hands an HPA-class revision to a Kubernetes HorizontalPodAutoscaler built by ``MakeHPA``
(min ``max(1, min-scale)``, max ``max-scale`` or unlimited, the ``metric``/``target``/``window``
annotations). Here the HPA is the multiscaler's decider (:class:`HPADeciders`,
``zeroserve.autoscaler.hpa``): the reconciler gives it the spec (with the revision's
``requests.cpu``), applies its desired replicas within the bounds (never 0), keeps the SKS in Serve
mode and marks the PA Active. The multiscaler's ``on_change`` enqueues the PA, so a new decision is
applied at once.
"""

from __future__ import annotations

from typing import Protocol

from zeroserve.api.autoscaling import ACTIVE, SCALE_TARGET_INITIALIZED, PodAutoscaler
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.kinds import PODAUTOSCALER, REVISION, SERVERLESSSERVICE
from zeroserve.api.networking import SERVE, ServerlessService
from zeroserve.api.revision import Revision
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.hpa import FAILED_GET_PODS_METRIC, PODS_METRICS, HpaSpec, make_hpa_spec
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.kpa import (
    Decision,
    active_threshold,
    apply_bounds,
    apply_scale,
    load_pa,
    mark_not_owned,
    mark_sks,
    ready_count,
    reconcile_sks,
    scale_bounds,
)
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.sks import sks_name
from zeroserve.runtime.cgroups import QuantityError, parse_quantity


class HPADeciders(Protocol):
    """The multiscaler, as the HPA reconciler uses it."""

    def watch_hpa(self, key: DeciderKey, spec: HpaSpec) -> object: ...

    def forget(self, key: DeciderKey) -> None: ...

    def get(self, key: DeciderKey) -> Decision | None: ...


def cpu_request(rev: Revision | None) -> float | None:
    """Cores the revision's container requests (``resources.requests.cpu``), None when unset."""
    if rev is None or not rev.spec.containers or rev.spec.containers[0].resources is None:
        return None
    raw = rev.spec.containers[0].resources.requests.get("cpu")
    if raw is None:
        return None
    try:
        return float(parse_quantity(str(raw)))
    except QuantityError:
        return None


def hpa_spec(pa: PodAutoscaler, rev: Revision | None, cfg: Config) -> HpaSpec:
    lo, hi = scale_bounds(pa, cfg)
    cpu = cpu_request(rev)
    return make_hpa_spec(pa.metadata.annotations, cfg.autoscaler, cpu_request=cpu, min_scale=lo, max_scale=hi)


SCALING_ACTIVE = "ScalingActive"
"""The HPA's own condition, shown on the PodAutoscaler (informational: it never makes it unready)."""


def mark_scaling_active(cm: ConditionManager, spec: HpaSpec) -> None:
    """False with Kubernetes' reason when the HPA can get no values for its metric (a Pods metric
    other than the queue's ``concurrency`` and ``rps``): it then keeps the current count."""
    if spec.measurable:
        cm.mark_true(
            SCALING_ACTIVE, "ValidMetricFound", f"the HPA was able to compute the replica count from {spec.metric}"
        )
        return
    cm.mark_false(
        SCALING_ACTIVE,
        FAILED_GET_PODS_METRIC,
        f"the HPA was unable to compute the replica count: unable to get metric {spec.metric}: zeroserve "
        f"measures the pods metrics {' and '.join(PODS_METRICS)} (from the queue-proxy's stats) only",
    )


class HPAReconciler:
    def __init__(self, deciders: HPADeciders) -> None:
        self.deciders = deciders

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load_pa(deps, key, self.deciders)
        if loaded is None:
            return None
        stored, pa, cm = loaded
        cfg, dkey = deps.config(), DeciderKey(key.namespace, key.name)
        owner = owners.controller_of(pa.metadata)
        rev = await load(deps.store, REVISION, Revision, key.namespace, owner.name) if owner else None
        spec = hpa_spec(pa, rev[1] if rev else None, cfg)
        self.deciders.watch_hpa(dkey, spec)
        mark_scaling_active(cm, spec)
        name = sks_name(key.name)
        current = await load(deps.store, SERVERLESSSERVICE, ServerlessService, key.namespace, name)
        if current is not None and not owners.is_controlled_by(current[1].metadata, pa.metadata):
            mark_not_owned(cm, "ServerlessService", name)
        else:
            sks = await reconcile_sks(deps, pa, SERVE, 0, current)
            pa.status.metrics_service_name = sks.status.private_service_name
            pa.status.service_name = sks.status.service_name
            mark_sks(cm, sks)
            ready = ready_count(deps, pa)
            if sks.status.is_ready() and ready >= active_threshold(pa, cfg):
                cm.mark_true(SCALE_TARGET_INITIALIZED)
            cm.mark_true(ACTIVE)
            decision = self.deciders.get(dkey)
            if decision is not None and decision.desired_scale >= 0:
                applied = apply_bounds(spec.min_scale, spec.max_scale, decision.desired_scale)
                pa.status.applied_scale = pa.status.desired_scale = applied
                apply_scale(deps, pa, applied)
            pa.status.actual_scale = ready
        pa.status.observed_generation = pa.metadata.generation
        await write_status(deps.store, PODAUTOSCALER, stored, pa)
        return None
