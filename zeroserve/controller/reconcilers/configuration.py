"""Configuration reconciler (pkg/reconciler/configuration/configuration.go).

Phases: stamp the Revision of the current generation (if missing) -> latestCreatedRevisionName
-> latestReadyRevisionName (the newest ready revision not older than the current one) and
Ready from the latest created revision -> write status -> revision GC, requeued for when the next
revision will be stale by age.

Events, as Knative's: ``Created`` ``Created Revision "hello-00001"`` (``CreationFailed`` when that
fails), ``ConfigurationReady`` when the first revision becomes ready, ``LatestReadyUpdate``
``LatestReadyRevisionName updated to "hello-00002"``, and ``Warning LatestCreatedFailed`` /
``LatestReadyFailed`` when the latest created revision fails.
"""

from __future__ import annotations

import logging

from zeroserve.api import labels
from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.conditions import CONFIGURATION_CONDITIONS, READY, ConditionManager
from zeroserve.api.configuration import Configuration
from zeroserve.api.core import EVENT_NORMAL, EVENT_WARNING
from zeroserve.api.kinds import CONFIGURATION, REVISION
from zeroserve.api.revision import Revision
from zeroserve.controller.reconcilers import gc
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.revision import make_revision, revision_name
from zeroserve.errors import AlreadyExists, ApiError

log = logging.getLogger(__name__)

AGENT = "configuration-controller"
"""The source of this reconciler's events (Knative's ``defaultControllerAgentName``)."""


def _ready(rev: Revision) -> str:
    cond = rev.status.get_condition(READY)
    if cond is None or rev.status.observed_generation != rev.metadata.generation:
        return "Unknown"
    return cond.status


def _generation(rev: Revision) -> int:
    try:
        return int(rev.metadata.labels.get(labels.CONFIGURATION_GENERATION, "0"))
    except ValueError:
        return 0


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, CONFIGURATION, Configuration, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        return None  # as Knative's generated reconciler: no ReconcileKind while deleting (no Revision remade)
    stored, cfg = loaded
    now = deps.now()
    cm = CONFIGURATION_CONDITIONS.manage(cfg.status, now)
    cm.initialize()
    latest = await _latest_created(deps, stored, cfg)
    revisions: list[Revision] | None = None
    if latest is None:
        cm.mark_false(READY, "NotOwned", f'There is an existing Revision "{revision_name(cfg)}" that we do not own.')
    else:
        revisions = await _revisions(deps, cfg)
        before = (cfg.status.latest_ready_revision_name, _ready_condition(cfg))
        _set_latest(cfg, cm, latest, revisions)
        _record(deps, stored, cfg, latest, *before)
    cfg.status.observed_generation = cfg.metadata.generation
    await write_status(deps.store, CONFIGURATION, stored, cfg)
    _, next_gc = await gc.collect(deps.store, cfg, deps.config().gc, now, revisions)
    return next_gc


async def _latest_created(deps: Deps, stored: Obj, cfg: Configuration) -> Revision | None:
    """The revision of the current generation, created if missing; None if someone else owns the name."""
    name = revision_name(cfg)
    obj: Obj | None = await get_or_none(deps.store, REVISION, cfg.metadata.namespace or "", name)
    if obj is None:
        log.info("configuration %s/%s: creating revision %s", cfg.metadata.namespace, cfg.metadata.name, name)
        try:
            obj = await deps.store.create(REVISION, to_wire(make_revision(cfg, deps.now())))
        except AlreadyExists:
            raise  # Knative reports no failure for a name taken meanwhile: the next pass sees the owner
        except ApiError as err:
            deps.recorder.event(AGENT, stored, EVENT_WARNING, "CreationFailed", f"Failed to create Revision: {err}")
            raise
        deps.recorder.event(AGENT, stored, EVENT_NORMAL, "Created", f'Created Revision "{name}"')
    rev = from_wire(Revision, obj)
    return rev if owners.is_controlled_by(rev.metadata, cfg.metadata) else None


async def _revisions(deps: Deps, cfg: Configuration) -> list[Revision]:
    selector = f"{labels.CONFIGURATION}={cfg.metadata.name}"
    objs, _ = await deps.store.list(REVISION, cfg.metadata.namespace or "", label_selector=selector)
    return [from_wire(Revision, o) for o in objs]


def _ready_condition(cfg: Configuration) -> tuple[str, str | None, str | None] | None:
    cond = cfg.status.get_condition(READY)
    return None if cond is None else (cond.status, cond.reason, cond.message)


def _record(
    deps: Deps,
    stored: Obj,
    cfg: Configuration,
    latest: Revision,
    ready_before: str | None,
    condition_before: tuple[str, str | None, str | None] | None,
) -> None:
    """The events of configuration.go's ReconcileKind and findAndSetLatestReadyRevision, in their order."""
    name, state = latest.metadata.name or "", _ready(latest)
    if state == "True" and not ready_before:
        deps.recorder.event(AGENT, stored, EVENT_NORMAL, "ConfigurationReady", "Configuration becomes ready")
    elif state == "False" and _ready_condition(cfg) != condition_before:
        which = ("LatestReadyFailed", "ready") if name == ready_before else ("LatestCreatedFailed", "created")
        deps.recorder.event(AGENT, stored, EVENT_WARNING, which[0], f'Latest {which[1]} revision "{name}" has failed')
    now_ready = cfg.status.latest_ready_revision_name
    if now_ready and now_ready != ready_before:
        message = f'LatestReadyRevisionName updated to "{now_ready}"'
        deps.recorder.event(AGENT, stored, EVENT_NORMAL, "LatestReadyUpdate", message)


def _set_latest(cfg: Configuration, cm: ConditionManager, latest: Revision, revisions: list[Revision]) -> None:
    status = cfg.status
    name = latest.metadata.name or ""
    status.latest_created_revision_name = name
    by_name = {r.metadata.name: r for r in revisions}
    current = by_name.get(status.latest_ready_revision_name)
    floor = _generation(current) if current is not None else 0
    newer = sorted((r for r in revisions if _generation(r) >= floor), key=_generation, reverse=True)
    ready = next((r for r in newer if _ready(r) == "True"), None)
    if ready is not None:
        status.latest_ready_revision_name = ready.metadata.name
    state = _ready(latest)
    if state == "False":
        cond = latest.status.get_condition(READY)
        message = cond.message if cond is not None and cond.message else ""
        cm.mark_false(READY, "RevisionFailed", f'Revision "{name}" failed with message: {message}.')
    elif status.latest_ready_revision_name == name:
        cm.mark_true(READY)
    else:
        cm.mark_unknown(READY, "", "")
