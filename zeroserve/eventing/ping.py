"""The PingSource adapter: Knative's ``pkg/adapter/mtping``, inside ``zeroserve up``.

Every Ready PingSource (the reconciler resolved ``status.sinkUri``) gets a task that sleeps until
its next tick (:mod:`zeroserve.api.cron`, robfig/cron's schedule) and POSTs one CloudEvent to the
sink in binary mode: type ``dev.knative.sources.ping``, source
``/apis/v1/namespaces/NS/pingsources/NAME``, ``time`` the tick, the ``ceOverrides`` extensions, the
decoded ``dataBase64`` or ``data`` as the body with ``contentType``. A failed POST is retried as
mtping's client retries (exponential backoff from 50 ms, 5 retries), then given up (logged).
Knative also waits a random 0-500 ms before each send to spread the load; zeroserve does not.

**Restarts.** Knative's adapter schedules from the moment it starts: ticks missed while it was down
are gone, silently. zeroserve keeps, per source, the last tick it fired (``DATA/pingsource.db``),
written once the tick's send is over. On start (and when a source is scheduled again) the latest
tick missed since then, if any, is fired at once; older missed ticks are skipped, with a warning
that says how long the gap was. A tick is never fired twice by design: its event ``id`` is derived
from the source's uid and the tick's time, so the one case of a second send — ``up`` killed after
the sink answered but before the tick was written — repeats the same event (same ``source`` and
``id``: a duplicate by CloudEvents' definition), never a new one. A changed schedule or timezone
starts afresh (no catch-up for ticks of a schedule that did not exist).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from zeroserve.api import cron
from zeroserve.api.kinds import Kind
from zeroserve.errors import Gone
from zeroserve.eventing import encoding
from zeroserve.eventing.dispatch import Sender
from zeroserve.eventing.retry import RetryPolicy, is_success, next_delay
from zeroserve.store.base import Store

log = logging.getLogger("zeroserve.eventing.ping")

EVENT_TYPE: Final = "dev.knative.sources.ping"
DB_NAME: Final = "pingsource.db"
SEND_POLICY: Final = RetryPolicy(retry=5, backoff_policy="exponential", backoff_delay=0.05)
"""``ContextWithRetriesExponentialBackoff(ctx, 50*time.Millisecond, 5)`` (mtping's runner.go)."""
SEND_TIMEOUT: Final = 30.0


@dataclass(frozen=True)
class PingConfig:
    """What the adapter reads of a PingSource."""

    uid: str
    namespace: str
    name: str
    schedule: str
    """``CRON_TZ=<timezone> <schedule>`` as the adapter hands it to the parser."""
    sink: str
    extensions: tuple[tuple[str, str], ...]
    content_type: str | None
    data: bytes | None

    @property
    def source(self) -> str:
        return f"/apis/v1/namespaces/{self.namespace}/pingsources/{self.name}"

    def event(self, tick: datetime) -> dict[str, Any]:
        """The CloudEvent of ``tick`` (structured form, for :func:`encoding.to_binary`)."""
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.uid}/{tick.astimezone(UTC).isoformat()}")),
            "source": self.source,
            "type": EVENT_TYPE,
            "time": tick.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        event.update(self.extensions)
        if self.data is not None:
            event["data_base64"] = base64.b64encode(self.data).decode()
            if self.content_type:
                event["datacontenttype"] = self.content_type
        return event


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def ping_config(obj: Mapping[str, Any]) -> PingConfig | None:
    """None: nothing to schedule (not Ready, no sink, being deleted)."""
    meta, spec, status = _dict(obj.get("metadata")), _dict(obj.get("spec")), _dict(obj.get("status"))
    ready = any(
        _dict(c).get("type") == "Ready" and _dict(c).get("status") == "True" for c in status.get("conditions") or []
    )
    sink = status.get("sinkUri")
    if not ready or not isinstance(sink, str) or not sink or meta.get("deletionTimestamp"):
        return None
    data: bytes | None = None
    if spec.get("dataBase64"):
        data = base64.b64decode(str(spec["dataBase64"]))
    elif spec.get("data"):
        data = str(spec["data"]).encode()
    extensions = _dict(_dict(spec.get("ceOverrides")).get("extensions"))
    return PingConfig(
        uid=str(meta.get("uid", "")),
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        schedule=cron.with_timezone(str(spec.get("schedule") or "* * * * *"), str(spec.get("timezone") or "")),
        sink=sink,
        extensions=tuple(sorted((str(k), str(v)) for k, v in extensions.items())),
        content_type=str(spec["contentType"]) if spec.get("contentType") else None,
        data=data,
    )


class TickStore:
    """The last tick fired per source (uid -> (schedule, wall seconds)), in SQLite, off the loop."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS ticks (uid TEXT PRIMARY KEY, schedule TEXT, tick REAL)")
        self._lock = asyncio.Lock()

    async def get(self, uid: str) -> tuple[str, float] | None:
        async with self._lock:
            row = await asyncio.to_thread(
                lambda: self._db.execute("SELECT schedule, tick FROM ticks WHERE uid = ?", (uid,)).fetchone()
            )
        return (str(row[0]), float(row[1])) if row else None

    async def put(self, uid: str, schedule: str, tick: float) -> None:
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute, "INSERT OR REPLACE INTO ticks VALUES (?, ?, ?)", (uid, schedule, tick)
            )

    async def forget(self, uid: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._db.execute, "DELETE FROM ticks WHERE uid = ?", (uid,))

    def close(self) -> None:
        self._db.close()


class PingRunner:
    """One task per schedulable PingSource, fed by the store (list, then watch)."""

    def __init__(
        self,
        store: Store,
        kind: Kind,
        sender: Sender,
        ticks: TickStore,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store, self._kind, self._sender, self._ticks = store, kind, sender, ticks
        self._wall, self._sleep = wall, sleep
        self._tasks: dict[str, tuple[PingConfig, asyncio.Task[None]]] = {}

    async def run(self) -> None:
        try:
            while True:
                objs, rv = await self._store.list(self._kind)
                live = {str(_dict(o.get("metadata")).get("uid")) for o in objs}
                for uid in [u for u in self._tasks if u not in live]:
                    await self._remove(uid, forget=True)
                for obj in objs:
                    await self._apply(obj)
                try:
                    async for event in self._store.watch((self._kind,), since=rv):
                        if event.type == "DELETED":
                            await self._remove(str(_dict(event.object.get("metadata")).get("uid")), forget=True)
                        else:
                            await self._apply(event.object)
                except Gone:
                    log.info("pingsource feed: watch expired, listing again")
        finally:
            for uid in list(self._tasks):
                await self._remove(uid, forget=False)

    async def _apply(self, obj: Mapping[str, Any]) -> None:
        cfg = ping_config(obj)
        uid = str(_dict(obj.get("metadata")).get("uid"))
        current = self._tasks.get(uid)
        if current is not None and current[0] == cfg:
            return
        await self._remove(uid, forget=False)
        if cfg is not None:
            task = asyncio.create_task(self._schedule(cfg), name=f"pingsource {cfg.namespace}/{cfg.name}")
            self._tasks[uid] = (cfg, task)

    async def _remove(self, uid: str, *, forget: bool) -> None:
        entry = self._tasks.pop(uid, None)
        if entry is not None:
            entry[1].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entry[1]
        if forget:
            await self._ticks.forget(uid)

    async def _schedule(self, cfg: PingConfig) -> None:
        try:
            schedule = cron.parse(cfg.schedule)
        except cron.CronError as e:  # admission refuses these; an object stored before is skipped
            log.warning("pingsource %s/%s: schedule %r: %s", cfg.namespace, cfg.name, cfg.schedule, e)
            return
        now = self._now()
        stored = await self._ticks.get(cfg.uid)
        if stored is None or stored[0] != cfg.schedule:
            last = now
            await self._ticks.put(cfg.uid, cfg.schedule, now.timestamp())
        else:
            last = datetime.fromtimestamp(stored[1], UTC)
        missed, upcoming = cron.resume(schedule, last, now)
        if missed is not None:
            skipped = schedule.next(last)
            if skipped is not None and skipped < missed:
                log.warning(
                    "pingsource %s/%s: ticks from %s to %s were missed while stopped; firing only the latest",
                    cfg.namespace,
                    cfg.name,
                    skipped.isoformat(),
                    missed.isoformat(),
                )
            await self._fire(cfg, missed)
        while upcoming is not None:
            await self._sleep(max(0.0, upcoming.timestamp() - self._wall()))
            await self._fire(cfg, upcoming)
            upcoming = schedule.next(max(upcoming, self._now()))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    async def _fire(self, cfg: PingConfig, tick: datetime) -> None:
        headers, body = encoding.to_binary(cfg.event(tick))
        attempt = 0
        while True:
            answer = await self._sender.post(cfg.sink, headers, body, SEND_TIMEOUT)
            if is_success(answer.status):
                break
            delay = next_delay(SEND_POLICY, attempt, answer.status)
            if delay is None:
                log.error(
                    "pingsource %s/%s: failed to send the event of %s to %s: %s",
                    cfg.namespace,
                    cfg.name,
                    tick.isoformat(),
                    cfg.sink,
                    answer.status,
                )
                break
            await self._sleep(delay)
            attempt += 1
        await self._ticks.put(cfg.uid, cfg.schedule, tick.timestamp())
