"""The activator's view of the revisions, kept from the API (Knative's activator watches them):
``containerConcurrency``, the three timeouts and h2c, for :class:`~zeroserve.activator.throttler.Throttler`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from zeroserve.activator.throttler import Throttler, serves_h2c
from zeroserve.api.kinds import REVISION
from zeroserve.errors import Gone
from zeroserve.store.base import Store

log = logging.getLogger(__name__)


class RevisionFeed:
    """Keeps the throttler's view of revisions (CC, the three timeouts) in step with the store."""

    def __init__(
        self,
        store: Store,
        throttler: Throttler,
        default_timeout: int = 300,
        on_deleted: Callable[[str, str], None] | None = None,
    ) -> None:
        self._store = store
        self._throttler = throttler
        self._default_timeout = default_timeout
        self._on_deleted = on_deleted
        """Told each revision deleted (the gateway workers' activators fail its held requests too)."""
        self.listed = asyncio.Event()
        """Set once every stored revision is known to the throttler (the gateway waits for it)."""

    def _apply(self, obj: dict[str, object], deleted: bool) -> None:
        meta = obj.get("metadata")
        spec = obj.get("spec")
        if not isinstance(meta, dict) or not isinstance(spec, dict):
            return
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        if deleted:
            self._throttler.remove_revision(namespace, name)
            if self._on_deleted is not None:
                self._on_deleted(namespace, name)
            return
        cc = spec.get("containerConcurrency")
        timeout = spec.get("timeoutSeconds")
        response_start, idle = spec.get("responseStartTimeoutSeconds"), spec.get("idleTimeoutSeconds")
        self._throttler.set_revision(
            namespace,
            name,
            cc if isinstance(cc, int) else 0,
            timeout if isinstance(timeout, int) else self._default_timeout,
            response_start if isinstance(response_start, int) else 0,
            idle if isinstance(idle, int) else 0,
            h2c=serves_h2c(spec),
        )

    async def run(self) -> None:
        while True:
            items, rv = await self._store.list(REVISION)
            for item in items:
                self._apply(item, deleted=False)
            self.listed.set()
            try:
                async for event in self._store.watch((REVISION,), since=rv):
                    self._apply(event.object, deleted=event.type == "DELETED")
            except Gone:
                log.info("revision feed: watch expired, listing again")
