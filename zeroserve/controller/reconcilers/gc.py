"""Revision garbage collection per Configuration (pkg/reconciler/gc/gc.go, config-gc).

:func:`select_stale` is the pure policy (SPEC §9, Knative's algorithm step by step);
:func:`collect` lists a Configuration's revisions, deletes what it selects and says when the next
one will be stale by age alone (:func:`next_collection`): the Configuration reconciler requeues
itself for then, so an idle revision is collected on time without an event. (Knative gets there
by its controllers' periodic resync, ``controller.DefaultResyncPeriod`` = 10 h, i.e. late by up
to that much; this is the same policy evaluated when its answer changes.)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from zeroserve.api import labels
from zeroserve.api.base import from_wire
from zeroserve.api.configuration import Configuration
from zeroserve.api.kinds import REVISION
from zeroserve.api.revision import Revision
from zeroserve.config import GCConfig
from zeroserve.controller.resources.revision import RESERVE
from zeroserve.errors import NotFound
from zeroserve.store.base import Store

log = logging.getLogger(__name__)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def last_active(rev: Revision) -> datetime | None:
    """When the revision last changed routing state (else when it was created)."""
    return parse_time(rev.metadata.annotations.get(labels.ROUTING_STATE_MODIFIED)) or parse_time(
        rev.metadata.creation_timestamp
    )


def is_active(rev: Revision, latest_ready: str | None) -> bool:
    return (
        rev.metadata.name == latest_ready
        or rev.metadata.annotations.get(labels.NO_GC) == "true"
        or rev.metadata.labels.get(labels.ROUTING_STATE) != RESERVE
    )


def _age(since: datetime | None, now: datetime) -> float:
    return (now - since).total_seconds() if since is not None else 0.0


def is_stale(rev: Revision, gc: GCConfig, now: datetime) -> bool:
    create, active = gc.retain_since_create_time, gc.retain_since_last_active_time
    if create is None and active is None:
        return False
    if create is not None and _age(parse_time(rev.metadata.creation_timestamp), now) < create:
        return False
    return not (active is not None and _age(last_active(rev), now) < active)


def stale_at(rev: Revision, gc: GCConfig) -> datetime | None:
    """When ``rev`` becomes stale by age (:func:`is_stale`), None if never by age."""
    create, active = gc.retain_since_create_time, gc.retain_since_last_active_time
    if create is None and active is None:
        return None
    times: list[datetime] = []
    for since, retain in ((parse_time(rev.metadata.creation_timestamp), create), (last_active(rev), active)):
        if retain is not None:
            if since is None:
                return None  # its age reads 0 for ever
            times.append(since + timedelta(seconds=retain))
    return max(times)


def _all_disabled(gc: GCConfig) -> bool:
    return (
        gc.max_non_active_revisions is None
        and gc.retain_since_create_time is None
        and gc.retain_since_last_active_time is None
    )


def next_collection(
    revisions: Sequence[Revision], latest_ready: str | None, gc: GCConfig, now: datetime
) -> float | None:
    """Seconds until one of ``revisions`` (what is left after :func:`select_stale`) becomes stale and
    deletable by age alone; None if none will without another change (pure)."""
    if _all_disabled(gc) or len(revisions) <= gc.min_non_active_revisions:
        return None
    candidates = [r for r in revisions if not is_active(r, latest_ready)]
    if len(candidates) <= gc.min_non_active_revisions:
        return None
    times = [t for r in candidates if (t := stale_at(r, gc)) is not None and t > now]
    return (min(times) - now).total_seconds() if times else None


def select_stale(revisions: Sequence[Revision], latest_ready: str | None, gc: GCConfig, now: datetime) -> list[str]:
    """Names of the revisions to delete, in deletion order."""
    if _all_disabled(gc):
        return []
    minimum = gc.min_non_active_revisions
    if len(revisions) <= minimum:
        return []
    candidates = [r for r in revisions if not is_active(r, latest_ready)]
    if len(candidates) <= minimum:
        return []
    floor = datetime.min.replace(tzinfo=now.tzinfo)
    candidates.sort(key=lambda r: last_active(r) or floor)
    deletable = len(candidates) - minimum
    doomed: list[str] = []
    for rev in candidates:
        if is_stale(rev, gc, now):
            doomed.append(rev.metadata.name or "")
            if len(doomed) >= deletable:
                return doomed
    remaining = len(candidates) - len(doomed)
    cap = gc.max_non_active_revisions
    if cap is not None and remaining > cap:
        extra = [r.metadata.name or "" for r in candidates if r.metadata.name not in doomed]
        doomed += extra[: remaining - cap]
    return doomed


async def collect(
    store: Store, cfg: Configuration, gc: GCConfig, now: datetime, revisions: Sequence[Revision] | None = None
) -> tuple[list[str], float | None]:
    """Delete the stale revisions of ``cfg`` (``revisions``: its Revisions as just listed, else
    they are listed here); returns their names and the seconds until the next revision is stale
    by age (None: not without another change)."""
    ns = cfg.metadata.namespace or ""
    if revisions is None:
        objs, _ = await store.list(REVISION, ns, label_selector=f"{labels.CONFIGURATION}={cfg.metadata.name}")
        revisions = [from_wire(Revision, o) for o in objs]
    latest_ready = cfg.status.latest_ready_revision_name
    doomed = select_stale(revisions, latest_ready, gc, now)
    for name in doomed:
        log.info("gc: deleting revision %s/%s", ns, name)
        with contextlib.suppress(NotFound):
            await store.delete(REVISION, ns, name)
    left = [r for r in revisions if r.metadata.name not in doomed]
    return doomed, next_collection(left, latest_ready, gc, now)
