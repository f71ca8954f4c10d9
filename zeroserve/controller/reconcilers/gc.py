"""Revision garbage collection per Configuration (pkg/reconciler/gc/gc.go, config-gc).

:func:`select_stale` is the pure policy (SPEC §9, Knative's algorithm step by step);
:func:`collect` lists a Configuration's revisions and deletes what it selects.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

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


def select_stale(revisions: Sequence[Revision], latest_ready: str | None, gc: GCConfig, now: datetime) -> list[str]:
    """Names of the revisions to delete, in deletion order."""
    if (
        gc.max_non_active_revisions is None
        and gc.retain_since_create_time is None
        and gc.retain_since_last_active_time is None
    ):
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


async def collect(store: Store, cfg: Configuration, gc: GCConfig, now: datetime) -> list[str]:
    """Delete the stale revisions of ``cfg``; returns their names."""
    ns = cfg.metadata.namespace or ""
    objs, _ = await store.list(REVISION, ns, label_selector=f"{labels.CONFIGURATION}={cfg.metadata.name}")
    revisions = [from_wire(Revision, o) for o in objs]
    doomed = select_stale(revisions, cfg.status.latest_ready_revision_name, gc, now)
    for name in doomed:
        log.info("gc: deleting revision %s/%s", ns, name)
        with contextlib.suppress(NotFound):
            await store.delete(REVISION, ns, name)
    return doomed
