"""Revision reconciler (pkg/reconciler/revision): keep the runtime running the revision, report it.

Phases: the wanted replica count (:func:`replicas`, fixed scale until the autoscaler lands) ->
``runtime.ensure(make_workload(rev, cfg), replicas)`` -> conditions from ``runtime.status``:
``ResourcesAvailable`` and ``ContainerHealthy`` (-> ``Ready``), ``Active`` (informational),
actual/desired replicas. A deleted Revision's workload is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from zeroserve.api import labels
from zeroserve.api.conditions import REVISION_CONDITIONS, ConditionManager
from zeroserve.api.kinds import REVISION
from zeroserve.api.revision import Revision
from zeroserve.config import Config, duration
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.gc import parse_time
from zeroserve.controller.resources.revision import RESERVE
from zeroserve.controller.resources.workload import make_workload
from zeroserve.runtime.base import WorkloadKey, WorkloadStatus

RESOURCES_AVAILABLE = "ResourcesAvailable"
CONTAINER_HEALTHY = "ContainerHealthy"
ACTIVE = "Active"
DEPLOYING = "Deploying"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
MIN_SCALE = ("autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/minScale")
INITIAL_SCALE = ("autoscaling.knative.dev/initial-scale", "autoscaling.knative.dev/initialScale")


def _annotation_int(annotations: Mapping[str, str], keys: tuple[str, ...]) -> int:
    for key in keys:
        if key in annotations:
            try:
                return int(annotations[key])
            except ValueError:
                return 0
    return 0


def replicas(rev: Revision, cfg: Config) -> int:
    """How many instances to run: 0 when routed to nobody (reserve), else max(1, min, initial)."""
    if rev.metadata.labels.get(labels.ROUTING_STATE) == RESERVE:
        return 0
    ann = rev.metadata.annotations
    return max(1, _annotation_int(ann, MIN_SCALE), _annotation_int(ann, INITIAL_SCALE))


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
        await deps.runtime.remove(wkey)
        return None
    stored, rev = loaded
    cfg = deps.config()
    workload = make_workload(rev, cfg)
    want = replicas(rev, cfg)
    await deps.runtime.ensure(workload, want)
    now = deps.now()
    cm = REVISION_CONDITIONS.manage(rev.status, now)
    cm.initialize()
    status = deps.runtime.status(wkey) or WorkloadStatus(desired=want)
    requeue = mark_from_runtime(cm, rev, status, want, progress_deadline(rev, cfg), now, workload.unsupported)
    rev.status.actual_replicas = status.ready
    rev.status.desired_replicas = want
    rev.status.observed_generation = rev.metadata.generation
    await write_status(deps.store, REVISION, stored, rev)
    return requeue


def mark_from_runtime(
    cm: ConditionManager,
    rev: Revision,
    status: WorkloadStatus,
    want: int,
    deadline: float,
    now: datetime,
    unsupported: tuple[str, ...] = (),
) -> float | None:
    """Set the revision's conditions from what the runtime reports (pure); returns a requeue delay."""
    notes = [f"Fields kept but not honoured by this runtime: {', '.join(unsupported)}."] if unsupported else []
    notes.extend(status.warnings)  # e.g. "cpu/memory limits not enforced: <why>"
    note = " ".join(notes)
    note_reason = "UnsupportedFields" if unsupported else "RuntimeWarning" if notes else ""
    available = cm.get(RESOURCES_AVAILABLE)
    initialized = available is not None and available.status == "True"
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


async def remove_orphans(deps: Deps) -> list[WorkloadKey]:
    """Remove every runtime workload whose Revision no longer exists."""
    objs, _ = await deps.store.list(REVISION)
    live = {WorkloadKey(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs}
    orphans = [k for k in list(deps.runtime.keys()) if k not in live]
    for k in orphans:
        await deps.runtime.remove(k)
    return orphans
