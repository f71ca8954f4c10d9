"""Revision reconciler (pkg/reconciler/revision): keep the runtime running the revision, report it.

Phases: the images' digests (:func:`reconcile_digest`: nothing else happens before they are
resolved) -> the PodAutoscaler (created from ``make_pa``, owned by the revision, spec/labels/annotations
kept in sync: its reachability follows the routing state) -> the wanted replica count (the initial
scale, :func:`replicas`, or the PA's ``status.appliedScale`` for a workload the runtime does not run
yet; once it does and an autoscaler has applied a scale, the runtime's replicas are kept: the
autoscaler sets them itself, ``Runtime.scale``, as Knative's scaler patches the Deployment's scale
and its Revision reconciler keeps it) -> the ConfigMaps and Secrets it reads (:mod:`.configsources`) ->
``runtime.ensure(make_workload(rev, cfg, sources), replicas)`` (a missing required one is the
workload's ``config_error``: the runtime reports it at once, ``ResourcesAvailable=False`` with the
kubelet's reason and message, as Knative marks a pod's waiting reason; the controller reconciles the
revision again when the object changes) -> conditions from ``runtime.status``:
``ResourcesAvailable`` and ``ContainerHealthy`` (-> ``Ready``) -> from the PA once it has a status
(Knative ``PropagateAutoscalerStatus``): ``Active`` mirrored from the PA's ``Ready`` (NoTraffic /
Queued / TimedOut), ``desiredReplicas`` / ``actualReplicas`` from its ``desiredScale`` /
``actualScale``. Without an autoscaler (no PA status) ``Active`` and the replica counts come from
the runtime. A deleted Revision's workload is removed.

Image pull secrets (``spec.imagePullSecrets``) are read with the ConfigMaps and Secrets, before the
digests: their credentials go to the resolver (Knative passes them to k8schain) and, in the
Workload, to the runtime's pulls (the kubelet's); a missing one is skipped, as both do.

Events, as Knative's: ``RevisionReady`` ``Revision becomes ready upon all resources being ready``
when it turns ready, and the ``Warning InternalError`` Knative's generated reconciler records for
the digest error it returns (``Unable to fetch image "x": ...``, the ``ContainerMissing`` message);
and the kubelet's ``Warning FailedToRetrieveImagePullSecret`` while a revision with images that is
not Ready names a pull secret that cannot be read (the kubelet records it on the pod).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from zeroserve.api import labels
from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.base import to_wire
from zeroserve.api.conditions import READY, REVISION_CONDITIONS, ConditionManager
from zeroserve.api.core import EVENT_NORMAL, EVENT_WARNING
from zeroserve.api.kinds import PODAUTOSCALER, REVISION
from zeroserve.api.revision import Revision
from zeroserve.autoscaler import targets
from zeroserve.config import Config, duration
from zeroserve.controller.reconcilers import configsources
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.digests import DigestError, DigestResolver
from zeroserve.controller.reconcilers.gc import parse_time
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.configdata import references
from zeroserve.controller.resources.pa import make_pa
from zeroserve.controller.resources.pullsecrets import FAILED_TO_RETRIEVE, pull_secrets
from zeroserve.controller.resources.workload import image_pull_secrets, make_workload
from zeroserve.images.keyring import Keyring
from zeroserve.runtime.base import WorkloadKey, WorkloadStatus

RESOURCES_AVAILABLE = "ResourcesAvailable"
CONTAINER_HEALTHY = "ContainerHealthy"
ACTIVE = "Active"
DEPLOYING = "Deploying"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
CONTAINER_MISSING = "ContainerMissing"
RESOLVING_DIGESTS = "ResolvingDigests"
NOT_OWNED = "NotOwned"
MIN_SCALE = ("autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/minScale")
INITIAL_SCALE = ("autoscaling.knative.dev/initial-scale", "autoscaling.knative.dev/initialScale")
AGENT = "revision-controller"
"""The source of this reconciler's events (Knative's ``defaultControllerAgentName``)."""
log = logging.getLogger(__name__)


def _annotation_int(annotations: Mapping[str, str], keys: tuple[str, ...]) -> int:
    for key in keys:
        if key in annotations:
            try:
                return int(annotations[key])
            except ValueError:
                return 0
    return 0


def replicas(rev: Revision, cfg: Config) -> int:
    """Instances a new workload starts with, before an autoscaler decides: max(min-scale, initial
    scale) (initial-scale 0 only with allow-zero-initial-scale), whatever the routing state, as
    Knative's MakeDeployment: a revision that is briefly ``reserve`` while a Route's labeler catches
    up with its Configuration would otherwise start with none, and the KPA raises only an initial
    scale above 1 (scaler.go). An unreachable revision's KPA takes it to zero."""
    ann = rev.metadata.annotations
    return max(_annotation_int(ann, MIN_SCALE), targets.initial_scale(ann, cfg.autoscaler))


def pa_replicas(pa: PodAutoscaler | None, rev: Revision, cfg: Config) -> int:
    """The PA's applied scale once an autoscaler set one, else :func:`replicas`."""
    if pa is not None and pa.status.applied_scale is not None:
        return pa.status.applied_scale
    return replicas(rev, cfg)


async def reconcile_pa(deps: Deps, rev: Revision, cfg: Config, runtime: WorkloadStatus | None) -> PodAutoscaler | None:
    """Create the revision's PA or bring its spec, labels and annotations up to date; None if not ours."""
    replicas = None if runtime is None else runtime.desired
    want = make_pa(rev, cfg, replicas=replicas, ready=runtime.ready if runtime else 0)
    ns, name = rev.metadata.namespace or "", want.metadata.name or ""
    loaded = await load(deps.store, PODAUTOSCALER, PodAutoscaler, ns, name)
    if loaded is None:
        return PodAutoscaler.model_validate(await deps.store.create(PODAUTOSCALER, to_wire(want)))
    stored, pa = loaded
    if not owners.is_controlled_by(pa.metadata, rev.metadata):
        return None
    meta = pa.metadata
    if pa.spec == want.spec and meta.labels == want.metadata.labels and meta.annotations == want.metadata.annotations:
        return pa
    wire = to_wire(want)
    new_meta = {**stored["metadata"], "labels": wire["metadata"].get("labels", {})}
    new_meta["annotations"] = wire["metadata"].get("annotations", {})
    updated = await deps.store.update(PODAUTOSCALER, {**stored, "metadata": new_meta, "spec": wire["spec"]})
    return PodAutoscaler.model_validate(updated)


def propagate_autoscaler_status(cm: ConditionManager, rev: Revision, pa: PodAutoscaler) -> None:
    """Knative ``PropagateAutoscalerStatus``: replica counts and ``Active`` from the PA's ``Ready``."""
    ps = pa.status
    rev.status.actual_replicas = ps.actual_scale if ps.actual_scale is not None and ps.actual_scale >= 0 else None
    rev.status.desired_replicas = ps.desired_scale if ps.desired_scale is not None and ps.desired_scale >= 0 else None
    cond = ps.get_condition(READY)
    if cond is None:
        cm.mark_unknown(ACTIVE, DEPLOYING, "")
    elif cond.status == "Unknown":
        cm.mark_unknown(ACTIVE, cond.reason or "", cond.message or "")
    elif cond.status == "False":
        cm.mark_false(ACTIVE, cond.reason or "", cond.message or "")
    else:
        cm.mark_true(ACTIVE)


def not_owned_message(kind: str, name: str) -> str:
    return f'There is an existing {kind} "{name}" that we do not own.'


def progress_deadline(rev: Revision, cfg: Config) -> float:
    raw = rev.metadata.annotations.get(labels.PROGRESS_DEADLINE)
    if raw:
        try:
            return duration.seconds(duration.parse_duration(raw))
        except ValueError:
            pass
    return cfg.deployment.progress_deadline


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, REVISION, Revision, key.namespace, key.name)
    wkey = WorkloadKey(key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        if deps.digests is not None:
            deps.digests.forget(key.namespace, key.name)
        await deps.runtime.remove(wkey, wait=False)  # instances drain on the runtime's time, not ours
        return None
    stored, rev = loaded
    cfg = deps.config()
    now = deps.now()
    ready_before = rev.status.observed_generation == rev.metadata.generation and _is_ready(rev)
    cm = REVISION_CONDITIONS.manage(rev.status, now)
    cm.initialize()
    sources = await configsources.load(deps.store, key.namespace, references(stored.get("spec") or {}))
    pulls = pull_secrets(image_pull_secrets(rev), sources)
    if pulls.missing and not ready_before and _images(rev):
        for problem in pulls.problems:
            log.warning("revision %s/%s: image pull secret %s", key.namespace, key.name, problem)
        deps.recorder.event(AGENT, stored, EVENT_WARNING, FAILED_TO_RETRIEVE, pulls.warning())
    try:
        resolved = reconcile_digest(deps.digests, rev, cfg, cm, pulls.keyring)
    except DigestError as err:
        deps.recorder.event(AGENT, stored, EVENT_WARNING, "InternalError", str(err))
        rev.status.observed_generation = rev.metadata.generation
        await write_status(deps.store, REVISION, stored, rev)
        assert deps.digests is not None
        return deps.digests.retry_after(key.namespace, key.name)
    if not resolved:
        rev.status.observed_generation = rev.metadata.generation
        await write_status(deps.store, REVISION, stored, rev)
        return None  # the resolver enqueues the revision when it has the digests
    pa = await reconcile_pa(deps, rev, cfg, deps.runtime.status(wkey))
    if pa is None:
        cm.mark_false(RESOURCES_AVAILABLE, NOT_OWNED, not_owned_message("PodAutoscaler", rev.metadata.name or ""))
        rev.status.observed_generation = rev.metadata.generation
        await write_status(deps.store, REVISION, stored, rev)
        return None
    workload = make_workload(rev, cfg, sources, configsources.machine())
    want = pa_replicas(pa, rev, cfg)
    running = deps.runtime.status(wkey)
    if running is not None:
        want = running.desired  # the autoscaler scales the runtime itself: kept, as Knative keeps the Deployment's
    deps.ensuring.add(wkey)
    try:
        await deps.runtime.ensure(workload, want)
    finally:
        deps.ensuring.discard(wkey)
    status = deps.runtime.status(wkey) or WorkloadStatus(desired=want)  # what ensure changed included
    autoscaled = pa.status.get_condition(READY) is not None
    requeue = mark_from_runtime(
        cm,
        rev,
        status,
        want,
        progress_deadline(rev, cfg),
        now,
        workload.unsupported,
        scale_target_initialized=pa.status.is_scale_target_initialized(),
        mark_active=not autoscaled,
    )
    rev.status.actual_replicas = status.ready
    rev.status.desired_replicas = want
    if autoscaled:
        propagate_autoscaler_status(cm, rev, pa)
    if not ready_before and _is_ready(rev):
        message = "Revision becomes ready upon all resources being ready"
        deps.recorder.event(AGENT, stored, EVENT_NORMAL, "RevisionReady", message)
    rev.status.observed_generation = rev.metadata.generation
    await write_status(deps.store, REVISION, stored, rev)
    return requeue


def _is_ready(rev: Revision) -> bool:
    cond = rev.status.get_condition(READY)
    return cond is not None and cond.status == "True"


def reconcile_digest(
    digests: DigestResolver | None, rev: Revision, cfg: Config, cm: ConditionManager, keyring: Keyring | None = None
) -> bool:
    """Knative ``reconcileDigest`` (revision.go): True once every container's image has its digest
    in ``status.containerStatuses`` / ``initContainerStatuses`` (then nothing runs again: a later
    push to the tag changes nothing); False while resolving (``ResourcesAvailable=Unknown
    ResolvingDigests``); :class:`DigestError` (``ContainerHealthy=False ContainerMissing``) when an
    image cannot be resolved. Revisions without images (processes) and controllers without an
    image store have nothing to resolve. ``keyring``: the revision's ``imagePullSecrets``."""
    inits = _init_images(rev)
    images = [(c.name or "", c.image or "") for c in rev.spec.containers]
    if digests is None or not any(image for _, image in (*images, *inits)):
        return True
    ns, name = rev.metadata.namespace or "", rev.metadata.name or ""
    if len(rev.status.container_statuses) + len(rev.status.init_container_statuses) == len(images) + len(inits):
        digests.forget(ns, name)
        return True
    d = cfg.deployment
    try:
        result = digests.resolve(
            ns, name, images, inits, d.registries_skipping_tag_resolving, d.digest_resolution_timeout, keyring
        )
    except DigestError as err:
        cm.mark_false(CONTAINER_HEALTHY, CONTAINER_MISSING, str(err))
        raise
    if result is None:
        cm.mark_unknown(RESOURCES_AVAILABLE, RESOLVING_DIGESTS, "")
        return False
    rev.status.container_statuses = result.containers
    rev.status.init_container_statuses = result.init_containers
    return True


def _images(rev: Revision) -> bool:
    """Some container or init container of ``rev`` has an image."""
    return any(c.image for c in rev.spec.containers) or any(image for _, image in _init_images(rev))


def _init_images(rev: Revision) -> list[tuple[str, str]]:
    """(name, image) of ``initContainers`` (kept as sent in the spec's extra fields)."""
    raw = (rev.spec.model_extra or {}).get("initContainers")
    inits = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
    return [(str(c.get("name") or ""), str(c.get("image") or "")) for c in inits]


def mark_from_runtime(
    cm: ConditionManager,
    rev: Revision,
    status: WorkloadStatus,
    want: int,
    deadline: float,
    now: datetime,
    unsupported: tuple[str, ...] = (),
    *,
    scale_target_initialized: bool = False,
    mark_active: bool = True,
) -> float | None:
    """Set the revision's conditions from what the runtime reports (pure); returns a requeue delay.

    ``scale_target_initialized``: the PA reached its initial scale (also true at initial scale 0).
    ``mark_active``: derive ``Active`` from the runtime (no autoscaler reports it).
    """
    notes = [f"Fields kept but not honoured by this runtime: {', '.join(unsupported)}."] if unsupported else []
    notes.extend(status.warnings)  # e.g. "cpu/memory limits not enforced: <why>"
    note = " ".join(notes)
    note_reason = "UnsupportedFields" if unsupported else "RuntimeWarning" if notes else ""
    available = cm.get(RESOURCES_AVAILABLE)
    initialized = (available is not None and available.status == "True") or scale_target_initialized
    if mark_active:
        _mark_active(cm, status, want)
    failure = status.failure
    if failure is not None and status.ready == 0:
        message = failure.message if failure.permanent else _exit_message(failure.reason, failure.message)
        cm.mark_false(CONTAINER_HEALTHY, failure.reason, message)
        if failure.permanent:
            cm.mark_false(RESOURCES_AVAILABLE, failure.reason, message)
            return None
    if initialized or (want > 0 and status.ready >= want):
        if failure is None or status.ready > 0:
            cm.mark_true(CONTAINER_HEALTHY)
        cm.mark_true(RESOURCES_AVAILABLE, note_reason, note)
        return None
    created = parse_time(rev.metadata.creation_timestamp) or now
    left = deadline - (now - created).total_seconds()
    if left <= 0:
        cm.mark_false(RESOURCES_AVAILABLE, PROGRESS_DEADLINE_EXCEEDED, "Initial scale was never achieved")
        return None
    if failure is None:
        cm.mark_unknown(CONTAINER_HEALTHY, DEPLOYING, "")
    cm.mark_unknown(RESOURCES_AVAILABLE, DEPLOYING, note)
    return left


def _exit_message(reason: str, message: str) -> str:
    if not reason.startswith("ExitCode"):
        return message
    return f"Container failed with: {message or 'container exited with no error'}"


def _mark_active(cm: ConditionManager, status: WorkloadStatus, want: int) -> None:
    if status.ready > 0:
        cm.mark_true(ACTIVE)
    elif want == 0:
        cm.mark_false(ACTIVE, "NoTraffic", "The target is not receiving traffic.")
    else:
        cm.mark_unknown(ACTIVE, "Queued", "Requests to the target are being buffered as resources are provisioned.")


async def remove_orphans(deps: Deps, *, wait: bool = True) -> list[WorkloadKey]:
    """Remove every runtime workload of a Revision that no longer exists."""
    objs, _ = await deps.store.list(REVISION)
    live = {WorkloadKey(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs}
    orphans = [k for k in list(deps.runtime.keys()) if k.kind == "Revision" and k not in live]
    for k in orphans:
        await deps.runtime.remove(k, wait=wait)
    return orphans
