"""The Brokers' durable event log: SQLite in WAL mode, ``synchronous=FULL``, one writer thread with
group commit, and each Trigger's delivery state beside the events.

**Durable before 202.** :meth:`SqliteEventLog.append` returns only after the transaction holding the
event has committed, and with ``synchronous=FULL`` SQLite fsyncs the WAL at every commit: the event
survives kill -9 *and* power loss. One thread owns the writing connection; appends (and the
Triggers' acknowledgements, registrations, replays and retention passes) queue up while it commits,
and it takes everything waiting into the next transaction: one fsync for a whole batch (group
commit). The event loop never blocks on the disk.

**Why SQLite and not segment files.** Measured on this 2-core VM (ext4 on virtio, 400-byte events,
``bench/eventing.py --log``, both with a writer thread and group commit): SQLite WAL, FULL,
3,200 appends/s at concurrency 1 (0.31 ms each), 79,000/s at 100 (1.3 ms), 117,000/s at 1,000;
an append-only segment file with one ``write`` + ``fdatasync`` per batch 3,400/s, 111,000/s and
238,000/s. Both are over 15x the 5,000 events/s goal at the concurrency an ingress sees, so the log
is not where the ingress spends its time (HTTP in Python is), and the segment file would still need
our own index by Broker and time, per-Trigger acknowledgement files, torn-write recovery
(checksums) and compaction for retention. SQLite gives those (indexes, atomic multi-table commits,
crash recovery, ``DELETE`` for retention) and already runs the store.

**Layout.** ``events(namespace, broker, seq, time, body)``: ``seq`` counts per Broker from 1 without
gaps (``brokers.last_seq`` keeps the counter, so a Broker's numbers never go back even when retention
empties it), ``time`` is the arrival (wall clock), ``body`` the event in structured JSON as the
ingress wrote it. ``triggers(uid, namespace, broker, mark, replay)`` and ``acks(uid, seq)``: a
Trigger's low-water mark and the events done above it (:class:`~zeroserve.eventing.acks.AckState`).
Acknowledgements are written lazily (:data:`ACK_FLUSH` seconds after the first one not written yet,
in the writer's next batch; nothing wakes while nothing is acknowledged):
after a crash the events acked since the last flush are delivered again — at least once, never lost.

**Bounded.** At ``max-pending`` events waiting for their commit, or when a Broker's slowest Trigger
owes ``max-backlog`` events, :meth:`append` raises :class:`~zeroserve.eventing.base.BacklogFull`
at once (the ingress answers 429 with ``Retry-After``): memory and disk stay bounded.

**Retention** (``config-zeroserve-eventing.retention``): every :data:`RETENTION_EVERY` seconds,
events older than the retention *and* done by every Trigger of their Broker are deleted (never an
event still owed). A Trigger can be replayed from a sequence number or a time within what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from zeroserve.config import EventingConfig
from zeroserve.eventing.acks import AckState
from zeroserve.eventing.base import BacklogFull
from zeroserve.eventing.metrics import EventingMetrics

log = logging.getLogger("zeroserve.eventing.log")

ACK_FLUSH: Final = 0.05
"""Seconds from an acknowledgement to the write of it and of those that followed it."""
RETENTION_EVERY: Final = 10.0
RETENTION_BATCH: Final = 10_000
"""Rows one retention statement deletes at most (the writer's transactions stay short)."""
MAX_BATCH: Final = 4096
"""Operations one transaction takes at most."""

BrokerKey = tuple[str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    namespace TEXT NOT NULL, broker TEXT NOT NULL, seq INTEGER NOT NULL,
    time REAL NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (namespace, broker, seq)
);
CREATE TABLE IF NOT EXISTS brokers (
    namespace TEXT NOT NULL, broker TEXT NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (namespace, broker)
);
CREATE TABLE IF NOT EXISTS triggers (
    uid TEXT PRIMARY KEY, namespace TEXT NOT NULL, broker TEXT NOT NULL,
    mark INTEGER NOT NULL, replay TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS acks (
    uid TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (uid, seq)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    time: float
    """Arrival, wall-clock seconds."""
    body: bytes


@dataclass(slots=True)
class _Append:
    key: BrokerKey
    time: float
    body: bytes
    future: asyncio.Future[int]


@dataclass(slots=True)
class _Call:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any] | None


_STOP: Final = object()


class SqliteEventLog:
    """The :class:`~zeroserve.eventing.base.EventLog` of ``zeroserve up`` (``DATA/eventing.db``)."""

    def __init__(
        self,
        path: Path | str,
        config: Callable[[], EventingConfig] = EventingConfig,
        wall: Callable[[], float] = time.time,
        metrics: EventingMetrics | None = None,
    ) -> None:
        self.path = str(path)
        self._config = config
        self._wall = wall
        self._metrics = metrics
        self._ops: queue.SimpleQueue[_Append | _Call | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last: dict[BrokerKey, int] = {}
        """Per Broker, the newest committed sequence number."""
        self._pending: dict[BrokerKey, int] = {}
        self._pending_total = 0
        self._waiters: dict[BrokerKey, list[asyncio.Future[None]]] = {}
        self._listeners: dict[BrokerKey, set[Callable[[], None]]] = {}
        self.triggers: dict[str, AckState] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._closed = False

    # ------------------------------------------------------------------------- lifecycle

    async def open(self) -> SqliteEventLog:
        self._loop = asyncio.get_running_loop()
        if self.path != ":memory:" and not os.path.exists(self.path):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._writer, args=(ready,), name="event-log-writer", daemon=True)
        self._thread.start()
        await ready
        self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._reader.execute("PRAGMA busy_timeout = 5000")
        self._load()
        self._tasks = [asyncio.create_task(self._every(RETENTION_EVERY, self.expire), name="event-log-retention")]
        return self

    async def __aenter__(self) -> SqliteEventLog:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._closed or self._thread is None:
            return
        self._closed = True
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        for task in self._tasks:
            task.cancel()
        for task in [*self._tasks, *self._flushing]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush_acks()
        self._ops.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        if self._reader is not None:
            self._reader.close()

    def _load(self) -> None:
        assert self._reader is not None
        for ns, broker, last in self._reader.execute("SELECT namespace, broker, last_seq FROM brokers"):
            self._last[(ns, broker)] = last
        for uid, ns, broker, mark, replay in self._reader.execute(
            "SELECT uid, namespace, broker, mark, replay FROM triggers"
        ):
            self.triggers[uid] = AckState(ns, broker, mark, replay=replay)
        for uid, seq in self._reader.execute("SELECT uid, seq FROM acks"):
            state = self.triggers.get(uid)
            if state is not None and seq > state.mark:
                state.acked.add(seq)

    async def _every(self, seconds: float, fn: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:
                log.exception("event log: %s failed", getattr(fn, "__name__", fn))

    # ------------------------------------------------------------------------- the writer thread

    def _writer(self, ready: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
            last = {(ns, b): n for ns, b, n in conn.execute("SELECT namespace, broker, last_seq FROM brokers")}
        except Exception as e:
            loop.call_soon_threadsafe(ready.set_exception, e)
            return
        loop.call_soon_threadsafe(ready.set_result, None)
        stopping = False
        while not stopping:
            batch: list[_Append | _Call] = []
            op = self._ops.get()
            while True:
                if op is _STOP:
                    stopping = True
                    break
                assert isinstance(op, (_Append, _Call))
                batch.append(op)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    op = self._ops.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(conn, batch, last)
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Append | _Call], last: dict[BrokerKey, int]) -> None:
        loop = self._loop
        assert loop is not None
        appends = [op for op in batch if isinstance(op, _Append)]
        before = {op.key: last.get(op.key, 0) for op in appends}
        seqs: list[int] = []
        results: list[tuple[_Call, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            rows = []
            for op in appends:
                seq = last.get(op.key, 0) + 1
                last[op.key] = seq
                seqs.append(seq)
                rows.append((op.key[0], op.key[1], seq, op.time, op.body))
            if rows:
                conn.executemany("INSERT INTO events (namespace, broker, seq, time, body) VALUES (?, ?, ?, ?, ?)", rows)
                conn.executemany(
                    "INSERT INTO brokers (namespace, broker, last_seq) VALUES (?, ?, ?) "
                    "ON CONFLICT (namespace, broker) DO UPDATE SET last_seq = excluded.last_seq",
                    [(k[0], k[1], last[k]) for k in before],
                )
            for call in batch:
                if isinstance(call, _Call):
                    results.append((call, call.fn(conn)))
            conn.execute("COMMIT")
        except Exception as e:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            last.update(before)
            log.error("event log: a commit of %d operations failed: %s", len(batch), e)
            loop.call_soon_threadsafe(self._failed, batch, e)
            return
        loop.call_soon_threadsafe(self._committed, appends, seqs, results)

    # ------------------------------------------------------------------------- back on the loop

    def _committed(self, appends: list[_Append], seqs: list[int], results: list[tuple[_Call, Any]]) -> None:
        touched: set[BrokerKey] = set()
        for op, seq in zip(appends, seqs, strict=True):
            self._release(op.key)
            if seq > self._last.get(op.key, 0):
                self._last[op.key] = seq
            touched.add(op.key)
            if not op.future.done():
                op.future.set_result(seq)
            if self._metrics is not None:
                self._metrics.accepted.labels(*op.key).inc()
        for key in touched:
            for waiter in self._waiters.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)
            for listener in tuple(self._listeners.get(key, ())):
                listener()
        for call, value in results:
            if call.future is not None and not call.future.done():
                call.future.set_result(value)

    def _failed(self, batch: list[_Append | _Call], error: Exception) -> None:
        for item in batch:
            if isinstance(item, _Append):
                self._release(item.key)
            if item.future is not None and not item.future.done():
                item.future.set_exception(error)

    def _release(self, key: BrokerKey) -> None:
        self._pending_total -= 1
        left = self._pending.get(key, 0) - 1
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)

    async def _call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        assert self._loop is not None
        future: asyncio.Future[Any] = self._loop.create_future()
        self._ops.put(_Call(fn, future))
        return await future

    # ------------------------------------------------------------------------- the ingress side

    async def append(self, namespace: str, broker: str, event_bytes: bytes) -> int:
        """Commit one event durably (fsync'd); its sequence number in the Broker's log."""
        if self._closed or self._loop is None:
            raise BacklogFull("the event log is closed", self._config().retry_after)
        key = (namespace, broker)
        try:
            self._check_room(key)
        except BacklogFull:
            if self._metrics is not None:
                self._metrics.refused.labels(namespace, broker).inc()
            raise
        future: asyncio.Future[int] = self._loop.create_future()
        self._pending[key] = self._pending.get(key, 0) + 1
        self._pending_total += 1
        self._ops.put(_Append(key, self._wall(), event_bytes, future))
        return await future

    def _check_room(self, key: BrokerKey) -> None:
        cfg = self._config()
        if self._pending_total >= cfg.max_pending:
            raise BacklogFull(f"{self._pending_total} events are waiting for their commit", cfg.retry_after)
        owed = self.backlog(*key) + self._pending.get(key, 0)
        if owed >= cfg.max_backlog:
            raise BacklogFull(f"broker {key[0]}/{key[1]} has {owed} events not yet delivered", cfg.retry_after)

    # ------------------------------------------------------------------------- the dispatcher side

    def last_seq(self, namespace: str, broker: str) -> int:
        return self._last.get((namespace, broker), 0)

    async def wait_beyond(self, namespace: str, broker: str, seq: int) -> None:
        """Return once the Broker's log holds an event after ``seq``."""
        key = (namespace, broker)
        if self._last.get(key, 0) > seq:
            return
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.setdefault(key, []).append(waiter)
        try:
            await waiter
        finally:
            waiters = self._waiters.get(key)
            if waiters and waiter in waiters:
                waiters.remove(waiter)

    def listen(self, namespace: str, broker: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (on the loop) after each commit with events of the Broker; returns the
        function that stops it."""
        listeners = self._listeners.setdefault((namespace, broker), set())
        listeners.add(callback)
        return lambda: listeners.discard(callback)

    def read(self, namespace: str, broker: str, after: int, limit: int) -> list[Record]:
        """Up to ``limit`` committed events of the Broker after ``after``, oldest first."""
        assert self._reader is not None
        rows = self._reader.execute(
            "SELECT seq, time, body FROM events WHERE namespace = ? AND broker = ? AND seq > ? ORDER BY seq LIMIT ?",
            (namespace, broker, after, limit),
        ).fetchall()
        return [Record(seq, t, body) for seq, t, body in rows]

    def oldest(self, namespace: str, broker: str) -> int | None:
        """The oldest retained event's sequence number (None: none retained)."""
        assert self._reader is not None
        row = self._reader.execute(
            "SELECT min(seq) FROM events WHERE namespace = ? AND broker = ?", (namespace, broker)
        ).fetchone()
        return row[0] if row and row[0] is not None else None

    def _mark_before(self, namespace: str, broker: str, since: float) -> int:
        """The mark that starts a Trigger at the first event that arrived at ``since`` or later."""
        assert self._reader is not None
        row = self._reader.execute(
            "SELECT seq FROM events WHERE namespace = ? AND broker = ? AND time < ? ORDER BY seq DESC LIMIT 1",
            (namespace, broker, since),
        ).fetchone()
        if row is not None:
            return int(row[0])
        oldest = self.oldest(namespace, broker)
        return oldest - 1 if oldest is not None else self.last_seq(namespace, broker)

    async def attach(self, uid: str, namespace: str, broker: str, created: float) -> AckState:
        """A Trigger's state: the stored one, or a new one starting with the events that arrived
        since ``created`` (its creationTimestamp, wall seconds)."""
        state = self.triggers.get(uid)
        if state is not None and (state.namespace, state.broker) == (namespace, broker):
            return state
        mark = self._mark_before(namespace, broker, created)
        state = AckState(namespace, broker, mark)
        self.triggers[uid] = state
        await self._call(lambda conn: _save_trigger(conn, uid, state))
        return state

    async def detach(self, uid: str) -> None:
        """Forget a deleted Trigger's state."""
        if self.triggers.pop(uid, None) is None:
            return

        def forget(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM triggers WHERE uid = ?", (uid,))
            conn.execute("DELETE FROM acks WHERE uid = ?", (uid,))

        await self._call(forget)

    async def replay(self, uid: str, request: str, *, seq: int | None = None, since: float | None = None) -> int:
        """Deliver a Trigger's events again from sequence number ``seq`` or from the arrival time
        ``since`` (wall seconds), as far back as retention kept them; returns the new mark. The
        caller stops the Trigger's deliveries first."""
        state = self.triggers[uid]
        ns, broker = state.namespace, state.broker
        oldest = self.oldest(ns, broker)
        floor = oldest - 1 if oldest is not None else self.last_seq(ns, broker)
        if seq is not None:
            mark = max(floor, min(seq - 1, self.last_seq(ns, broker)))
        else:
            mark = self._mark_before(ns, broker, since if since is not None else 0.0)
        state.reset(mark, request)
        await self._call(lambda conn: _save_trigger(conn, uid, state, clear_acks=True))
        return mark

    def ack(self, uid: str, seq: int) -> None:
        """Event ``seq`` is done for the Trigger (written with the next flush)."""
        state = self.triggers.get(uid)
        if state is None:
            return
        state.ack(seq)
        if state.dirty and self._flush_timer is None and not self._closed and self._loop is not None:
            self._flush_timer = self._loop.call_later(ACK_FLUSH, self._flush_due)

    def _flush_due(self) -> None:
        self._flush_timer = None
        assert self._loop is not None
        task = self._loop.create_task(self._flush_logged(), name="event-log-acks")
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_logged(self) -> None:
        try:
            await self.flush_acks()
        except Exception:
            log.exception("event log: writing acknowledgements failed")

    def backlog(self, namespace: str, broker: str) -> int:
        """Events the Broker's slowest Trigger still owes."""
        last = self._last.get((namespace, broker), 0)
        owed = [s.owed(last) for s in self.triggers.values() if (s.namespace, s.broker) == (namespace, broker)]
        return max(owed, default=0)

    def trigger_backlog(self, uid: str) -> int:
        state = self.triggers.get(uid)
        return state.owed(self._last.get((state.namespace, state.broker), 0)) if state is not None else 0

    async def flush_acks(self) -> None:
        changes = [(uid, *s.take_changes()) for uid, s in self.triggers.items() if s.dirty]
        if not changes:
            return

        def write(conn: sqlite3.Connection) -> None:
            for uid, mark, fresh in changes:
                conn.execute("UPDATE triggers SET mark = ? WHERE uid = ?", (mark, uid))
                conn.execute("DELETE FROM acks WHERE uid = ? AND seq <= ?", (uid, mark))
                conn.executemany("INSERT OR IGNORE INTO acks (uid, seq) VALUES (?, ?)", [(uid, s) for s in fresh])

        await self._call(write)

    async def expire(self) -> None:
        """One retention pass: delete events past retention that no Trigger still owes."""
        cutoff = self._wall() - self._config().retention
        floors: dict[BrokerKey, int] = {}
        for state in self.triggers.values():
            key = (state.namespace, state.broker)
            floors[key] = min(floors.get(key, state.mark), state.mark)
        brokers = list(self._last)

        def delete(conn: sqlite3.Connection) -> int:
            deleted = 0
            for ns, broker in brokers:
                floor = floors.get((ns, broker), self._last.get((ns, broker), 0))
                deleted += conn.execute(
                    "DELETE FROM events WHERE namespace = ? AND broker = ? AND seq IN (SELECT seq FROM events "
                    "WHERE namespace = ? AND broker = ? AND seq <= ? AND time < ? ORDER BY seq LIMIT ?)",
                    (ns, broker, ns, broker, floor, cutoff, RETENTION_BATCH),
                ).rowcount
            return deleted

        deleted = await self._call(delete)
        if deleted:
            log.info("event log: retention deleted %d events", deleted)


def _save_trigger(conn: sqlite3.Connection, uid: str, state: AckState, clear_acks: bool = False) -> None:
    conn.execute(
        "INSERT INTO triggers (uid, namespace, broker, mark, replay) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (uid) DO UPDATE SET namespace = excluded.namespace, broker = excluded.broker, "
        "mark = excluded.mark, replay = excluded.replay",
        (uid, state.namespace, state.broker, state.mark, state.replay),
    )
    if clear_acks:
        conn.execute("DELETE FROM acks WHERE uid = ?", (uid,))
