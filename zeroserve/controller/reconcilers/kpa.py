"""KPA reconciler (Knative ``pkg/reconciler/autoscaling/kpa/{kpa,scaler}.go``): right-size a revision.

Phases, as Knative's ``ReconcileKind``:

1. make sure the ServerlessService exists (Proxy until it has a private service; with the number of
   activators the next pass would set, not Knative's 2 of the first pass: :func:`_activators`);
2. tell the decider (:class:`Deciders`, the multiscaler) the revision's spec and read its decision;
3. :func:`compute_scale`: apply min/max/initial scale, then the scale-to-zero gating of
   :func:`handle_scale_to_zero` (hold one instance until active for a stable window, go inactive,
   wait for the activator to be in the path for the grace period / the retention period, give
   up activating after progress deadline + 30 s);
4. SKS mode: Serve iff the wanted scale is above 0 and the excess burst capacity is not negative;
5. status: ``desiredScale``, ``actualScale``, ``appliedScale`` (the replicas applied: as Knative's
   scaler patches the Deployment's scale, :func:`apply_scale` sets them on the runtime at once),
   ``Active`` by Knative's table (:func:`compute_active_condition`),
   ``SKSReady``, ``ScaleTargetInitialized``; Knative's ``kn.revision.pods.requested|count|
   not_ready.count|pending.count|terminating.count`` from the wanted scale and the pods by state.

The pure parts take ``now`` (wall time, since condition transition times are wall timestamps) and
return requeue delays instead of calling an enqueue callback.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from zeroserve.api import annotations as ann
from zeroserve.api import labels
from zeroserve.api.autoscaling import (
    ACTIVE,
    PA_CONDITIONS,
    SCALE_REASON,
    SCALE_TARGET_INITIALIZED,
    SKS_READY,
    UNREACHABLE,
    PodAutoscaler,
)
from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.conditions import READY, ConditionManager
from zeroserve.api.kinds import PODAUTOSCALER, SERVERLESSSERVICE
from zeroserve.api.networking import ACTIVATOR_ENDPOINTS_POPULATED, PROXY, SERVE, Mode, ServerlessService
from zeroserve.autoscaler import targets
from zeroserve.autoscaler.collector import DeciderKey, MetricSpec, metric_spec
from zeroserve.autoscaler.scaling import DeciderSpec, initial_excess_burst_capacity
from zeroserve.config import Config
from zeroserve.config.duration import SECOND, parse_duration
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.sks import make_sks, num_activators, sks_name
from zeroserve.observability.metrics import AutoscalerMetrics, revision_attrs
from zeroserve.runtime.base import InstanceView, WorkloadKey

log = logging.getLogger(__name__)

SCALE_UNKNOWN = -1
ACTIVATION_TIMEOUT_BUFFER = 30.0
"""Seconds added to the progress deadline before activation is given up (scaler.go)."""
PROXY_REQUEUE = 3.0
"""Requeue while waiting to deactivate with the SKS already in Proxy (scaler.go)."""
PROBE_PERIOD = 1.0
"""Requeue while the activator is not yet in the revision's path (scaler.go ``probePeriod``)."""
NO_PRIVATE_SERVICE = "No Private Service Name"
NO_TRAFFIC = ("NoTraffic", "The target is not receiving traffic.")
TIMED_OUT = ("TimedOut", "The target could not be activated.")
QUEUED = ("Queued", "Requests to the target are being buffered as resources are provisioned.")


class Decision(Protocol):
    """What the multiscaler knows of a revision (HALF B's ``Decision`` fits)."""

    @property
    def desired_scale(self) -> int: ...

    @property
    def excess_burst_capacity(self) -> int: ...


class Deciders(Protocol):
    """The multiscaler, as the KPA reconciler uses it (Knative ``resources.Deciders``)."""

    def watch(self, key: DeciderKey, spec: DeciderSpec, metric: MetricSpec | None = None) -> object:
        """Create the revision's decider (desired -1) or update its spec and metric windows."""

    def forget(self, key: DeciderKey) -> None:
        """Stop deciding for the revision (its PodAutoscaler is gone)."""

    def get(self, key: DeciderKey) -> Decision | None: ...


@dataclass(frozen=True)
class ScaleOutcome:
    want: int
    """The scale to report (-1: unknown)."""
    apply: bool
    """Whether ``want`` becomes the replicas the scale target runs."""
    requeue: float | None = None
    reason: str = field(default="", compare=False)
    """Why the number is not simply the decider's (a bound, a scale-to-zero gate), for explain."""


# ----------------------------------------------------------------------------- PA accessors (pure)


def _duration(annotations: Mapping[str, str], key: str) -> float | None:
    found = ann.get_annotation(annotations, key)
    if found is None:
        return None
    try:
        return parse_duration(found[1]) / SECOND
    except ValueError:
        return None


def is_unreachable(pa: PodAutoscaler) -> bool:
    return pa.spec.reachability == UNREACHABLE


def scale_bounds(pa: PodAutoscaler, cfg: Config) -> tuple[int, int]:
    """``(min, max)``: annotation else config; min is 0 while unreachable; max 0 = unlimited."""
    return targets.scale_bounds(pa.metadata.annotations, cfg.autoscaler, reachable=not is_unreachable(pa))


def initial_scale(pa: PodAutoscaler, cfg: Config) -> int:
    return targets.initial_scale(pa.metadata.annotations, cfg.autoscaler)


def active_threshold(pa: PodAutoscaler, cfg: Config) -> int:
    """Ready instances needed to call the PA active: max(min, initial) until initialized, then max(min, 1)."""
    lo, _ = scale_bounds(pa, cfg)
    if not pa.status.is_scale_target_initialized():
        return max(lo, initial_scale(pa, cfg))
    return max(lo, 1)


def activation_timeout(pa: PodAutoscaler, cfg: Config) -> float:
    deadline = _duration(pa.metadata.annotations, labels.PROGRESS_DEADLINE)
    return (cfg.deployment.progress_deadline if deadline is None else deadline) + ACTIVATION_TIMEOUT_BUFFER


def last_pod_retention(pa: PodAutoscaler, cfg: Config) -> float:
    if is_unreachable(pa):
        return 0.0
    d = _duration(pa.metadata.annotations, ann.SCALE_TO_ZERO_POD_RETENTION_PERIOD)
    return cfg.autoscaler.scale_to_zero_pod_retention_period if d is None else d


def target_burst_capacity(pa: PodAutoscaler, cfg: Config) -> float:
    return targets.target_burst_capacity(pa.metadata.annotations, cfg.autoscaler)


def decider_spec(pa: PodAutoscaler, cfg: Config) -> DeciderSpec:
    """Knative ``MakeDecider``: the decider's spec from the PA's annotations and config."""
    return targets.make_decider_spec(
        pa.metadata.annotations,
        pa.spec.container_concurrency or 0,
        cfg.autoscaler,
        reachable=not is_unreachable(pa),
    )


def apply_bounds(lo: int, hi: int, x: int) -> int:
    if x < lo:
        return lo
    if hi != 0 and x > hi:
        return hi
    return x


# ----------------------------------------------------------------------------- scaling (pure)


def activator_in_path(sks: ServerlessService) -> bool:
    """Local stand-in for Knative's activator probe through the public service: the SKS reconciler
    reports ActivatorEndpointsPopulated only after it has told the gateway to proxy."""
    cond = sks.status.get_condition(ACTIVATOR_ENDPOINTS_POPULATED)
    return cond is not None and cond.status == "True"


def handle_scale_to_zero(
    pa: PodAutoscaler, sks: ServerlessService, desired: int, cfg: Config, now: datetime
) -> ScaleOutcome:
    """Knative ``handleScaleToZero``: whether (and when) a wish for 0 may be applied."""
    if desired != 0:
        return ScaleOutcome(desired, True)
    a = cfg.autoscaler
    if not a.enable_scale_to_zero:
        return ScaleOutcome(1, True, reason="scale to zero disabled")
    status = pa.status
    if status.is_activating():
        timeout = activation_timeout(pa, cfg)
        if status.activating_for(now) > timeout:
            return ScaleOutcome(desired, True, reason="activation timed out")
        return ScaleOutcome(SCALE_UNKNOWN, False, timeout, reason="activating")
    if status.is_active():
        window = targets.stable_window(pa.metadata.annotations, a)
        active_for = status.active_for(now)
        if active_for >= window:
            requeue = PROXY_REQUEUE if sks.spec.mode == PROXY else None
            return ScaleOutcome(desired, False, requeue, reason="going inactive")
        return ScaleOutcome(1, True, window - active_for, reason="holding 1 until active for a stable window")
    if target_burst_capacity(pa, cfg) != -1 and not activator_in_path(sks):
        return ScaleOutcome(desired, False, PROBE_PERIOD, reason="waiting for the activator in the path")
    retention = last_pod_retention(pa, cfg)
    inactive_for = status.inactive_for(now)
    if inactive_for >= max(a.scale_to_zero_grace_period, retention):
        return ScaleOutcome(desired, True, reason="scaled to zero")
    if retention > 0 and inactive_for < retention:
        return ScaleOutcome(desired, False, retention - inactive_for, reason="pod retention pending")
    left = a.scale_to_zero_grace_period - sks.status.proxy_for(now)
    if left <= 0:
        return ScaleOutcome(desired, True, reason="scaled to zero")
    return ScaleOutcome(desired, False, left, reason="grace period pending")


def wish_bounds(pa: PodAutoscaler, cfg: Config) -> tuple[int, int, str]:
    """The bounds ``scaler.scale`` holds a wish within: min (the initial scale until the scale target is
    initialized), max (0: none), and which the lower one is."""
    lo, hi = scale_bounds(pa, cfg)
    initial = initial_scale(pa, cfg)
    if initial > 1 and not pa.status.is_scale_target_initialized() and not is_unreachable(pa):
        return max(lo, initial), hi, "initial-scale" if initial > lo else "min-scale"
    return lo, hi, "min-scale"


def compute_scale(pa: PodAutoscaler, sks: ServerlessService, desired: int, cfg: Config, now: datetime) -> ScaleOutcome:
    """Knative ``scaler.scale``: bounds, initial scale until initialized, then scale-to-zero gating (a
    wish above zero is applied within the bounds at once: :meth:`KPAReconciler.scale_now`)."""
    if desired < 0 and not pa.status.is_activating():
        return ScaleOutcome(desired, False)
    lo, hi, bound = wish_bounds(pa, cfg)
    bounded = apply_bounds(lo, hi, desired)
    outcome = handle_scale_to_zero(pa, sks, bounded, cfg, now)
    if bounded != desired and not outcome.reason:
        reason = f"{bound} {lo}" if bounded == lo else f"max-scale {hi}"
        return dataclasses.replace(outcome, reason=reason)
    return outcome


def sks_mode(want: int, ebc: int, pa_inactive: bool) -> Mode:
    """Serve iff the revision wants instances and has spare burst capacity; else the activator proxies."""
    if want == SCALE_UNKNOWN and pa_inactive:
        return PROXY
    return SERVE if want > 0 and ebc >= 0 else PROXY


def compute_active_condition(pa: PodAutoscaler, cm: ConditionManager, want: int, ready: int, cfg: Config) -> None:
    """Knative ``computeActiveCondition``: Active from the wanted scale and the ready instances."""
    min_ready = active_threshold(pa, cfg)
    if ready >= min_ready and pa.status.service_name:
        cm.mark_true(SCALE_TARGET_INITIALIZED)
    status = pa.status
    if want == 0 or min_ready == 0:
        reason, message = TIMED_OUT if status.is_activating() and min_ready > 0 else NO_TRAFFIC
        cm.mark_false(ACTIVE, reason, message)
    elif ready < min_ready:
        if want > 0 or not status.is_inactive():
            cm.mark_unknown(ACTIVE, *QUEUED)
        else:
            cm.mark_false(ACTIVE, *NO_TRAFFIC)
    elif want > 0 or not status.is_inactive():
        cm.mark_true(ACTIVE)


def compute_status(pa: PodAutoscaler, cm: ConditionManager, want: int, ready: int, cfg: Config) -> None:
    """actualScale, desiredScale (a transient -1 after a restart is not reported) and Active."""
    pa.status.actual_scale = ready
    if not (want == SCALE_UNKNOWN and pa.status.desired_scale is not None and pa.status.desired_scale >= 0):
        pa.status.desired_scale = want
    compute_active_condition(pa, cm, want, ready, cfg)


# ----------------------------------------------------------------------------- I/O shell


def ready_count(deps: Deps, pa: PodAutoscaler) -> int:
    status = deps.runtime.status(_workload_key(pa))
    return 0 if status is None else status.ready


def _activators(spec: DeciderSpec, ready: int) -> int:
    """Knative ``computeNumActivators`` over the ready instances. Knative creates the SKS with
    ``minActivators`` (2) and sets this number on the next pass, once the SKS has its private service
    (with Knative's defaults, target-burst-capacity 211 over activator-capacity 100: 3); the SKS is
    created with it here, which saves that pass's SKS update and the two reconciles it sets off
    (issue 19). The number does not depend on the SKS: only the decider's spec and the ready count."""
    return num_activators(ready, spec.total_value, spec.target_burst_capacity, spec.activator_capacity)


def apply_scale(deps: Deps, pa: PodAutoscaler, replicas: int) -> None:
    """Knative's ``scaler.applyScale``: the scale goes to the runtime at once (the Revision reconciler
    keeps it, as Knative's keeps the Deployment's), not through the PA's status and another reconcile."""
    deps.runtime.scale(_workload_key(pa), replicas)


def _workload_key(pa: PodAutoscaler) -> WorkloadKey:
    return WorkloadKey(pa.metadata.namespace or "", pa.metadata.labels.get(labels.REVISION) or pa.metadata.name or "")


@runtime_checkable
class _Instances(Protocol):
    """A runtime that shows its instances as pods (``LocalRuntime``)."""

    def instances(self, key: WorkloadKey) -> tuple[InstanceView, ...]: ...


@dataclass(frozen=True)
class PodCounts:
    """Knative's ``PodAccessor.PodCountsByState`` (``pkg/resources/pods.go``) over the pods as the pod
    mirror writes them: Pending (not started, never restarted) is pending and not ready; Running and
    stopping is terminating and not ready; Running is ready when ready, else not ready."""

    ready: int = 0
    not_ready: int = 0
    pending: int = 0
    terminating: int = 0


def pod_counts(views: tuple[InstanceView, ...]) -> PodCounts:
    ready = not_ready = pending = terminating = 0
    for v in views:
        if not v.started and not v.restarts:
            pending += 1
            not_ready += 1
        elif v.stopping:
            terminating += 1
            not_ready += 1
        elif v.ready:
            ready += 1
        else:
            not_ready += 1
    return PodCounts(ready, not_ready, pending, terminating)


def record_pods(metrics: AutoscalerMetrics, deps: Deps, pa: PodAutoscaler, want: int) -> None:
    """``kpaMetrics.Record`` (``kpa/metrics.go``): the scale wanted (-1, unknown, keeps the last) and the
    pods by state, attributes the namespace, the PA's name and its Service/Configuration labels."""
    key = _workload_key(pa)
    runtime = deps.runtime
    if isinstance(runtime, _Instances):
        counts = pod_counts(runtime.instances(key))
    else:  # a runtime that shows no pods: its ready count and the rest as not ready
        status = runtime.status(key)
        ready = 0 if status is None else status.ready
        counts = PodCounts(ready, max((0 if status is None else status.desired) - ready, 0))
    a = revision_attrs(
        key.namespace,
        pa.metadata.name or "",
        pa.metadata.labels.get(labels.SERVICE, ""),
        pa.metadata.labels.get(labels.CONFIGURATION, ""),
    )
    metrics.pods(
        a,
        requested=None if want == SCALE_UNKNOWN else want,
        ready=counts.ready,
        not_ready=counts.not_ready,
        pending=counts.pending,
        terminating=counts.terminating,
    )


def mark_not_owned(cm: ConditionManager, kind: str, name: str) -> None:
    cm.mark_false(ACTIVE, "NotOwned", f'There is an existing {kind} "{name}" that we do not own.')


async def reconcile_sks(
    deps: Deps, pa: PodAutoscaler, mode: Mode, activators: int, current: tuple[Obj, ServerlessService] | None
) -> ServerlessService:
    """Knative ``Base.ReconcileSKS``: create the SKS, or update its spec when it differs."""
    want = make_sks(pa, mode, activators)
    if current is None:
        created = await deps.store.create(SERVERLESSSERVICE, to_wire(want))
        return from_wire(ServerlessService, created)
    stored, sks = current
    if sks.spec == want.spec:
        return sks
    updated = await deps.store.update(SERVERLESSSERVICE, {**stored, "spec": to_wire(want)["spec"]})
    return from_wire(ServerlessService, updated)


def sks_ready(sks: ServerlessService) -> bool:
    """Knative's ``sks.IsReady()``: Ready, at its generation."""
    return sks.status.is_ready() and sks.status.observed_generation == sks.metadata.generation


def mark_sks(cm: ConditionManager, sks: ServerlessService, message: str | None = None) -> None:
    """``SKSReady`` from the SKS; not ready, with ``message`` (else the SKS's own Ready message)."""
    if sks_ready(sks):
        cm.mark_true(SKS_READY)
    else:
        cond = sks.status.get_condition(READY)
        cm.mark_unknown(SKS_READY, "NotReady", message or (cond.message if cond else None) or "")


class _Forgets(Protocol):
    def forget(self, key: DeciderKey) -> None: ...


async def load_pa(
    deps: Deps, key: Key, deciders: _Forgets | None
) -> tuple[Obj, PodAutoscaler, ConditionManager] | None:
    """The PodAutoscaler with its conditions initialized; None (and its decider forgotten) when gone."""
    loaded = await load(deps.store, PODAUTOSCALER, PodAutoscaler, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        if deciders is not None:
            deciders.forget(DeciderKey(key.namespace, key.name))
        return None
    stored, pa = loaded
    cm = PA_CONDITIONS.manage(pa.status, deps.now())
    cm.initialize()
    return stored, pa, cm


class KPAReconciler:
    """The KPA-class PodAutoscaler reconciler; ``deciders`` is the multiscaler."""

    def __init__(self, deciders: Deciders, metrics: AutoscalerMetrics | None = None) -> None:
        """``metrics``: Knative's ``kn.revision.pods.*`` gauges, recorded at each reconcile (:func:`record_pods`)."""
        self.deciders = deciders
        self.metrics = metrics
        self._bounds: dict[DeciderKey, tuple[int, int, WorkloadKey]] = {}
        """Per PA, the bounds of its last reconcile that got as far as scaling (:meth:`scale_now`)."""

    def scale_now(self, deps: Deps, key: DeciderKey) -> None:
        """A new wish above zero (the multiscaler's ``on_change``) applied to the runtime at once, as the
        PA's reconcile, enqueued with it, will apply it: within the bounds its last reconcile computed
        (:func:`compute_scale` applies any wish above zero, within them; a PA that changed since is
        reconciled with the new wish and applies its own bounds). A scale from zero does not wait for
        the reconcile's reads, nor behind other reconciles."""
        bounds, decision = self._bounds.get(key), self.deciders.get(key)
        if bounds is None or decision is None or decision.desired_scale <= 0:
            return
        lo, hi, workload = bounds
        deps.runtime.scale(workload, apply_bounds(lo, hi, decision.desired_scale))

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        self._bounds.pop(DeciderKey(key.namespace, key.name), None)  # until this one gets as far as scaling
        loaded = await load_pa(deps, key, self.deciders)
        if loaded is None:
            return None
        stored, pa, cm = loaded
        cfg, dkey = deps.config(), DeciderKey(key.namespace, key.name)
        try:
            return await self._reconcile(deps, pa, cm, cfg, dkey)
        finally:
            pa.status.observed_generation = pa.metadata.generation
            await write_status(deps.store, PODAUTOSCALER, stored, pa)

    async def _reconcile(
        self, deps: Deps, pa: PodAutoscaler, cm: ConditionManager, cfg: Config, dkey: DeciderKey
    ) -> Requeue:
        name = sks_name(pa.metadata.name or "")
        current = await load(deps.store, SERVERLESSSERVICE, ServerlessService, dkey.namespace, name)
        if current is not None and not owners.is_controlled_by(current[1].metadata, pa.metadata):
            mark_not_owned(cm, "ServerlessService", name)
            return None
        spec = decider_spec(pa, cfg)
        if current is None or not current[1].status.private_service_name:
            await reconcile_sks(deps, pa, PROXY, _activators(spec, ready_count(deps, pa)), current)
            cm.mark_unknown(SKS_READY, "NotReady", NO_PRIVATE_SERVICE)
            compute_status(pa, cm, SCALE_UNKNOWN, 0, cfg)
            if self.metrics is not None:
                record_pods(self.metrics, deps, pa, SCALE_UNKNOWN)
            return None
        sks = current[1]
        pa.status.metrics_service_name = sks.status.private_service_name
        scraped = spec.target_burst_capacity != -1  # TBC -1: the activator reports everything
        self.deciders.watch(dkey, spec, metric_spec(pa.metadata.annotations, cfg.autoscaler, scraped=scraped))
        decision = self.deciders.get(dkey)
        desired = SCALE_UNKNOWN if decision is None else decision.desired_scale
        ebc = initial_excess_burst_capacity(spec) if decision is None else decision.excess_burst_capacity
        outcome = compute_scale(pa, sks, desired, cfg, deps.now())
        self._bounds[dkey] = (*wish_bounds(pa, cfg)[:2], _workload_key(pa))
        if outcome.apply:  # to the runtime now, as Knative's scaler patches the Deployment's scale
            pa.status.applied_scale = outcome.want
            apply_scale(deps, pa, outcome.want)
        if outcome.reason:
            pa.status.annotations[SCALE_REASON] = outcome.reason
        else:
            pa.status.annotations.pop(SCALE_REASON, None)
        mode = sks_mode(outcome.want, ebc, pa.status.is_inactive())
        ready = ready_count(deps, pa)
        sks = await reconcile_sks(deps, pa, mode, _activators(spec, ready), current)
        pa.status.service_name = sks.status.service_name
        mark_sks(cm, sks)
        log.debug("%s: want=%d desired=%d ebc=%d mode=%s ready=%d", dkey, outcome.want, desired, ebc, mode, ready)
        compute_status(pa, cm, outcome.want, ready, cfg)
        if self.metrics is not None:
            record_pods(self.metrics, deps, pa, outcome.want)
        return outcome.requeue
